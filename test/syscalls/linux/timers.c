/*
 * timers: interval timers, alarm, POSIX timers, absolute sleeps, and CPU
 * usage (times, getrusage).
 * Checks that ITIMER_REAL and ITIMER_VIRTUAL deliver their signals and
 * report their remaining time, alarm's return value, timer_create with
 * SIGEV_SIGNAL (siginfo fields), SIGEV_THREAD_ID and SIGEV_NONE, overrun
 * counting while the signal stays blocked, argument errors, absolute
 * clock_nanosleep on CLOCK_REALTIME, and that CPU usage grows with work.
 */
#include "test.h"

#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/wait.h>

#define NS 1000000000LL
#define MS 1000000LL

static volatile sig_atomic_t alarms, vtalarms;
static void on_alarm(int sig) {
  (void)sig;
  alarms++;
}
static void on_vtalarm(int sig) {
  (void)sig;
  vtalarms++;
}

static long long cpu_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * NS + ts.tv_nsec;
}

/* spin burns ms milliseconds of process CPU time (bounded by 3 s of wall
 * time so a starved host fails the checks, not the suite). */
static void spin(long long ms) {
  long long end = cpu_now() + ms * MS, give_up = test_now_ns() + 3 * NS;
  volatile unsigned long x = 0;
  while (cpu_now() < end && test_now_ns() < give_up)
    for (int i = 0; i < 10000; i++) x++;
}

static void itimer_real(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
  alarms = 0;
  struct itimerval it = {{0, 10000}, {0, 20000}}, old, cur;
  CHECK_SYS(setitimer(ITIMER_REAL, &it, &old));
  CHECK_SYS(getitimer(ITIMER_REAL, &cur));
  CHECK_EQ(cur.it_interval.tv_usec, 10000);
  CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_usec <= 20000);
  long long give_up = test_now_ns() + 3 * NS;
  while (alarms < 3 && test_now_ns() < give_up) pause();
  CHECK(alarms >= 3);
  struct itimerval zero = {{0, 0}, {0, 0}};
  CHECK_SYS(setitimer(ITIMER_REAL, &zero, &old));
  CHECK_EQ(old.it_interval.tv_usec, 10000);
  CHECK_SYS(getitimer(ITIMER_REAL, &cur));
  CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);
  struct itimerval bad = {{0, 0}, {0, 1000000}};
  CHECK_ERR(setitimer(ITIMER_REAL, &bad, NULL), EINVAL);
  CHECK_ERR(setitimer(7, &it, NULL), EINVAL);
  CHECK_ERR(getitimer(7, &cur), EINVAL);
}

static void alarm_calls(void) {
  signal(SIGALRM, SIG_DFL);
  alarm(0);
  CHECK_EQ(alarm(100), 0);
  /* The old alarm's remaining seconds, rounded. */
  CHECK_EQ(alarm(5), 100);
  struct itimerval cur;
  CHECK_SYS(getitimer(ITIMER_REAL, &cur));
  CHECK(cur.it_value.tv_sec <= 5 && cur.it_value.tv_sec >= 4);
  CHECK_EQ(alarm(0), 5);
  CHECK_EQ(alarm(0), 0);
  /* Restore the watchdog. */
  alarm(20);
}

static void itimer_virtual(void) {
  struct sigaction sa = {0};
  sa.sa_handler = on_vtalarm;
  CHECK_SYS(sigaction(SIGVTALRM, &sa, NULL));
  vtalarms = 0;
  /* Virtual time only runs while the process runs: sleeping does not
   * fire it, spinning does. */
  struct itimerval it = {{0, 0}, {0, 30000}};
  CHECK_SYS(setitimer(ITIMER_VIRTUAL, &it, NULL));
  usleep(60000);
  CHECK_EQ(vtalarms, 0);
  long long give_up = test_now_ns() + 3 * NS;
  while (vtalarms == 0 && test_now_ns() < give_up) spin(5);
  CHECK_EQ(vtalarms, 1);
  struct itimerval cur;
  CHECK_SYS(getitimer(ITIMER_VIRTUAL, &cur));
  CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);
  signal(SIGVTALRM, SIG_DFL);
}

static volatile sig_atomic_t got_code, got_value, got_tid, got_timerid;
static void on_rt(int sig, siginfo_t *si, void *ctx) {
  (void)sig;
  (void)ctx;
  got_code = si->si_code;
  got_value = si->si_value.sival_int;
  got_tid = syscall(SYS_gettid);
  got_timerid = si->si_timerid;
}

static void posix_signal(void) {
  struct sigaction sa = {0};
  sa.sa_sigaction = on_rt;
  sa.sa_flags = SA_SIGINFO;
  CHECK_SYS(sigaction(SIGRTMIN, &sa, NULL));
  struct sigevent ev = {0};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGRTMIN;
  ev.sigev_value.sival_int = 4242;
  timer_t t;
  CHECK_SYS(timer_create(CLOCK_MONOTONIC, &ev, &t));
  got_code = 0;
  struct itimerspec its = {{0, 0}, {0, 10 * MS}}, cur;
  CHECK_SYS(timer_settime(t, 0, &its, NULL));
  CHECK_SYS(timer_gettime(t, &cur));
  CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 0 && cur.it_value.tv_nsec <= 10 * MS);
  long long give_up = test_now_ns() + 3 * NS;
  while (got_code == 0 && test_now_ns() < give_up) usleep(1000);
  CHECK_EQ(got_code, SI_TIMER);
  CHECK_EQ(got_value, 4242);
  /* A one-shot timer is disarmed after it fires. */
  CHECK_SYS(timer_gettime(t, &cur));
  CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
  /* Absolute expiry on CLOCK_MONOTONIC. */
  got_code = 0;
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  long long at = now.tv_sec * NS + now.tv_nsec + 10 * MS;
  struct itimerspec abs = {{0, 0}, {at / NS, at % NS}};
  CHECK_SYS(timer_settime(t, TIMER_ABSTIME, &abs, NULL));
  while (got_code == 0 && test_now_ns() < give_up) usleep(1000);
  CHECK_EQ(got_code, SI_TIMER);
  CHECK(test_now_ns() >= at);
  CHECK_SYS(timer_delete(t));
  CHECK_ERR(timer_gettime(t, &cur), EINVAL);
  CHECK_ERR(timer_delete(t), EINVAL);
  struct itimerspec bad = {{0, 0}, {0, NS}};
  CHECK_SYS(timer_create(CLOCK_MONOTONIC, &ev, &t));
  CHECK_ERR(timer_settime(t, 0, &bad, NULL), EINVAL);
  CHECK_SYS(timer_delete(t));
  CHECK_ERR(timer_create(12345, &ev, &t), EINVAL);
  ev.sigev_signo = 200;
  CHECK_ERR(timer_create(CLOCK_MONOTONIC, &ev, &t), EINVAL);
  ev.sigev_notify = 99;
  CHECK_ERR(timer_create(CLOCK_MONOTONIC, &ev, &t), EINVAL);
}

static volatile int thread_ready;
static volatile long thread_tid;
static void *idle_thread(void *arg) {
  (void)arg;
  thread_tid = syscall(SYS_gettid);
  thread_ready = 1;
  long long give_up = test_now_ns() + 3 * NS;
  while (got_code == 0 && test_now_ns() < give_up) usleep(1000);
  return NULL;
}

static void posix_thread_id(void) {
  got_code = 0;
  thread_ready = 0;
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, idle_thread, NULL), 0);
  while (!thread_ready) usleep(100);
  struct sigevent ev = {0};
  ev.sigev_notify = SIGEV_THREAD_ID;
  ev.sigev_signo = SIGRTMIN;
  ev._sigev_un._tid = thread_tid;
  timer_t t;
  CHECK_SYS(timer_create(CLOCK_REALTIME, &ev, &t));
  struct itimerspec its = {{0, 0}, {0, 5 * MS}};
  CHECK_SYS(timer_settime(t, 0, &its, NULL));
  CHECK_EQ(pthread_join(th, NULL), 0);
  CHECK_EQ(got_code, SI_TIMER);
  /* The signal went to the chosen thread. */
  CHECK_EQ(got_tid, thread_tid);
  CHECK_SYS(timer_delete(t));
  /* A thread of another process is not a valid target. */
  ev._sigev_un._tid = getppid();
  CHECK_ERR(timer_create(CLOCK_REALTIME, &ev, &t), EINVAL);
}

static void posix_none(void) {
  struct sigevent ev = {0};
  ev.sigev_notify = SIGEV_NONE;
  timer_t t;
  CHECK_SYS(timer_create(CLOCK_BOOTTIME, &ev, &t));
  /* Interval 50 ms, first expiry in 1 s: the time left counts down. */
  struct itimerspec its = {{0, 50 * MS}, {1, 0}}, cur, old;
  CHECK_SYS(timer_settime(t, 0, &its, NULL));
  usleep(20000);
  CHECK_SYS(timer_gettime(t, &cur));
  CHECK_EQ(cur.it_interval.tv_nsec, 50 * MS);
  CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec > 500 * MS &&
        cur.it_value.tv_nsec < 990 * MS);
  /* Disarming returns the old setting. (What timer_gettime reports for a
   * disarmed SIGEV_NONE timer is a Linux quirk, not checked.) */
  struct itimerspec zero = {{0, 0}, {0, 0}};
  CHECK_SYS(timer_settime(t, 0, &zero, &old));
  CHECK_EQ(old.it_interval.tv_nsec, 50 * MS);
  CHECK(old.it_value.tv_sec == 0 && old.it_value.tv_nsec > 500 * MS &&
        old.it_value.tv_nsec <= cur.it_value.tv_nsec);
  CHECK_SYS(timer_delete(t));
  /* A NULL sigevent means SIGALRM with the timer ID as value. */
  CHECK_SYS(timer_create(CLOCK_MONOTONIC, NULL, &t));
  CHECK_SYS(timer_delete(t));
}

static void overrun(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGRTMIN);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, NULL));
  struct sigevent ev = {0};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGRTMIN;
  ev.sigev_value.sival_int = 7;
  timer_t t;
  CHECK_SYS(timer_create(CLOCK_MONOTONIC, &ev, &t));
  struct itimerspec its = {{0, 2 * MS}, {0, 2 * MS}};
  CHECK_SYS(timer_settime(t, 0, &its, NULL));
  usleep(60 * 1000);
  /* Every expiry while the signal was queued became an overrun of the
   * one queued signal. */
  siginfo_t si;
  struct timespec wait = {2, 0};
  CHECK_EQ(sigtimedwait(&set, &si, &wait), SIGRTMIN);
  CHECK_EQ(si.si_code, SI_TIMER);
  CHECK_EQ(si.si_value.sival_int, 7);
  CHECK(si.si_overrun >= 5);
  CHECK_EQ(timer_getoverrun(t), si.si_overrun);
  CHECK_SYS(timer_delete(t));
  CHECK_ERR(timer_getoverrun(t), EINVAL);
  /* Drop what the deleted timer left queued, then unblock. */
  signal(SIGRTMIN, SIG_IGN);
  CHECK_SYS(sigprocmask(SIG_UNBLOCK, &set, NULL));
  signal(SIGRTMIN, SIG_DFL);
}

static void on_usr1(int sig) { (void)sig; }

static void abs_sleep(void) {
  struct timespec now;
  CHECK_SYS(clock_gettime(CLOCK_REALTIME, &now));
  long long deadline = now.tv_sec * NS + now.tv_nsec + 30 * MS;
  struct timespec abs = {deadline / NS, deadline % NS};
  CHECK_EQ(clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &abs, NULL), 0);
  CHECK_SYS(clock_gettime(CLOCK_REALTIME, &now));
  CHECK(now.tv_sec * NS + now.tv_nsec >= deadline);
  CHECK_EQ(clock_nanosleep(CLOCK_TAI, 0, &(struct timespec){0, MS}, NULL), 0);
  /* Interrupted by a handler: EINTR, and rem is untouched for absolute
   * sleeps. */
  struct sigaction sa = {0};
  sa.sa_handler = on_usr1;
  CHECK_SYS(sigaction(SIGUSR1, &sa, NULL));
  timer_t t;
  struct sigevent ev = {0};
  ev.sigev_notify = SIGEV_SIGNAL;
  ev.sigev_signo = SIGUSR1;
  CHECK_SYS(timer_create(CLOCK_MONOTONIC, &ev, &t));
  struct itimerspec its = {{0, 0}, {0, 20 * MS}};
  CHECK_SYS(timer_settime(t, 0, &its, NULL));
  CHECK_SYS(clock_gettime(CLOCK_MONOTONIC, &now));
  struct timespec far = {now.tv_sec + 10, now.tv_nsec}, rem = {-5, -5};
  CHECK_EQ(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &far, &rem), EINTR);
  CHECK(rem.tv_sec == -5 && rem.tv_nsec == -5);
  CHECK_SYS(timer_delete(t));
  signal(SIGUSR1, SIG_DFL);
  /* Raw syscall errors for clocks that cannot be slept on. */
  struct timespec d = {0, 1000};
  CHECK_ERR(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC_RAW, 0, &d, NULL), EOPNOTSUPP);
  CHECK_ERR(syscall(SYS_clock_nanosleep, CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL), EOPNOTSUPP);
  CHECK_ERR(syscall(SYS_clock_nanosleep, 100, 0, &d, NULL), EINVAL);
  CHECK_ERR(syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (void *)8, NULL), EFAULT);
}

static long long tv_ns(struct timeval tv) { return tv.tv_sec * NS + tv.tv_usec * 1000LL; }

static void usage(void) {
  struct tms t0, t1;
  clock_t w0 = times(&t0);
  CHECK(w0 != (clock_t)-1);
  struct rusage r0, r1, rt;
  CHECK_SYS(getrusage(RUSAGE_SELF, &r0));
  long long wall0 = test_now_ns();
  spin(60);
  long long wall = test_now_ns() - wall0;
  clock_t w1 = times(&t1);
  /* The thread's usage first: read after it, the process's cannot be
     less, however long the calls themselves take. */
  CHECK_SYS(getrusage(RUSAGE_THREAD, &rt));
  CHECK_SYS(getrusage(RUSAGE_SELF, &r1));
  long long used = tv_ns(r1.ru_utime) + tv_ns(r1.ru_stime) - tv_ns(r0.ru_utime) - tv_ns(r0.ru_stime);
  CHECK(used >= 40 * MS);
  CHECK(used <= wall + 50 * MS);
  CHECK(tv_ns(rt.ru_utime) + tv_ns(rt.ru_stime) <= tv_ns(r1.ru_utime) + tv_ns(r1.ru_stime));
  CHECK((t1.tms_utime + t1.tms_stime) - (t0.tms_utime + t0.tms_stime) >= 4);
  CHECK(w1 - w0 >= 4);
  CHECK(r1.ru_maxrss > 0);
  /* Touching 8 MiB raises the high-water mark by about as much. */
  size_t n = 8 << 20;
  volatile char *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  for (size_t i = 0; i < n; i += 4096) p[i] = 1;
  struct rusage r2;
  CHECK_SYS(getrusage(RUSAGE_SELF, &r2));
  /* 8 MiB resident at once: the high-water mark is at least that. */
  CHECK(r2.ru_maxrss >= 8 * 1024 && r2.ru_maxrss >= r1.ru_maxrss);
  CHECK_SYS(munmap((void *)p, n));
  CHECK_ERR(getrusage(42, &r2), EINVAL);
  CHECK_ERR(syscall(SYS_getrusage, RUSAGE_SELF, (void *)8), EFAULT);

  /* A reaped child's time shows in RUSAGE_CHILDREN and tms_cutime. */
  struct rusage c0, c1;
  CHECK_SYS(getrusage(RUSAGE_CHILDREN, &c0));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    spin(60);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK_SYS(getrusage(RUSAGE_CHILDREN, &c1));
  long long child = tv_ns(c1.ru_utime) + tv_ns(c1.ru_stime) - tv_ns(c0.ru_utime) - tv_ns(c0.ru_stime);
  CHECK(child >= 40 * MS);
  struct tms t2;
  times(&t2);
  CHECK(t2.tms_cutime + t2.tms_cstime - t1.tms_cutime - t1.tms_cstime >= 4);
  /* A NULL buffer is allowed. */
  CHECK(syscall(SYS_times, NULL) != -1);
}

int main(void) {
  test_init();
  RUN(itimer_real);
  RUN(alarm_calls);
  RUN(itimer_virtual);
  RUN(posix_signal);
  RUN(posix_thread_id);
  RUN(posix_none);
  RUN(overrun);
  RUN(abs_sleep);
  RUN(usage);
  return 0;
}
