/*
 * inotify(7): inotify_init/inotify_init1 flags, inotify_add_watch masks
 * and flags (IN_MASK_ADD, IN_MASK_CREATE, IN_ONLYDIR, IN_DONT_FOLLOW,
 * IN_ONESHOT, IN_EXCL_UNLINK; one wd per inode), inotify_rm_watch and
 * IN_IGNORED, the events of open/read/write/close/chmod/truncate/create/
 * link/unlink/rmdir/rename (IN_MOVED_FROM/TO cookies, IN_MOVE_SELF,
 * IN_DELETE_SELF after the last close, IN_ISDIR) in exact order, on a
 * tmpfs (/dev/shm) and on /tmp; event layout and name padding, EINVAL for
 * a short buffer, coalescing of repeated events, FIONREAD, IN_Q_OVERFLOW,
 * poll/epoll readiness and a blocking read woken by another thread.
 */
#include "test.h"

#include <poll.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE 0x10000000
#endif

struct ev {
  int wd;
  unsigned mask, cookie;
  char name[64];
};

/* drain reads every queued event (the fd must be non-blocking). */
static int drain(int in, struct ev *evs, int max) {
  char buf[8192] __attribute__((aligned(8)));
  int n = 0;
  for (;;) {
    ssize_t r = read(in, buf, sizeof(buf));
    if (r < 0) {
      CHECK(errno == EAGAIN);
      return n;
    }
    for (char *p = buf; p < buf + r;) {
      struct inotify_event *e = (struct inotify_event *)p;
      CHECK(n < max);
      evs[n].wd = e->wd;
      evs[n].mask = e->mask;
      evs[n].cookie = e->cookie;
      CHECK(e->len % sizeof(struct inotify_event) == 0);
      if (e->len) {
        CHECK(strlen(e->name) < e->len);
        /* The padding is NULs. */
        for (size_t i = strlen(e->name); i < e->len; i++) CHECK(e->name[i] == 0);
      }
      snprintf(evs[n].name, sizeof(evs[n].name), "%s", e->len ? e->name : "");
      n++;
      p += sizeof(*e) + e->len;
    }
  }
}

struct want {
  int wd;
  unsigned mask;
  const char *name;
};

static void expect_at(int line, int in, const struct want *w, int nw) {
  struct ev evs[64];
  int n = drain(in, evs, 64);
  int ok = n == nw;
  for (int i = 0; ok && i < n; i++)
    ok = evs[i].wd == w[i].wd && evs[i].mask == w[i].mask && strcmp(evs[i].name, w[i].name) == 0;
  if (!ok) {
    fflush(stdout);
    fprintf(stderr, "inotify.c:%d: events differ\n got:\n", line);
    for (int i = 0; i < n; i++)
      fprintf(stderr, "  wd=%d mask=%#x name=%s\n", evs[i].wd, evs[i].mask, evs[i].name);
    fprintf(stderr, " want:\n");
    for (int i = 0; i < nw; i++)
      fprintf(stderr, "  wd=%d mask=%#x name=%s\n", w[i].wd, w[i].mask, w[i].name);
    _exit(1);
  }
}
#define EXPECT(in, ...)                                          \
  do {                                                           \
    const struct want w_[] = {__VA_ARGS__};                      \
    expect_at(__LINE__, in, w_, sizeof(w_) / sizeof(w_[0]));     \
  } while (0)
#define EXPECT_NONE(in) expect_at(__LINE__, in, NULL, 0)

static char dirs[2][128];

static void init_and_errors(void) {
  int in = inotify_init();
  CHECK(in >= 0);
  CHECK_EQ(fcntl(in, F_GETFD), 0);
  CHECK_EQ(fcntl(in, F_GETFL) & O_NONBLOCK, 0);
  close(in);
  in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  CHECK(in >= 0);
  CHECK_EQ(fcntl(in, F_GETFD), FD_CLOEXEC);
  CHECK(fcntl(in, F_GETFL) & O_NONBLOCK);
  CHECK_ERR(inotify_init1(0x10), EINVAL);
  char c[64];
  CHECK_ERR(read(in, c, sizeof(c)), EAGAIN);
  CHECK_ERR(write(in, c, 1), EBADF);
  int avail = -1;
  CHECK_SYS(ioctl(in, FIONREAD, &avail));
  CHECK_EQ(avail, 0);

  CHECK_ERR(inotify_add_watch(in, "/tmp", 0), EINVAL);
  CHECK_ERR(inotify_add_watch(in, "/tmp", 0x00800000), EINVAL);
  CHECK_ERR(inotify_add_watch(in, "/tmp", IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE), EINVAL);
  CHECK_ERR(inotify_add_watch(0x7fff, "/tmp", IN_MODIFY), EBADF);
  int notin = open("/dev/null", O_RDONLY);
  CHECK_ERR(inotify_add_watch(notin, "/tmp", IN_MODIFY), EINVAL);
  CHECK_ERR(inotify_rm_watch(notin, 1), EINVAL);
  close(notin);
  CHECK_ERR(inotify_add_watch(in, "/nonexistent-appkernel", IN_MODIFY), ENOENT);
  CHECK_ERR(inotify_add_watch(in, "/dev/null", IN_MODIFY | IN_ONLYDIR), ENOTDIR);
  CHECK_ERR(inotify_rm_watch(in, 12345), EINVAL);

  int wd = inotify_add_watch(in, dirs[0], IN_CREATE);
  CHECK(wd > 0);
  CHECK_ERR(inotify_add_watch(in, dirs[0], IN_CREATE | IN_MASK_CREATE), EEXIST);
  /* A watch may ask for no events at all. */
  CHECK_EQ(inotify_add_watch(in, dirs[0], IN_ONLYDIR), wd);
  CHECK_SYS(inotify_rm_watch(in, wd));
  EXPECT(in, {wd, IN_IGNORED, ""});
  CHECK_ERR(inotify_rm_watch(in, wd), EINVAL);
  close(in);
}

/* One watch per inode: a hard link gives the same wd; IN_MASK_ADD adds to
 * the mask, a plain add replaces it. */
static void same_inode_same_wd(void) {
  char a[160], b[160];
  snprintf(a, sizeof(a), "%s/a", dirs[0]);
  snprintf(b, sizeof(b), "%s/b", dirs[0]);
  int fd = open(a, O_CREAT | O_RDWR, 0644);
  CHECK(fd >= 0);
  CHECK_SYS(link(a, b));
  int in = inotify_init1(IN_NONBLOCK);
  int wa = inotify_add_watch(in, a, IN_MODIFY);
  CHECK(wa > 0);
  CHECK_EQ(inotify_add_watch(in, b, IN_MODIFY), wa);
  int wd = inotify_add_watch(in, dirs[0], IN_MODIFY);
  CHECK(wd > 0 && wd != wa);

  CHECK_EQ(inotify_add_watch(in, a, IN_ACCESS | IN_MASK_ADD), wa);
  CHECK_EQ(write(fd, "x", 1), 1);
  char c;
  CHECK_EQ(pread(fd, &c, 1, 0), 1);
  EXPECT(in, {wd, IN_MODIFY, "a"}, {wa, IN_MODIFY, ""}, {wa, IN_ACCESS, ""});
  /* Replacing the mask drops IN_MODIFY. */
  CHECK_EQ(inotify_add_watch(in, b, IN_ACCESS), wa);
  CHECK_EQ(write(fd, "x", 1), 1);
  EXPECT(in, {wd, IN_MODIFY, "a"});
  close(fd);
  close(in);
  unlink(a);
  unlink(b);
}

/* The events of one file's life, watched through its directory and by
 * itself, in Linux's order. */
static void file_events(const char *dir) {
  char f[160], g[160];
  snprintf(f, sizeof(f), "%s/file", dir);
  snprintf(g, sizeof(g), "%s/other", dir);
  int in = inotify_init1(IN_NONBLOCK);
  int wd = inotify_add_watch(in, dir, IN_ALL_EVENTS);
  CHECK(wd > 0);
  int fd = open(f, O_CREAT | O_WRONLY, 0644);
  CHECK(fd >= 0);
  EXPECT(in, {wd, IN_CREATE, "file"}, {wd, IN_OPEN, "file"});
  int wf = inotify_add_watch(in, f, IN_ALL_EVENTS);
  CHECK(wf > 0);
  CHECK_EQ(write(fd, "hello", 5), 5);
  /* Events merge only with the newest queued one, which here is always
   * the other watch's. */
  CHECK_EQ(write(fd, "hello", 5), 5);
  CHECK_EQ(write(fd, "hello", 5), 5);
  close(fd);
  EXPECT(in, {wd, IN_MODIFY, "file"}, {wf, IN_MODIFY, ""}, {wd, IN_MODIFY, "file"}, {wf, IN_MODIFY, ""},
         {wd, IN_MODIFY, "file"}, {wf, IN_MODIFY, ""}, {wd, IN_CLOSE_WRITE, "file"},
         {wf, IN_CLOSE_WRITE, ""});

  fd = open(f, O_RDONLY);
  char buf[16];
  CHECK_EQ(read(fd, buf, sizeof(buf)), 15);
  CHECK_EQ(read(fd, buf, sizeof(buf)), 0); /* nothing read: no event */
  close(fd);
  EXPECT(in, {wd, IN_OPEN, "file"}, {wf, IN_OPEN, ""}, {wd, IN_ACCESS, "file"}, {wf, IN_ACCESS, ""},
         {wd, IN_CLOSE_NOWRITE, "file"}, {wf, IN_CLOSE_NOWRITE, ""});

  CHECK_SYS(chmod(f, 0600));
  CHECK_SYS(truncate(f, 2));
  EXPECT(in, {wd, IN_ATTRIB, "file"}, {wf, IN_ATTRIB, ""}, {wd, IN_MODIFY, "file"}, {wf, IN_MODIFY, ""});
  /* O_TRUNC: the open, then the truncation. */
  fd = open(f, O_WRONLY | O_TRUNC);
  CHECK(fd >= 0);
  close(fd);
  EXPECT(in, {wd, IN_OPEN, "file"}, {wf, IN_OPEN, ""}, {wd, IN_MODIFY, "file"}, {wf, IN_MODIFY, ""},
         {wd, IN_CLOSE_WRITE, "file"}, {wf, IN_CLOSE_WRITE, ""});
  /* O_PATH opens are not opens. */
  fd = open(f, O_PATH);
  CHECK(fd >= 0);
  close(fd);
  EXPECT_NONE(in);

  /* A link: IN_ATTRIB for the count, IN_CREATE for the name. */
  CHECK_SYS(link(f, g));
  EXPECT(in, {wf, IN_ATTRIB, ""}, {wd, IN_CREATE, "other"});
  /* Unlinking one of two names: the file lives on. */
  CHECK_SYS(unlink(g));
  EXPECT(in, {wf, IN_ATTRIB, ""}, {wd, IN_DELETE, "other"});

  /* Rename: a cookie pairs the two halves, then the file hears it moved. */
  CHECK_SYS(rename(f, g));
  struct ev evs[8];
  int n = drain(in, evs, 8);
  CHECK_EQ(n, 3);
  CHECK(evs[0].wd == wd && evs[0].mask == IN_MOVED_FROM && strcmp(evs[0].name, "file") == 0);
  CHECK(evs[1].wd == wd && evs[1].mask == IN_MOVED_TO && strcmp(evs[1].name, "other") == 0);
  CHECK(evs[0].cookie != 0 && evs[0].cookie == evs[1].cookie);
  CHECK(evs[2].wd == wf && evs[2].mask == IN_MOVE_SELF);
  unsigned cookie = evs[0].cookie;
  CHECK_SYS(rename(g, f));
  n = drain(in, evs, 8);
  CHECK_EQ(n, 3);
  CHECK(evs[0].cookie == evs[1].cookie && evs[0].cookie != cookie);

  /* The last unlink of a closed file: IN_DELETE_SELF and the end of
   * its watch come before the directory's IN_DELETE. */
  CHECK_SYS(unlink(f));
  EXPECT(in, {wf, IN_ATTRIB, ""}, {wf, IN_DELETE_SELF, ""}, {wf, IN_IGNORED, ""}, {wd, IN_DELETE, "file"});
  CHECK_ERR(inotify_rm_watch(in, wf), EINVAL);
  close(in);
}

static void file_events_tmpfs(void) { file_events(dirs[0]); }
static void file_events_tmp(void) { file_events(dirs[1]); }

static void dir_events(const char *dir) {
  char sub[160], f[160], g[160];
  snprintf(sub, sizeof(sub), "%s/sub", dir);
  snprintf(f, sizeof(f), "%s/f", dir);
  snprintf(g, sizeof(g), "%s/g", dir);
  int in = inotify_init1(IN_NONBLOCK);
  int wd = inotify_add_watch(in, dir, IN_ALL_EVENTS);
  CHECK_SYS(mkdir(sub, 0755));
  EXPECT(in, {wd, IN_CREATE | IN_ISDIR, "sub"});
  int ws = inotify_add_watch(in, sub, IN_ALL_EVENTS | IN_ONLYDIR);
  CHECK(ws > 0);
  /* Listing a directory: open, access and close, with IN_ISDIR. */
  int fd = open(sub, O_RDONLY | O_DIRECTORY);
  char buf[1024];
  CHECK(syscall(SYS_getdents64, fd, buf, sizeof(buf)) > 0);
  close(fd);
  EXPECT(in, {wd, IN_OPEN | IN_ISDIR, "sub"}, {ws, IN_OPEN | IN_ISDIR, ""},
         {wd, IN_ACCESS | IN_ISDIR, "sub"}, {ws, IN_ACCESS | IN_ISDIR, ""},
         {wd, IN_CLOSE_NOWRITE | IN_ISDIR, "sub"}, {ws, IN_CLOSE_NOWRITE | IN_ISDIR, ""});
  CHECK_SYS(mknod(f, S_IFIFO | 0600, 0));
  CHECK_SYS(symlink("f", g));
  EXPECT(in, {wd, IN_CREATE, "f"}, {wd, IN_CREATE, "g"});
  /* IN_DONT_FOLLOW watches the link itself. */
  int wl = inotify_add_watch(in, g, IN_ALL_EVENTS | IN_DONT_FOLLOW);
  int wt = inotify_add_watch(in, g, IN_ALL_EVENTS);
  CHECK(wl > 0 && wt > 0 && wl != wt);
  CHECK_EQ(inotify_add_watch(in, f, IN_ALL_EVENTS), wt);
  CHECK_ERR(inotify_add_watch(in, g, IN_ALL_EVENTS | IN_DONT_FOLLOW | IN_ONLYDIR), ENOTDIR);
  CHECK_SYS(unlink(g));
  CHECK_SYS(unlink(f));
  EXPECT(in, {wl, IN_ATTRIB, ""}, {wl, IN_DELETE_SELF, ""}, {wl, IN_IGNORED, ""}, {wd, IN_DELETE, "g"},
         {wt, IN_ATTRIB, ""}, {wt, IN_DELETE_SELF, ""}, {wt, IN_IGNORED, ""}, {wd, IN_DELETE, "f"});
  /* Moving a directory carries IN_ISDIR. */
  char sub2[160];
  snprintf(sub2, sizeof(sub2), "%s/sub2", dir);
  CHECK_SYS(rename(sub, sub2));
  struct ev evs[8];
  int n = drain(in, evs, 8);
  CHECK_EQ(n, 3);
  CHECK(evs[0].mask == (IN_MOVED_FROM | IN_ISDIR) && evs[1].mask == (IN_MOVED_TO | IN_ISDIR));
  CHECK(evs[2].wd == ws && evs[2].mask == IN_MOVE_SELF); /* no IN_ISDIR on self events */
  CHECK_SYS(rmdir(sub2));
  EXPECT(in, {ws, IN_DELETE_SELF, ""}, {ws, IN_IGNORED, ""}, {wd, IN_DELETE | IN_ISDIR, "sub2"});

  /* Renaming over a file: the victim hears its link count change, and
   * goes after the mover's IN_MOVE_SELF. */
  close(open(f, O_CREAT | O_WRONLY, 0644));
  close(open(g, O_CREAT | O_WRONLY, 0644));
  int wf = inotify_add_watch(in, f, IN_ALL_EVENTS);
  int wg = inotify_add_watch(in, g, IN_ALL_EVENTS);
  drain(in, evs, 8);
  CHECK_SYS(rename(f, g));
  n = drain(in, evs, 8);
  CHECK_EQ(n, 6);
  CHECK(evs[0].wd == wd && evs[0].mask == IN_MOVED_FROM && strcmp(evs[0].name, "f") == 0);
  CHECK(evs[1].wd == wd && evs[1].mask == IN_MOVED_TO && strcmp(evs[1].name, "g") == 0);
  CHECK(evs[2].wd == wg && evs[2].mask == IN_ATTRIB);
  CHECK(evs[3].wd == wf && evs[3].mask == IN_MOVE_SELF);
  CHECK(evs[4].wd == wg && evs[4].mask == IN_DELETE_SELF);
  CHECK(evs[5].wd == wg && evs[5].mask == IN_IGNORED);
  CHECK_SYS(unlink(g));
  close(in);
}

static void dir_events_tmpfs(void) { dir_events(dirs[0]); }
static void dir_events_tmp(void) { dir_events(dirs[1]); }

/* An unlinked file that is still open is deleted at its last close;
 * IN_EXCL_UNLINK watches stop hearing about it once its name is gone. */
static void unlink_while_open(void) {
  char f[160];
  snprintf(f, sizeof(f), "%s/open", dirs[0]);
  int fd = open(f, O_CREAT | O_RDWR, 0644);
  CHECK(fd >= 0);
  int in = inotify_init1(IN_NONBLOCK);
  int wd = inotify_add_watch(in, dirs[0], IN_ALL_EVENTS);
  int wx = inotify_add_watch(in, f, IN_ALL_EVENTS | IN_EXCL_UNLINK);
  int in2 = inotify_init1(IN_NONBLOCK);
  int wf = inotify_add_watch(in2, f, IN_ALL_EVENTS);
  CHECK_SYS(unlink(f));
  EXPECT(in, {wx, IN_ATTRIB, ""}, {wd, IN_DELETE, "open"});
  EXPECT(in2, {wf, IN_ATTRIB, ""});
  CHECK_EQ(write(fd, "x", 1), 1);
  /* The directory watch still hears the file by its old name. */
  EXPECT(in, {wd, IN_MODIFY, "open"});
  EXPECT(in2, {wf, IN_MODIFY, ""});
  close(fd);
  EXPECT(in, {wd, IN_CLOSE_WRITE, "open"}, {wx, IN_DELETE_SELF, ""}, {wx, IN_IGNORED, ""});
  EXPECT(in2, {wf, IN_CLOSE_WRITE, ""}, {wf, IN_DELETE_SELF, ""}, {wf, IN_IGNORED, ""});
  close(in);
  close(in2);
}

/* An event identical to the newest queued one is merged into it. */
static void coalesce(void) {
  char f[160];
  snprintf(f, sizeof(f), "%s/merge", dirs[0]);
  int fd = open(f, O_CREAT | O_RDWR, 0644);
  int in = inotify_init1(IN_NONBLOCK);
  int wf = inotify_add_watch(in, f, IN_MODIFY | IN_ACCESS);
  char c;
  CHECK_EQ(write(fd, "a", 1), 1);
  CHECK_EQ(write(fd, "b", 1), 1);
  CHECK_EQ(write(fd, "c", 1), 1);
  CHECK_EQ(pread(fd, &c, 1, 0), 1);
  CHECK_EQ(pread(fd, &c, 1, 0), 1);
  CHECK_EQ(write(fd, "d", 1), 1);
  EXPECT(in, {wf, IN_MODIFY, ""}, {wf, IN_ACCESS, ""}, {wf, IN_MODIFY, ""});
  /* Once read, the same event queues again. */
  CHECK_EQ(write(fd, "e", 1), 1);
  EXPECT(in, {wf, IN_MODIFY, ""});
  close(fd);
  unlink(f);
  close(in);
}

static void oneshot_and_rm(void) {
  char f[160];
  snprintf(f, sizeof(f), "%s/once", dirs[0]);
  int fd = open(f, O_CREAT | O_RDWR, 0644);
  int in = inotify_init1(IN_NONBLOCK);
  int wf = inotify_add_watch(in, f, IN_MODIFY | IN_ONESHOT);
  CHECK_EQ(write(fd, "x", 1), 1);
  CHECK_EQ(write(fd, "y", 1), 1);
  EXPECT(in, {wf, IN_MODIFY, ""}, {wf, IN_IGNORED, ""});
  CHECK_ERR(inotify_rm_watch(in, wf), EINVAL);
  /* A new watch gets a new descriptor. */
  int w2 = inotify_add_watch(in, f, IN_MODIFY);
  CHECK(w2 > 0 && w2 != wf);
  CHECK_SYS(inotify_rm_watch(in, w2));
  CHECK_EQ(write(fd, "z", 1), 1);
  EXPECT(in, {w2, IN_IGNORED, ""});
  close(fd);
  unlink(f);
  close(in);
}

/* The record layout: a 16-byte header, the name NUL-padded to a multiple
 * of 16; a buffer too small for the first event is EINVAL; FIONREAD. */
static void read_layout(void) {
  int in = inotify_init1(IN_NONBLOCK);
  int wd = inotify_add_watch(in, dirs[0], IN_CREATE | IN_DELETE);
  char f[160];
  snprintf(f, sizeof(f), "%s/0123456789abcdef", dirs[0]); /* 16 chars */
  CHECK_SYS(mknod(f, S_IFREG | 0600, 0));
  CHECK_SYS(unlink(f));
  int avail = 0;
  CHECK_SYS(ioctl(in, FIONREAD, &avail));
  CHECK_EQ(avail, 2 * (16 + 32));
  struct pollfd p = {in, POLLIN, 0};
  CHECK_EQ(poll(&p, 1, 0), 1);
  CHECK_EQ(p.revents, POLLIN);
  char buf[256] __attribute__((aligned(8)));
  CHECK_ERR(read(in, buf, 16), EINVAL);
  CHECK_ERR(read(in, buf, 47), EINVAL);
  /* Room for one and a half: one comes back. */
  CHECK_EQ(read(in, buf, 70), 48);
  struct inotify_event *e = (struct inotify_event *)buf;
  CHECK_EQ(e->wd, wd);
  CHECK_EQ(e->mask, IN_CREATE);
  CHECK_EQ(e->cookie, 0);
  CHECK_EQ(e->len, 32);
  CHECK(strcmp(e->name, "0123456789abcdef") == 0);
  CHECK_SYS(ioctl(in, FIONREAD, &avail));
  CHECK_EQ(avail, 48);
  CHECK_EQ(read(in, buf, sizeof(buf)), 48);
  CHECK_EQ(e->mask, IN_DELETE);
  CHECK_EQ(poll(&p, 1, 0), 0);
  close(in);
}

/* The queue holds max_queued_events events, then one IN_Q_OVERFLOW. */
static void overflow(void) {
  int max = 16384;
  FILE *mf = fopen("/proc/sys/fs/inotify/max_queued_events", "r");
  if (mf) {
    CHECK_EQ(fscanf(mf, "%d", &max), 1);
    fclose(mf);
  }
  char f[160];
  snprintf(f, sizeof(f), "%s/flood", dirs[0]);
  int fd = open(f, O_CREAT | O_RDWR, 0644);
  int in = inotify_init1(IN_NONBLOCK);
  int wd = inotify_add_watch(in, dirs[0], IN_MODIFY);
  int wf = inotify_add_watch(in, f, IN_MODIFY);
  /* Each write queues two events that differ from their neighbours. */
  for (int i = 0; i < max / 2 + 4; i++) CHECK_EQ(pwrite(fd, "x", 1, 0), 1);
  int avail = 0;
  CHECK_SYS(ioctl(in, FIONREAD, &avail));
  CHECK_EQ(avail, (max / 2) * (16 + 16) + (max / 2) * 16 + 16);
  static char buf[1 << 20] __attribute__((aligned(8)));
  int count = 0, last_wd = 0;
  unsigned last_mask = 0;
  for (;;) {
    ssize_t r = read(in, buf, sizeof(buf));
    if (r < 0) {
      CHECK_EQ(errno, EAGAIN);
      break;
    }
    for (char *p = buf; p < buf + r;) {
      struct inotify_event *e = (struct inotify_event *)p;
      if (count < max) CHECK(e->wd == (count % 2 ? wf : wd) && e->mask == IN_MODIFY);
      last_wd = e->wd;
      last_mask = e->mask;
      count++;
      p += sizeof(*e) + e->len;
    }
  }
  CHECK_EQ(count, max + 1);
  CHECK_EQ(last_wd, -1);
  CHECK_EQ(last_mask, IN_Q_OVERFLOW);
  /* After draining, events are queued again. */
  CHECK_EQ(pwrite(fd, "x", 1, 0), 1);
  EXPECT(in, {wd, IN_MODIFY, "flood"}, {wf, IN_MODIFY, ""});
  close(fd);
  unlink(f);
  close(in);
}

static int waker_in;
static char waker_path[160];
static void *waker(void *arg) {
  (void)arg;
  usleep(50000);
  close(open(waker_path, O_CREAT | O_WRONLY, 0644));
  return NULL;
}

/* epoll readiness, and a blocking read woken by an event. */
static void readiness(void) {
  int in = inotify_init();
  int wd = inotify_add_watch(in, dirs[0], IN_CREATE);
  int ep = epoll_create1(0);
  struct epoll_event ee = {.events = EPOLLIN, .data.fd = in};
  CHECK_SYS(epoll_ctl(ep, EPOLL_CTL_ADD, in, &ee));
  CHECK_EQ(epoll_wait(ep, &ee, 1, 0), 0);
  snprintf(waker_path, sizeof(waker_path), "%s/woken", dirs[0]);
  waker_in = in;
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, waker, NULL), 0);
  CHECK_EQ(epoll_wait(ep, &ee, 1, 10000), 1);
  CHECK_EQ(ee.events, EPOLLIN);
  char buf[256] __attribute__((aligned(8)));
  CHECK_EQ(read(in, buf, sizeof(buf)), 32);
  CHECK(strcmp(((struct inotify_event *)buf)->name, "woken") == 0);
  CHECK_EQ(pthread_join(th, NULL), 0);
  CHECK_SYS(unlink(waker_path));
  /* A blocking read waits for the event. */
  CHECK_EQ(pthread_create(&th, NULL, waker, NULL), 0);
  CHECK_EQ(read(in, buf, sizeof(buf)), 32);
  struct inotify_event *e = (struct inotify_event *)buf;
  CHECK_EQ(e->wd, wd);
  CHECK_EQ(e->mask, IN_CREATE);
  CHECK_EQ(pthread_join(th, NULL), 0);
  CHECK_SYS(unlink(waker_path));
  close(ep);
  close(in);
}

int main(void) {
  test_init();
  char *t = test_tmpdir();
  snprintf(dirs[1], sizeof(dirs[1]), "%s", t);
  snprintf(dirs[0], sizeof(dirs[0]), "/dev/shm/appkernel-inotify-%d", getpid());
  CHECK_SYS(mkdir(dirs[0], 0755));
  RUN(init_and_errors);
  RUN(same_inode_same_wd);
  RUN(file_events_tmpfs);
  RUN(file_events_tmp);
  RUN(dir_events_tmpfs);
  RUN(dir_events_tmp);
  RUN(unlink_while_open);
  RUN(coalesce);
  RUN(oneshot_and_rm);
  RUN(read_layout);
  RUN(overflow);
  RUN(readiness);
  rmdir(dirs[0]);
  test_rmdir(t);
  return 0;
}
