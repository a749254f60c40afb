/*
 * sysmisc: sethostname/setdomainname argument rules, sysinfo,
 * personality, membarrier, adjtimex/clock_adjtime queries.
 * Nothing here changes the machine: sethostname is only called in ways
 * that fail, and adjtimex only reads.
 */
#include "test.h"

#include <linux/capability.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/personality.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/timex.h>
#include <sys/utsname.h>
#include <sys/wait.h>

static void hostnames(void) {
  char name[100];
  memset(name, 'a', sizeof(name));
  /* Too long is EINVAL (for root; others get EPERM first). */
  CHECK_ERR(sethostname(name, 65), EINVAL);
  CHECK_ERR(setdomainname(name, 65), EINVAL);
  CHECK_ERR(syscall(SYS_sethostname, name, -1), EINVAL);
  /* Without CAP_SYS_ADMIN it is EPERM, whatever the length. */
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &h, d) != 0) _exit(2);
    d[0].effective &= ~(1u << CAP_SYS_ADMIN);
    if (syscall(SYS_capset, &h, d) != 0) _exit(3);
    if (sethostname("x", 1) != -1 || errno != EPERM) _exit(4);
    if (setdomainname(name, 65) != -1 || errno != EPERM) _exit(5);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
  struct utsname u;
  CHECK_SYS(uname(&u));
  CHECK(u.domainname[0] != 0);
}

static void system_info(void) {
  struct sysinfo si;
  memset(&si, 0xff, sizeof(si));
  CHECK_SYS(sysinfo(&si));
  CHECK(si.uptime >= 1);
  CHECK(si.mem_unit >= 1);
  CHECK(si.totalram > 0);
  CHECK(si.freeram <= si.totalram);
  CHECK(si.procs >= 1);
  CHECK(si.freeswap <= si.totalswap);
  /* Uptime moves forward with CLOCK_BOOTTIME-like seconds. */
  struct sysinfo later;
  CHECK_SYS(sysinfo(&later));
  CHECK(later.uptime >= si.uptime);
  /* A new process shows up in procs. */
  int p[2];
  CHECK_SYS(pipe(p));
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    close(p[1]);
    read(p[0], &c, 1);
    _exit(0);
  }
  CHECK_SYS(sysinfo(&later));
  CHECK(later.procs >= 2);
  close(p[1]);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  close(p[0]);
  CHECK_ERR(syscall(SYS_sysinfo, (void *)8), EFAULT);
}

static void personalities(void) {
  int cur = personality(0xffffffff);
  CHECK(cur >= 0);
  CHECK_EQ(cur & PER_MASK, PER_LINUX);
  CHECK_EQ(personality(PER_LINUX | ADDR_NO_RANDOMIZE), cur);
  CHECK_EQ(personality(0xffffffff), PER_LINUX | ADDR_NO_RANDOMIZE);
  /* Inherited across fork. */
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) _exit(personality(0xffffffff) == (PER_LINUX | ADDR_NO_RANDOMIZE) ? 0 : 1);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_EQ(personality(cur), PER_LINUX | ADDR_NO_RANDOMIZE);
  CHECK_EQ(personality(0xffffffff), cur);
}

static volatile int stop_spinning;
static void *spinner(void *arg) {
  (void)arg;
  while (!stop_spinning) {
  }
  return NULL;
}

static void barriers(void) {
  long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  CHECK(q > 0);
  CHECK(q & MEMBARRIER_CMD_GLOBAL);
  CHECK(q & MEMBARRIER_CMD_PRIVATE_EXPEDITED);
  CHECK(q & MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
  CHECK_ERR(syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 1, 0), EINVAL);
  CHECK_ERR(syscall(SYS_membarrier, 3, 0, 0), EINVAL);
  /* Private expedited needs registration first (per process: fork a
   * child that has not registered). */
  fflush(stdout);
  pid_t pid = fork();
  if (pid == 0)
    _exit(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == -1 && errno == EPERM ? 0 : 1);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_SYS(syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0));
  /* With another thread running, the barrier still completes. */
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, spinner, NULL), 0);
  for (int i = 0; i < 5; i++) CHECK_SYS(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
  CHECK_SYS(syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL, 0, 0));
  stop_spinning = 1;
  CHECK_EQ(pthread_join(th, NULL), 0);
}

static void adjtime_queries(void) {
  struct timex tx;
  memset(&tx, 0, sizeof(tx));
  int state = adjtimex(&tx);
  CHECK(state >= 0 && state <= 5);
  CHECK(tx.tick > 0);
  CHECK(tx.time.tv_sec > 1600000000);
  memset(&tx, 0, sizeof(tx));
  CHECK(syscall(SYS_clock_adjtime, CLOCK_REALTIME, &tx) >= 0);
  CHECK_ERR(syscall(SYS_clock_adjtime, CLOCK_MONOTONIC, &tx), EOPNOTSUPP);
  CHECK_ERR(syscall(SYS_clock_adjtime, 100, &tx), EINVAL);
  CHECK_ERR(syscall(SYS_adjtimex, (void *)8), EFAULT);
}

int main(void) {
  test_init();
  if (geteuid() != 0) {
    printf("SKIP: needs root\n");
    return 1;
  }
  RUN(hostnames);
  RUN(system_info);
  RUN(personalities);
  RUN(barriers);
  RUN(adjtime_queries);
  return 0;
}
