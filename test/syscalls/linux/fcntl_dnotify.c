/*
 * fcntl_dnotify: directory change notification (fcntl(2) F_NOTIFY).
 * Checks SIGIO (si_code SI_KERNEL) on a create with DN_CREATE, one-shot
 * against DN_MULTISHOT, the F_SETSIG signal with POLL_MSG, si_band and
 * si_fd (also through a SA_SIGINFO handler), which operations fire
 * DN_MODIFY, DN_ATTRIB, DN_ACCESS, DN_DELETE, DN_CREATE and DN_RENAME
 * (renames within and across directories, events on the directory
 * itself, none for a grandchild), that masks accumulate, that a mask of 0
 * or of DN_MULTISHOT alone removes the notification, as does closing any
 * descriptor of the file in the process (not in a forked child), that
 * F_NOTIFY makes the caller the owner unless one is set, ENOTDIR on a
 * regular file or FIFO, EBADF on O_PATH, and that the argument is an
 * unsigned int, so DN_MULTISHOT (the high bit) is accepted and bits above
 * 32 are ignored.
 */
#include "test.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#define SIGRT (SIGRTMIN + 2)
#define ALL_DN (DN_ACCESS | DN_MODIFY | DN_CREATE | DN_DELETE | DN_RENAME | DN_ATTRIB)

static char *dir;
static char path_buf[4][256];
static int path_next;

/* P returns dir/name in one of a few rotating buffers. */
static const char *P(const char *name) {
  char *b = path_buf[path_next++ % 4];
  snprintf(b, sizeof(path_buf[0]), "%s/%s", dir, name);
  return b;
}

static void block_all(void) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGIO);
  for (int i = 0; i < 3; i++) sigaddset(&s, SIGRT + i);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &s, NULL));
}

static int wait_sig(int sig, siginfo_t *si, int ms) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, sig);
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  return sigtimedwait(&s, si, &ts);
}

/* The signals are sent by the operation itself, before it returns, so a
 * short wait suffices to see that none came. */
static void expect_none(void) {
  siginfo_t si;
  CHECK_ERR(wait_sig(SIGIO, &si, 20), EAGAIN);
  for (int i = 0; i < 3; i++) CHECK_ERR(wait_sig(SIGRT + i, &si, 0), EAGAIN);
}

static void expect_sigio(void) {
  siginfo_t si;
  CHECK_EQ(wait_sig(SIGIO, &si, 2000), SIGIO);
  CHECK_EQ(si.si_code, SI_KERNEL);
}

/* expect_rt requires one F_SETSIG signal sig for descriptor fd. */
static void expect_rt(int sig, int fd) {
  siginfo_t si;
  CHECK_EQ(wait_sig(sig, &si, 2000), sig);
  CHECK_EQ(si.si_code, POLL_MSG);
  CHECK_EQ(si.si_fd, fd);
  CHECK_EQ(si.si_band, POLLIN | POLLRDNORM | POLLMSG);
}

static int open_dir(const char *p) {
  int fd = open(p, O_RDONLY | O_DIRECTORY);
  CHECK_SYS(fd);
  return fd;
}

static void touch(const char *p) {
  int fd = open(p, O_CREAT | O_RDONLY, 0644);
  CHECK_SYS(fd);
  CHECK_SYS(close(fd));
}

/* notify_rt sets fd's signal to sig and asks for mask. */
static void notify_rt(int fd, int sig, unsigned long mask) {
  CHECK_SYS(fcntl(fd, F_SETSIG, sig));
  CHECK_SYS(fcntl(fd, F_NOTIFY, mask));
}

static void create_sigio(void) {
  int d = open_dir(dir);
  CHECK_EQ(fcntl(d, F_GETOWN), 0);
  CHECK_SYS(fcntl(d, F_NOTIFY, DN_CREATE));
  /* F_NOTIFY made this process the owner; O_ASYNC stays off. */
  CHECK_EQ(fcntl(d, F_GETOWN), getpid());
  CHECK_EQ(fcntl(d, F_GETFL) & O_ASYNC, 0);
  touch(P("c1"));
  expect_sigio();
  /* One-shot: gone after the first event. */
  touch(P("c2"));
  expect_none();
  CHECK_SYS(close(d));
}

static void multishot(void) {
  int d = open_dir(dir);
  CHECK_SYS(fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT));
  for (int i = 0; i < 3; i++) {
    char name[16];
    snprintf(name, sizeof(name), "m%d", i);
    touch(P(name));
    expect_sigio();
  }
  /* Other events are not asked for. */
  CHECK_SYS(unlink(P("m0")));
  expect_none();
  CHECK_SYS(close(d));
}

static void setsig_siginfo(void) {
  int d = open_dir(dir);
  int d2 = dup2(d, 40);
  CHECK_EQ(d2, 40);
  notify_rt(d2, SIGRT, DN_CREATE | DN_MULTISHOT);
  touch(P("s1"));
  expect_rt(SIGRT, d2);
  /* A second F_NOTIFY through another descriptor of the file moves
   * si_fd to it. */
  CHECK_SYS(fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT));
  touch(P("s2"));
  expect_rt(SIGRT, d);
  CHECK_SYS(close(d2));
  CHECK_SYS(close(d));
}

static volatile sig_atomic_t handled, handled_fd, handled_code, handled_signo;

static void on_rt(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  handled_signo = sig;
  handled_fd = si->si_fd;
  handled_code = si->si_code;
  handled = 1;
}

static void sa_siginfo_handler(void) {
  struct sigaction sa = {0}, old;
  sa.sa_sigaction = on_rt;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  CHECK_SYS(sigaction(SIGRT + 1, &sa, &old));
  int d = open_dir(dir);
  notify_rt(d, SIGRT + 1, DN_CREATE);
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGRT + 1);
  handled = 0;
  CHECK_SYS(sigprocmask(SIG_UNBLOCK, &s, NULL));
  touch(P("h1"));
  long long deadline = test_now_ns() + 2000000000LL;
  while (!handled && test_now_ns() < deadline) usleep(1000);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &s, NULL));
  CHECK(handled);
  CHECK_EQ(handled_signo, SIGRT + 1);
  CHECK_EQ(handled_fd, d);
  CHECK_EQ(handled_code, POLL_MSG);
  CHECK_SYS(sigaction(SIGRT + 1, &old, NULL));
  CHECK_SYS(close(d));
}

static void modify(void) {
  int d = open_dir(dir);
  notify_rt(d, SIGRT, DN_MODIFY | DN_MULTISHOT);
  /* Creating a file (even with O_TRUNC) is no modification. */
  int f = open(P("w"), O_CREAT | O_TRUNC | O_RDWR, 0644);
  CHECK_SYS(f);
  expect_none();
  CHECK_EQ(write(f, "abc", 3), 3);
  expect_rt(SIGRT, d);
  /* Nothing written, nothing modified; reads and opens are not
   * modifications. */
  CHECK_EQ(write(f, "", 0), 0);
  char b[4];
  CHECK_EQ(pread(f, b, sizeof(b), 0), 3);
  expect_none();
  CHECK_SYS(ftruncate(f, 1));
  expect_rt(SIGRT, d);
  CHECK_SYS(close(f));
  expect_none();
  f = open(P("w"), O_WRONLY | O_TRUNC);
  CHECK_SYS(f);
  expect_rt(SIGRT, d);
  CHECK_SYS(close(f));
  CHECK_SYS(close(d));
}

static void delete_events(void) {
  int d = open_dir(dir);
  touch(P("del"));
  CHECK_SYS(mkdir(P("deldir"), 0755));
  notify_rt(d, SIGRT, DN_DELETE | DN_MULTISHOT);
  CHECK_SYS(unlink(P("del")));
  expect_rt(SIGRT, d);
  CHECK_SYS(rmdir(P("deldir")));
  expect_rt(SIGRT, d);
  touch(P("del2"));
  expect_none();
  CHECK_SYS(close(d));
}

static void create_kinds(void) {
  int d = open_dir(dir);
  touch(P("src"));
  notify_rt(d, SIGRT, DN_CREATE | DN_MULTISHOT);
  CHECK_SYS(mkdir(P("newdir"), 0755));
  expect_rt(SIGRT, d);
  CHECK_SYS(link(P("src"), P("hard")));
  expect_rt(SIGRT, d);
  CHECK_SYS(symlink("src", P("sym")));
  expect_rt(SIGRT, d);
  CHECK_SYS(mkfifo(P("fifo"), 0644));
  expect_rt(SIGRT, d);
  /* Nothing for a grandchild. */
  touch(P("newdir/grandchild"));
  expect_none();
  CHECK_SYS(close(d));
}

/* Three descriptors of one directory, each with one event and its own
 * signal, tell which events an operation fires. */
static void rename_events(void) {
  CHECK_SYS(mkdir(P("ra"), 0755));
  CHECK_SYS(mkdir(P("rb"), 0755));
  int c = open_dir(P("ra")), dl = open_dir(P("ra")), r = open_dir(P("ra"));
  notify_rt(c, SIGRT, DN_CREATE | DN_MULTISHOT);
  notify_rt(dl, SIGRT + 1, DN_DELETE | DN_MULTISHOT);
  notify_rt(r, SIGRT + 2, DN_RENAME | DN_MULTISHOT);
  int other = open_dir(P("rb"));
  CHECK_SYS(fcntl(other, F_SETSIG, SIGRT));
  CHECK_SYS(fcntl(other, F_NOTIFY, ALL_DN | DN_MULTISHOT));

  touch(P("ra/x"));
  expect_rt(SIGRT, c);
  expect_none();
  /* Within the directory: created, deleted and renamed. */
  CHECK_SYS(rename(P("ra/x"), P("ra/y")));
  expect_rt(SIGRT, c);
  expect_rt(SIGRT + 1, dl);
  expect_rt(SIGRT + 2, r);
  expect_none();
  /* Out of it: deleted here, created there; renamed nowhere. */
  CHECK_SYS(rename(P("ra/y"), P("rb/y")));
  expect_rt(SIGRT + 1, dl);
  expect_rt(SIGRT, other);
  expect_none();
  CHECK_SYS(fcntl(other, F_NOTIFY, 0));
  /* Into it: created. */
  CHECK_SYS(rename(P("rb/y"), P("ra/z")));
  expect_rt(SIGRT, c);
  expect_none();
  /* A directory renamed within it, replacing an empty one. */
  CHECK_SYS(mkdir(P("ra/d1"), 0755));
  CHECK_SYS(mkdir(P("ra/d2"), 0755));
  expect_rt(SIGRT, c);
  expect_rt(SIGRT, c);
  CHECK_SYS(rename(P("ra/d1"), P("ra/d2")));
  expect_rt(SIGRT, c);
  expect_rt(SIGRT + 1, dl);
  expect_rt(SIGRT + 2, r);
  expect_none();

  /* One-shot with several events: one signal, then nothing. */
  CHECK_SYS(fcntl(c, F_NOTIFY, 0));
  CHECK_SYS(fcntl(dl, F_NOTIFY, 0));
  CHECK_SYS(fcntl(r, F_NOTIFY, 0));
  CHECK_SYS(fcntl(r, F_NOTIFY, DN_CREATE | DN_DELETE | DN_RENAME));
  CHECK_SYS(rename(P("ra/z"), P("ra/w")));
  expect_rt(SIGRT + 2, r);
  expect_none();
  CHECK_SYS(rename(P("ra/w"), P("ra/v")));
  expect_none();
  CHECK_SYS(close(c));
  CHECK_SYS(close(dl));
  CHECK_SYS(close(r));
  CHECK_SYS(close(other));
}

static void attrib_access(void) {
  CHECK_SYS(mkdir(P("aa"), 0755));
  int a = open_dir(P("aa")), r = open_dir(P("aa"));
  notify_rt(a, SIGRT, DN_ATTRIB | DN_MULTISHOT);
  notify_rt(r, SIGRT + 1, DN_ACCESS | DN_MULTISHOT);
  int f = open(P("aa/f"), O_CREAT | O_RDWR, 0644);
  CHECK_SYS(f);
  expect_none();
  CHECK_SYS(fchmod(f, 0600));
  expect_rt(SIGRT, a);
  CHECK_SYS(chown(P("aa/f"), getuid(), getgid()));
  expect_rt(SIGRT, a);
  CHECK_SYS(utimensat(AT_FDCWD, P("aa/f"), NULL, 0));
  expect_rt(SIGRT, a);
  expect_none();
  CHECK_EQ(write(f, "xy", 2), 2);
  char b[4];
  CHECK_EQ(pread(f, b, sizeof(b), 0), 2);
  expect_rt(SIGRT + 1, r);
  expect_none();
  /* Events on the directory itself count too. */
  CHECK_SYS(chmod(P("aa"), 0700));
  expect_rt(SIGRT, a);
  int g = open_dir(P("aa"));
  char dents[1024];
  CHECK(syscall(SYS_getdents64, g, dents, sizeof(dents)) > 0);
  expect_rt(SIGRT + 1, r);
  CHECK_SYS(close(g));
  /* Opening and closing are not accesses. */
  CHECK_SYS(close(f));
  expect_none();
  CHECK_SYS(close(a));
  CHECK_SYS(close(r));
}

static void accumulate(void) {
  int d = open_dir(dir);
  CHECK_SYS(fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT));
  /* A second call adds events; it does not replace the first. */
  CHECK_SYS(fcntl(d, F_NOTIFY, DN_DELETE));
  touch(P("acc"));
  expect_sigio();
  touch(P("acc2"));
  expect_sigio();
  CHECK_SYS(unlink(P("acc")));
  expect_sigio();
  CHECK_SYS(close(d));
}

static void mask_zero_removes(void) {
  int d = open_dir(dir);
  CHECK_SYS(fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT));
  CHECK_SYS(fcntl(d, F_NOTIFY, 0));
  touch(P("z1"));
  expect_none();
  /* DN_MULTISHOT alone asks for no events: it removes too. */
  CHECK_SYS(fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT));
  CHECK_EQ(fcntl(d, F_NOTIFY, DN_MULTISHOT), 0);
  touch(P("z2"));
  expect_none();
  /* Removing what is not there is fine. */
  CHECK_EQ(fcntl(d, F_NOTIFY, 0), 0);
  CHECK_SYS(close(d));
}

static void errors(void) {
  touch(P("regular"));
  int f = open(P("regular"), O_RDONLY);
  CHECK_SYS(f);
  CHECK_ERR(fcntl(f, F_NOTIFY, DN_CREATE), ENOTDIR);
  CHECK_ERR(fcntl(f, F_NOTIFY, DN_CREATE | DN_MULTISHOT), ENOTDIR);
  /* Removal does not look at the file. */
  CHECK_EQ(fcntl(f, F_NOTIFY, 0), 0);
  CHECK_EQ(fcntl(f, F_NOTIFY, DN_MULTISHOT), 0);
  CHECK_SYS(close(f));
  CHECK_SYS(mkfifo(P("errfifo"), 0644));
  f = open(P("errfifo"), O_RDWR);
  CHECK_SYS(f);
  CHECK_ERR(fcntl(f, F_NOTIFY, DN_CREATE), ENOTDIR);
  CHECK_SYS(close(f));
  f = open(dir, O_PATH);
  CHECK_SYS(f);
  CHECK_ERR(fcntl(f, F_NOTIFY, DN_CREATE), EBADF);
  CHECK_SYS(close(f));
  CHECK_ERR(fcntl(1000, F_NOTIFY, DN_CREATE), EBADF);
}

/* The argument is an unsigned int: DN_MULTISHOT (1 << 31) must not be
 * taken as negative, and bits above 31 are dropped. */
static void high_bits(void) {
  int d = open_dir(dir);
  /* Python's test_fcntl_64_bit. */
  CHECK_EQ(fcntl(d, F_NOTIFY, DN_MULTISHOT), 0);
  CHECK_EQ(syscall(SYS_fcntl, d, F_NOTIFY, 0x80000000UL | DN_CREATE), 0);
  touch(P("hb1"));
  expect_sigio();
  touch(P("hb2"));
  expect_sigio();
  /* 1 << 32 alone is a mask of 0. */
  CHECK_EQ(syscall(SYS_fcntl, d, F_NOTIFY, 1UL << 32), 0);
  touch(P("hb3"));
  expect_none();
  CHECK_EQ(syscall(SYS_fcntl, d, F_NOTIFY, (1UL << 32) | DN_CREATE), 0);
  touch(P("hb4"));
  expect_sigio();
  touch(P("hb5"));
  expect_none();
  CHECK_SYS(close(d));
}

static void close_removes(void) {
  int d = open_dir(dir);
  CHECK_SYS(fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT));
  /* Closing any descriptor of the file in this process ends it. */
  int d2 = dup(d);
  CHECK_SYS(d2);
  CHECK_SYS(close(d2));
  touch(P("cl1"));
  expect_none();
  /* A forked child closing its copy does not. */
  CHECK_SYS(fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT));
  pid_t c = fork();
  CHECK_SYS(c);
  if (c == 0) {
    close(d);
    _exit(0);
  }
  int st;
  CHECK_SYS(waitpid(c, &st, 0));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  touch(P("cl2"));
  expect_sigio();
  /* Another process's changes are seen. */
  c = fork();
  CHECK_SYS(c);
  if (c == 0) {
    int fd = open(P("cl3"), O_CREAT | O_RDONLY, 0644);
    _exit(fd < 0);
  }
  CHECK_SYS(waitpid(c, &st, 0));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  expect_sigio();
  /* A child's own F_NOTIFY ends when it exits. */
  CHECK_SYS(fcntl(d, F_NOTIFY, 0));
  c = fork();
  CHECK_SYS(c);
  if (c == 0) _exit(fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT) != 0);
  CHECK_SYS(waitpid(c, &st, 0));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  touch(P("cl4"));
  expect_none();
  CHECK_SYS(close(d));
}

static void owner(void) {
  int ready[2];
  CHECK_SYS(pipe(ready));
  pid_t c = fork();
  CHECK_SYS(c);
  if (c == 0) {
    /* SIGIO is blocked (inherited); wait for it. */
    siginfo_t si;
    CHECK_EQ(write(ready[1], "r", 1), 1);
    CHECK_EQ(wait_sig(SIGIO, &si, 5000), SIGIO);
    _exit(0);
  }
  char b;
  CHECK_EQ(read(ready[0], &b, 1), 1);
  /* An owner set before F_NOTIFY stays. */
  int d = open_dir(dir);
  CHECK_SYS(fcntl(d, F_SETOWN, c));
  CHECK_SYS(fcntl(d, F_NOTIFY, DN_CREATE));
  CHECK_EQ(fcntl(d, F_GETOWN), c);
  touch(P("ow1"));
  int st;
  CHECK_SYS(waitpid(c, &st, 0));
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  expect_none();
  CHECK_SYS(close(d));
  /* F_SETOWN 0 is no owner: F_NOTIFY sets the caller. */
  d = open_dir(dir);
  CHECK_SYS(fcntl(d, F_SETOWN, 0));
  CHECK_SYS(fcntl(d, F_NOTIFY, DN_CREATE));
  CHECK_EQ(fcntl(d, F_GETOWN), getpid());
  touch(P("ow2"));
  expect_sigio();
  /* Changing the signal after F_NOTIFY counts; so does removing the
   * owner. */
  CHECK_SYS(fcntl(d, F_NOTIFY, DN_CREATE | DN_MULTISHOT));
  CHECK_SYS(fcntl(d, F_SETSIG, SIGRT));
  touch(P("ow3"));
  expect_rt(SIGRT, d);
  CHECK_SYS(fcntl(d, F_SETOWN, 0));
  touch(P("ow4"));
  expect_none();
  CHECK_SYS(close(d));
  close(ready[0]);
  close(ready[1]);
}

static pthread_barrier_t thread_b1, thread_b2;
static int thread_dir;

static void *notify_thread(void *arg) {
  (void)arg;
  if (fcntl(thread_dir, F_NOTIFY, DN_CREATE | DN_MULTISHOT) != 0) return (void *)1;
  pthread_barrier_wait(&thread_b1);
  pthread_barrier_wait(&thread_b2);
  return NULL;
}

/* F_NOTIFY in a thread other than the leader: the owner is the thread's
 * ID taken as a process ID, which F_GETOWN does not show, and which
 * signals the process while the thread lives. */
static void from_thread(void) {
  thread_dir = open_dir(dir);
  CHECK(pthread_barrier_init(&thread_b1, NULL, 2) == 0);
  CHECK(pthread_barrier_init(&thread_b2, NULL, 2) == 0);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, notify_thread, NULL) == 0);
  pthread_barrier_wait(&thread_b1);
  CHECK_EQ(fcntl(thread_dir, F_GETOWN), 0);
  touch(P("th1"));
  expect_sigio();
  pthread_barrier_wait(&thread_b2);
  void *ret;
  CHECK(pthread_join(th, &ret) == 0);
  CHECK(ret == NULL);
  touch(P("th2"));
  expect_none();
  CHECK_SYS(close(thread_dir));
}

int main(void) {
  test_init();
  block_all();
  dir = test_tmpdir();
  RUN(create_sigio);
  RUN(multishot);
  RUN(setsig_siginfo);
  RUN(sa_siginfo_handler);
  RUN(modify);
  RUN(delete_events);
  RUN(create_kinds);
  RUN(rename_events);
  RUN(attrib_access);
  RUN(accumulate);
  RUN(mask_zero_removes);
  RUN(errors);
  RUN(high_bits);
  RUN(close_removes);
  RUN(owner);
  RUN(from_thread);
  test_rmdir(dir);
  return 0;
}
