/*
 * wait: wait4, waitpid, waitid.
 * Checks exit statuses and signal terminations as seen by each call,
 * WNOHANG, WNOWAIT, stop/continue reporting, the siginfo from waitid,
 * rusage from wait4, zombie lifetime until reaping, waiting by process
 * group, and ECHILD.
 */
#include "test.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>

static pid_t spawn_exit(int code) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) _exit(code);
  return pid;
}

/* spawn_blocked forks a child that waits until its pipe is closed. */
static pid_t spawn_blocked(int *release) {
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    close(p[1]);
    char c;
    while (read(p[0], &c, 1) < 0 && errno == EINTR) {
    }
    _exit(0);
  }
  close(p[0]);
  *release = p[1];
  return pid;
}

static void exit_status(void) {
  pid_t pid = spawn_exit(42);
  int st;
  struct rusage ru;
  memset(&ru, 0xff, sizeof(ru));
  CHECK_EQ(wait4(pid, &st, 0, &ru), pid);
  CHECK(WIFEXITED(st));
  CHECK(!WIFSIGNALED(st));
  CHECK_EQ(WEXITSTATUS(st), 42);
  /* rusage is filled in; a short-lived child used little CPU. */
  CHECK(ru.ru_utime.tv_sec >= 0 && ru.ru_utime.tv_sec < 10);
  CHECK(ru.ru_stime.tv_sec >= 0 && ru.ru_stime.tv_sec < 10);
  CHECK(ru.ru_utime.tv_usec >= 0 && ru.ru_utime.tv_usec < 1000000);
  CHECK(ru.ru_maxrss > 0);
  /* Only the low 8 bits of the exit code survive. */
  pid = spawn_exit(0x1ff);
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK_EQ(WEXITSTATUS(st), 0xff);
}

static void signal_termination(void) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    signal(SIGTERM, SIG_DFL);
    raise(SIGTERM);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFSIGNALED(st));
  CHECK(!WIFEXITED(st));
  CHECK_EQ(WTERMSIG(st), SIGTERM);
  int rel;
  pid = spawn_blocked(&rel);
  CHECK_SYS(kill(pid, SIGKILL));
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  CHECK_SYS(waitid(P_PID, pid, &si, WEXITED));
  CHECK_EQ(si.si_pid, pid);
  CHECK_EQ(si.si_signo, SIGCHLD);
  CHECK_EQ(si.si_code, CLD_KILLED);
  CHECK_EQ(si.si_status, SIGKILL);
  CHECK_EQ(si.si_uid, getuid());
  close(rel);
}

static void waitid_exited(void) {
  pid_t pid = spawn_exit(7);
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  CHECK_SYS(waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
  CHECK_EQ(si.si_code, CLD_EXITED);
  CHECK_EQ(si.si_status, 7);
  /* WNOWAIT left the zombie in place: it can be collected again. */
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK_EQ(WEXITSTATUS(st), 7);
  CHECK_ERR(waitid(P_PID, pid, &si, WEXITED), ECHILD);
  CHECK_ERR(waitid(P_ALL, 0, &si, 0), EINVAL);
}

static void wnohang(void) {
  int rel;
  pid_t pid = spawn_blocked(&rel);
  int st;
  CHECK_EQ(waitpid(pid, &st, WNOHANG), 0);
  siginfo_t si;
  memset(&si, 0xff, sizeof(si));
  CHECK_SYS(waitid(P_PID, pid, &si, WEXITED | WNOHANG));
  /* Nothing to report is signalled by si_pid == 0. */
  CHECK_EQ(si.si_pid, 0);
  close(rel);
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void zombie(void) {
  pid_t pid = spawn_exit(0);
  siginfo_t si;
  memset(&si, 0, sizeof(si));
  CHECK_SYS(waitid(P_PID, pid, &si, WEXITED | WNOWAIT));
  /* An unreaped zombie still owns its pid. */
  CHECK_SYS(kill(pid, 0));
  CHECK_EQ(waitpid(pid, NULL, 0), pid);
  CHECK_ERR(kill(pid, 0), ESRCH);
  CHECK_ERR(waitpid(pid, NULL, 0), ECHILD);
}

static void stop_continue(void) {
  int rel;
  pid_t pid = spawn_blocked(&rel);
  CHECK_SYS(kill(pid, SIGSTOP));
  int st;
  CHECK_EQ(waitpid(pid, &st, WUNTRACED), pid);
  CHECK(WIFSTOPPED(st));
  CHECK_EQ(WSTOPSIG(st), SIGSTOP);
  CHECK_SYS(kill(pid, SIGCONT));
  CHECK_EQ(waitpid(pid, &st, WCONTINUED), pid);
  CHECK(WIFCONTINUED(st));
  close(rel);
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
}

static void any_and_groups(void) {
  CHECK_ERR(waitpid(-1, NULL, WNOHANG), ECHILD);
  pid_t a = spawn_exit(1);
  pid_t b = fork();
  CHECK(b >= 0);
  if (b == 0) {
    setpgid(0, 0);
    _exit(2);
  }
  /* Setting it from both sides avoids racing the child. */
  setpgid(b, b);
  int st;
  CHECK_EQ(waitpid(-b, &st, 0), b);
  CHECK_EQ(WEXITSTATUS(st), 2);
  CHECK_EQ(waitpid(0, &st, 0), a);
  CHECK_EQ(WEXITSTATUS(st), 1);
  CHECK_ERR(wait(NULL), ECHILD);
}

int main(void) {
  test_init();
  RUN(exit_status);
  RUN(signal_termination);
  RUN(waitid_exited);
  RUN(wnohang);
  RUN(zombie);
  RUN(stop_continue);
  RUN(any_and_groups);
  return 0;
}
