/*
 * proc_stat: /proc/stat's CPU lines and /proc/uptime's idle time.
 * Checks that the "cpu" line is the sum of the cpuN lines, one per online
 * CPU; that CPU time this process burns shows up in the user and system
 * columns; and that idle time never exceeds what the CPUs could have
 * spent since boot.
 */
#include "test.h"

#include <time.h>

/* cpu_times holds a line's user, nice, system and idle columns. */
struct cpu_times {
  unsigned long long user, nice, sys, idle;
};

/* read_stat reads the "cpu" line into total and sums the cpuN lines into
 * per_cpu, returning how many cpuN lines there were. */
static int read_stat(struct cpu_times *total, struct cpu_times *per_cpu) {
  static char buf[1 << 16];
  int fd = open("/proc/stat", O_RDONLY);
  CHECK(fd >= 0);
  ssize_t n = 0, r;
  while ((r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0) n += r;
  CHECK(r == 0);
  close(fd);
  buf[n] = 0;
  memset(per_cpu, 0, sizeof(*per_cpu));
  int cpus = 0, have_total = 0;
  for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    struct cpu_times t;
    char name[32];
    if (sscanf(line, "%31s %llu %llu %llu %llu", name, &t.user, &t.nice, &t.sys, &t.idle) != 5 ||
        strncmp(name, "cpu", 3) != 0)
      continue;
    if (strcmp(name, "cpu") == 0) {
      *total = t;
      have_total = 1;
      continue;
    }
    per_cpu->user += t.user;
    per_cpu->nice += t.nice;
    per_cpu->sys += t.sys;
    per_cpu->idle += t.idle;
    cpus++;
  }
  CHECK(have_total);
  return cpus;
}

static double cpu_seconds(void) {
  struct timespec ts;
  CHECK_SYS(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts));
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void lines_add_up(void) {
  struct cpu_times total, per_cpu;
  int cpus = read_stat(&total, &per_cpu);
  CHECK_EQ(cpus, (int)sysconf(_SC_NPROCESSORS_ONLN));
  /* Linux sums each column over the CPUs; ticks move between the two
   * reads of one file only for a CPU read after it changed, so allow a
   * little per CPU. */
  long long slack = 5 * cpus;
  CHECK(llabs((long long)(total.user - per_cpu.user)) <= slack);
  CHECK(llabs((long long)(total.sys - per_cpu.sys)) <= slack);
  CHECK(llabs((long long)(total.idle - per_cpu.idle)) <= slack);
}

static void burning_counts(void) {
  struct cpu_times before, after, per_cpu;
  read_stat(&before, &per_cpu);
  /* Burn 300 ms of this process's own CPU time. */
  double start = cpu_seconds();
  volatile unsigned long x = 0;
  while (cpu_seconds() - start < 0.3)
    for (int i = 0; i < 100000; i++) x += i;
  read_stat(&after, &per_cpu);
  unsigned long long busy = (after.user + after.nice + after.sys) - (before.user + before.nice + before.sys);
  long hz = sysconf(_SC_CLK_TCK);
  if (busy < (unsigned long long)(hz / 5)) {
    fprintf(stderr, "300 ms of CPU time moved /proc/stat's busy time by %llu ticks (USER_HZ %ld)\n", busy, hz);
    CHECK(0);
  }
}

static void idle_bounded(void) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  int fd = open("/proc/uptime", O_RDONLY);
  CHECK(fd >= 0);
  char buf[128];
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = 0;
  close(fd);
  double up, idle;
  CHECK_EQ(sscanf(buf, "%lf %lf", &up, &idle), 2);
  CHECK(up > 0);
  CHECK(idle >= 0);
  CHECK(idle <= up * cpus + 1);

  struct cpu_times total, per_cpu;
  read_stat(&total, &per_cpu);
  long hz = sysconf(_SC_CLK_TCK);
  CHECK((double)total.idle / hz <= up * cpus + 1);
}

int main(void) {
  test_init();
  RUN(lines_add_up);
  RUN(burning_counts);
  RUN(idle_bounded);
  return 0;
}
