/*
 * threads: thread creation with pthread and raw clone, tgkill, thread exit
 * versus exit_group.
 * Checks that threads share memory and the fd table but have their own tids,
 * that CLONE_CHILD_CLEARTID clears the tid and wakes a futex waiter on exit,
 * that tgkill runs the handler on the chosen thread, that one thread exiting
 * leaves the others running (even the main thread), that exit_group from any
 * thread ends them all, and that a fatal signal kills every thread.
 */
#include "test.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static long tid(void) { return syscall(SYS_gettid); }

static atomic_int shared_counter;
static void *bump(void *arg) {
  for (int i = 0; i < 10000; i++) atomic_fetch_add(&shared_counter, 1);
  long *out = arg;
  *out = tid();
  return (void *)(long)getpid();
}

static void shared_memory(void) {
  enum { N = 4 };
  pthread_t t[N];
  long tids[N];
  for (int i = 0; i < N; i++) CHECK_EQ(pthread_create(&t[i], NULL, bump, &tids[i]), 0);
  for (int i = 0; i < N; i++) {
    void *ret;
    CHECK_EQ(pthread_join(t[i], &ret), 0);
    CHECK_EQ((long)ret, getpid());
    CHECK(tids[i] != getpid());
    for (int j = 0; j < i; j++) CHECK(tids[i] != tids[j]);
  }
  CHECK_EQ(atomic_load(&shared_counter), N * 10000);
}

static int opened_fd = -1;
static void *open_file(void *arg) {
  (void)arg;
  opened_fd = open("/dev/null", O_RDONLY);
  return NULL;
}

static void shared_fds(void) {
  pthread_t t;
  CHECK_EQ(pthread_create(&t, NULL, open_file, NULL), 0);
  CHECK_EQ(pthread_join(t, NULL), 0);
  CHECK(opened_fd >= 0);
  /* The fd table is shared, so the thread's fd is ours. */
  CHECK_SYS(close(opened_fd));
}

/* Raw clone: the child runs on our TLS, so it must not touch libc state. */
static atomic_int raw_ran;
static volatile pid_t child_tid_word;
static int raw_thread(void *arg) {
  atomic_store(&raw_ran, (int)(long)arg);
  return 0;
}

static void raw_clone(void) {
  size_t sz = 64 * 1024;
  char *stack = mmap(NULL, sz, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(stack != MAP_FAILED);
  int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND |
              CLONE_THREAD | CLONE_SYSVSEM | CLONE_PARENT_SETTID |
              CLONE_CHILD_CLEARTID;
  pid_t ptid = 0;
  child_tid_word = -1;
  int t = clone(raw_thread, stack + sz, flags, (void *)5L, &ptid, NULL,
                &child_tid_word);
  CHECK(t > 0);
  CHECK_EQ(ptid, t);
  /* On exit the kernel zeroes the word and futex-wakes it. */
  long long deadline = test_now_ns() + 5LL * 1000 * 1000 * 1000;
  pid_t v;
  while ((v = child_tid_word) != 0) {
    syscall(SYS_futex, &child_tid_word, FUTEX_WAIT, v, NULL, NULL, 0);
    CHECK(test_now_ns() < deadline);
  }
  CHECK_EQ(atomic_load(&raw_ran), 5);
  munmap(stack, sz);
}

static volatile long handler_tid;
static void on_usr1(int sig) {
  (void)sig;
  handler_tid = tid();
}

static atomic_long target_tid;
static atomic_int stop_spin;
static void *spin(void *arg) {
  (void)arg;
  atomic_store(&target_tid, tid());
  while (!atomic_load(&stop_spin)) usleep(1000);
  return NULL;
}

static void tgkill_target(void) {
  signal(SIGUSR1, on_usr1);
  pthread_t t;
  atomic_store(&target_tid, 0);
  atomic_store(&stop_spin, 0);
  CHECK_EQ(pthread_create(&t, NULL, spin, NULL), 0);
  while (atomic_load(&target_tid) == 0) usleep(1000);
  handler_tid = 0;
  CHECK_SYS(syscall(SYS_tgkill, getpid(), atomic_load(&target_tid), SIGUSR1));
  long long deadline = test_now_ns() + 5LL * 1000 * 1000 * 1000;
  while (handler_tid == 0) {
    usleep(1000);
    CHECK(test_now_ns() < deadline);
  }
  /* The signal went to the named thread, not to any thread. */
  CHECK_EQ(handler_tid, atomic_load(&target_tid));
  CHECK_ERR(syscall(SYS_tgkill, getpid() + 1000000, atomic_load(&target_tid),
                    SIGUSR1),
            ESRCH);
  CHECK_ERR(syscall(SYS_tgkill, getpid(), 0, SIGUSR1), EINVAL);
  atomic_store(&stop_spin, 1);
  CHECK_EQ(pthread_join(t, NULL), 0);
  signal(SIGUSR1, SIG_DFL);
}

static void *sleep_forever(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

static void *exit_group_now(void *arg) {
  usleep(10000);
  syscall(SYS_exit_group, (int)(long)arg);
  return NULL;
}

static int run_in_child(void (*fn)(void)) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    fn();
    _exit(99);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  return st;
}

static void group_exit_child(void) {
  pthread_t t;
  for (int i = 0; i < 3; i++) pthread_create(&t, NULL, sleep_forever, NULL);
  pthread_create(&t, NULL, exit_group_now, (void *)33L);
  for (;;) pause();
}

static void *exit_thread_later(void *arg) {
  (void)arg;
  usleep(20000);
  /* The last thread standing: its exit ends the process. */
  syscall(SYS_exit, 44);
  return NULL;
}

static void main_exits_first_child(void) {
  pthread_t t;
  pthread_create(&t, NULL, exit_thread_later, NULL);
  /* Only the main thread exits; the process lives on. */
  syscall(SYS_exit, 0);
}

static void *crash(void *arg) {
  (void)arg;
  usleep(10000);
  raise(SIGTERM);
  return NULL;
}

static void fatal_signal_child(void) {
  pthread_t t;
  for (int i = 0; i < 3; i++) pthread_create(&t, NULL, sleep_forever, NULL);
  pthread_create(&t, NULL, crash, NULL);
  for (;;) pause();
}

static void exits(void) {
  int st = run_in_child(group_exit_child);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 33);
  /* The process status is the last thread's exit code. */
  st = run_in_child(main_exits_first_child);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 44);
  st = run_in_child(fatal_signal_child);
  CHECK(WIFSIGNALED(st));
  CHECK_EQ(WTERMSIG(st), SIGTERM);
}

static void thread_count(void) {
  pthread_t t[3];
  atomic_store(&stop_spin, 0);
  atomic_store(&target_tid, 0);
  for (int i = 0; i < 3; i++) CHECK_EQ(pthread_create(&t[i], NULL, spin, NULL), 0);
  /* /proc/self/task lists one entry per live thread. */
  char path[64];
  snprintf(path, sizeof(path), "/proc/self/task/%ld", (long)getpid());
  CHECK_SYS(access(path, F_OK));
  DIR *d = opendir("/proc/self/task");
  CHECK(d != NULL);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.') n++;
  closedir(d);
  CHECK_EQ(n, 4);
  atomic_store(&stop_spin, 1);
  for (int i = 0; i < 3; i++) CHECK_EQ(pthread_join(t[i], NULL), 0);
}

int main(void) {
  test_init();
  RUN(shared_memory);
  RUN(shared_fds);
  RUN(raw_clone);
  RUN(tgkill_target);
  RUN(exits);
  RUN(thread_count);
  return 0;
}
