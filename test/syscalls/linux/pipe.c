/*
 * pipe: pipe, pipe2, and pipe I/O semantics including poll.
 * Checks data order, O_CLOEXEC/O_NONBLOCK from pipe2, EAGAIN on an empty or
 * full non-blocking pipe, EOF once writers are gone, EPIPE plus SIGPIPE once
 * readers are gone, PIPE_BUF atomicity, F_GETPIPE_SZ/F_SETPIPE_SZ, poll
 * readiness (POLLIN/POLLOUT/POLLHUP/POLLERR), pipes across fork, and
 * reopening a pipe through /proc/self/fd, which unlike a FIFO's open never
 * waits for, or fails for want of, the other end.
 */
#include "test.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

static void basic_io(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_EQ(write(p[1], "abc", 3), 3);
  CHECK_EQ(write(p[1], "def", 3), 3);
  char buf[16];
  CHECK_EQ(read(p[0], buf, 4), 4);
  CHECK(memcmp(buf, "abcd", 4) == 0);
  CHECK_EQ(read(p[0], buf, sizeof(buf)), 2);
  CHECK(memcmp(buf, "ef", 2) == 0);
  /* The ends are one-way. */
  CHECK_ERR(write(p[0], "x", 1), EBADF);
  CHECK_ERR(read(p[1], buf, 1), EBADF);
  CHECK_ERR(lseek(p[0], 0, SEEK_SET), ESPIPE);
  CHECK_ERR(pread(p[0], buf, 1, 0), ESPIPE);
  close(p[1]);
  CHECK_EQ(read(p[0], buf, sizeof(buf)), 0);
  close(p[0]);
}

static void pipe2_flags(void) {
  int p[2];
  CHECK_SYS(pipe2(p, O_CLOEXEC | O_NONBLOCK));
  for (int i = 0; i < 2; i++) {
    CHECK_EQ(fcntl(p[i], F_GETFD), FD_CLOEXEC);
    CHECK(fcntl(p[i], F_GETFL) & O_NONBLOCK);
  }
  CHECK_EQ(fcntl(p[0], F_GETFL) & O_ACCMODE, O_RDONLY);
  CHECK_EQ(fcntl(p[1], F_GETFL) & O_ACCMODE, O_WRONLY);
  close(p[0]);
  close(p[1]);
  CHECK_SYS(pipe2(p, 0));
  CHECK_EQ(fcntl(p[0], F_GETFD), 0);
  CHECK_EQ(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
  close(p[0]);
  close(p[1]);
  CHECK_ERR(pipe2(p, O_RDWR | O_APPEND), EINVAL);
}

static void nonblocking(void) {
  int p[2];
  CHECK_SYS(pipe2(p, O_NONBLOCK));
  char buf[4096];
  CHECK_ERR(read(p[0], buf, 1), EAGAIN);
  int size = fcntl(p[1], F_GETPIPE_SZ);
  CHECK(size >= 4096);
  memset(buf, 'x', sizeof(buf));
  long total = 0;
  for (;;) {
    long n = write(p[1], buf, sizeof(buf));
    if (n < 0) {
      CHECK_EQ(errno, EAGAIN);
      break;
    }
    total += n;
    CHECK(total <= size);
  }
  CHECK_EQ(total, size);
  /* A full pipe still refuses a single byte. */
  CHECK_ERR(write(p[1], "y", 1), EAGAIN);
  CHECK_EQ(read(p[0], buf, 100), 100);
  close(p[0]);
  close(p[1]);
}

static void pipe_size(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_SYS(fcntl(p[0], F_SETPIPE_SZ, 1 << 16));
  CHECK_EQ(fcntl(p[1], F_GETPIPE_SZ), 1 << 16);
  /* Sizes round up to a power-of-two number of pages. */
  long pg = sysconf(_SC_PAGESIZE);
  int got = fcntl(p[0], F_SETPIPE_SZ, 3 * pg);
  CHECK_EQ(got, 4 * pg);
  CHECK_EQ(fcntl(p[0], F_GETPIPE_SZ), 4 * pg);
  /* Shrinking below the buffered data is refused. */
  char buf[4096] = {0};
  for (int i = 0; i < 3; i++) CHECK_EQ(write(p[1], buf, sizeof(buf)), 4096);
  CHECK_ERR(fcntl(p[0], F_SETPIPE_SZ, pg), EBUSY);
  close(p[0]);
  close(p[1]);
}

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig) {
  (void)sig;
  sigpipes++;
}

static void broken_pipe(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  close(p[0]);
  struct sigaction sa = {0}, old;
  sa.sa_handler = on_sigpipe;
  CHECK_SYS(sigaction(SIGPIPE, &sa, &old));
  sigpipes = 0;
  CHECK_ERR(write(p[1], "x", 1), EPIPE);
  CHECK_EQ(sigpipes, 1);
  signal(SIGPIPE, SIG_IGN);
  CHECK_ERR(write(p[1], "x", 1), EPIPE);
  CHECK_EQ(sigpipes, 1);
  close(p[1]);
  /* With the default action, SIGPIPE kills the writer. */
  CHECK_SYS(pipe(p));
  close(p[0]);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    signal(SIGPIPE, SIG_DFL);
    write(p[1], "x", 1);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGPIPE);
  close(p[1]);
  sigaction(SIGPIPE, &old, NULL);
}

static short poll1(int fd, short events, int timeout) {
  struct pollfd pfd = {fd, events, 0};
  int n = poll(&pfd, 1, timeout);
  CHECK(n >= 0);
  return n == 0 ? 0 : pfd.revents;
}

static void polling(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_EQ(poll1(p[0], POLLIN, 0), 0);
  CHECK_EQ(poll1(p[1], POLLOUT, 0), POLLOUT);
  long long t0 = test_now_ns();
  CHECK_EQ(poll1(p[0], POLLIN, 30), 0);
  CHECK(test_now_ns() - t0 >= 30 * 1000 * 1000);
  CHECK_EQ(write(p[1], "z", 1), 1);
  CHECK_EQ(poll1(p[0], POLLIN, 0), POLLIN);
  close(p[1]);
  /* Data plus no writers: both readable and hung up. */
  CHECK_EQ(poll1(p[0], POLLIN, 0), POLLIN | POLLHUP);
  char c;
  CHECK_EQ(read(p[0], &c, 1), 1);
  CHECK_EQ(poll1(p[0], POLLIN, 0), POLLHUP);
  close(p[0]);
  CHECK_SYS(pipe(p));
  close(p[0]);
  /* No readers: the write end reports an error. */
  CHECK_EQ(poll1(p[1], POLLOUT, 0), POLLOUT | POLLERR);
  close(p[1]);
  struct pollfd bad = {-1, POLLIN, 123};
  CHECK_EQ(poll(&bad, 1, 0), 0);
  CHECK_EQ(bad.revents, 0);
  bad.fd = 1 << 20;
  CHECK_EQ(poll(&bad, 1, 0), 1);
  CHECK_EQ(bad.revents, POLLNVAL);
}

static void blocking_across_fork(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  enum { CHUNK = PIPE_BUF, N = 64 };
  pid_t writers[2];
  for (int w = 0; w < 2; w++) {
    writers[w] = fork();
    CHECK(writers[w] >= 0);
    if (writers[w] == 0) {
      close(p[0]);
      char buf[CHUNK];
      memset(buf, 'A' + w, sizeof(buf));
      for (int i = 0; i < N; i++)
        if (write(p[1], buf, CHUNK) != CHUNK) _exit(1);
      _exit(0);
    }
  }
  close(p[1]);
  /* Writes of PIPE_BUF bytes or less are never interleaved. */
  char buf[CHUNK];
  int chunks = 0;
  for (;;) {
    long got = 0;
    while (got < CHUNK) {
      long n = read(p[0], buf + got, CHUNK - got);
      CHECK(n >= 0);
      if (n == 0) break;
      got += n;
    }
    if (got == 0) break;
    CHECK_EQ(got, CHUNK);
    for (int i = 1; i < CHUNK; i++) CHECK(buf[i] == buf[0]);
    chunks++;
  }
  CHECK_EQ(chunks, 2 * N);
  for (int w = 0; w < 2; w++) {
    int st;
    CHECK_EQ(waitpid(writers[w], &st, 0), writers[w]);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  close(p[0]);
}

static int reopen(int fd, int flags) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  return open(path, flags);
}

static void reopen_through_proc(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_EQ(write(p[1], "abc", 3), 3);
  CHECK_SYS(close(p[1]));
  /* The writer is gone: a FIFO's O_RDONLY open would wait for one. */
  int r = reopen(p[0], O_RDONLY);
  CHECK_SYS(r);
  char buf[8];
  CHECK_EQ(read(r, buf, sizeof(buf)), 3);
  CHECK(memcmp(buf, "abc", 3) == 0);
  CHECK_EQ(read(r, buf, sizeof(buf)), 0);
  struct pollfd pfd = {.fd = r, .events = POLLIN};
  CHECK_EQ(poll(&pfd, 1, 0), 1);
  CHECK(pfd.revents & POLLHUP);
  close(r);
  close(p[0]);

  CHECK_SYS(pipe(p));
  CHECK_SYS(close(p[0]));
  /* No reader: a FIFO would say ENXIO (O_NONBLOCK) or wait. */
  signal(SIGPIPE, SIG_IGN);
  int w = reopen(p[1], O_WRONLY | O_NONBLOCK);
  CHECK_SYS(w);
  CHECK_ERR(write(w, "x", 1), EPIPE);
  close(w);
  w = reopen(p[1], O_WRONLY);
  CHECK_SYS(w);
  CHECK_ERR(write(w, "x", 1), EPIPE);
  close(w);
  signal(SIGPIPE, SIG_DFL);

  /* A reopened write end is a writer like any other. */
  r = reopen(p[1], O_RDONLY);
  CHECK_SYS(r);
  w = reopen(p[1], O_WRONLY);
  CHECK_SYS(w);
  CHECK_SYS(close(p[1]));
  CHECK_EQ(write(w, "yz", 2), 2);
  CHECK_SYS(close(w));
  CHECK_EQ(read(r, buf, sizeof(buf)), 2);
  CHECK_EQ(read(r, buf, sizeof(buf)), 0);
  close(r);
}

int main(void) {
  test_init();
  RUN(basic_io);
  RUN(pipe2_flags);
  RUN(nonblocking);
  RUN(pipe_size);
  RUN(broken_pipe);
  RUN(polling);
  RUN(blocking_across_fork);
  RUN(reopen_through_proc);
  return 0;
}
