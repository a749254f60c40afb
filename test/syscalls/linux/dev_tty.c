/*
 * dev_tty: /dev/tty, the caller's controlling terminal (tty(4)).
 * Checks the node (character device 5:0, mode 0666), ENXIO without a
 * controlling terminal (after setsid, after TIOCNOTTY, after the
 * terminal hung up), none gained by a process that is not a session
 * leader (or is `runsc do`'s command) opening a pty, that an open of /dev/tty is the controlling pty
 * replica (data written reaches the master, data from the master is
 * read, poll, terminal ioctls, fstat and /proc/self/fd show /dev/tty),
 * that a file opened before setsid keeps reaching the terminal, TIOCNOTTY
 * through /dev/tty by a leader and by another member, and job control
 * through /dev/tty (a background writer with TOSTOP is stopped by
 * SIGTTOU, a background reader by SIGTTIN).
 */
#include "test.h"
#include "pty_util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>

/* raw_mode turns off canonical mode, echo and output translation so that
 * bytes pass unchanged. */
static void raw_mode(int fd) {
  struct termios t;
  CHECK_SYS(tcgetattr(fd, &t));
  cfmakeraw(&t);
  CHECK_SYS(tcsetattr(fd, TCSANOW, &t));
}

/* read_exact reads n bytes from fd, waiting at most 5 s for each. */
static void read_exact(int fd, char *buf, int n) {
  int got = 0;
  while (got < n) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    CHECK_EQ(poll(&p, 1, 5000), 1);
    ssize_t r = read(fd, buf + got, n - got);
    CHECK(r > 0);
    got += r;
  }
}

static void node(void) {
  struct stat st;
  CHECK_SYS(stat("/dev/tty", &st));
  CHECK(S_ISCHR(st.st_mode));
  CHECK_EQ(st.st_mode & 07777, 0666);
  CHECK_EQ(major(st.st_rdev), 5);
  CHECK_EQ(minor(st.st_rdev), 0);
}

static void no_controlling_terminal(void) {
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    alarm(10);
    CHECK_SYS(setsid());
    CHECK_ERR(open("/dev/tty", O_RDWR), ENXIO);
    CHECK_ERR(open("/dev/tty", O_RDONLY), ENXIO);
    CHECK_ERR(open("/dev/tty", O_WRONLY | O_NOCTTY), ENXIO);
    _exit(0);
  }
  CHECK_EQ(wait_exit(pid), 0);
}

/* Opening a terminal without O_NOCTTY makes it the controlling terminal
 * only of a session leader's session. The test process is not one
 * natively (the runner's child), and under `runsc do` it stands for the
 * command run directly, though it is the sandbox's first process: the pty
 * must not become its terminal, or closing the master would hang it up
 * (SIGHUP). */
static void command_gets_no_terminal(void) {
  char name[64];
  int m = new_pty(name);
  int s = open(name, O_RDWR);
  CHECK_SYS(s);
  pid_t sid;
  CHECK_ERR(ioctl(s, TIOCGSID, &sid), ENOTTY);
  CHECK_SYS(close(m));
  CHECK_SYS(close(s));
}

static void reaches_terminal(void) {
  char name[64];
  int m = new_pty(name);
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    alarm(10);
    int s = leader(name);
    raw_mode(s);
    int t = open("/dev/tty", O_RDWR);
    CHECK_SYS(t);
    /* The terminal, under the /dev/tty name. */
    CHECK(isatty(t));
    struct stat st;
    CHECK_SYS(fstat(t, &st));
    CHECK(S_ISCHR(st.st_mode));
    CHECK_EQ(st.st_rdev, makedev(5, 0));
    char path[64], link[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", t);
    ssize_t n = readlink(path, link, sizeof(link) - 1);
    CHECK_SYS(n);
    link[n] = 0;
    CHECK_EQ(strcmp(link, "/dev/tty"), 0);
    /* Its settings and job-control state are the replica's. */
    struct termios tm;
    CHECK_SYS(tcgetattr(t, &tm));
    CHECK_EQ(tm.c_lflag & ICANON, 0);
    CHECK_EQ(tcgetpgrp(t), getpid());
    pid_t sid;
    CHECK_SYS(ioctl(t, TIOCGSID, &sid));
    CHECK_EQ(sid, getpid());
    struct winsize ws = {.ws_row = 33, .ws_col = 77};
    CHECK_SYS(ioctl(m, TIOCSWINSZ, &ws));
    struct winsize got;
    CHECK_SYS(ioctl(t, TIOCGWINSZ, &got));
    CHECK_EQ(got.ws_row, 33);
    CHECK_EQ(got.ws_col, 77);
    /* Writes reach the master. */
    CHECK_EQ(write(t, "hello", 5), 5);
    char buf[16];
    read_exact(m, buf, 5);
    CHECK_EQ(memcmp(buf, "hello", 5), 0);
    /* The master's writes are read, and wake poll. */
    struct pollfd p = {.fd = t, .events = POLLIN};
    CHECK_EQ(poll(&p, 1, 0), 0);
    CHECK_EQ(write(m, "abc", 3), 3);
    read_exact(t, buf, 3);
    CHECK_EQ(memcmp(buf, "abc", 3), 0);
    /* Bytes written to the master are there for either file. */
    CHECK_EQ(write(m, "xy", 2), 2);
    read_exact(s, buf, 1);
    read_exact(t, buf + 1, 1);
    CHECK_EQ(memcmp(buf, "xy", 2), 0);
    /* Non-blocking reads of an empty terminal. */
    CHECK_SYS(fcntl(t, F_SETFL, O_NONBLOCK));
    CHECK_ERR(read(t, buf, 1), EAGAIN);
    _exit(0);
  }
  CHECK_EQ(wait_exit(pid), 0);
  close(m);
}

static void after_setsid(void) {
  char name[64];
  int m = new_pty(name);
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    alarm(10);
    int s = leader(name);
    raw_mode(s);
    int t = open("/dev/tty", O_RDWR);
    CHECK_SYS(t);
    pid_t c = fork();
    CHECK_SYS(c);
    if (c == 0) {
      /* A child has the session's terminal until it leaves the
       * session. */
      int t2 = open("/dev/tty", O_RDWR);
      CHECK_SYS(t2);
      close(t2);
      CHECK_SYS(setsid());
      CHECK_ERR(open("/dev/tty", O_RDWR), ENXIO);
      /* A file opened before still reaches the terminal, which is no
       * longer the caller's controlling one. */
      CHECK_ERR(tcgetpgrp(t), ENOTTY);
      CHECK_EQ(write(t, "k", 1), 1);
      _exit(0);
    }
    CHECK_EQ(wait_exit(c), 0);
    char b;
    read_exact(m, &b, 1);
    CHECK_EQ(b, 'k');
    /* The leader still has it. */
    int t3 = open("/dev/tty", O_RDONLY);
    CHECK_SYS(t3);
    _exit(0);
  }
  CHECK_EQ(wait_exit(pid), 0);
  close(m);
}

static void notty(void) {
  char name[64];
  int m = new_pty(name);
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    alarm(10);
    int s = leader(name);
    int t = open("/dev/tty", O_RDWR);
    CHECK_SYS(t);
    /* Another member gives it up for itself only. */
    pid_t c = fork();
    CHECK_SYS(c);
    if (c == 0) {
      int t2 = open("/dev/tty", O_RDWR);
      CHECK_SYS(t2);
      CHECK_SYS(ioctl(t2, TIOCNOTTY));
      CHECK_ERR(open("/dev/tty", O_RDWR), ENXIO);
      CHECK_ERR(ioctl(t2, TIOCNOTTY), ENOTTY);
      _exit(0);
    }
    CHECK_EQ(wait_exit(c), 0);
    CHECK_EQ(tcgetpgrp(t), getpid());
    int t3 = open("/dev/tty", O_RDWR);
    CHECK_SYS(t3);
    close(t3);
    /* The leader gives it up for the session (its foreground group, its
     * own, is sent SIGHUP and SIGCONT). */
    signal(SIGHUP, SIG_IGN);
    CHECK_SYS(ioctl(t, TIOCNOTTY));
    CHECK_ERR(open("/dev/tty", O_RDWR), ENXIO);
    CHECK_ERR(tcgetpgrp(s), ENOTTY);
    _exit(0);
  }
  CHECK_EQ(wait_exit(pid), 0);
  close(m);
}

static void hangup(void) {
  char name[64];
  int m = new_pty(name);
  int ready[2], done[2];
  CHECK_SYS(pipe(ready));
  CHECK_SYS(pipe(done));
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    alarm(10);
    signal(SIGHUP, SIG_IGN);
    close(m);
    leader(name);
    int t = open("/dev/tty", O_RDWR);
    CHECK_SYS(t);
    CHECK_EQ(write(ready[1], "x", 1), 1);
    char b;
    CHECK_EQ(read(done[0], &b, 1), 1);
    /* The master is gone: the session has no terminal any more. */
    CHECK_ERR(open("/dev/tty", O_RDWR), ENXIO);
    CHECK_EQ(read(t, &b, 1), 0);
    CHECK_ERR(write(t, "x", 1), EIO);
    _exit(0);
  }
  char b;
  CHECK_EQ(read(ready[0], &b, 1), 1);
  close(m);
  CHECK_EQ(write(done[1], "x", 1), 1);
  CHECK_EQ(wait_exit(pid), 0);
  close(ready[0]);
  close(ready[1]);
  close(done[0]);
  close(done[1]);
}

/* stopped_by runs f in a background process group of a session whose
 * controlling terminal is a fresh pty with TOSTOP set, and checks that it
 * is stopped by sig. */
static void stopped_by(void (*f)(void), int sig) {
  char name[64];
  int m = new_pty(name);
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    alarm(10);
    int s = leader(name);
    struct termios tm;
    CHECK_SYS(tcgetattr(s, &tm));
    tm.c_lflag |= TOSTOP;
    CHECK_SYS(tcsetattr(s, TCSANOW, &tm));
    pid_t c = fork();
    CHECK_SYS(c);
    if (c == 0) {
      CHECK_SYS(setpgid(0, 0));
      f();
      _exit(0);
    }
    setpgid(c, c);
    int st;
    CHECK_SYS(waitpid(c, &st, WUNTRACED));
    CHECK(WIFSTOPPED(st));
    CHECK_EQ(WSTOPSIG(st), sig);
    CHECK_SYS(kill(c, SIGKILL));
    CHECK_SYS(waitpid(c, &st, 0));
    _exit(0);
  }
  CHECK_EQ(wait_exit(pid), 0);
  close(m);
}

static void background_write(void) {
  int t = open("/dev/tty", O_WRONLY);
  CHECK_SYS(t);
  write(t, "bg", 2);
}

static void background_read(void) {
  int t = open("/dev/tty", O_RDONLY);
  CHECK_SYS(t);
  char b;
  read(t, &b, 1);
}

static void job_control(void) {
  stopped_by(background_write, SIGTTOU);
  stopped_by(background_read, SIGTTIN);
}

int main(void) {
  test_init();
  RUN(node);
  RUN(no_controlling_terminal);
  RUN(command_gets_no_terminal);
  RUN(reaches_terminal);
  RUN(after_setsid);
  RUN(notty);
  RUN(hangup);
  RUN(job_control);
  return 0;
}
