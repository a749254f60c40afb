/*
 * POSIX message queues: mq_open (O_CREAT, O_EXCL, attributes, name and
 * mode errors, close-on-exec), mq_unlink, mq_timedsend/mq_timedreceive
 * (priority order, FIFO within a priority, EMSGSIZE, EAGAIN, absolute
 * timeouts, blocking woken by another thread, EINTR), mq_notify
 * (SIGEV_SIGNAL with SI_MESGQ, SIGEV_NONE, EBUSY, removal), mq_getsetattr,
 * the status line read(2) gives, poll readiness, the namespace limits for
 * an unprivileged process in a new IPC namespace, and /dev/mqueue when it
 * is mounted (in the sandbox).
 */
#include "test.h"

#include <mqueue.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/statfs.h>
#include <sys/time.h>
#include <sys/wait.h>

static char qname[64];

static mqd_t mkq(long maxmsg, long msgsize) {
  struct mq_attr a = {0, maxmsg, msgsize, 0};
  mq_unlink(qname);
  mqd_t q = mq_open(qname, O_CREAT | O_EXCL | O_RDWR, 0600, &a);
  CHECK(q >= 0);
  return q;
}

static void open_unlink(void) {
  mqd_t q = mkq(4, 32);
  struct mq_attr a;
  CHECK_SYS(mq_getattr(q, &a));
  CHECK_EQ(a.mq_maxmsg, 4);
  CHECK_EQ(a.mq_msgsize, 32);
  CHECK_EQ(a.mq_curmsgs, 0);
  CHECK_EQ(a.mq_flags, 0);
  CHECK_EQ(fcntl(q, F_GETFD), FD_CLOEXEC);
  struct stat st;
  CHECK_SYS(fstat(q, &st));
  CHECK(S_ISREG(st.st_mode));
  CHECK_EQ(st.st_mode & 0777, 0600);
  CHECK_EQ(st.st_size, 80);
  char link[64], buf[128];
  snprintf(link, sizeof(link), "/proc/self/fd/%d", q);
  ssize_t n = readlink(link, buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = 0;
  CHECK(strcmp(buf, qname) == 0);

  CHECK_ERR(mq_open(qname, O_CREAT | O_EXCL | O_RDWR, 0600, NULL), EEXIST);
  mqd_t q2 = mq_open(qname, O_WRONLY | O_NONBLOCK);
  CHECK(q2 >= 0);
  CHECK_SYS(mq_getattr(q2, &a));
  CHECK_EQ(a.mq_flags, O_NONBLOCK);
  CHECK_EQ(a.mq_maxmsg, 4);
  /* An existing queue keeps its attributes. */
  struct mq_attr other = {0, 2, 2, 0};
  mqd_t q3 = mq_open(qname, O_CREAT | O_RDONLY, 0600, &other);
  CHECK(q3 >= 0);
  CHECK_SYS(mq_getattr(q3, &a));
  CHECK_EQ(a.mq_maxmsg, 4);
  CHECK_ERR(mq_send(q3, "x", 1, 0), EBADF);
  char m[64];
  CHECK_ERR(mq_receive(q2, m, sizeof(m), NULL), EBADF);
  mq_close(q3);
  mq_close(q2);

  CHECK_ERR(mq_open(qname, 3), EINVAL);
  CHECK_ERR(mq_open("/", O_RDWR), ENOENT);
  CHECK_ERR(mq_open("/a/b", O_RDWR | O_CREAT, 0600, NULL), EACCES);
  CHECK_ERR(mq_open("/..", O_RDWR), EACCES);
  char longname[300] = "/";
  memset(longname + 1, 'x', 256);
  longname[257] = 0;
  CHECK_ERR(mq_open(longname, O_RDWR | O_CREAT, 0600, NULL), ENAMETOOLONG);
  struct mq_attr bad = {0, 0, 10, 0};
  CHECK_ERR(mq_open("/appkernel-mq-bad", O_RDWR | O_CREAT, 0600, &bad), EINVAL);
  bad.mq_maxmsg = 1;
  bad.mq_msgsize = -1;
  CHECK_ERR(mq_open("/appkernel-mq-bad", O_RDWR | O_CREAT, 0600, &bad), EINVAL);

  CHECK_SYS(mq_unlink(qname));
  CHECK_ERR(mq_unlink(qname), ENOENT);
  CHECK_ERR(mq_open(qname, O_RDWR), ENOENT);
  /* The open queue outlives its name. */
  CHECK_SYS(mq_send(q, "still", 5, 0));
  CHECK_EQ(mq_receive(q, m, sizeof(m), NULL), 5);
  CHECK_SYS(fstat(q, &st));
  CHECK_EQ(st.st_nlink, 0);
  mq_close(q);
  /* Without attributes: the defaults. */
  q = mq_open(qname, O_CREAT | O_RDWR, 0600, NULL);
  CHECK(q >= 0);
  CHECK_SYS(mq_getattr(q, &a));
  CHECK_EQ(a.mq_maxmsg, 10);
  CHECK_EQ(a.mq_msgsize, 8192);
  mq_close(q);
  CHECK_SYS(mq_unlink(qname));
}

static void order_and_errors(void) {
  mqd_t q = mkq(5, 16);
  CHECK_SYS(mq_send(q, "low1", 4, 1));
  CHECK_SYS(mq_send(q, "high", 4, 9));
  CHECK_SYS(mq_send(q, "low2", 4, 1));
  CHECK_SYS(mq_send(q, "zero", 4, 0));
  CHECK_SYS(mq_send(q, "mid", 3, 5));
  struct mq_attr a;
  CHECK_SYS(mq_getattr(q, &a));
  CHECK_EQ(a.mq_curmsgs, 5);
  /* Full. */
  CHECK_SYS(mq_setattr(q, &(struct mq_attr){.mq_flags = O_NONBLOCK}, &a));
  CHECK_EQ(a.mq_flags, 0);
  CHECK_ERR(mq_send(q, "x", 1, 0), EAGAIN);
  CHECK_EQ(fcntl(q, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
  CHECK_ERR(mq_setattr(q, &(struct mq_attr){.mq_flags = O_APPEND}, NULL), EINVAL);
  CHECK_SYS(mq_setattr(q, &(struct mq_attr){.mq_flags = 0}, NULL));
  struct timespec past = {1, 0};
  CHECK_ERR(mq_timedsend(q, "x", 1, 0, &past), ETIMEDOUT);
  struct timespec badts = {0, 1000000000};
  CHECK_ERR(mq_timedsend(q, "x", 1, 0, &badts), EINVAL);
  CHECK_ERR(mq_send(q, "x", 1, MQ_PRIO_MAX), EINVAL);

  char m[64];
  unsigned prio;
  CHECK_ERR(mq_receive(q, m, 15, &prio), EMSGSIZE);
  const char *want[] = {"high", "mid", "low1", "low2", "zero"};
  unsigned wprio[] = {9, 5, 1, 1, 0};
  for (int i = 0; i < 5; i++) {
    ssize_t n = mq_receive(q, m, sizeof(m), &prio);
    CHECK_EQ(n, strlen(want[i]));
    CHECK(memcmp(m, want[i], n) == 0);
    CHECK_EQ(prio, wprio[i]);
  }
  CHECK_ERR(mq_timedreceive(q, m, sizeof(m), NULL, &past), ETIMEDOUT);
  CHECK_ERR(mq_timedreceive(q, m, sizeof(m), NULL, &badts), EINVAL);
  CHECK_ERR(mq_send(q, "0123456789abcdefg", 17, 0), EMSGSIZE);
  CHECK_SYS(mq_send(q, "0123456789abcdef", 16, 0));
  CHECK_EQ(mq_receive(q, m, sizeof(m), NULL), 16);
  /* An empty message is a message. */
  CHECK_SYS(mq_send(q, "", 0, 3));
  CHECK_EQ(mq_receive(q, m, sizeof(m), &prio), 0);
  CHECK_EQ(prio, 3);
  CHECK_SYS(mq_setattr(q, &(struct mq_attr){.mq_flags = O_NONBLOCK}, NULL));
  CHECK_ERR(mq_receive(q, m, sizeof(m), NULL), EAGAIN);
  int fd = open("/dev/null", O_RDONLY);
  CHECK_ERR(mq_send(fd, "x", 1, 0), EBADF);
  close(fd);
  /* A relative timeout in the near future expires. */
  CHECK_SYS(mq_setattr(q, &(struct mq_attr){.mq_flags = 0}, NULL));
  struct timespec soon;
  clock_gettime(CLOCK_REALTIME, &soon);
  soon.tv_nsec += 20000000;
  if (soon.tv_nsec >= 1000000000) {
    soon.tv_sec++;
    soon.tv_nsec -= 1000000000;
  }
  long long t0 = test_now_ns();
  CHECK_ERR(mq_timedreceive(q, m, sizeof(m), NULL, &soon), ETIMEDOUT);
  CHECK(test_now_ns() - t0 >= 10000000);
  mq_close(q);
  mq_unlink(qname);
}

static mqd_t thq;
static void *sender(void *arg) {
  (void)arg;
  usleep(30000);
  mq_send(thq, "wake", 4, 2);
  return NULL;
}

static void alarm_handler(int sig) { (void)sig; }

static void blocking(void) {
  thq = mkq(1, 8);
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, sender, NULL), 0);
  char m[8];
  unsigned prio = 0;
  CHECK_EQ(mq_receive(thq, m, sizeof(m), &prio), 4);
  CHECK_EQ(prio, 2);
  CHECK_EQ(pthread_join(th, NULL), 0);
  /* A signal without SA_RESTART interrupts a blocked receive. */
  struct sigaction sa = {.sa_handler = alarm_handler};
  struct sigaction old;
  CHECK_SYS(sigaction(SIGALRM, &sa, &old));
  struct itimerval it = {{0, 0}, {0, 50000}};
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
  CHECK_ERR(mq_receive(thq, m, sizeof(m), NULL), EINTR);
  /* And a blocked send on a full queue. */
  CHECK_SYS(mq_send(thq, "a", 1, 0));
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
  CHECK_ERR(mq_send(thq, "b", 1, 0), EINTR);
  CHECK_SYS(sigaction(SIGALRM, &old, NULL));
  alarm(20);
  mq_close(thq);
  mq_unlink(qname);
}

static void status_line(mqd_t q, char *buf, size_t len) {
  ssize_t n = pread(q, buf, len - 1, 0);
  CHECK(n > 0);
  buf[n] = 0;
}

static void notify(void) {
  mqd_t q = mkq(4, 16);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, NULL));
  struct sigevent se = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR1};
  se.sigev_value.sival_int = 4242;
  CHECK_SYS(mq_notify(q, &se));
  CHECK_ERR(mq_notify(q, &se), EBUSY);
  char line[128], want[128];
  status_line(q, line, sizeof(line));
  snprintf(want, sizeof(want), "QSIZE:%-10d NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", 0, 0, SIGUSR1, getpid());
  CHECK(strcmp(line, want) == 0);
  CHECK_SYS(mq_send(q, "abc", 3, 0));
  siginfo_t si;
  struct timespec to = {5, 0};
  CHECK_EQ(sigtimedwait(&set, &si, &to), SIGUSR1);
  CHECK_EQ(si.si_code, SI_MESGQ);
  CHECK_EQ(si.si_value.sival_int, 4242);
  CHECK_EQ(si.si_pid, getpid());
  CHECK_EQ(si.si_uid, getuid());
  /* The registration is used up: the line says so, and a second
   * message sends nothing. */
  CHECK_SYS(mq_send(q, "de", 2, 0));
  status_line(q, line, sizeof(line));
  snprintf(want, sizeof(want), "QSIZE:%-10d NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", 5, 0, 0, 0);
  CHECK(strcmp(line, want) == 0);
  struct timespec zero = {0, 0};
  CHECK_ERR(sigtimedwait(&set, &si, &zero), EAGAIN);
  /* Only an arrival on an empty queue notifies. */
  CHECK_SYS(mq_notify(q, &se));
  CHECK_SYS(mq_send(q, "f", 1, 0));
  CHECK_ERR(sigtimedwait(&set, &si, &zero), EAGAIN);
  char m[16];
  while (mq_timedreceive(q, m, sizeof(m), NULL, &(struct timespec){1, 0}) >= 0) {
  }
  /* Removal, then SIGEV_NONE: registered, but silent. */
  CHECK_SYS(mq_notify(q, NULL));
  CHECK_SYS(mq_send(q, "g", 1, 0));
  CHECK_ERR(sigtimedwait(&set, &si, &zero), EAGAIN);
  CHECK_EQ(mq_receive(q, m, sizeof(m), NULL), 1);
  struct sigevent none = {.sigev_notify = SIGEV_NONE};
  CHECK_SYS(mq_notify(q, &none));
  status_line(q, line, sizeof(line));
  snprintf(want, sizeof(want), "QSIZE:%-10d NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", 0, 1, 0, getpid());
  CHECK(strcmp(line, want) == 0);
  CHECK_ERR(mq_notify(q, &se), EBUSY);
  CHECK_SYS(mq_send(q, "h", 1, 0));
  CHECK_SYS(mq_notify(q, &se)); /* SIGEV_NONE was used up too */
  CHECK_SYS(mq_notify(q, NULL));
  struct sigevent badev = {.sigev_notify = 99};
  CHECK_ERR(mq_notify(q, &badev), EINVAL);
  badev.sigev_notify = SIGEV_SIGNAL;
  badev.sigev_signo = 65;
  CHECK_ERR(mq_notify(q, &badev), EINVAL);
  CHECK_ERR(mq_notify(12345, &se), EBADF);
  CHECK_SYS(sigprocmask(SIG_UNBLOCK, &set, NULL));
  mq_close(q);
  mq_unlink(qname);
}

static void readiness(void) {
  mqd_t q = mkq(1, 8);
  struct pollfd p = {q, POLLIN | POLLOUT, 0};
  CHECK_EQ(poll(&p, 1, 0), 1);
  CHECK_EQ(p.revents, POLLOUT);
  CHECK_SYS(mq_send(q, "x", 1, 0));
  CHECK_EQ(poll(&p, 1, 0), 1);
  CHECK_EQ(p.revents, POLLIN);
  char m[8];
  CHECK_EQ(mq_receive(q, m, sizeof(m), NULL), 1);
  CHECK_EQ(poll(&p, 1, 0), 1);
  CHECK_EQ(p.revents, POLLOUT);
  mq_close(q);
  mq_unlink(qname);
}

/* An unprivileged process in a fresh IPC namespace: the namespace's
 * limits apply, and it sees none of the parent namespace's queues. */
static void limits(void) {
  mqd_t q = mkq(1, 1);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    CHECK_SYS(unshare(CLONE_NEWIPC));
    CHECK_ERR(mq_open(qname, O_RDWR), ENOENT);
    CHECK_SYS(setgid(65534));
    CHECK_SYS(setuid(65534));
    struct mq_attr a = {0, 11, 16, 0};
    CHECK_ERR(mq_open("/lim", O_CREAT | O_RDWR, 0600, &a), EINVAL);
    a.mq_maxmsg = 10;
    a.mq_msgsize = 8193;
    CHECK_ERR(mq_open("/lim", O_CREAT | O_RDWR, 0600, &a), EINVAL);
    a.mq_msgsize = 8192;
    mqd_t l = mq_open("/lim", O_CREAT | O_RDWR, 0600, &a);
    CHECK(l >= 0);
    mq_close(l);
    CHECK_SYS(mq_unlink("/lim"));
    a.mq_maxmsg = 1;
    a.mq_msgsize = 1;
    char name[32];
    for (int i = 0; i < 256; i++) {
      snprintf(name, sizeof(name), "/q%d", i);
      l = mq_open(name, O_CREAT | O_RDWR, 0600, &a);
      CHECK(l >= 0);
      mq_close(l);
    }
    CHECK_ERR(mq_open("/one-too-many", O_CREAT | O_RDWR, 0600, &a), ENOSPC);
    CHECK_SYS(mq_unlink("/q0"));
    l = mq_open("/one-more", O_CREAT | O_RDWR, 0600, &a);
    CHECK(l >= 0);
    _exit(0);
  }
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  mq_close(q);
  CHECK_SYS(mq_unlink(qname));
}

/* /dev/mqueue, where it is mounted: the queues as files. */
static void devmqueue(void) {
  struct statfs sf;
  if (statfs("/dev/mqueue", &sf) != 0 || sf.f_type != 0x19800202) return;
  mqd_t q = mkq(3, 7);
  char path[128], buf[128], want[128];
  snprintf(path, sizeof(path), "/dev/mqueue%s", qname);
  struct stat st;
  CHECK_SYS(stat("/dev/mqueue", &st));
  CHECK(S_ISDIR(st.st_mode));
  CHECK_EQ(st.st_mode & 07777, 01777);
  CHECK_SYS(stat(path, &st));
  CHECK(S_ISREG(st.st_mode));
  CHECK_SYS(mq_send(q, "abcd", 4, 0));
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0);
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = 0;
  snprintf(want, sizeof(want), "QSIZE:%-10d NOTIFY:%-5d SIGNO:%-5d NOTIFY_PID:%-6d\n", 4, 0, 0, 0);
  CHECK(strcmp(buf, want) == 0);
  close(fd);
  /* open(O_CREAT) makes a queue with the default attributes. */
  CHECK((fd = open("/dev/mqueue/appkernel-by-open", O_CREAT | O_RDWR, 0600)) >= 0);
  close(fd);
  mqd_t q2 = mq_open("/appkernel-by-open", O_RDWR);
  CHECK(q2 >= 0);
  struct mq_attr a;
  CHECK_SYS(mq_getattr(q2, &a));
  CHECK_EQ(a.mq_maxmsg, 10);
  mq_close(q2);
  CHECK_SYS(unlink("/dev/mqueue/appkernel-by-open"));
  CHECK_ERR(mq_unlink("/appkernel-by-open"), ENOENT);
  CHECK_ERR(mkdir("/dev/mqueue/d", 0700), EPERM);
  mq_close(q);
  CHECK_SYS(unlink(path));
  CHECK_ERR(mq_unlink(qname), ENOENT);
}

int main(void) {
  test_init();
  snprintf(qname, sizeof(qname), "/appkernel-mq-%d", getpid());
  RUN(open_unlink);
  RUN(order_and_errors);
  RUN(blocking);
  RUN(notify);
  RUN(readiness);
  RUN(limits);
  RUN(devmqueue);
  return 0;
}
