/*
 * POSIX record locks through fcntl(F_SETLK, F_SETLKW, F_GETLK): byte
 * ranges owned by the process, conflicts only with other processes,
 * splitting and merging, l_whence and negative lengths, F_GETLK's report
 * (type, range, l_pid), release on any close of the file by the process
 * and on exit but not by a child's close, blocking until release,
 * EDEADLK, and argument errors.
 */
#include "test.h"

#include <limits.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/wait.h>

static char path[128];

static int open_rw(void) {
  int fd = open(path, O_RDWR | O_CREAT, 0600);
  CHECK(fd >= 0);
  return fd;
}

static int setlk(int fd, int cmd, short type, short whence, off_t start, off_t len) {
  struct flock fl = {.l_type = type, .l_whence = whence, .l_start = start, .l_len = len};
  return fcntl(fd, cmd, &fl);
}

/* Child-side checks report failure through the exit status. */
#define CHILD_CHECK(e, code) \
  do {                       \
    if (!(e)) _exit(code);   \
  } while (0)

static int wait_child(pid_t pid) {
  int st;
  CHECK_SYS(waitpid(pid, &st, 0));
  CHECK(WIFEXITED(st));
  return WEXITSTATUS(st);
}

/* run_child runs f in a child process and returns its exit status. */
static int run_child(int (*f)(void *), void *arg) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) _exit(f(arg));
  return wait_child(pid);
}

struct probe {
  short type;
  off_t start, len;
  /* Expected F_GETLK answer. */
  short want_type;
  off_t want_start, want_len;
  pid_t want_pid;
  /* Expected F_SETLK result: 0 or an errno. */
  int want_set;
};

static int probe_child(void *arg) {
  struct probe *p = arg;
  int fd = open(path, O_RDWR);
  CHILD_CHECK(fd >= 0, 10);
  struct flock fl = {.l_type = p->type, .l_whence = SEEK_SET, .l_start = p->start, .l_len = p->len};
  CHILD_CHECK(fcntl(fd, F_GETLK, &fl) == 0, 11);
  CHILD_CHECK(fl.l_type == p->want_type, 12);
  if (p->want_type != F_UNLCK) {
    CHILD_CHECK(fl.l_whence == SEEK_SET, 13);
    CHILD_CHECK(fl.l_start == p->want_start, 14);
    CHILD_CHECK(fl.l_len == p->want_len, 15);
    CHILD_CHECK(fl.l_pid == p->want_pid, 16);
  }
  int r = setlk(fd, F_SETLK, p->type, SEEK_SET, p->start, p->len);
  if (p->want_set == 0) {
    CHILD_CHECK(r == 0, 17);
  } else {
    CHILD_CHECK(r == -1 && errno == p->want_set, 18);
  }
  return 0;
}

static void probe(short type, off_t start, off_t len, short want_type, off_t want_start,
                  off_t want_len, int want_set) {
  struct probe p = {type, start, len, want_type, want_start, want_len, getpid(), want_set};
  CHECK_EQ(run_child(probe_child, &p), 0);
}

static void conflicts_between_processes(void) {
  int fd = open_rw();
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
  probe(F_WRLCK, 5, 1, F_WRLCK, 0, 10, EAGAIN);
  probe(F_RDLCK, 9, 100, F_WRLCK, 0, 10, EAGAIN);
  probe(F_WRLCK, 10, 10, F_UNLCK, 0, 0, 0);
  /* Read locks share. */
  CHECK_SYS(setlk(fd, F_SETLK, F_RDLCK, SEEK_SET, 0, 10));
  probe(F_RDLCK, 0, 10, F_UNLCK, 0, 0, 0);
  probe(F_WRLCK, 0, 1, F_RDLCK, 0, 10, EAGAIN);
  /* Our own locks never conflict: F_GETLK reports nothing. */
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  CHECK_SYS(fcntl(fd, F_GETLK, &fl));
  CHECK_EQ(fl.l_type, F_UNLCK);
  CHECK_SYS(setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
  probe(F_WRLCK, 0, 0, F_UNLCK, 0, 0, 0);
  close(fd);
}

static void split_and_merge(void) {
  int fd = open_rw();
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 100));
  CHECK_SYS(setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 40, 20));
  probe(F_WRLCK, 0, 100, F_WRLCK, 0, 40, EAGAIN);
  probe(F_WRLCK, 40, 20, F_UNLCK, 0, 0, 0);
  probe(F_WRLCK, 50, 20, F_WRLCK, 60, 40, EAGAIN);
  /* A read lock in the middle of a write lock splits it. */
  CHECK_SYS(setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 30));
  CHECK_SYS(setlk(fd, F_SETLK, F_RDLCK, SEEK_SET, 10, 10));
  probe(F_RDLCK, 10, 10, F_UNLCK, 0, 0, 0);
  probe(F_RDLCK, 15, 10, F_WRLCK, 20, 10, EAGAIN);
  /* Adjacent locks of one type merge into one. */
  CHECK_SYS(setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 10, 10));
  probe(F_RDLCK, 0, 0, F_WRLCK, 0, 20, EAGAIN);
  /* A lock to the end of file reports l_len 0. */
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 20, 0));
  probe(F_RDLCK, 1000, 1, F_WRLCK, 0, 0, EAGAIN);
  CHECK_SYS(setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
  close(fd);
}

static void whence_and_negative_length(void) {
  int fd = open_rw();
  CHECK_SYS(ftruncate(fd, 50));
  CHECK_EQ(lseek(fd, 100, SEEK_SET), 100);
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_CUR, -10, 5));
  probe(F_WRLCK, 0, 0, F_WRLCK, 90, 5, EAGAIN);
  CHECK_SYS(setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_END, 0, 0));
  probe(F_WRLCK, 0, 0, F_WRLCK, 50, 0, EAGAIN);
  CHECK_SYS(setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
  /* A negative length covers the bytes before l_start. */
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 30, -10));
  probe(F_WRLCK, 0, 0, F_WRLCK, 20, 10, EAGAIN);
  probe(F_WRLCK, 30, 1, F_UNLCK, 0, 0, 0);
  CHECK_SYS(setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
  CHECK_SYS(ftruncate(fd, 0));
  close(fd);
}

static void any_close_releases(void) {
  int a = open_rw(), b = open_rw();
  CHECK_SYS(setlk(a, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
  probe(F_WRLCK, 0, 0, F_WRLCK, 0, 0, EAGAIN);
  /* Closing another descriptor of the file drops the lock. */
  close(b);
  probe(F_WRLCK, 0, 0, F_UNLCK, 0, 0, 0);
  /* So does dup2 over a descriptor of the file. */
  CHECK_SYS(setlk(a, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
  int c = open_rw();
  CHECK_SYS(dup2(0, c));
  probe(F_WRLCK, 0, 0, F_UNLCK, 0, 0, 0);
  close(c);
  close(a);
}

static int close_and_check(void *arg) {
  int fd = *(int *)arg;
  /* The child's close of an inherited descriptor leaves the parent's
   * lock alone: locks are not inherited, and belong to the parent. */
  close(fd);
  int b = open(path, O_RDWR);
  CHILD_CHECK(b >= 0, 20);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  CHILD_CHECK(fcntl(b, F_GETLK, &fl) == 0 && fl.l_type == F_WRLCK && fl.l_pid == getppid(), 21);
  return 0;
}

static void child_close_keeps_parent_lock(void) {
  int fd = open_rw();
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
  CHECK_EQ(run_child(close_and_check, &fd), 0);
  probe(F_WRLCK, 0, 0, F_WRLCK, 0, 0, EAGAIN);
  close(fd);
}

static void exit_releases(void) {
  int up[2], down[2];
  CHECK_SYS(pipe(up));
  CHECK_SYS(pipe(down));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    int fd = open(path, O_RDWR);
    CHILD_CHECK(fd >= 0 && setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0) == 0, 1);
    CHILD_CHECK(write(up[1], "x", 1) == 1, 2);
    char c;
    CHILD_CHECK(read(down[0], &c, 1) == 1, 3);
    _exit(0);
  }
  char c;
  CHECK_EQ(read(up[0], &c, 1), 1);
  int fd = open_rw();
  struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
  CHECK_SYS(fcntl(fd, F_GETLK, &fl));
  CHECK_EQ(fl.l_type, F_WRLCK);
  CHECK_EQ(fl.l_pid, pid);
  CHECK_ERR(setlk(fd, F_SETLK, F_RDLCK, SEEK_SET, 0, 0), EAGAIN);
  CHECK_EQ(write(down[1], "x", 1), 1);
  CHECK_EQ(wait_child(pid), 0);
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
  close(fd);
  close(up[0]);
  close(up[1]);
  close(down[0]);
  close(down[1]);
}

static void setlkw_waits(void) {
  int fd = open_rw();
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    int b = open(path, O_RDWR);
    CHILD_CHECK(b >= 0, 1);
    CHILD_CHECK(setlk(b, F_SETLKW, F_WRLCK, SEEK_SET, 5, 1) == 0, 2);
    CHILD_CHECK(write(p[1], "x", 1) == 1, 3);
    _exit(0);
  }
  close(p[1]);
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL);
  CHECK_SYS(fcntl(p[0], F_SETFL, O_NONBLOCK));
  char c;
  CHECK_ERR(read(p[0], &c, 1), EAGAIN);
  CHECK_SYS(fcntl(p[0], F_SETFL, 0));
  /* Releasing bytes the child does not want does not wake it for good. */
  CHECK_SYS(setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 5));
  nanosleep(&ts, NULL);
  CHECK_SYS(fcntl(p[0], F_SETFL, O_NONBLOCK));
  CHECK_ERR(read(p[0], &c, 1), EAGAIN);
  CHECK_SYS(fcntl(p[0], F_SETFL, 0));
  CHECK_SYS(setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 5, 1));
  CHECK_EQ(read(p[0], &c, 1), 1);
  CHECK_EQ(wait_child(pid), 0);
  close(p[0]);
  close(fd);
}

static void on_alarm(int sig) { (void)sig; }

static void arm_alarm_ms(int ms) {
  struct itimerval it = {{0, 0}, {0, ms * 1000}};
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
}

static void deadlock(void) {
  int fd = open_rw();
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 1));
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    int b = open(path, O_RDWR);
    CHILD_CHECK(b >= 0 && setlk(b, F_SETLK, F_WRLCK, SEEK_SET, 1, 1) == 0, 1);
    CHILD_CHECK(write(p[1], "x", 1) == 1, 2);
    /* Wait for byte 0, which the parent holds. */
    if (setlk(b, F_SETLKW, F_WRLCK, SEEK_SET, 0, 1) == 0) _exit(0);
    _exit(errno == EDEADLK ? 3 : 4);
  }
  char c;
  CHECK_EQ(read(p[0], &c, 1), 1);
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
  /*
   * Ask for byte 1 until the child is seen waiting (EDEADLK). An alarm
   * cuts each wait short in case the child is not waiting yet; if the
   * child starts waiting while we do, it is the one told EDEADLK, exits,
   * and we get the byte.
   */
  int r, err = 0;
  for (int i = 0; i < 100; i++) {
    arm_alarm_ms(50);
    r = setlk(fd, F_SETLKW, F_WRLCK, SEEK_SET, 1, 1);
    err = errno;
    arm_alarm_ms(0);
    if (r == 0 || err != EINTR) break;
  }
  signal(SIGALRM, SIG_DFL);
  alarm(20);
  if (r == 0) {
    CHECK_EQ(wait_child(pid), 3);
  } else {
    CHECK_EQ(err, EDEADLK);
    /* Give up byte 0; the child gets it. */
    CHECK_SYS(setlk(fd, F_SETLK, F_UNLCK, SEEK_SET, 0, 1));
    CHECK_EQ(wait_child(pid), 0);
  }
  close(p[0]);
  close(p[1]);
  close(fd);
}

static void interrupted(void) {
  int fd = open_rw();
  CHECK_SYS(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 0, 0));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    int b = open(path, O_RDWR);
    struct itimerval it = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &it, NULL);
    if (setlk(b, F_SETLKW, F_WRLCK, SEEK_SET, 0, 0) == -1 && errno == EINTR) _exit(0);
    _exit(1);
  }
  CHECK_EQ(wait_child(pid), 0);
  close(fd);
}

static void errors(void) {
  int fd = open_rw();
  CHECK_ERR(setlk(fd, F_SETLK, F_WRLCK, 3, 0, 0), EINVAL);
  CHECK_ERR(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, -1, 0), EINVAL);
  CHECK_ERR(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, 5, -6), EINVAL);
  CHECK_ERR(setlk(fd, F_SETLK, F_WRLCK, SEEK_SET, LLONG_MAX, 2), EOVERFLOW);
  CHECK_ERR(setlk(fd, F_SETLK, 7, SEEK_SET, 0, 0), EINVAL);
  CHECK_ERR(setlk(fd, F_GETLK, F_UNLCK, SEEK_SET, 0, 0), EINVAL);
  CHECK_ERR(fcntl(fd, F_SETLK, (void *)1), EFAULT);
  int r = open(path, O_RDONLY), w = open(path, O_WRONLY);
  CHECK_ERR(setlk(r, F_SETLK, F_WRLCK, SEEK_SET, 0, 0), EBADF);
  CHECK_ERR(setlk(w, F_SETLK, F_RDLCK, SEEK_SET, 0, 0), EBADF);
  CHECK_SYS(setlk(r, F_SETLK, F_RDLCK, SEEK_SET, 0, 0));
  CHECK_SYS(setlk(w, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
  /* F_GETLK does not need the matching access mode. */
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  CHECK_SYS(fcntl(r, F_GETLK, &fl));
  CHECK_EQ(fl.l_type, F_UNLCK);
  close(r);
  close(w);
  close(fd);
}

int main(void) {
  test_init();
  char *dir = test_tmpdir();
  snprintf(path, sizeof(path), "%s/lockfile", dir);
  RUN(conflicts_between_processes);
  RUN(split_and_merge);
  RUN(whence_and_negative_length);
  RUN(any_close_releases);
  RUN(child_close_keeps_parent_lock);
  RUN(exit_releases);
  RUN(setlkw_waits);
  RUN(deadlock);
  RUN(interrupted);
  RUN(errors);
  test_rmdir(dir);
  return 0;
}
