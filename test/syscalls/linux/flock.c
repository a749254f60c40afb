/*
 * flock(2): shared and exclusive whole-file locks owned by the open file
 * description (shared by dup and fork, released at its last close),
 * conversion (not atomic: a failed upgrade loses the shared lock),
 * LOCK_NB, blocking until release and interruption by a signal, argument
 * errors, and independence from fcntl record locks.
 */
#include "test.h"

#include <signal.h>
#include <sys/file.h>
#include <sys/time.h>
#include <sys/wait.h>

static char path[128];

static int open_rw(void) {
  int fd = open(path, O_RDWR | O_CREAT, 0600);
  CHECK(fd >= 0);
  return fd;
}

static void exclusive_and_shared(void) {
  int a = open_rw(), b = open_rw(), c = open_rw();
  CHECK_SYS(flock(a, LOCK_EX));
  CHECK_ERR(flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
  CHECK_ERR(flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
  /* Taking a lock the description already holds is fine. */
  CHECK_SYS(flock(a, LOCK_EX | LOCK_NB));
  CHECK_SYS(flock(a, LOCK_UN));
  CHECK_SYS(flock(b, LOCK_SH | LOCK_NB));
  CHECK_SYS(flock(c, LOCK_SH | LOCK_NB));
  CHECK_ERR(flock(a, LOCK_EX | LOCK_NB), EWOULDBLOCK);
  CHECK_SYS(flock(b, LOCK_UN));
  CHECK_SYS(flock(c, LOCK_UN));
  /* Unlocking without a lock succeeds. */
  CHECK_SYS(flock(c, LOCK_UN));
  CHECK_SYS(flock(a, LOCK_EX | LOCK_NB));
  close(a);
  close(b);
  close(c);
}

static void conversion(void) {
  int a = open_rw(), b = open_rw(), c = open_rw();
  CHECK_SYS(flock(a, LOCK_SH));
  CHECK_SYS(flock(b, LOCK_SH));
  /* The failed upgrade drops a's shared lock first. */
  CHECK_ERR(flock(a, LOCK_EX | LOCK_NB), EWOULDBLOCK);
  CHECK_SYS(flock(b, LOCK_UN));
  CHECK_SYS(flock(c, LOCK_EX | LOCK_NB));
  CHECK_SYS(flock(c, LOCK_UN));
  /* Upgrade and downgrade without contention. */
  CHECK_SYS(flock(a, LOCK_SH));
  CHECK_SYS(flock(a, LOCK_EX | LOCK_NB));
  CHECK_ERR(flock(b, LOCK_SH | LOCK_NB), EWOULDBLOCK);
  CHECK_SYS(flock(a, LOCK_SH));
  CHECK_SYS(flock(b, LOCK_SH | LOCK_NB));
  close(a);
  close(b);
  close(c);
}

static void released_at_last_close(void) {
  int a = open_rw(), b = open_rw();
  int d = dup(a);
  CHECK(d >= 0);
  CHECK_SYS(flock(a, LOCK_EX));
  /* The lock belongs to the description: d sees it as its own. */
  CHECK_SYS(flock(d, LOCK_EX | LOCK_NB));
  close(a);
  CHECK_ERR(flock(b, LOCK_EX | LOCK_NB), EWOULDBLOCK);
  close(d);
  CHECK_SYS(flock(b, LOCK_EX | LOCK_NB));
  close(b);
}

static void shared_with_fork(void) {
  int a = open_rw();
  CHECK_SYS(flock(a, LOCK_EX));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* Same description: no conflict; a new open conflicts. */
    if (flock(a, LOCK_EX | LOCK_NB) != 0) _exit(1);
    int b = open(path, O_RDONLY);
    if (b < 0 || flock(b, LOCK_SH | LOCK_NB) != -1 || errno != EWOULDBLOCK) _exit(2);
    /* Unlocking through the shared description unlocks for the parent. */
    if (flock(a, LOCK_UN) != 0) _exit(3);
    if (flock(b, LOCK_SH | LOCK_NB) != 0) _exit(4);
    _exit(0);
  }
  int st;
  CHECK_SYS(waitpid(pid, &st, 0));
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
  /* The child's shared lock went with its exit. */
  CHECK_SYS(flock(a, LOCK_EX | LOCK_NB));
  close(a);
}

static void blocking_until_release(void) {
  int a = open_rw();
  CHECK_SYS(flock(a, LOCK_EX));
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    int b = open(path, O_RDWR);
    if (b < 0 || flock(b, LOCK_EX) != 0) _exit(1);
    if (write(p[1], "x", 1) != 1) _exit(2);
    _exit(0);
  }
  close(p[1]);
  /* The child cannot get the lock while we hold it. */
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL);
  CHECK_SYS(fcntl(p[0], F_SETFL, O_NONBLOCK));
  char c;
  CHECK_ERR(read(p[0], &c, 1), EAGAIN);
  CHECK_SYS(fcntl(p[0], F_SETFL, 0));
  CHECK_SYS(flock(a, LOCK_UN));
  CHECK_EQ(read(p[0], &c, 1), 1);
  int st;
  CHECK_SYS(waitpid(pid, &st, 0));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  close(p[0]);
  close(a);
}

static void on_alarm(int sig) { (void)sig; }

static void interrupted(void) {
  int a = open_rw(), b = open_rw();
  CHECK_SYS(flock(a, LOCK_EX));
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm; /* no SA_RESTART */
  CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
  struct itimerval it = {{0, 0}, {0, 50000}};
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
  CHECK_ERR(flock(b, LOCK_EX), EINTR);
  signal(SIGALRM, SIG_DFL);
  alarm(20);
  close(a);
  CHECK_SYS(flock(b, LOCK_EX | LOCK_NB));
  close(b);
}

static void errors(void) {
  int a = open_rw();
  CHECK_ERR(flock(a, 0), EINVAL);
  CHECK_ERR(flock(a, LOCK_SH | LOCK_EX), EINVAL);
  CHECK_ERR(flock(a, LOCK_NB), EINVAL);
  CHECK_ERR(flock(999, LOCK_SH), EBADF);
  CHECK_ERR(flock(-1, LOCK_UN), EBADF);
  int o = open(path, O_PATH);
  CHECK(o >= 0);
  CHECK_ERR(flock(o, LOCK_SH), EBADF);
  CHECK_ERR(flock(o, LOCK_UN), EBADF);
  close(o);
  /* Read-only and write-only descriptions can take either kind. */
  int r = open(path, O_RDONLY), w = open(path, O_WRONLY);
  CHECK_SYS(flock(r, LOCK_EX | LOCK_NB));
  CHECK_SYS(flock(r, LOCK_UN));
  CHECK_SYS(flock(w, LOCK_SH | LOCK_NB));
  close(r);
  close(w);
  /* Pipes can be locked too. */
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_SYS(flock(p[0], LOCK_EX | LOCK_NB));
  CHECK_ERR(flock(p[1], LOCK_EX | LOCK_NB), EWOULDBLOCK);
  close(p[0]);
  close(p[1]);
  close(a);
}

static void independent_of_fcntl_locks(void) {
  int a = open_rw();
  CHECK_SYS(flock(a, LOCK_EX));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    int b = open(path, O_RDWR);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    _exit(b >= 0 && fcntl(b, F_SETLK, &fl) == 0 ? 0 : 1);
  }
  int st;
  CHECK_SYS(waitpid(pid, &st, 0));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  close(a);
}

int main(void) {
  test_init();
  char *dir = test_tmpdir();
  snprintf(path, sizeof(path), "%s/lockfile", dir);
  RUN(exclusive_and_shared);
  RUN(conversion);
  RUN(released_at_last_close);
  RUN(shared_with_fork);
  RUN(blocking_until_release);
  RUN(interrupted);
  RUN(errors);
  RUN(independent_of_fcntl_locks);
  test_rmdir(dir);
  return 0;
}
