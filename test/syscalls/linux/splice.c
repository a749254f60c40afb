/*
 * splice(2), tee(2), vmsplice(2), copy_file_range(2), and sendfile(2)'s
 * input rules: file to pipe and pipe to file with and without offsets,
 * pipe to pipe, pipe to and from a socket, bytes a full output does not
 * take staying in the pipe, SPLICE_F_NONBLOCK, end of file, tee leaving
 * the source intact, vmsplice both ways, copy_file_range's offsets and
 * limits, and the EINVAL/ESPIPE/EBADF/EXDEV cases.
 */
#include "test.h"

#include <signal.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

static char dir[64];

static int file_with(const char *name, const char *data) {
  char p[128];
  snprintf(p, sizeof(p), "%s/%s", dir, name);
  int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK(fd >= 0);
  if (data) CHECK_EQ(write(fd, data, strlen(data)), (long)strlen(data));
  CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
  return fd;
}

static void file_to_pipe_and_back(void) {
  int in = file_with("in", "0123456789");
  int out = file_with("out", NULL);
  int p[2];
  CHECK_SYS(pipe(p));
  /* With an offset: the file position stays. */
  loff_t off = 2;
  CHECK_EQ(splice(in, &off, p[1], NULL, 3, 0), 3);
  CHECK_EQ(off, 5);
  CHECK_EQ(lseek(in, 0, SEEK_CUR), 0);
  /* Without: the file position moves. */
  CHECK_EQ(splice(in, NULL, p[1], NULL, 4, 0), 4);
  CHECK_EQ(lseek(in, 0, SEEK_CUR), 4);
  /* Pipe to file, at an offset, then at the position. */
  loff_t woff = 10;
  CHECK_EQ(splice(p[0], NULL, out, &woff, 2, 0), 2);
  CHECK_EQ(woff, 12);
  CHECK_EQ(splice(p[0], NULL, out, NULL, 100, 0), 5);
  char buf[32];
  CHECK_EQ(pread(out, buf, sizeof(buf), 0), 12);
  CHECK(memcmp(buf, "40123", 5) == 0);
  CHECK(memcmp(buf + 10, "23", 2) == 0);
  /* End of input file. */
  off = 10;
  CHECK_EQ(splice(in, &off, p[1], NULL, 5, 0), 0);
  /* An empty pipe without writers is end of file. */
  close(p[1]);
  CHECK_EQ(splice(p[0], NULL, out, NULL, 5, 0), 0);
  close(p[0]);
  close(in);
  close(out);
}

static void pipe_to_pipe(void) {
  int a[2], b[2];
  CHECK_SYS(pipe(a));
  CHECK_SYS(pipe(b));
  CHECK_EQ(write(a[1], "hello world", 11), 11);
  CHECK_EQ(splice(a[0], NULL, b[1], NULL, 5, 0), 5);
  char buf[16];
  CHECK_EQ(read(b[0], buf, sizeof(buf)), 5);
  CHECK(memcmp(buf, "hello", 5) == 0);
  CHECK_EQ(read(a[0], buf, sizeof(buf)), 6);
  /* Empty source: SPLICE_F_NONBLOCK gives EAGAIN, and so does the
   * source's O_NONBLOCK. */
  CHECK_ERR(splice(a[0], NULL, b[1], NULL, 5, SPLICE_F_NONBLOCK), EAGAIN);
  CHECK_SYS(fcntl(a[0], F_SETFL, O_NONBLOCK));
  CHECK_ERR(splice(a[0], NULL, b[1], NULL, 5, 0), EAGAIN);
  CHECK_SYS(fcntl(a[0], F_SETFL, 0));
  /* Full destination: only what fits moves, the rest stays. */
  CHECK_SYS(fcntl(b[1], F_SETPIPE_SZ, 4096));
  static char big[8192];
  memset(big, 'x', sizeof(big));
  CHECK_SYS(fcntl(a[1], F_SETPIPE_SZ, 16384));
  CHECK_EQ(write(a[1], big, sizeof(big)), (long)sizeof(big));
  CHECK_EQ(splice(a[0], NULL, b[1], NULL, sizeof(big), 0), 4096);
  CHECK_ERR(splice(a[0], NULL, b[1], NULL, sizeof(big), SPLICE_F_NONBLOCK), EAGAIN);
  int n;
  CHECK_SYS(ioctl(a[0], FIONREAD, &n));
  CHECK_EQ(n, 4096);
  /* Errors: same pipe, offsets on pipes. */
  CHECK_ERR(splice(a[0], NULL, a[1], NULL, 5, 0), EINVAL);
  loff_t off = 0;
  CHECK_ERR(splice(a[0], &off, b[1], NULL, 5, 0), ESPIPE);
  CHECK_ERR(splice(a[0], NULL, b[1], &off, 5, 0), ESPIPE);
  close(a[0]);
  close(a[1]);
  close(b[0]);
  close(b[1]);
}

static void with_sockets(void) {
  int s[2], p[2];
  CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM, 0, s));
  CHECK_SYS(pipe(p));
  CHECK_EQ(write(s[0], "abc", 3), 3);
  CHECK_EQ(splice(s[1], NULL, p[1], NULL, 100, 0), 3);
  /* Pipe to socket. */
  CHECK_EQ(splice(p[0], NULL, s[1], NULL, 100, 0), 3);
  char buf[8];
  CHECK_EQ(read(s[0], buf, sizeof(buf)), 3);
  CHECK(memcmp(buf, "abc", 3) == 0);
  /* A socket has no offset. */
  loff_t off = 0;
  CHECK_ERR(splice(s[1], &off, p[1], NULL, 3, 0), EINVAL);
  /* Nothing queued and SPLICE_F_NONBLOCK: EAGAIN from the socket. */
  CHECK_ERR(splice(s[1], NULL, p[1], NULL, 3, SPLICE_F_NONBLOCK), EAGAIN);
  /* Neither side a pipe. */
  int f = file_with("sock", "xyz");
  CHECK_ERR(splice(f, NULL, s[0], NULL, 3, 0), EINVAL);
  /* sendfile cannot read from a pipe or a socket. */
  CHECK_EQ(write(p[1], "q", 1), 1);
  CHECK_ERR(sendfile(f, p[0], NULL, 1), EINVAL);
  CHECK_EQ(write(s[0], "q", 1), 1);
  CHECK_ERR(sendfile(f, s[1], NULL, 1), EINVAL);
  close(f);
  close(s[0]);
  close(s[1]);
  close(p[0]);
  close(p[1]);
}

static void blocking_and_errors(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  int f = file_with("blk", "data");
  /* A zero length returns 0 before anything is checked. */
  CHECK_EQ(splice(999, NULL, 998, NULL, 0, 0), 0);
  CHECK_EQ(tee(999, 998, 0, 0), 0);
  CHECK_ERR(splice(f, NULL, p[1], NULL, 1, 0x100), EINVAL);
  CHECK_ERR(splice(999, NULL, p[1], NULL, 1, 0), EBADF);
  CHECK_ERR(splice(p[1], NULL, f, NULL, 1, 0), EBADF);
  int ro = open("/dev/null", O_RDONLY);
  CHECK_ERR(splice(p[0], NULL, ro, NULL, 1, 0), EBADF);
  close(ro);
  int app = open("/dev/null", O_WRONLY | O_APPEND);
  CHECK_EQ(write(p[1], "z", 1), 1);
  CHECK_ERR(splice(p[0], NULL, app, NULL, 1, 0), EINVAL);
  close(app);
  /* No reader: EPIPE (and SIGPIPE, ignored here). */
  signal(SIGPIPE, SIG_IGN);
  close(p[0]);
  CHECK_ERR(splice(f, NULL, p[1], NULL, 1, 0), EPIPE);
  signal(SIGPIPE, SIG_DFL);
  close(p[1]);
  /* A blocking splice from an empty pipe waits for a writer's data. */
  CHECK_SYS(pipe(p));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    struct timespec ts = {0, 30 * 1000 * 1000};
    nanosleep(&ts, NULL);
    _exit(write(p[1], "late", 4) == 4 ? 0 : 1);
  }
  int out = file_with("blkout", NULL);
  CHECK_EQ(splice(p[0], NULL, out, NULL, 10, 0), 4);
  int st;
  CHECK_SYS(waitpid(pid, &st, 0));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  close(out);
  close(p[0]);
  close(p[1]);
  close(f);
}

static void tee_calls(void) {
  int a[2], b[2];
  CHECK_SYS(pipe(a));
  CHECK_SYS(pipe(b));
  CHECK_EQ(write(a[1], "teedata", 7), 7);
  CHECK_EQ(tee(a[0], b[1], 3, 0), 3);
  char buf[16];
  CHECK_EQ(read(b[0], buf, sizeof(buf)), 3);
  CHECK(memcmp(buf, "tee", 3) == 0);
  /* The source still has everything. */
  CHECK_EQ(read(a[0], buf, sizeof(buf)), 7);
  CHECK(memcmp(buf, "teedata", 7) == 0);
  CHECK_ERR(tee(a[0], b[1], 3, SPLICE_F_NONBLOCK), EAGAIN);
  CHECK_ERR(tee(a[0], a[1], 3, 0), EINVAL);
  int f = file_with("tee", "x");
  CHECK_ERR(tee(f, b[1], 1, 0), EINVAL);
  CHECK_ERR(tee(a[0], f, 1, 0), EINVAL);
  CHECK_ERR(tee(a[1], b[1], 1, 0), EBADF);
  close(a[1]);
  CHECK_EQ(tee(a[0], b[1], 3, 0), 0);
  close(f);
  close(a[0]);
  close(b[0]);
  close(b[1]);
}

static void vmsplice_calls(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  char x[] = "vm", y[] = "splice";
  struct iovec iov[2] = {{x, 2}, {y, 6}};
  CHECK_EQ(vmsplice(p[1], iov, 2, 0), 8);
  char r1[3], r2[10];
  struct iovec out[2] = {{r1, 3}, {r2, 10}};
  CHECK_EQ(vmsplice(p[0], out, 2, 0), 8);
  CHECK(memcmp(r1, "vms", 3) == 0);
  CHECK(memcmp(r2, "plice", 5) == 0);
  CHECK_ERR(vmsplice(p[0], out, 2, SPLICE_F_NONBLOCK), EAGAIN);
  CHECK_ERR(vmsplice(p[1], iov, 2, 0x100), EINVAL);
  CHECK_ERR(vmsplice(999, iov, 2, 0), EBADF);
  int f = file_with("vm", NULL);
  CHECK_ERR(vmsplice(f, iov, 2, 0), EBADF);
  CHECK_EQ(vmsplice(f, iov, 0, 0), 0);
  close(f);
  close(p[0]);
  close(p[1]);
}

static void copy_file_range_calls(void) {
  int in = file_with("cfr_in", "0123456789");
  int out = file_with("cfr_out", NULL);
  CHECK_EQ(copy_file_range(in, NULL, out, NULL, 4, 0), 4);
  CHECK_EQ(lseek(in, 0, SEEK_CUR), 4);
  CHECK_EQ(lseek(out, 0, SEEK_CUR), 4);
  loff_t ioff = 8, ooff = 20;
  /* Only two bytes are left past offset 8. */
  CHECK_EQ(copy_file_range(in, &ioff, out, &ooff, 5, 0), 2);
  CHECK_EQ(ioff, 10);
  CHECK_EQ(ooff, 22);
  CHECK_EQ(lseek(in, 0, SEEK_CUR), 4);
  CHECK_EQ(copy_file_range(in, &ioff, out, &ooff, 5, 0), 0);
  char buf[32];
  CHECK_EQ(pread(out, buf, sizeof(buf), 0), 22);
  CHECK(memcmp(buf, "0123", 4) == 0);
  CHECK(memcmp(buf + 20, "89", 2) == 0);
  CHECK_EQ(buf[10], 0);
  /* Within one file, without overlap. */
  ioff = 0;
  ooff = 5;
  CHECK_EQ(copy_file_range(in, &ioff, in, &ooff, 5, 0), 5);
  ioff = 0;
  ooff = 3;
  CHECK_ERR(copy_file_range(in, &ioff, in, &ooff, 5, 0), EINVAL);
  CHECK_ERR(copy_file_range(in, NULL, out, NULL, 1, 1), EINVAL);
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_ERR(copy_file_range(p[0], NULL, out, NULL, 1, 0), EINVAL);
  int d = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK_ERR(copy_file_range(d, NULL, out, NULL, 1, 0), EISDIR);
  char path[128];
  snprintf(path, sizeof(path), "%s/cfr_out", dir);
  int ro = open(path, O_RDONLY);
  CHECK_ERR(copy_file_range(in, NULL, ro, NULL, 1, 0), EBADF);
  int app = open(path, O_WRONLY | O_APPEND);
  CHECK_ERR(copy_file_range(in, NULL, app, NULL, 1, 0), EBADF);
  CHECK_EQ(copy_file_range(in, NULL, out, NULL, 0, 0), 0);
  close(app);
  close(ro);
  close(d);
  close(p[0]);
  close(p[1]);
  close(in);
  close(out);
}

int main(void) {
  test_init();
  strcpy(dir, test_tmpdir());
  RUN(file_to_pipe_and_back);
  RUN(pipe_to_pipe);
  RUN(with_sockets);
  RUN(blocking_and_errors);
  RUN(tee_calls);
  RUN(vmsplice_calls);
  RUN(copy_file_range_calls);
  test_rmdir(dir);
  return 0;
}
