/*
 * Named pipes and other special nodes: mkfifo/mknod(S_IFIFO) make a
 * FIFO that every opener shares; fifo(7)'s open rules (O_RDONLY waits
 * for a writer, O_RDONLY|O_NONBLOCK does not, O_WRONLY|O_NONBLOCK is
 * ENXIO without a reader, O_RDWR never waits); data and end of file
 * across opens; lseek is ESPIPE; S_IFSOCK nodes cannot be opened
 * (ENXIO); S_IFCHR/S_IFBLK need CAP_MKNOD; EEXIST and bad types.
 */
#include "test.h"

#include <linux/capability.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

static char path[128];

static void create_and_stat(void) {
  CHECK_SYS(mkfifo(path, 0600));
  struct stat st;
  CHECK_SYS(stat(path, &st));
  CHECK(S_ISFIFO(st.st_mode));
  CHECK_EQ(st.st_mode & 0777, 0600);
  CHECK_EQ(st.st_size, 0);
  CHECK_ERR(mkfifo(path, 0600), EEXIST);
  CHECK_ERR(mknod(path, S_IFIFO | 0600, 0), EEXIST);
}

static void nonblocking_opens(void) {
  CHECK_ERR(open(path, O_WRONLY | O_NONBLOCK), ENXIO);
  int r = open(path, O_RDONLY | O_NONBLOCK);
  CHECK(r >= 0);
  char c;
  /* No writer has come yet: end of file, not EAGAIN. */
  CHECK_EQ(read(r, &c, 1), 0);
  int w = open(path, O_WRONLY | O_NONBLOCK);
  CHECK(w >= 0);
  CHECK_ERR(read(r, &c, 1), EAGAIN);
  CHECK_EQ(write(w, "ab", 2), 2);
  CHECK_EQ(read(r, &c, 1), 1);
  CHECK_EQ(c, 'a');
  struct stat st;
  CHECK_SYS(fstat(w, &st));
  CHECK(S_ISFIFO(st.st_mode));
  CHECK_ERR(lseek(r, 0, SEEK_SET), ESPIPE);
  close(w);
  CHECK_EQ(read(r, &c, 1), 1);
  CHECK_EQ(c, 'b');
  /* The last writer is gone: end of file. */
  CHECK_EQ(read(r, &c, 1), 0);
  close(r);
}

static void shared_by_openers(void) {
  /* O_RDWR opens never wait, and reach the same pipe. */
  int a = open(path, O_RDWR), b = open(path, O_RDWR);
  CHECK(a >= 0 && b >= 0);
  CHECK_EQ(write(a, "xyz", 3), 3);
  char buf[8];
  CHECK_EQ(read(b, buf, sizeof(buf)), 3);
  CHECK(memcmp(buf, "xyz", 3) == 0);
  close(a);
  close(b);
  /* Data left when everyone closes is gone. */
  a = open(path, O_RDWR);
  CHECK_EQ(write(a, "lost", 4), 4);
  close(a);
  a = open(path, O_RDONLY | O_NONBLOCK);
  CHECK_EQ(read(a, buf, sizeof(buf)), 0);
  close(a);
}

static void blocking_opens(void) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* Waits for the parent's reader. */
    int w = open(path, O_WRONLY);
    if (w < 0) _exit(1);
    _exit(write(w, "hi", 2) == 2 ? 0 : 2);
  }
  /* Waits for the child's writer. */
  int r = open(path, O_RDONLY);
  CHECK(r >= 0);
  char buf[4];
  CHECK_EQ(read(r, buf, sizeof(buf)), 2);
  CHECK(memcmp(buf, "hi", 2) == 0);
  CHECK_EQ(read(r, buf, sizeof(buf)), 0);
  int st;
  CHECK_SYS(waitpid(pid, &st, 0));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  close(r);
}

static void socket_nodes(void) {
  char p[160];
  snprintf(p, sizeof(p), "%s.sock", path);
  CHECK_SYS(mknod(p, S_IFSOCK | 0600, 0));
  struct stat st;
  CHECK_SYS(stat(p, &st));
  CHECK(S_ISSOCK(st.st_mode));
  CHECK_ERR(open(p, O_RDWR), ENXIO);
  CHECK_SYS(unlink(p));
  /* A zero type means a regular file. */
  CHECK_SYS(mknod(p, 0600, 0));
  CHECK_SYS(stat(p, &st));
  CHECK(S_ISREG(st.st_mode));
  CHECK_SYS(unlink(p));
  CHECK_ERR(mknod(p, S_IFDIR | 0700, 0), EPERM);
  CHECK_ERR(mknod(p, 0170000 | 0700, 0), EINVAL);
}

static void devices_need_cap_mknod(void) {
  char p[160];
  snprintf(p, sizeof(p), "%s.dev", path);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof(d));
    if (syscall(SYS_capset, &h, d) != 0) _exit(1);
    if (mknod(p, S_IFCHR | 0600, makedev(1, 3)) != -1 || errno != EPERM) _exit(2);
    if (mknod(p, S_IFBLK | 0600, makedev(7, 0)) != -1 || errno != EPERM) _exit(3);
    /* FIFOs need no privilege. */
    if (mknod(p, S_IFIFO | 0600, 0) != 0) _exit(4);
    _exit(0);
  }
  int st;
  CHECK_SYS(waitpid(pid, &st, 0));
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
  CHECK_SYS(unlink(p));
}

int main(void) {
  test_init();
  char *dir = test_tmpdir();
  snprintf(path, sizeof(path), "%s/fifo", dir);
  RUN(create_and_stat);
  RUN(nonblocking_opens);
  RUN(shared_by_openers);
  RUN(blocking_opens);
  RUN(socket_nodes);
  RUN(devices_need_cap_mknod);
  test_rmdir(dir);
  return 0;
}
