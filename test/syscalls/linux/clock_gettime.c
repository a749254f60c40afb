/*
 * clock_gettime: clock_gettime (vDSO and raw syscall), clock_getres,
 * gettimeofday, time, nanosleep and clock_nanosleep.
 * Checks that CLOCK_MONOTONIC never goes backwards, that the realtime
 * clocks agree with each other, that CPU-time clocks advance with work,
 * that sleeps last at least as long as asked (relative and absolute), that
 * an interrupted nanosleep reports the remainder, and argument errors.
 */
#include "test.h"

#include <signal.h>
#include <sys/syscall.h>
#include <sys/time.h>

#define NS 1000000000LL

static long long ts_ns(struct timespec ts) { return ts.tv_sec * NS + ts.tv_nsec; }

static long long raw_now(clockid_t c) {
  struct timespec ts;
  CHECK_SYS(syscall(SYS_clock_gettime, c, &ts));
  return ts_ns(ts);
}

static long long now(clockid_t c) {
  struct timespec ts;
  CHECK_SYS(clock_gettime(c, &ts));
  CHECK(ts.tv_nsec >= 0 && ts.tv_nsec < NS);
  return ts_ns(ts);
}

static void monotonic(void) {
  /* Interleave the vDSO and the syscall: both must read one clock. */
  long long prev = now(CLOCK_MONOTONIC);
  for (int i = 0; i < 20000; i++) {
    long long t = (i & 1) ? raw_now(CLOCK_MONOTONIC) : now(CLOCK_MONOTONIC);
    CHECK(t >= prev);
    prev = t;
  }
  prev = now(CLOCK_MONOTONIC_RAW);
  for (int i = 0; i < 1000; i++) {
    long long t = now(CLOCK_MONOTONIC_RAW);
    CHECK(t >= prev);
    prev = t;
  }
  /* BOOTTIME also counts suspend, so it is never behind MONOTONIC. */
  long long m = now(CLOCK_MONOTONIC);
  CHECK(now(CLOCK_BOOTTIME) >= m);
  CHECK(now(CLOCK_MONOTONIC_COARSE) > 0);
}

static void realtime(void) {
  time_t t0 = time(NULL);
  long long rt = now(CLOCK_REALTIME);
  long long raw = raw_now(CLOCK_REALTIME);
  struct timeval tv;
  CHECK_SYS(gettimeofday(&tv, NULL));
  time_t t1 = time(NULL);
  CHECK(t0 > 1600000000); /* after 2020 */
  /* time() reads the tick-updated seconds, which may trail the precise
   * clocks by up to a tick: allow one second above it, never below. */
  CHECK(rt / NS >= t0 && rt / NS <= t1 + 1);
  CHECK(raw >= rt && raw - rt < 2 * NS);
  CHECK(tv.tv_sec >= t0 && tv.tv_sec <= t1 + 1);
  CHECK(tv.tv_usec >= 0 && tv.tv_usec < 1000000);
  CHECK_EQ(syscall(SYS_time, NULL) >= t0, 1);
  /* The coarse clock may lag by a tick, but not by seconds. */
  long long coarse = now(CLOCK_REALTIME_COARSE);
  CHECK(coarse > rt - 2 * NS && coarse <= now(CLOCK_REALTIME));
}

static void cputime(void) {
  long long p0 = now(CLOCK_PROCESS_CPUTIME_ID);
  long long t0 = now(CLOCK_THREAD_CPUTIME_ID);
  /* Spin until the thread clock shows 10 ms of work; wall time only bounds
   * the loop, so a busy host slows this down instead of failing it. */
  long long give_up = now(CLOCK_MONOTONIC) + 1500LL * 1000 * 1000;
  volatile unsigned long x = 0;
  long long t1;
  do {
    for (int i = 0; i < 10000; i++) x++;
    t1 = now(CLOCK_THREAD_CPUTIME_ID);
  } while (t1 - t0 < 10 * 1000 * 1000 && now(CLOCK_MONOTONIC) < give_up);
  CHECK(t1 - t0 >= 10 * 1000 * 1000);
  /* The process clock includes this thread's time. */
  CHECK(now(CLOCK_PROCESS_CPUTIME_ID) - p0 >= t1 - t0);
}

static void resolution(void) {
  clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME,
                        CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID};
  for (unsigned i = 0; i < sizeof(clocks) / sizeof(clocks[0]); i++) {
    struct timespec res = {-1, -1};
    CHECK_SYS(clock_getres(clocks[i], &res));
    CHECK_EQ(res.tv_sec, 0);
    CHECK(res.tv_nsec > 0 && res.tv_nsec <= 1000 * 1000);
  }
  /* A NULL result pointer is allowed. */
  CHECK_SYS(clock_getres(CLOCK_MONOTONIC, NULL));
  struct timespec ts;
  CHECK_ERR(clock_getres(12345, &ts), EINVAL);
  CHECK_ERR(clock_gettime(12345, &ts), EINVAL);
  CHECK_ERR(syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void *)8), EFAULT);
}

static void sleeps(void) {
  struct timespec req = {0, 20 * 1000 * 1000};
  long long t0 = now(CLOCK_MONOTONIC);
  CHECK_SYS(nanosleep(&req, NULL));
  long long t1 = now(CLOCK_MONOTONIC);
  CHECK(t1 - t0 >= 20 * 1000 * 1000);
  CHECK(t1 - t0 < 2 * NS);
  CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL), 0);
  CHECK(now(CLOCK_MONOTONIC) - t1 >= 20 * 1000 * 1000);
  /* Absolute sleep ends at the deadline, not before. */
  long long deadline = now(CLOCK_MONOTONIC) + 20 * 1000 * 1000;
  struct timespec abs = {deadline / NS, deadline % NS};
  CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL), 0);
  CHECK(now(CLOCK_MONOTONIC) >= deadline);
  /* A deadline in the past returns at once. */
  abs.tv_sec -= 100;
  CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL), 0);
  struct timespec bad = {0, NS};
  CHECK_ERR(nanosleep(&bad, NULL), EINVAL);
  bad.tv_sec = -1;
  bad.tv_nsec = 0;
  CHECK_ERR(nanosleep(&bad, NULL), EINVAL);
  /* clock_nanosleep returns the error instead of setting errno. */
  CHECK_EQ(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL), EINVAL);
}

static void on_alarm(int sig) { (void)sig; }

static void interrupted(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
  struct itimerval it = {{0, 0}, {0, 30 * 1000}};
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
  struct timespec req = {5, 0}, rem = {0, 0};
  long long t0 = now(CLOCK_MONOTONIC);
  CHECK_ERR(nanosleep(&req, &rem), EINTR);
  long long slept = now(CLOCK_MONOTONIC) - t0;
  CHECK(slept < 4 * NS);
  /* The remainder is what was left, give or take scheduling. */
  long long left = ts_ns(rem);
  CHECK(left > 0 && left <= 5 * NS - slept + 100 * 1000 * 1000);
  /* Restore the watchdog. */
  signal(SIGALRM, SIG_DFL);
  alarm(20);
}

int main(void) {
  test_init();
  RUN(monotonic);
  RUN(realtime);
  RUN(cputime);
  RUN(resolution);
  RUN(sleeps);
  RUN(interrupted);
  return 0;
}
