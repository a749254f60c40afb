/*
 * pty_jobctl: terminal job control on a pseudoterminal.
 * Checks acquiring a controlling terminal (open by a session leader
 * without O_NOCTTY, TIOCSCTTY, stealing with arg 1, EPERM cases), losing
 * it (setsid, TIOCNOTTY), TIOCGSID and TIOCGPGRP/TIOCSPGRP with their
 * ENOTTY/ESRCH/EPERM/EINVAL rules (also through the master), background
 * processes stopped by SIGTTOU (tcsetattr, writes with TOSTOP,
 * tcsetpgrp) and SIGTTIN (reads), EIO for a background read with SIGTTIN
 * blocked, ISIG characters signalling the foreground group (SIGINT,
 * SIGTSTP), SIGWINCH on a window size change, SIGHUP and SIGCONT to the
 * session leader when the master closes, and SIGHUP to the foreground
 * group when the session leader exits.
 */
#include "test.h"
#include "pty_util.h"

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>

static void sync_wait(int fd) {
  char c;
  CHECK_EQ(read(fd, &c, 1), 1);
}

static void sync_post(int fd) { CHECK_EQ(write(fd, "x", 1), 1); }

static void controlling(void) {
  char name[64];
  int m = new_pty(name);
  int s0 = open(name, O_RDWR | O_NOCTTY);
  /* Not the caller's controlling terminal. */
  CHECK_ERR(tcgetpgrp(s0), ENOTTY);
  pid_t sid;
  CHECK_ERR(ioctl(s0, TIOCGSID, &sid), ENOTTY);
  CHECK_ERR(ioctl(m, TIOCGSID, &sid), ENOTTY);
  CHECK_ERR(ioctl(m, TIOCNOTTY), ENOTTY);

  int ready[2], done[2];
  CHECK_SYS(pipe(ready));
  CHECK_SYS(pipe(done));
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    alarm(10);
    /* Not a session leader: TIOCSCTTY is refused. */
    CHECK_ERR(ioctl(s0, TIOCSCTTY, 0), EPERM);
    int s = leader(name);
    CHECK_SYS(ioctl(s, TIOCGSID, &sid));
    CHECK_EQ(sid, getpid());
    /* Again on the same terminal: fine. */
    CHECK_SYS(ioctl(s, TIOCSCTTY, 0));
    /* A second terminal does not replace the first. */
    char name2[64];
    int m2 = new_pty(name2);
    int s2 = open(name2, O_RDWR);
    CHECK_ERR(tcgetpgrp(s2), ENOTTY);
    CHECK_ERR(ioctl(s2, TIOCSCTTY, 0), EPERM);
    close(s2);
    close(m2);
    /* A child inherits it; setsid drops it. */
    pid_t c = fork();
    CHECK_SYS(c);
    if (c == 0) {
      CHECK_EQ(tcgetpgrp(s), getppid());
      CHECK_SYS(setsid());
      CHECK_ERR(tcgetpgrp(s), ENOTTY);
      _exit(0);
    }
    CHECK_EQ(wait_exit(c), 0);
    sync_post(ready[1]);
    sync_wait(done[0]);
    /* TIOCNOTTY by the leader gives it up (the foreground group, ours,
     * gets SIGHUP and SIGCONT). */
    signal(SIGHUP, SIG_IGN);
    CHECK_SYS(ioctl(s, TIOCNOTTY));
    CHECK_ERR(tcgetpgrp(s), ENOTTY);
    /* O_NOCTTY keeps a leader from acquiring; TIOCSCTTY then does. */
    close(s);
    s = open(name, O_RDWR | O_NOCTTY);
    CHECK_ERR(tcgetpgrp(s), ENOTTY);
    CHECK_SYS(ioctl(s, TIOCSCTTY, 0));
    CHECK_EQ(tcgetpgrp(s), getpid());
    _exit(0);
  }
  sync_wait(ready[0]);
  /* Through the master, anyone sees the session and foreground group. */
  CHECK_SYS(ioctl(m, TIOCGSID, &sid));
  CHECK_EQ(sid, pid);
  pid_t pg = 0;
  CHECK_SYS(ioctl(m, TIOCGPGRP, &pg));
  CHECK_EQ(pg, pid);
  /* But not set it: it is not our controlling terminal. */
  CHECK_ERR(ioctl(m, TIOCSPGRP, &pg), ENOTTY);
  CHECK_ERR(tcgetpgrp(s0), ENOTTY);
  sync_post(done[1]);
  CHECK_EQ(wait_exit(pid), 0);

  /* Stealing: another session's terminal takes arg 1 and CAP_SYS_ADMIN. */
  pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    alarm(10);
    int s = leader(name);
    sync_post(ready[1]);
    sync_wait(done[0]);
    /* Stolen (if the other could): no longer ours. */
    if (geteuid() == 0) CHECK_ERR(tcgetpgrp(s), ENOTTY);
    _exit(0);
  }
  sync_wait(ready[0]);
  pid_t thief = fork();
  CHECK_SYS(thief);
  if (thief == 0) {
    alarm(10);
    CHECK_SYS(setsid());
    int s = open(name, O_RDWR | O_NOCTTY);
    CHECK_ERR(ioctl(s, TIOCSCTTY, 0), EPERM);
    if (geteuid() == 0) {
      CHECK_SYS(ioctl(s, TIOCSCTTY, 1));
      CHECK_EQ(tcgetpgrp(s), getpid());
    } else {
      CHECK_ERR(ioctl(s, TIOCSCTTY, 1), EPERM);
    }
    _exit(0);
  }
  CHECK_EQ(wait_exit(thief), 0);
  sync_post(done[1]);
  CHECK_EQ(wait_exit(pid), 0);
  close(s0);
  close(m);
  close(ready[0]);
  close(ready[1]);
  close(done[0]);
  close(done[1]);
  printf("PASS controlling\n");
}

/* in_background forks a process in a new process group of the caller's
 * session, which runs f and exits with its result. */
static pid_t in_background(int (*f)(int), int s) {
  pid_t c = fork();
  CHECK_SYS(c);
  if (c == 0) {
    alarm(10);
    CHECK_SYS(setpgid(0, 0));
    _exit(f(s));
  }
  setpgid(c, c);
  return c;
}

static int bg_tcsetattr(int s) {
  struct termios t;
  CHECK_SYS(tcgetattr(s, &t));
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  return 0;
}

static int bg_write(int s) {
  CHECK_EQ(write(s, "bg", 2), 2);
  return 0;
}

static int bg_read(int s) {
  char c;
  CHECK_EQ(read(s, &c, 1), 1);
  return 0;
}

static int bg_read_blocked(int s) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTTIN);
  sigprocmask(SIG_BLOCK, &set, NULL);
  char c;
  CHECK_ERR(read(s, &c, 1), EIO);
  return 0;
}

static int bg_tcsetattr_ignoring(int s) {
  signal(SIGTTOU, SIG_IGN);
  return bg_tcsetattr(s);
}

/* bg_take_foreground does what a shell's job does to get the terminal. */
static int bg_take_foreground(int s) {
  signal(SIGTTOU, SIG_IGN);
  CHECK_SYS(tcsetpgrp(s, getpgrp()));
  CHECK_EQ(tcgetpgrp(s), getpgrp());
  char c;
  CHECK_EQ(read(s, &c, 1), 1);
  return 0;
}

/* expect_stop checks that c stops with sig, then kills it. */
static void expect_stop(pid_t c, int sig) {
  int st;
  CHECK_SYS(waitpid(c, &st, WUNTRACED));
  CHECK(WIFSTOPPED(st));
  CHECK_EQ(WSTOPSIG(st), sig);
  kill(c, SIGKILL);
  CHECK_SYS(waitpid(c, &st, 0));
}

static void background(void) {
  char name[64];
  int m = new_pty(name);
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    alarm(20);
    int s = leader(name);
    /* tcsetpgrp's rules. */
    CHECK_ERR(tcsetpgrp(s, -1), EINVAL);
    CHECK_ERR(tcsetpgrp(s, getppid()), EPERM);
    CHECK_ERR(tcsetpgrp(s, 0x3ffffff0), ESRCH);
    /* A background group changing settings, or writing with TOSTOP,
     * stops with SIGTTOU; reading stops with SIGTTIN. */
    expect_stop(in_background(bg_tcsetattr, s), SIGTTOU);
    expect_stop(in_background(bg_read, s), SIGTTIN);
    CHECK_EQ(wait_exit(in_background(bg_write, s)), 0);
    struct termios t;
    CHECK_SYS(tcgetattr(s, &t));
    t.c_lflag |= TOSTOP;
    CHECK_SYS(tcsetattr(s, TCSANOW, &t));
    expect_stop(in_background(bg_write, s), SIGTTOU);
    /* Ignoring SIGTTOU lets it through; blocking SIGTTIN makes the
     * read fail. */
    CHECK_EQ(wait_exit(in_background(bg_tcsetattr_ignoring, s)), 0);
    CHECK_EQ(wait_exit(in_background(bg_read_blocked, s)), 0);
    /* A job that takes the foreground can read. */
    pid_t c = in_background(bg_take_foreground, s);
    while (tcgetpgrp(s) != c) usleep(1000);
    CHECK_EQ(write(m, "k\n", 2), 2);
    CHECK_EQ(wait_exit(c), 0);
    /* Give it back. */
    signal(SIGTTOU, SIG_IGN);
    CHECK_SYS(tcsetpgrp(s, getpid()));
    CHECK_EQ(tcgetpgrp(s), getpid());
    _exit(0);
  }
  CHECK_EQ(wait_exit(pid), 0);
  close(m);
  printf("PASS background\n");
}

static volatile sig_atomic_t got[65];
static void record(int sig) { got[sig]++; }

/* wait_signal waits up to 5 s for sig to have been caught. */
static void wait_signal(int sig) {
  for (int i = 0; i < 5000 && !got[sig]; i++) usleep(1000);
  CHECK(got[sig]);
}

static void signal_chars(void) {
  char name[64];
  int m = new_pty(name);
  int ready[2];
  CHECK_SYS(pipe(ready));
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    alarm(10);
    signal(SIGINT, record);
    signal(SIGWINCH, record);
    int s = leader(name);
    sync_post(ready[1]);
    wait_signal(SIGINT);
    /* The pending line was discarded. */
    int n = -1;
    CHECK_SYS(ioctl(s, TIOCINQ, &n));
    CHECK_EQ(n, 0);
    sync_post(ready[1]);
    wait_signal(SIGWINCH);
    struct winsize ws;
    CHECK_SYS(ioctl(s, TIOCGWINSZ, &ws));
    CHECK_EQ(ws.ws_row, 33);
    _exit(0);
  }
  sync_wait(ready[0]);
  CHECK_EQ(write(m, "abc\n", 4), 4);
  CHECK_EQ(write(m, "\003", 1), 1);
  sync_wait(ready[0]);
  char buf[64];
  int n = read(m, buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = 0;
  CHECK(strstr(buf, "^C") != NULL);
  struct winsize ws = {.ws_row = 33, .ws_col = 99};
  CHECK_SYS(ioctl(m, TIOCSWINSZ, &ws));
  CHECK_EQ(wait_exit(pid), 0);

  /* VSUSP stops the foreground group with SIGTSTP. The group must not
   * be orphaned (orphans ignore SIGTSTP): a job of the leader's. */
  pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    alarm(10);
    int s = leader(name);
    pid_t c = fork();
    CHECK_SYS(c);
    if (c == 0) {
      setpgid(0, 0);
      /* Read only once the parent has made this group the foreground
       * one: a background read would stop with SIGTTIN instead. */
      while (tcgetpgrp(s) != getpgrp()) usleep(1000);
      char ch;
      read(s, &ch, 1);
      _exit(0);
    }
    setpgid(c, c);
    CHECK_SYS(tcsetpgrp(s, c));
    sync_post(ready[1]);
    expect_stop(c, SIGTSTP);
    _exit(0);
  }
  sync_wait(ready[0]);
  CHECK_EQ(write(m, "\032", 1), 1);
  CHECK_EQ(wait_exit(pid), 0);
  close(ready[0]);
  close(ready[1]);
  close(m);
  printf("PASS signal_chars\n");
}

static void hangup_signals(void) {
  char name[64];
  int m = new_pty(name);
  int ready[2];
  CHECK_SYS(pipe(ready));
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    alarm(10);
    close(m); /* the pair hangs up when the parent's copy closes */
    signal(SIGHUP, record);
    signal(SIGCONT, record);
    int s = leader(name);
    sync_post(ready[1]);
    wait_signal(SIGHUP);
    wait_signal(SIGCONT);
    char c;
    CHECK_EQ(read(s, &c, 1), 0);
    /* The session lost its terminal. */
    CHECK_ERR(tcgetpgrp(s), EIO);
    _exit(0);
  }
  sync_wait(ready[0]);
  close(m);
  CHECK_EQ(wait_exit(pid), 0);

  /* The session leader's exit sends SIGHUP to the foreground group. */
  m = new_pty(name);
  int report[2];
  CHECK_SYS(pipe(report));
  pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    alarm(10);
    leader(name);
    pid_t c = fork();
    CHECK_SYS(c);
    if (c == 0) {
      signal(SIGHUP, record);
      sync_post(ready[1]);
      wait_signal(SIGHUP);
      sync_post(report[1]);
      _exit(0);
    }
    sync_wait(ready[0]);
    _exit(0);
  }
  CHECK_EQ(wait_exit(pid), 0);
  close(report[1]);
  char c;
  CHECK_EQ(read(report[0], &c, 1), 1);
  close(report[0]);
  close(ready[0]);
  close(ready[1]);
  close(m);
  printf("PASS hangup_signals\n");
}

int main(void) {
  controlling();
  background();
  signal_chars();
  hangup_signals();
  return 0;
}
