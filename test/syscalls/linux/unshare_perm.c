/*
 * unshare_perm: unshare(2)'s permission check. Without CAP_SYS_ADMIN,
 * asking for a new network, IPC, UTS or mount namespace is EPERM (before
 * any question of whether the kind is supported), while unsharing the
 * file table needs no privilege.
 */
#include "test.h"

#include <sched.h>
#include <sys/wait.h>

static void unprivileged(void) {
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    if (setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
    int flags[] = {CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNS, CLONE_NEWIPC | CLONE_FILES};
    for (unsigned i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
      errno = 0;
      if (unshare(flags[i]) != -1 || errno != EPERM) _exit(20 + i);
    }
    if (unshare(CLONE_FILES) != 0) _exit(30);
    _exit(0);
  }
  int status;
  CHECK_SYS(waitpid(pid, &status, 0));
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
}

static void privileged_ipc(void) {
  /* As root (the tests run with CAP_SYS_ADMIN), a new IPC namespace
   * works. */
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) _exit(unshare(CLONE_NEWIPC) == 0 ? 0 : 1);
  int status;
  CHECK_SYS(waitpid(pid, &status, 0));
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
}

int main(void) {
  test_init();
  RUN(unprivileged);
  RUN(privileged_ipc);
  return 0;
}
