/*
 * sched: CPU affinity, scheduling policies and parameters, sched_yield,
 * getcpu, and I/O priorities.
 * Checks that the affinity mask covers exactly the online CPUs, that
 * subsets can be set and read back and an empty one is EINVAL, the
 * mask-size rules of sched_getaffinity, policy and priority ranges,
 * FIFO/RR needing CAP_SYS_NICE, and ioprio_get/ioprio_set round trips.
 * Changes happen in forked children.
 */
#include "test.h"

#include <linux/capability.h>
#include <sched.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static void in_child(void (*fn)(void)) {
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    fn();
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
}

static void affinity_child(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CHECK_SYS(sched_getaffinity(0, sizeof(set), &set));
  int n = CPU_COUNT(&set);
  CHECK(n >= 1);
  CHECK_EQ(n, sysconf(_SC_NPROCESSORS_ONLN));
  /* The raw call returns how many bytes it wrote: a whole number of
   * longs, at most what was asked for. */
  long r = syscall(SYS_sched_getaffinity, 0, sizeof(set), &set);
  CHECK(r >= 8 && r <= (long)sizeof(set) && r % 8 == 0);
  CHECK_ERR(syscall(SYS_sched_getaffinity, 0, 4, &set), EINVAL);
  CHECK_ERR(syscall(SYS_sched_getaffinity, 0, 12, &set), EINVAL);
  CHECK_ERR(syscall(SYS_sched_getaffinity, 0, sizeof(set), (void *)8), EFAULT);
  CHECK_ERR(syscall(SYS_sched_getaffinity, -1, sizeof(set), &set), ESRCH);
  CHECK_ERR(syscall(SYS_sched_getaffinity, 0x3fffffff, sizeof(set), &set), ESRCH);
  /* Restrict to the first CPU we have. */
  int first = -1;
  for (int i = 0; i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, &set)) {
      first = i;
      break;
    }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  CHECK_SYS(sched_setaffinity(0, sizeof(one), &one));
  cpu_set_t got;
  CPU_ZERO(&got);
  CHECK_SYS(sched_getaffinity(0, sizeof(got), &got));
  CHECK_EQ(CPU_COUNT(&got), 1);
  CHECK(CPU_ISSET(first, &got));
  /* The mask is inherited across fork. */
  pid_t pid = fork();
  if (pid == 0) {
    cpu_set_t c;
    CPU_ZERO(&c);
    _exit(sched_getaffinity(0, sizeof(c), &c) == 0 && CPU_COUNT(&c) == 1 ? 0 : 1);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  /* No usable CPU at all. */
  cpu_set_t none;
  CPU_ZERO(&none);
  CHECK_ERR(sched_setaffinity(0, sizeof(none), &none), EINVAL);
  /* The whole set again. */
  CHECK_SYS(sched_setaffinity(0, sizeof(set), &set));
  CPU_ZERO(&got);
  CHECK_SYS(sched_getaffinity(0, sizeof(got), &got));
  CHECK_EQ(CPU_COUNT(&got), n);
  /* getcpu names one of our CPUs. */
  unsigned cpu = 99999, node = 99999;
  CHECK_SYS(syscall(SYS_getcpu, &cpu, &node, NULL));
  CHECK(CPU_ISSET(cpu, &set));
  CHECK(node < 1024);
  CHECK_SYS(syscall(SYS_getcpu, NULL, NULL, NULL));
  CHECK(sched_getcpu() >= 0);
}

static void policies_child(void) {
  CHECK_EQ(sched_getscheduler(0), SCHED_OTHER);
  struct sched_param p = {0};
  CHECK_SYS(sched_getparam(0, &p));
  CHECK_EQ(p.sched_priority, 0);
  CHECK_EQ(sched_get_priority_max(SCHED_FIFO), 99);
  CHECK_EQ(sched_get_priority_min(SCHED_FIFO), 1);
  CHECK_EQ(sched_get_priority_max(SCHED_RR), 99);
  CHECK_EQ(sched_get_priority_max(SCHED_OTHER), 0);
  CHECK_EQ(sched_get_priority_min(SCHED_BATCH), 0);
  CHECK_ERR(sched_get_priority_max(42), EINVAL);
  CHECK_ERR(sched_get_priority_min(-1), EINVAL);

  CHECK_SYS(sched_setscheduler(0, SCHED_BATCH, &p));
  CHECK_EQ(sched_getscheduler(0), SCHED_BATCH);
  CHECK_SYS(sched_setscheduler(0, SCHED_IDLE, &p));
  CHECK_EQ(sched_getscheduler(0), SCHED_IDLE);
  CHECK_SYS(sched_setscheduler(0, SCHED_OTHER, &p));
  /* Normal policies take priority 0 only. */
  p.sched_priority = 1;
  CHECK_ERR(sched_setscheduler(0, SCHED_OTHER, &p), EINVAL);
  CHECK_ERR(sched_setparam(0, &p), EINVAL);
  p.sched_priority = 100;
  CHECK_ERR(sched_setscheduler(0, SCHED_FIFO, &p), EINVAL);
  CHECK_ERR(sched_setscheduler(0, 42, &p), EINVAL);
  CHECK_ERR(syscall(SYS_sched_setscheduler, 0, SCHED_OTHER, NULL), EINVAL);
  CHECK_ERR(sched_setscheduler(-1, SCHED_OTHER, &p), EINVAL);
  CHECK_ERR(sched_getscheduler(0x3fffffff), ESRCH);

  /* Root may use SCHED_RR, whose slice is 100 ms. */
  p.sched_priority = 1;
  CHECK_SYS(sched_setscheduler(0, SCHED_RR, &p));
  CHECK_EQ(sched_getscheduler(0), SCHED_RR);
  struct timespec ts;
  CHECK_SYS(sched_rr_get_interval(0, &ts));
  CHECK(ts.tv_sec == 0 && ts.tv_nsec == 100 * 1000 * 1000);
  p.sched_priority = 5;
  CHECK_SYS(sched_setparam(0, &p));
  CHECK_SYS(sched_getparam(0, &p));
  CHECK_EQ(p.sched_priority, 5);
  p.sched_priority = 0;
  CHECK_SYS(sched_setscheduler(0, SCHED_OTHER, &p));
  CHECK_SYS(sched_rr_get_interval(0, &ts));
  CHECK(ts.tv_sec >= 0 && ts.tv_nsec >= 0 && ts.tv_nsec < 1000000000);

  /* Without CAP_SYS_NICE (and RLIMIT_RTPRIO 0), real-time is EPERM. */
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2];
  CHECK_SYS(syscall(SYS_capget, &h, d));
  d[0].effective &= ~(1u << CAP_SYS_NICE);
  CHECK_SYS(syscall(SYS_capset, &h, d));
  p.sched_priority = 1;
  CHECK_ERR(sched_setscheduler(0, SCHED_FIFO, &p), EPERM);
  p.sched_priority = 0;
  CHECK_SYS(sched_setscheduler(0, SCHED_BATCH, &p));
  for (int i = 0; i < 10; i++) CHECK_SYS(sched_yield());
}

#define IOPRIO_CLASS_SHIFT 13
#define IOPRIO(c, d) (((c) << IOPRIO_CLASS_SHIFT) | (d))

static void ioprio_child(void) {
  long def = syscall(SYS_ioprio_get, 1, 0);
  CHECK(def >= 0);
  CHECK_SYS(syscall(SYS_ioprio_set, 1, 0, IOPRIO(2, 7)));
  CHECK_EQ(syscall(SYS_ioprio_get, 1, 0), IOPRIO(2, 7));
  CHECK_EQ(syscall(SYS_ioprio_get, 1, getpid()), IOPRIO(2, 7));
  CHECK_SYS(syscall(SYS_ioprio_set, 1, 0, IOPRIO(3, 0)));
  CHECK_EQ(syscall(SYS_ioprio_get, 1, 0), IOPRIO(3, 0));
  CHECK_SYS(syscall(SYS_ioprio_set, 1, 0, IOPRIO(1, 2)));
  CHECK_EQ(syscall(SYS_ioprio_get, 1, 0), IOPRIO(1, 2));
  /* Class NONE takes no data; unknown classes and targets are errors. */
  CHECK_ERR(syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 1)), EINVAL);
  CHECK_ERR(syscall(SYS_ioprio_set, 1, 0, IOPRIO(4, 0)), EINVAL);
  CHECK_ERR(syscall(SYS_ioprio_set, 9, 0, IOPRIO(2, 0)), EINVAL);
  CHECK_ERR(syscall(SYS_ioprio_get, 9, 0), EINVAL);
  CHECK_ERR(syscall(SYS_ioprio_get, 1, 0x3fffffff), ESRCH);
  CHECK_SYS(syscall(SYS_ioprio_set, 1, 0, IOPRIO(0, 0)));
  CHECK_EQ(syscall(SYS_ioprio_get, 1, 0), 0);
}

static void affinity(void) { in_child(affinity_child); }
static void policies(void) { in_child(policies_child); }
static void ioprio(void) { in_child(ioprio_child); }

int main(void) {
  test_init();
  if (geteuid() != 0) {
    printf("SKIP: needs root\n");
    return 1;
  }
  RUN(affinity);
  RUN(policies);
  RUN(ioprio);
  return 0;
}
