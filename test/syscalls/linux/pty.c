/*
 * pty: Unix 98 pseudoterminals and the terminal line discipline.
 * Checks posix_openpt/grantpt/unlockpt/ptsname and openpty, the pty lock
 * (TIOCSPTLCK/TIOCGPTLCK, EIO while locked), TIOCGPTN and TIOCGPTPEER,
 * the replica node's type and owner, termios round trips through both
 * ends (TCGETS/TCSETS*, TCGETS2), canonical input (VERASE, VKILL,
 * VWERASE, VEOF, VEOL, line-at-a-time reads, TIOCINQ), echo (ECHO, ECHOE,
 * ECHOK, ECHONL, ECHOCTL), input translation (ICRNL, INLCR, IGNCR,
 * ISTRIP), output processing (OPOST, ONLCR), non-canonical VMIN/VTIME
 * reads, TCFLSH, TIOCOUTQ, full queues (EAGAIN, then writable again),
 * poll readiness of both ends, EIO on the master once the replica is
 * closed, and hangup of the replica when the master closes.
 */
#include "test.h"

#include <fcntl.h>
#include <unistd.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <termios.h>

/* kernel_termios2 is the kernel's struct termios2 (TCGETS2), which
 * <termios.h> does not define. */
struct kernel_termios2 {
  tcflag_t c_iflag, c_oflag, c_cflag, c_lflag;
  cc_t c_line;
  cc_t c_cc[19];
  speed_t c_ispeed, c_ospeed;
};

/* new_pty opens a master and its replica (O_NOCTTY). */
static void new_pty(int *m, int *s) {
  CHECK_SYS(openpty(m, s, NULL, NULL, NULL));
}

/* read_all reads exactly n bytes (or fails) from fd. */
static void read_n(int fd, char *buf, int n) {
  int got = 0;
  while (got < n) {
    int r = read(fd, buf + got, n - got);
    CHECK(r > 0);
    got += r;
  }
}

/* drain reads what the master has (non-blocking) into buf; returns count. */
static int drain(int m, char *buf, int size) {
  int fl = fcntl(m, F_GETFL);
  fcntl(m, F_SETFL, fl | O_NONBLOCK);
  int got = 0;
  for (;;) {
    int r = read(m, buf + got, size - got);
    if (r <= 0) break;
    got += r;
  }
  fcntl(m, F_SETFL, fl);
  buf[got] = 0;
  return got;
}

static void open_and_lock(void) {
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  CHECK_SYS(m);
  CHECK_SYS(grantpt(m));
  int lock = 0;
  CHECK_SYS(ioctl(m, TIOCGPTLCK, &lock));
  CHECK_EQ(lock, 1);
  char *name = ptsname(m);
  CHECK(name != NULL);
  unsigned int n;
  CHECK_SYS(ioctl(m, TIOCGPTN, &n));
  char want[64];
  snprintf(want, sizeof(want), "/dev/pts/%u", n);
  CHECK(strcmp(name, want) == 0);
  CHECK_ERR(open(name, O_RDWR | O_NOCTTY), EIO);
  CHECK_ERR(ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY), EIO);
  CHECK_SYS(unlockpt(m));
  CHECK_SYS(ioctl(m, TIOCGPTLCK, &lock));
  CHECK_EQ(lock, 0);

  struct stat st;
  CHECK_SYS(stat(name, &st));
  CHECK(S_ISCHR(st.st_mode));
  CHECK(major(st.st_rdev) >= 136 && major(st.st_rdev) < 144);
  CHECK_EQ((major(st.st_rdev) - 136) * 256 + minor(st.st_rdev), n);
  CHECK_EQ(st.st_uid, getuid());
  CHECK_EQ(st.st_mode & 0600, 0600);
  CHECK_EQ(st.st_mode & 0007, 0);

  int s = open(name, O_RDWR | O_NOCTTY);
  CHECK_SYS(s);
  CHECK(isatty(s) && isatty(m));
  CHECK_SYS(fstat(s, &st));
  CHECK_EQ(major(st.st_rdev) * 256 + minor(st.st_rdev) - 136 * 256, n);
  /* The replica has no pty ioctls of the master's. */
  CHECK_ERR(ioctl(s, TIOCGPTN, &n), ENOTTY);
  int p = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  CHECK_SYS(p);
  CHECK_EQ(fcntl(p, F_GETFD), FD_CLOEXEC);
  CHECK_EQ(write(p, "x\n", 2), 2);
  char buf[8];
  read_n(m, buf, 3);
  CHECK(memcmp(buf, "x\r\n", 3) == 0);
  /* Streams: no seeking. */
  CHECK_ERR(lseek(s, 0, SEEK_SET), ESPIPE);
  close(p);
  close(s);
  close(m);
  /* The replica node disappears with its master. */
  CHECK_ERR(stat(name, &st), ENOENT);

  /* openpty sets up both ends and a window size. */
  struct winsize ws = {.ws_row = 24, .ws_col = 80};
  char pname[64];
  CHECK_SYS(openpty(&m, &s, pname, NULL, &ws));
  struct winsize got;
  CHECK_SYS(ioctl(m, TIOCGWINSZ, &got));
  CHECK_EQ(got.ws_row, 24);
  CHECK_EQ(got.ws_col, 80);
  CHECK(strcmp(pname, ttyname(s)) == 0);
  close(s);
  close(m);
  printf("PASS open_and_lock\n");
}

static void termios_roundtrip(void) {
  int m, s;
  new_pty(&m, &s);
  struct termios t;
  CHECK_SYS(tcgetattr(s, &t));
  CHECK(t.c_lflag & ICANON);
  CHECK(t.c_lflag & ECHO);
  CHECK(t.c_lflag & ISIG);
  CHECK(t.c_iflag & ICRNL);
  CHECK(t.c_oflag & OPOST);
  CHECK(t.c_oflag & ONLCR);
  CHECK_EQ(t.c_cc[VINTR], 3);
  CHECK_EQ(t.c_cc[VERASE], 0177);
  CHECK_EQ(t.c_cc[VEOF], 4);
  CHECK_EQ(t.c_cc[VMIN], 1);
  CHECK_EQ(cfgetospeed(&t), B38400);

  t.c_lflag &= ~(ECHO | ICANON);
  t.c_cc[VMIN] = 5;
  t.c_cc[VTIME] = 7;
  cfsetspeed(&t, B9600);
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  /* Both ends see the replica's settings. */
  struct termios u;
  CHECK_SYS(tcgetattr(m, &u));
  CHECK_EQ(u.c_lflag & (ECHO | ICANON), 0);
  CHECK_EQ(u.c_cc[VMIN], 5);
  CHECK_EQ(u.c_cc[VTIME], 7);
  CHECK_EQ(cfgetospeed(&u), B9600);
  /* Set through the master, read through the replica. */
  u.c_lflag |= ICANON;
  CHECK_SYS(tcsetattr(m, TCSADRAIN, &u));
  CHECK_SYS(tcgetattr(s, &t));
  CHECK(t.c_lflag & ICANON);
  CHECK_SYS(tcsetattr(s, TCSAFLUSH, &t));

  struct kernel_termios2 t2;
  CHECK_SYS(ioctl(s, 0x802c542a /* TCGETS2 */, &t2));
  CHECK_EQ(t2.c_ospeed, 9600);
  CHECK_EQ(t2.c_lflag, t.c_lflag);

  CHECK_ERR(ioctl(s, TCFLSH, 7), EINVAL);
  CHECK_ERR(ioctl(s, TCXONC, 9), EINVAL);
  int n = -1;
  CHECK_SYS(ioctl(s, TIOCOUTQ, &n));
  CHECK_EQ(n, 0);
  int ld = -1;
  CHECK_SYS(ioctl(s, TIOCGETD, &ld));
  CHECK_EQ(ld, N_TTY);
  /* Not terminals. */
  int p[2];
  CHECK_SYS(pipe(p));
  CHECK_ERR(tcgetattr(p[0], &t), ENOTTY);
  CHECK(!isatty(p[0]));
  close(p[0]);
  close(p[1]);
  close(s);
  close(m);
  printf("PASS termios_roundtrip\n");
}

/* wait_queued returns FIONREAD of fd once it reaches min (or after a
 * second): Linux hands written bytes to the other side of a pty
 * asynchronously. */
static int wait_queued(int fd, int min) {
  int n = 0;
  for (int i = 0; i < 1000; i++) {
    CHECK_SYS(ioctl(fd, FIONREAD, &n));
    if (n >= min) break;
    usleep(1000);
  }
  return n;
}

static void canonical(void) {
  int m, s;
  new_pty(&m, &s);
  char buf[256];
  /* Erase, kill and word erase edit the line; only complete lines are
   * readable, one per read. */
  const char *in = "ab\177c\n" "junk\025ok\n" "one two\027three\n";
  CHECK_EQ(write(m, in, strlen(in)), (int)strlen(in));
  /* Linux hands written input to the line discipline asynchronously:
     wait until all of it has arrived. */
  int n = -1;
  for (int i = 0; i < 1000; i++) {
    CHECK_SYS(ioctl(s, TIOCINQ, &n));
    if (n == 3 + 3 + 10) break;
    usleep(1000);
  }
  CHECK_EQ(n, 3 + 3 + 10);
  CHECK_EQ(read(s, buf, sizeof(buf)), 3);
  CHECK(memcmp(buf, "ac\n", 3) == 0);
  CHECK_EQ(read(s, buf, sizeof(buf)), 3);
  CHECK(memcmp(buf, "ok\n", 3) == 0);
  CHECK_EQ(read(s, buf, sizeof(buf)), 10);
  CHECK(memcmp(buf, "one three\n", 10) == 0);

  /* A partial line is not readable; a short read takes part of a line. */
  CHECK_EQ(write(m, "hello", 5), 5);
  CHECK_SYS(ioctl(s, TIOCINQ, &n));
  CHECK_EQ(n, 0);
  struct pollfd pf = {.fd = s, .events = POLLIN};
  CHECK_EQ(poll(&pf, 1, 0), 0);
  CHECK_EQ(write(m, "\n", 1), 1);
  CHECK_EQ(poll(&pf, 1, 1000), 1);
  CHECK_EQ(read(s, buf, 2), 2);
  CHECK(memcmp(buf, "he", 2) == 0);
  CHECK_EQ(read(s, buf, sizeof(buf)), 4);
  CHECK(memcmp(buf, "llo\n", 4) == 0);

  /* VEOF ends a line without itself; at the start of a line it reads as
   * end of file. */
  CHECK_EQ(write(m, "xy\004\004", 4), 4);
  CHECK_EQ(read(s, buf, sizeof(buf)), 2);
  CHECK(memcmp(buf, "xy", 2) == 0);
  CHECK_EQ(read(s, buf, sizeof(buf)), 0);

  /* VEOL is an extra line terminator, kept in the data. */
  struct termios t;
  CHECK_SYS(tcgetattr(s, &t));
  t.c_cc[VEOL] = ';';
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  CHECK_EQ(write(m, "a;b\n", 4), 4);
  CHECK_EQ(read(s, buf, sizeof(buf)), 2);
  CHECK(memcmp(buf, "a;", 2) == 0);
  CHECK_EQ(read(s, buf, sizeof(buf)), 2);

  /* Switching to non-canonical mode makes the partial line readable. */
  CHECK_EQ(write(m, "par", 3), 3);
  t.c_lflag &= ~ICANON;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  CHECK_EQ(read(s, buf, sizeof(buf)), 3);
  CHECK(memcmp(buf, "par", 3) == 0);

  /* TCFLSH discards pending input. */
  CHECK_EQ(write(m, "zzz", 3), 3);
  CHECK_SYS(tcflush(s, TCIFLUSH));
  CHECK_SYS(ioctl(s, TIOCINQ, &n));
  CHECK_EQ(n, 0);
  close(s);
  close(m);
  printf("PASS canonical\n");
}

static void echo(void) {
  int m, s;
  new_pty(&m, &s);
  char buf[256];
  /* ECHO with ECHOE: an erase is echoed as backspace-space-backspace;
   * the newline comes back as CR LF (ONLCR). */
  CHECK_EQ(write(m, "ab\177c\n", 5), 5);
  CHECK_EQ(read(s, buf, sizeof(buf)), 3);
  drain(m, buf, sizeof(buf) - 1);
  CHECK(strcmp(buf, "ab\b \bc\r\n") == 0);

  /* ECHOCTL shows control characters as ^X; erasing one takes two
   * columns. */
  CHECK_EQ(write(m, "\001\177\n", 3), 3);
  CHECK_EQ(read(s, buf, sizeof(buf)), 1);
  drain(m, buf, sizeof(buf) - 1);
  CHECK(strcmp(buf, "^A\b \b\b \b\r\n") == 0);

  /* VKILL with ECHOKE erases the line visually. */
  CHECK_EQ(write(m, "xy\025\n", 4), 4);
  CHECK_EQ(read(s, buf, sizeof(buf)), 1);
  drain(m, buf, sizeof(buf) - 1);
  CHECK(strcmp(buf, "xy\b \b\b \b\r\n") == 0);

  /* Without ECHOKE, ECHOK echoes the kill character and a newline. */
  struct termios t;
  CHECK_SYS(tcgetattr(s, &t));
  t.c_lflag &= ~ECHOKE;
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  CHECK_EQ(write(m, "xy\025\n", 4), 4);
  CHECK_EQ(read(s, buf, sizeof(buf)), 1);
  drain(m, buf, sizeof(buf) - 1);
  CHECK(strcmp(buf, "xy^U\r\n\r\n") == 0);

  /* ECHONL echoes newlines even without ECHO. */
  t.c_lflag &= ~ECHO;
  t.c_lflag |= ECHONL;
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  CHECK_EQ(write(m, "quiet\n", 6), 6);
  CHECK_EQ(read(s, buf, sizeof(buf)), 6);
  drain(m, buf, sizeof(buf) - 1);
  CHECK(strcmp(buf, "\r\n") == 0);

  /* No echo at all. */
  t.c_lflag &= ~ECHONL;
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  CHECK_EQ(write(m, "silent\n", 7), 7);
  CHECK_EQ(read(s, buf, sizeof(buf)), 7);
  CHECK_EQ(drain(m, buf, sizeof(buf) - 1), 0);
  close(s);
  close(m);
  printf("PASS echo\n");
}

static void translation(void) {
  int m, s;
  new_pty(&m, &s);
  char buf[64];
  struct termios t;
  CHECK_SYS(tcgetattr(s, &t));
  t.c_lflag &= ~(ECHO | ICANON);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  /* ICRNL (default): CR reads as NL. */
  CHECK_EQ(write(m, "a\rb", 3), 3);
  read_n(s, buf, 3);
  CHECK(memcmp(buf, "a\nb", 3) == 0);
  /* IGNCR drops CR; INLCR turns NL into CR. */
  t.c_iflag = IGNCR | INLCR;
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  CHECK_EQ(write(m, "a\rb\n", 4), 4);
  read_n(s, buf, 3);
  CHECK(memcmp(buf, "ab\r", 3) == 0);
  /* ISTRIP clears the eighth bit. */
  t.c_iflag = ISTRIP;
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  CHECK_EQ(write(m, "\xc1", 1), 1);
  read_n(s, buf, 1);
  CHECK_EQ((unsigned char)buf[0], 0x41);

  /* OPOST with ONLCR: NL goes out as CR NL; without OPOST, raw. */
  CHECK_EQ(write(s, "x\ny", 3), 3);
  read_n(m, buf, 4);
  CHECK(memcmp(buf, "x\r\ny", 4) == 0);
  t.c_oflag &= ~OPOST;
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  CHECK_EQ(write(s, "x\ny", 3), 3);
  read_n(m, buf, 3);
  CHECK(memcmp(buf, "x\ny", 3) == 0);
  /* OCRNL under OPOST. */
  t.c_oflag = OPOST | OCRNL;
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  CHECK_EQ(write(s, "\r", 1), 1);
  read_n(m, buf, 1);
  CHECK_EQ(buf[0], '\n');
  close(s);
  close(m);
  printf("PASS translation\n");
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void vmin_vtime(void) {
  int m, s;
  new_pty(&m, &s);
  char buf[64];
  struct termios t;
  CHECK_SYS(tcgetattr(s, &t));
  cfmakeraw(&t);
  /* MIN 0, TIME 0: a poll. */
  t.c_cc[VMIN] = 0;
  t.c_cc[VTIME] = 0;
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  CHECK_EQ(read(s, buf, sizeof(buf)), 0);
  CHECK_EQ(write(m, "ab", 2), 2);
  CHECK_EQ(read(s, buf, sizeof(buf)), 2);
  /* MIN 0, TIME 2: gives up after 0.2 s. */
  t.c_cc[VTIME] = 2;
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  double t0 = now();
  CHECK_EQ(read(s, buf, sizeof(buf)), 0);
  double dt = now() - t0;
  CHECK(dt > 0.15 && dt < 2);
  /* MIN 3, TIME 0: waits for three bytes. */
  t.c_cc[VMIN] = 3;
  t.c_cc[VTIME] = 0;
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    usleep(50000);
    write(m, "1", 1);
    usleep(50000);
    write(m, "23", 2);
    _exit(0);
  }
  CHECK_EQ(read(s, buf, sizeof(buf)), 3);
  CHECK(memcmp(buf, "123", 3) == 0);
  int st;
  CHECK_SYS(waitpid(pid, &st, 0));
  /* Poll readiness wants MIN bytes when TIME is 0. */
  CHECK_EQ(write(m, "12", 2), 2);
  struct pollfd pf = {.fd = s, .events = POLLIN};
  CHECK_EQ(poll(&pf, 1, 0), 0);
  CHECK_EQ(write(m, "3", 1), 1);
  CHECK_EQ(poll(&pf, 1, 1000), 1);
  CHECK_EQ(read(s, buf, sizeof(buf)), 3);
  /* MIN 5, TIME 1: the inter-byte timer ends the read short. */
  t.c_cc[VMIN] = 5;
  t.c_cc[VTIME] = 1;
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  CHECK_EQ(write(m, "xy", 2), 2);
  CHECK_EQ(read(s, buf, sizeof(buf)), 2);
  close(s);
  close(m);
  printf("PASS vmin_vtime\n");
}

static void queues_and_poll(void) {
  int m, s;
  new_pty(&m, &s);
  struct termios t;
  CHECK_SYS(tcgetattr(s, &t));
  cfmakeraw(&t);
  CHECK_SYS(tcsetattr(s, TCSANOW, &t));
  struct pollfd pf[2] = {{.fd = m, .events = POLLIN | POLLOUT}, {.fd = s, .events = POLLIN | POLLOUT}};
  CHECK_EQ(poll(pf, 2, 0), 2);
  CHECK_EQ(pf[0].revents, POLLOUT);
  CHECK_EQ(pf[1].revents, POLLOUT);

  /* Input fills: the master's writes stop with EAGAIN, and drain. */
  fcntl(m, F_SETFL, O_NONBLOCK);
  fcntl(s, F_SETFL, O_NONBLOCK);
  char big[1024];
  memset(big, 'a', sizeof(big));
  long total = 0;
  for (int i = 0; i < 10000; i++) {
    int r = write(m, big, sizeof(big));
    if (r < 0) {
      CHECK_EQ(errno, EAGAIN);
      break;
    }
    total += r;
  }
  CHECK(total >= 4095 && total < 1000000);
  int n = wait_queued(s, 4095);
  CHECK(n >= 4095);
  pf[0].events = POLLOUT;
  pf[1].events = POLLIN;
  CHECK_EQ(poll(&pf[1], 1, 0), 1);
  long got = 0;
  for (;;) {
    int r = read(s, big, sizeof(big));
    if (r < 0) {
      CHECK_EQ(errno, EAGAIN);
      break;
    }
    got += r;
    if (got == total) break;
    usleep(got % 4096 == 0 ? 1000 : 0);
  }
  CHECK_EQ(poll(&pf[0], 1, 1000), 1);
  CHECK(pf[0].revents & POLLOUT);

  /* Output fills: the replica's writes stop with EAGAIN. */
  total = 0;
  for (int i = 0; i < 10000; i++) {
    int r = write(s, big, sizeof(big));
    if (r < 0) {
      CHECK_EQ(errno, EAGAIN);
      break;
    }
    total += r;
  }
  CHECK(total >= 4096 && total < 1000000);
  pf[1].events = POLLOUT;
  CHECK_EQ(poll(&pf[1], 1, 0), 0);
  n = wait_queued(m, 1);
  CHECK(n > 0);
  while (read(m, big, sizeof(big)) > 0) {
  }
  CHECK_EQ(poll(&pf[1], 1, 1000), 1);

  /* The replica's last close: the master reads EIO and polls HUP. */
  close(s);
  pf[0].events = POLLIN;
  CHECK_EQ(poll(&pf[0], 1, 1000), 1);
  CHECK(pf[0].revents & POLLHUP);
  char c;
  CHECK_ERR(read(m, &c, 1), EIO);
  close(m);
  printf("PASS queues_and_poll\n");
}

static void hangup(void) {
  int m, s;
  new_pty(&m, &s);
  CHECK_EQ(write(m, "line\n", 5), 5);
  close(m);
  /* Hung up: reads end of file (pending input is gone), writes and
   * ioctls fail with EIO, poll reports everything. */
  struct pollfd pf = {.fd = s, .events = POLLIN | POLLOUT};
  CHECK_EQ(poll(&pf, 1, 0), 1);
  CHECK_EQ(pf.revents, POLLIN | POLLOUT | POLLERR | POLLHUP);
  char buf[16];
  CHECK_EQ(read(s, buf, sizeof(buf)), 0);
  CHECK_ERR(write(s, "x", 1), EIO);
  struct termios t;
  CHECK_ERR(tcgetattr(s, &t), EIO);
  close(s);
  printf("PASS hangup\n");
}

int main(void) {
  open_and_lock();
  termios_roundtrip();
  canonical();
  echo();
  translation();
  vmin_vtime();
  queues_and_poll();
  hangup();
  return 0;
}
