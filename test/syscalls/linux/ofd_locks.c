/*
 * Open file description locks (F_OFD_SETLK, F_OFD_SETLKW, F_OFD_GETLK):
 * owned by the open file description, so two opens in one process
 * conflict while dup'd descriptors and forked children share the lock;
 * released at the description's last close only; l_pid must be 0 and is
 * reported as -1; they conflict with POSIX locks; F_OFD_SETLKW blocks.
 */
#include "test.h"

#include <pthread.h>
#include <sys/wait.h>

static char path[128];

static int open_rw(void) {
  int fd = open(path, O_RDWR | O_CREAT, 0600);
  CHECK(fd >= 0);
  return fd;
}

static int lk(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  return fcntl(fd, cmd, &fl);
}

static void conflicts_between_opens(void) {
  int a = open_rw(), b = open_rw();
  CHECK_SYS(lk(a, F_OFD_SETLK, F_WRLCK, 0, 10));
  CHECK_ERR(lk(b, F_OFD_SETLK, F_WRLCK, 5, 1), EAGAIN);
  CHECK_ERR(lk(b, F_OFD_SETLK, F_RDLCK, 0, 0), EAGAIN);
  CHECK_SYS(lk(b, F_OFD_SETLK, F_WRLCK, 10, 10));
  struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET};
  CHECK_SYS(fcntl(b, F_OFD_GETLK, &fl));
  CHECK_EQ(fl.l_type, F_WRLCK);
  CHECK_EQ(fl.l_start, 0);
  CHECK_EQ(fl.l_len, 10);
  CHECK_EQ(fl.l_pid, -1);
  /* a's own lock does not conflict with a. */
  struct flock fl2 = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 10};
  CHECK_SYS(fcntl(a, F_OFD_GETLK, &fl2));
  CHECK_EQ(fl2.l_type, F_UNLCK);
  /* Splitting works as for POSIX locks. */
  CHECK_SYS(lk(a, F_OFD_SETLK, F_UNLCK, 2, 3));
  CHECK_SYS(lk(b, F_OFD_SETLK, F_WRLCK, 2, 3));
  CHECK_ERR(lk(b, F_OFD_SETLK, F_WRLCK, 5, 1), EAGAIN);
  close(a);
  close(b);
}

static void shared_by_dup_released_by_last_close(void) {
  int a = open_rw(), b = open_rw(), c = open_rw();
  int d = dup(a);
  CHECK_SYS(lk(a, F_OFD_SETLK, F_WRLCK, 0, 0));
  CHECK_SYS(lk(d, F_OFD_SETLK, F_WRLCK, 0, 0));
  /* Unlike POSIX locks, closing another open of the file keeps it. */
  close(c);
  CHECK_ERR(lk(b, F_OFD_SETLK, F_WRLCK, 0, 0), EAGAIN);
  close(a);
  CHECK_ERR(lk(b, F_OFD_SETLK, F_WRLCK, 0, 0), EAGAIN);
  close(d);
  CHECK_SYS(lk(b, F_OFD_SETLK, F_WRLCK, 0, 0));
  close(b);
}

static void shared_with_fork(void) {
  int a = open_rw();
  CHECK_SYS(lk(a, F_OFD_SETLK, F_WRLCK, 0, 0));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (lk(a, F_OFD_SETLK, F_WRLCK, 0, 0) != 0) _exit(1);
    int b = open(path, O_RDWR);
    if (b < 0 || lk(b, F_OFD_SETLK, F_RDLCK, 0, 0) != -1 || errno != EAGAIN) _exit(2);
    _exit(0);
  }
  int st;
  CHECK_SYS(waitpid(pid, &st, 0));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  /* The child's exit did not release it: the parent still has a. */
  int b = open_rw();
  CHECK_ERR(lk(b, F_OFD_SETLK, F_WRLCK, 0, 0), EAGAIN);
  close(b);
  close(a);
}

static void conflicts_with_posix_locks(void) {
  int a = open_rw(), b = open_rw();
  CHECK_SYS(lk(a, F_OFD_SETLK, F_WRLCK, 0, 10));
  /* Even in the same process. */
  CHECK_ERR(lk(b, F_SETLK, F_WRLCK, 0, 1), EAGAIN);
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  CHECK_SYS(fcntl(b, F_GETLK, &fl));
  CHECK_EQ(fl.l_type, F_WRLCK);
  CHECK_EQ(fl.l_pid, -1);
  CHECK_SYS(lk(a, F_OFD_SETLK, F_UNLCK, 0, 0));
  CHECK_SYS(lk(b, F_SETLK, F_WRLCK, 0, 1));
  CHECK_ERR(lk(a, F_OFD_SETLK, F_RDLCK, 0, 0), EAGAIN);
  struct flock fl2 = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
  CHECK_SYS(fcntl(a, F_OFD_GETLK, &fl2));
  CHECK_EQ(fl2.l_type, F_WRLCK);
  CHECK_EQ(fl2.l_pid, getpid());
  close(a);
  close(b);
}

static int waiter_fd;
static volatile int acquired;

static void *waiter(void *arg) {
  (void)arg;
  if (lk(waiter_fd, F_OFD_SETLKW, F_WRLCK, 0, 0) == 0) acquired = 1;
  return NULL;
}

static void setlkw_waits(void) {
  int a = open_rw();
  waiter_fd = open_rw();
  acquired = 0;
  CHECK_SYS(lk(a, F_OFD_SETLK, F_RDLCK, 0, 0));
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, waiter, NULL), 0);
  struct timespec ts = {0, 50 * 1000 * 1000};
  nanosleep(&ts, NULL);
  CHECK_EQ(acquired, 0);
  close(a);
  CHECK_EQ(pthread_join(th, NULL), 0);
  CHECK_EQ(acquired, 1);
  close(waiter_fd);
}

static void errors(void) {
  int a = open_rw();
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_pid = 1};
  CHECK_ERR(fcntl(a, F_OFD_SETLK, &fl), EINVAL);
  CHECK_ERR(fcntl(a, F_OFD_SETLKW, &fl), EINVAL);
  CHECK_ERR(fcntl(a, F_OFD_GETLK, &fl), EINVAL);
  fl.l_type = F_UNLCK;
  CHECK_ERR(fcntl(a, F_OFD_SETLK, &fl), EINVAL);
  fl.l_type = 9;
  fl.l_pid = 0;
  CHECK_ERR(fcntl(a, F_OFD_GETLK, &fl), EINVAL);
  int r = open(path, O_RDONLY);
  CHECK_ERR(lk(r, F_OFD_SETLK, F_WRLCK, 0, 0), EBADF);
  close(r);
  close(a);
}

/* Since Linux 6.10, F_OFD_GETLK with F_UNLCK reports the description's
 * own lock in the range. */
static void own_lock_query(void) {
  int a = open_rw(), b = open_rw();
  CHECK_SYS(lk(a, F_OFD_SETLK, F_WRLCK, 5, 10));
  CHECK_SYS(lk(a, F_OFD_SETLK, F_RDLCK, 20, 1));
  struct flock q = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
  CHECK_SYS(fcntl(a, F_OFD_GETLK, &q));
  CHECK_EQ(q.l_type, F_WRLCK);
  CHECK_EQ(q.l_start, 5);
  CHECK_EQ(q.l_len, 10);
  CHECK_EQ(q.l_pid, -1);
  struct flock q2 = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 16};
  CHECK_SYS(fcntl(a, F_OFD_GETLK, &q2));
  CHECK_EQ(q2.l_type, F_RDLCK);
  CHECK_EQ(q2.l_start, 20);
  CHECK_EQ(q2.l_len, 1);
  /* b holds nothing: the answer is F_UNLCK, the rest left alone. */
  struct flock q3 = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 3};
  CHECK_SYS(fcntl(b, F_OFD_GETLK, &q3));
  CHECK_EQ(q3.l_type, F_UNLCK);
  CHECK_EQ(q3.l_start, 3);
  /* F_GETLK does not take F_UNLCK. */
  CHECK_ERR(fcntl(a, F_GETLK, &q3), EINVAL);
  close(a);
  close(b);
}

int main(void) {
  test_init();
  char *dir = test_tmpdir();
  snprintf(path, sizeof(path), "%s/lockfile", dir);
  RUN(conflicts_between_opens);
  RUN(shared_by_dup_released_by_last_close);
  RUN(shared_with_fork);
  RUN(conflicts_with_posix_locks);
  RUN(setlkw_waits);
  RUN(own_lock_query);
  RUN(errors);
  test_rmdir(dir);
  return 0;
}
