/*
 * pidfd_proc_dir: pidfd_send_signal(2) takes an open /proc/PID directory
 * as a pidfd naming that process (delivery, signal 0, a zombie, ESRCH once
 * reaped), while other files, /proc/PID/task/TID, O_PATH descriptors and
 * the other pidfd users (waitid P_PIDFD, pidfd_getfd) answer EBADF.
 */
#include "test.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags) {
  return syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}
static int pidfd_getfd(int fd, int target, unsigned flags) {
  return syscall(SYS_pidfd_getfd, fd, target, flags);
}

static int open_proc_dir(pid_t pid, int flags) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d", (int)pid);
  int fd = open(path, flags);
  CHECK(fd >= 0);
  return fd;
}

static volatile sig_atomic_t usr1_count;
static void on_usr1(int sig) {
  (void)sig;
  usr1_count++;
}

/* A signal to one's own process through /proc/PID is delivered. */
static void self_signal(void) {
  struct sigaction sa = {0}, old;
  sa.sa_handler = on_usr1;
  CHECK_SYS(sigaction(SIGUSR1, &sa, &old));
  int fd = open_proc_dir(getpid(), O_RDONLY | O_DIRECTORY);
  CHECK_SYS(pidfd_send_signal(fd, 0, NULL, 0));
  usr1_count = 0;
  CHECK_SYS(pidfd_send_signal(fd, SIGUSR1, NULL, 0));
  for (int i = 0; i < 1000 && usr1_count == 0; i++) usleep(1000);
  CHECK_EQ(usr1_count, 1);

  /* The sender's identity, as from kill(2). */
  sigset_t set, oldmask;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, &oldmask));
  CHECK_SYS(pidfd_send_signal(fd, SIGUSR2, NULL, 0));
  siginfo_t got;
  struct timespec ts = {5, 0};
  CHECK_EQ(sigtimedwait(&set, &got, &ts), SIGUSR2);
  CHECK_EQ(got.si_code, SI_USER);
  CHECK_EQ(got.si_pid, getpid());
  CHECK_SYS(sigprocmask(SIG_SETMASK, &oldmask, NULL));

  /* Argument checks keep Linux's order: flags, then the descriptor, then
     the signal number. */
  CHECK_ERR(pidfd_send_signal(fd, 0, NULL, 1u << 10), EINVAL);
  CHECK_ERR(pidfd_send_signal(fd, 1000, NULL, 0), EINVAL);
  close(fd);

  /* /proc/self resolves to the process's directory. */
  fd = open("/proc/self", O_RDONLY | O_DIRECTORY);
  CHECK(fd >= 0);
  usr1_count = 0;
  CHECK_SYS(pidfd_send_signal(fd, SIGUSR1, NULL, 0));
  for (int i = 0; i < 1000 && usr1_count == 0; i++) usleep(1000);
  CHECK_EQ(usr1_count, 1);
  close(fd);
  CHECK_SYS(sigaction(SIGUSR1, &old, NULL));
}

static void check_not_pidfd(int fd) {
  CHECK(fd >= 0);
  CHECK_ERR(pidfd_send_signal(fd, 0, NULL, 0), EBADF);
  CHECK_ERR(pidfd_send_signal(fd, SIGUSR1, NULL, 0), EBADF);
  /* The descriptor is looked at before the signal number. */
  CHECK_ERR(pidfd_send_signal(fd, 1000, NULL, 0), EBADF);
  close(fd);
}

/* Only a /proc/PID directory opened for reading counts. */
static void not_proc_dir(void) {
  char *dir = test_tmpdir();
  char path[128];
  snprintf(path, sizeof(path), "%s/f", dir);
  check_not_pidfd(open(path, O_RDWR | O_CREAT, 0600));
  check_not_pidfd(open(dir, O_RDONLY | O_DIRECTORY));
  test_rmdir(dir);

  pid_t pid = getpid();
  snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
  check_not_pidfd(open(path, O_RDONLY));
  snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
  check_not_pidfd(open(path, O_RDONLY | O_DIRECTORY));
  snprintf(path, sizeof(path), "/proc/%d/task/%d", (int)pid, (int)pid);
  check_not_pidfd(open(path, O_RDONLY | O_DIRECTORY));
  check_not_pidfd(open("/proc/thread-self", O_RDONLY | O_DIRECTORY));
  check_not_pidfd(open("/proc", O_RDONLY | O_DIRECTORY));
  /* O_PATH names the directory without opening it. */
  check_not_pidfd(open_proc_dir(pid, O_PATH | O_DIRECTORY));
  check_not_pidfd(open("/proc/self", O_PATH | O_NOFOLLOW));
  CHECK_ERR(pidfd_send_signal(1000, 0, NULL, 0), EBADF);
}

/* The other pidfd users do not take a /proc/PID directory. */
static void other_users(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    _exit(read(p[0], &c, 1) == 1 ? c : 99);
  }
  CHECK(pid > 0);
  int fd = open_proc_dir(pid, O_RDONLY | O_DIRECTORY);
  siginfo_t si;
  CHECK_ERR(waitid(P_PIDFD, fd, &si, WEXITED | WNOHANG), EBADF);
  CHECK_ERR(waitid(P_PIDFD, fd, &si, WEXITED), EBADF);
  CHECK_ERR(pidfd_getfd(fd, p[1], 0), EBADF);
  CHECK_EQ(write(p[1], "\x06", 1), 1);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 6);
  close(fd);
  close(p[0]);
  close(p[1]);
}

/* A child named by its directory: signalled, a zombie that accepts and
   drops signals, then ESRCH once reaped. */
static void child_lifetime(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    _exit(read(p[0], &c, 1) == 1 ? c : 99);
  }
  CHECK(pid > 0);
  int fd = open_proc_dir(pid, O_RDONLY | O_DIRECTORY);
  CHECK_SYS(pidfd_send_signal(fd, 0, NULL, 0));
  CHECK_EQ(write(p[1], "\x04", 1), 1);
  siginfo_t si = {0};
  CHECK_SYS(waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
  CHECK_EQ(si.si_pid, pid);
  CHECK_SYS(pidfd_send_signal(fd, 0, NULL, 0));
  CHECK_SYS(pidfd_send_signal(fd, SIGKILL, NULL, 0));
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 4);
  CHECK_ERR(pidfd_send_signal(fd, 0, NULL, 0), ESRCH);
  CHECK_ERR(pidfd_send_signal(fd, SIGTERM, NULL, 0), ESRCH);
  close(fd);

  /* A signal through the directory reaches the child. */
  pid = fork();
  if (pid == 0) {
    char c;
    read(p[0], &c, 1);
    _exit(99);
  }
  CHECK(pid > 0);
  fd = open_proc_dir(pid, O_RDONLY | O_DIRECTORY);
  CHECK_SYS(pidfd_send_signal(fd, SIGTERM, NULL, 0));
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
  CHECK_ERR(pidfd_send_signal(fd, SIGTERM, NULL, 0), ESRCH);
  close(fd);
  close(p[0]);
  close(p[1]);
}

int main(void) {
  test_init();
  RUN(self_signal);
  RUN(not_proc_dir);
  RUN(other_users);
  RUN(child_lifetime);
  return 0;
}
