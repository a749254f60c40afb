/*
 * loadavg: load averages and run-queue counts in /proc/loadavg and
 * sysinfo(2). Checks /proc/loadavg's format (three averages with two
 * decimals, running/total, last PID), that sysinfo's loads (16 fraction
 * bits) print the same averages as /proc/loadavg with Linux's rounding,
 * that spinning threads count as running while sleeping ones do not, that
 * the total counts this process's threads, and that the last PID is at
 * least the PID of a just-forked child.
 */
#include "test.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>

struct loadavg {
  char avg[3][16];
  int running, total, last;
};

static void read_loadavg(struct loadavg *l) {
  FILE *f = fopen("/proc/loadavg", "r");
  CHECK(f != NULL);
  char line[128];
  CHECK(fgets(line, sizeof(line), f) != NULL);
  fclose(f);
  char tail[8];
  int n = sscanf(line, "%15s %15s %15s %d/%d %d%7s", l->avg[0], l->avg[1],
                 l->avg[2], &l->running, &l->total, &l->last, tail);
  CHECK_EQ(n, 6);
  CHECK(line[strlen(line) - 1] == '\n');
  for (int i = 0; i < 3; i++) {
    /* digits, '.', exactly two digits */
    char *dot = strchr(l->avg[i], '.');
    CHECK(dot != NULL && dot > l->avg[i]);
    CHECK_EQ(strlen(dot + 1), 2);
  }
}

static void format(void) {
  struct loadavg l;
  read_loadavg(&l);
  CHECK(l.running >= 1);
  CHECK(l.total >= 1);
  CHECK(l.running <= l.total);
  CHECK(l.last >= getpid());
}

/* fmt_load prints a sysinfo load as /proc/loadavg does: FSHIFT 11
 * fixed point, plus half a hundredth, truncated to two decimals. */
static void fmt_load(unsigned long si_load, char *buf, size_t n) {
  unsigned long x = (si_load >> (SI_LOAD_SHIFT - 11)) + (1 << 11) / 200;
  snprintf(buf, n, "%lu.%02lu", x >> 11, ((x & ((1 << 11) - 1)) * 100) >> 11);
}

static void sysinfo_matches(void) {
  /* A sample may fall between the two reads: retry a few times. */
  for (int try = 0; try < 5; try++) {
    struct sysinfo si;
    struct loadavg l;
    CHECK_SYS(sysinfo(&si));
    read_loadavg(&l);
    int same = 1;
    for (int i = 0; i < 3; i++) {
      char buf[32];
      fmt_load(si.loads[i], buf, sizeof(buf));
      if (strcmp(buf, l.avg[i]) != 0) same = 0;
    }
    if (same) return;
    usleep(100000);
  }
  CHECK(!"sysinfo loads never matched /proc/loadavg");
}

static atomic_int spinning, stop;

static void *spin(void *arg) {
  (void)arg;
  atomic_fetch_add(&spinning, 1);
  while (!atomic_load(&stop)) {
  }
  return NULL;
}

static void *sleeper(void *arg) {
  (void)arg;
  atomic_fetch_add(&spinning, 1);
  while (!atomic_load(&stop)) usleep(1000);
  return NULL;
}

static void running_counts(void) {
  struct loadavg before;
  read_loadavg(&before);
  pthread_t th[6];
  for (int i = 0; i < 2; i++) CHECK(pthread_create(&th[i], NULL, spin, NULL) == 0);
  for (int i = 2; i < 6; i++) CHECK(pthread_create(&th[i], NULL, sleeper, NULL) == 0);
  while (atomic_load(&spinning) < 6) sched_yield();
  /* Spinning threads are running or runnable; with the reader, at
   * least 3. Sampled several times since a spinner may be preempted
   * by the host for a moment under the sandbox. */
  int best = 0, total = 0;
  for (int i = 0; i < 100 && best < 3; i++) {
    struct loadavg l;
    read_loadavg(&l);
    if (l.running > best) best = l.running;
    total = l.total;
    usleep(10000);
  }
  CHECK(best >= 3);
  CHECK(total >= 7);
  atomic_store(&stop, 1);
  for (int i = 0; i < 6; i++) pthread_join(th[i], NULL);
}

static void last_pid(void) {
  pid_t c = fork();
  CHECK_SYS(c);
  if (c == 0) _exit(0);
  struct loadavg l;
  read_loadavg(&l);
  CHECK_SYS(waitpid(c, NULL, 0));
  CHECK(l.last >= c);
}

int main(void) {
  test_init();
  RUN(format);
  RUN(sysinfo_matches);
  RUN(running_counts);
  RUN(last_pid);
  return 0;
}
