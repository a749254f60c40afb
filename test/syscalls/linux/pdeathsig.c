/*
 * pdeathsig: PR_SET_PDEATHSIG delivery. A child asks for a signal when its
 * parent dies; the signal arrives when the parent (a thread, in Linux's
 * terms) exits, and the orphan is reparented.
 */
#include "test.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

static void delivered_when_parent_exits(void) {
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t middle = fork();
  CHECK_SYS(middle);
  if (middle == 0) {
    pid_t child = fork();
    if (child < 0) _exit(2);
    if (child == 0) {
      sigset_t set;
      sigemptyset(&set);
      sigaddset(&set, SIGUSR1);
      sigprocmask(SIG_BLOCK, &set, NULL);
      if (prctl(PR_SET_PDEATHSIG, SIGUSR1) != 0) _exit(3);
      /* Tell the middle process it may exit now. */
      if (write(p[1], "r", 1) != 1) _exit(4);
      struct timespec ts = {10, 0};
      siginfo_t si;
      int sig = sigtimedwait(&set, &si, &ts);
      char ok = (sig == SIGUSR1 && getppid() != getpid()) ? 'y' : 'n';
      if (write(p[1], &ok, 1) != 1) _exit(5);
      _exit(0);
    }
    char r;
    if (read(p[0], &r, 1) != 1) _exit(6);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(middle, &st, 0), middle);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  char ok = 0;
  CHECK_EQ(read(p[0], &ok, 1), 1);
  CHECK_EQ(ok, 'y');
  close(p[0]);
  close(p[1]);
}

int main(void) {
  test_init();
  RUN(delivered_when_parent_exits);
  return 0;
}
