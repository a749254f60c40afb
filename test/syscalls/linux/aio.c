/*
 * aio: Linux native AIO through raw syscalls (no libaio): io_setup's ring
 * (header, mapping in /proc/self/maps, the ID read back from it) and
 * errors, /proc/sys/fs/aio-nr accounting, io_submit of pread/pwrite/
 * preadv/pwritev/fsync/fdsync/poll and its argument errors, IOCB_FLAG_RESFD
 * and IOCB_FLAG_IOPRIO, reading completions both with io_getevents and
 * straight from the ring as libaio does, io_getevents' min_nr, timeout,
 * EINTR and EFAULT, io_pgetevents' signal mask, io_cancel of a pending
 * poll, running out of ring slots (EAGAIN), io_destroy, munmap of the
 * ring, fork (the child inherits the ring's mapping but no context) and
 * exec.
 */
#include "test.h"

#include <fcntl.h>
#include <linux/aio_abi.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>

struct ring {
  unsigned id, nr, head, tail, magic, compat, incompat, hlen;
  struct io_event ev[];
};

static long io_setup(unsigned nr, aio_context_t *ctx) {
  return syscall(SYS_io_setup, nr, ctx);
}
static long io_destroy(aio_context_t ctx) {
  return syscall(SYS_io_destroy, ctx);
}
static long io_submit(aio_context_t ctx, long nr, struct iocb **cbs) {
  return syscall(SYS_io_submit, ctx, nr, cbs);
}
static long io_getevents(aio_context_t ctx, long min, long nr,
                         struct io_event *ev, struct timespec *ts) {
  return syscall(SYS_io_getevents, ctx, min, nr, ev, ts);
}
static long io_cancel(aio_context_t ctx, struct iocb *cb,
                      struct io_event *ev) {
  return syscall(SYS_io_cancel, ctx, cb, ev);
}

static const char *self_exe;
static char tmpdir[] = "/tmp/aio_test_XXXXXX";

static int tmpfile_rw(void) {
  char path[64];
  snprintf(path, sizeof(path), "%s/f", tmpdir);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  unlink(path);
  return fd;
}

static void prep(struct iocb *cb, int op, int fd, void *buf, size_t n,
                 long long off, uint64_t data) {
  memset(cb, 0, sizeof(*cb));
  cb->aio_lio_opcode = op;
  cb->aio_fildes = fd;
  cb->aio_buf = (uintptr_t)buf;
  cb->aio_nbytes = n;
  cb->aio_offset = off;
  cb->aio_data = data;
}

/* submit1 submits one iocb and returns io_submit's result. */
static long submit1(aio_context_t ctx, struct iocb *cb) {
  struct iocb *cbs[1] = {cb};
  return io_submit(ctx, 1, cbs);
}

/* reap1 waits for exactly one event. */
static struct io_event reap1(aio_context_t ctx) {
  struct io_event ev;
  memset(&ev, 0, sizeof(ev));
  CHECK_EQ(io_getevents(ctx, 1, 1, &ev, NULL), 1);
  return ev;
}

static long read_sysctl(const char *name) {
  char path[64], buf[32] = {0};
  snprintf(path, sizeof(path), "/proc/sys/fs/%s", name);
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0);
  CHECK(read(fd, buf, sizeof(buf) - 1) > 0);
  close(fd);
  return atol(buf);
}

static int mapped(void *addr) {
  return msync((void *)((uintptr_t)addr & ~4095UL), 4096, MS_ASYNC) == 0;
}

static void setup_ring(void) {
  aio_context_t ctx = 0;
  CHECK_SYS(io_setup(4, &ctx));
  CHECK(ctx != 0);
  CHECK_EQ(ctx % 4096, 0);
  struct ring *r = (struct ring *)ctx;
  CHECK_EQ(r->magic, 0xa10a10a1);
  CHECK_EQ(r->compat, 1);
  CHECK_EQ(r->incompat, 0);
  CHECK_EQ(r->hlen, 32);
  CHECK_EQ(r->head, 0);
  CHECK_EQ(r->tail, 0);
  /* Linux sizes the ring at max(nr, 4 * CPUs) * 2 + 2 events, rounded up
   * to whole pages: one page for few CPUs. */
  if (sysconf(_SC_NPROCESSORS_CONF) <= 8) CHECK_EQ(r->nr, 127);
  CHECK(r->nr >= 8);

  /* The ring is a shared read-write mapping named [aio]. */
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f != NULL);
  char line[512];
  int found = 0;
  while (fgets(line, sizeof(line), f)) {
    unsigned long lo, hi;
    char perms[8];
    if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3) continue;
    if (lo == ctx) {
      found = 1;
      CHECK_EQ(strcmp(perms, "rw-s"), 0);
      CHECK(strstr(line, "[aio]") != NULL);
    }
  }
  fclose(f);
  CHECK(found);

  /* A second context gets another ring and slot. */
  aio_context_t ctx2 = 0;
  CHECK_SYS(io_setup(1, &ctx2));
  CHECK(ctx2 != ctx);
  CHECK(((struct ring *)ctx2)->id != r->id);
  CHECK_SYS(io_destroy(ctx2));
  CHECK_SYS(io_destroy(ctx));

  /* Errors. */
  ctx = 0;
  CHECK_ERR(io_setup(0, &ctx), EINVAL);
  ctx = 1;
  CHECK_ERR(io_setup(1, &ctx), EINVAL);
  CHECK_ERR(io_setup(1, (aio_context_t *)8), EFAULT);
  ctx = 0;
  CHECK_ERR(io_setup(read_sysctl("aio-max-nr") + 1, &ctx), EAGAIN);
  CHECK_ERR(io_setup(0x10000000, &ctx), EINVAL);
  /* Doubling 0x80000000 wraps to 0: EAGAIN, as in Linux. */
  CHECK_ERR(io_setup(0x80000000u, &ctx), EAGAIN);
  CHECK_EQ(ctx, 0);
  CHECK_EQ(read_sysctl("aio-max-nr"), 65536);
  printf("PASS setup_ring\n");
}

static void aio_nr(void) {
  /* Another process on the machine may use AIO at the same time: retry a
   * few times for a quiet measurement. */
  int ok = 0;
  for (int i = 0; i < 5 && !ok; i++) {
    long before = read_sysctl("aio-nr");
    aio_context_t ctx = 0;
    CHECK_SYS(io_setup(37, &ctx));
    long during = read_sysctl("aio-nr");
    CHECK_SYS(io_destroy(ctx));
    long after = read_sysctl("aio-nr");
    ok = during == before + 37 && after == before;
  }
  CHECK(ok);
  printf("PASS aio_nr\n");
}

static void read_write(void) {
  aio_context_t ctx = 0;
  CHECK_SYS(io_setup(8, &ctx));
  int fd = tmpfile_rw();
  char buf[16] = "hello, aio";
  struct iocb cb;
  prep(&cb, IOCB_CMD_PWRITE, fd, buf, 10, 100, 42);
  cb.aio_key = 77; /* the kernel resets it */
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(cb.aio_key, 0);
  struct io_event ev = reap1(ctx);
  CHECK_EQ(ev.data, 42);
  CHECK_EQ(ev.obj, (uintptr_t)&cb);
  CHECK_EQ(ev.res, 10);
  CHECK_EQ(ev.res2, 0);
  struct stat st;
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_size, 110);
  /* The file offset does not move. */
  CHECK_EQ(lseek(fd, 0, SEEK_CUR), 0);

  char in[16] = {0};
  prep(&cb, IOCB_CMD_PREAD, fd, in, sizeof(in), 102, 7);
  CHECK_EQ(submit1(ctx, &cb), 1);
  ev = reap1(ctx);
  CHECK_EQ(ev.res, 8);
  CHECK_EQ(memcmp(in, "llo, aio", 8), 0);
  /* At and past the end: 0. */
  prep(&cb, IOCB_CMD_PREAD, fd, in, sizeof(in), 4096, 8);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).res, 0);

  /* Vectored. */
  char a[3] = "abc", b[4] = "defg";
  struct iovec iov[2] = {{a, 3}, {b, 4}};
  prep(&cb, IOCB_CMD_PWRITEV, fd, iov, 2, 0, 9);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).res, 7);
  char x[2], y[5];
  struct iovec iov2[2] = {{x, 2}, {y, 5}};
  prep(&cb, IOCB_CMD_PREADV, fd, iov2, 2, 0, 10);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).res, 7);
  CHECK_EQ(memcmp(x, "ab", 2), 0);
  CHECK_EQ(memcmp(y, "cdefg", 5), 0);

  /* RWF_APPEND writes at the end whatever the offset. */
  prep(&cb, IOCB_CMD_PWRITE, fd, "Z", 1, 0, 11);
  cb.aio_rw_flags = RWF_APPEND;
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).res, 1);
  CHECK_SYS(fstat(fd, &st));
  CHECK_EQ(st.st_size, 111);

  /* Several at once, completed in order. */
  struct iocb cbs[3];
  struct iocb *ptrs[3];
  char outs[3][4];
  for (int i = 0; i < 3; i++) {
    prep(&cbs[i], IOCB_CMD_PREAD, fd, outs[i], 4, i * 4, 100 + i);
    ptrs[i] = &cbs[i];
  }
  CHECK_EQ(io_submit(ctx, 3, ptrs), 3);
  struct io_event evs[4];
  CHECK_EQ(io_getevents(ctx, 3, 4, evs, NULL), 3);
  for (int i = 0; i < 3; i++) {
    CHECK_EQ(evs[i].data, 100 + i);
    CHECK_EQ(evs[i].res, 4);
  }

  /* A buffer that faults fails the request, not the submission. */
  void *hole = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(hole != MAP_FAILED);
  prep(&cb, IOCB_CMD_PREAD, fd, hole, 4, 0, 12);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).res, -EFAULT);
  munmap(hole, 4096);

  /* A pipe has no offset: aio_offset is ignored. */
  int p[2];
  CHECK_SYS(pipe(p));
  prep(&cb, IOCB_CMD_PWRITE, p[1], "pipe", 4, 12345, 13);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).res, 4);
  prep(&cb, IOCB_CMD_PREAD, p[0], in, sizeof(in), 999, 14);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).res, 4);
  CHECK_EQ(memcmp(in, "pipe", 4), 0);
  /* Non-blocking and empty: -EAGAIN in the event. */
  CHECK_SYS(fcntl(p[0], F_SETFL, O_NONBLOCK));
  prep(&cb, IOCB_CMD_PREAD, p[0], in, sizeof(in), 0, 15);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).res, -EAGAIN);
  close(p[0]);
  close(p[1]);

  close(fd);
  CHECK_SYS(io_destroy(ctx));
  printf("PASS read_write\n");
}

static void submit_errors(void) {
  aio_context_t ctx = 0;
  CHECK_SYS(io_setup(8, &ctx));
  int fd = tmpfile_rw();
  char buf[8];
  struct iocb cb;
  struct iocb *cbs[2] = {&cb, NULL};

  CHECK_ERR(io_submit(ctx, -1, cbs), EINVAL);
  CHECK_EQ(io_submit(ctx, 0, cbs), 0);
  CHECK_ERR(io_submit(12345, 1, cbs), EINVAL);
  CHECK_ERR(io_submit(0, 1, cbs), EINVAL);
  CHECK_ERR(io_submit(ctx, 1, (struct iocb **)8), EFAULT);
  CHECK_ERR(io_submit(ctx, 1, cbs + 1), EFAULT); /* NULL iocb */

  prep(&cb, IOCB_CMD_PREAD, 9999, buf, 8, 0, 0);
  CHECK_ERR(submit1(ctx, &cb), EBADF);
  prep(&cb, IOCB_CMD_PREAD, fd, buf, 8, -1, 0);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  prep(&cb, IOCB_CMD_PREAD, fd, buf, 8, 0x7ffffffffffffffcLL, 0);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  prep(&cb, IOCB_CMD_PREAD, fd, buf, 8, 0, 0);
  cb.aio_reserved2 = 1;
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  prep(&cb, IOCB_CMD_PREAD, fd, buf, -1, 0, 0);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  prep(&cb, IOCB_CMD_NOOP, fd, buf, 8, 0, 0);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  prep(&cb, 99, fd, buf, 8, 0, 0);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  prep(&cb, IOCB_CMD_PREAD, fd, buf, 8, 0, 0);
  cb.aio_rw_flags = 0x10000000;
  CHECK_ERR(submit1(ctx, &cb), EOPNOTSUPP);
  prep(&cb, IOCB_CMD_PREAD, fd, (void *)-4096L, 8, 0, 0);
  CHECK_ERR(submit1(ctx, &cb), EFAULT);
  prep(&cb, IOCB_CMD_PREADV, fd, buf, 1025, 0, 0);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  prep(&cb, IOCB_CMD_PREADV, fd, (void *)8, 1, 0, 0);
  CHECK_ERR(submit1(ctx, &cb), EFAULT);
  CHECK_ERR(submit1(ctx, (struct iocb *)8), EFAULT);

  /* Access modes and file kinds. */
  char path[64];
  snprintf(path, sizeof(path), "%s/ro", tmpdir);
  int ro = open(path, O_RDONLY | O_CREAT, 0644);
  CHECK(ro >= 0);
  prep(&cb, IOCB_CMD_PWRITE, ro, buf, 8, 0, 0);
  CHECK_ERR(submit1(ctx, &cb), EBADF);
  int wo = open(path, O_WRONLY);
  prep(&cb, IOCB_CMD_PREAD, wo, buf, 8, 0, 0);
  CHECK_ERR(submit1(ctx, &cb), EBADF);
  int op = open(path, O_PATH);
  prep(&cb, IOCB_CMD_FSYNC, op, NULL, 0, 0, 0);
  CHECK_ERR(submit1(ctx, &cb), EBADF);
  int dir = open(tmpdir, O_RDONLY | O_DIRECTORY);
  prep(&cb, IOCB_CMD_PREAD, dir, buf, 8, 0, 0);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  close(dir);
  close(op);
  close(wo);
  close(ro);
  unlink(path);

  /* A bad second iocb: the first one counts. */
  struct iocb good, bad;
  prep(&good, IOCB_CMD_PWRITE, fd, "x", 1, 0, 1);
  prep(&bad, IOCB_CMD_PWRITE, 9999, "x", 1, 0, 2);
  struct iocb *two[2] = {&good, &bad};
  CHECK_EQ(io_submit(ctx, 2, two), 1);
  CHECK_EQ(reap1(ctx).data, 1);

  /* IOCB_FLAG_IOPRIO: the priority is checked as ioprio_set checks it. */
  prep(&cb, IOCB_CMD_PWRITE, fd, "x", 1, 0, 3);
  cb.aio_flags = IOCB_FLAG_IOPRIO;
  cb.aio_reqprio = (2 << 13) | 4; /* best effort, level 4 */
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).res, 1);
  cb.aio_reqprio = (0 << 13) | 1; /* class none with a level */
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  cb.aio_reqprio = (5 << 13); /* no such class */
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  cb.aio_reqprio = -1;
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  /* Without the flag aio_reqprio is ignored. */
  cb.aio_flags = 0;
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).res, 1);

  /* Nothing was left behind by the failed submissions. */
  struct io_event ev;
  struct timespec zero = {0, 0};
  CHECK_EQ(io_getevents(ctx, 0, 1, &ev, &zero), 0);
  close(fd);
  CHECK_SYS(io_destroy(ctx));
  printf("PASS submit_errors\n");
}

static void fsync_ops(void) {
  aio_context_t ctx = 0;
  CHECK_SYS(io_setup(8, &ctx));
  int fd = tmpfile_rw();
  CHECK_EQ(write(fd, "data", 4), 4);
  struct iocb cb;
  prep(&cb, IOCB_CMD_FSYNC, fd, NULL, 0, 0, 1);
  CHECK_EQ(submit1(ctx, &cb), 1);
  struct io_event ev = reap1(ctx);
  CHECK_EQ(ev.data, 1);
  CHECK_EQ(ev.res, 0);
  prep(&cb, IOCB_CMD_FDSYNC, fd, NULL, 0, 0, 2);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).res, 0);
  /* fsync takes no buffer, offset, length or flags. */
  char buf[4];
  prep(&cb, IOCB_CMD_FSYNC, fd, buf, 0, 0, 3);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  prep(&cb, IOCB_CMD_FDSYNC, fd, NULL, 1, 0, 3);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  prep(&cb, IOCB_CMD_FSYNC, fd, NULL, 0, 8, 3);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  /* A pipe cannot be synced. */
  int p[2];
  CHECK_SYS(pipe(p));
  prep(&cb, IOCB_CMD_FSYNC, p[1], NULL, 0, 0, 3);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  close(p[0]);
  close(p[1]);
  close(fd);
  CHECK_SYS(io_destroy(ctx));
  printf("PASS fsync_ops\n");
}

/* user_ring consumes completions from the mapped ring, as libaio's
 * io_getevents fast path does, and checks the kernel sees the new head. */
static void user_ring(void) {
  aio_context_t ctx = 0;
  CHECK_SYS(io_setup(8, &ctx));
  struct ring *r = (struct ring *)ctx;
  int fd = tmpfile_rw();
  struct iocb cbs[5];
  struct iocb *ptrs[5];
  for (int i = 0; i < 5; i++) {
    prep(&cbs[i], IOCB_CMD_PWRITE, fd, "abcde", i + 1, 0, 200 + i);
    ptrs[i] = &cbs[i];
  }
  CHECK_EQ(io_submit(ctx, 5, ptrs), 5);
  CHECK_EQ(r->tail, 5);
  CHECK_EQ(r->head, 0);
  /* Take three from the ring. */
  for (int i = 0; i < 3; i++) {
    unsigned h = r->head;
    CHECK(h != r->tail);
    struct io_event *e = &r->ev[h];
    CHECK_EQ(e->data, 200 + i);
    CHECK_EQ(e->obj, (uintptr_t)&cbs[i]);
    CHECK_EQ(e->res, i + 1);
    __atomic_store_n(&r->head, (h + 1) % r->nr, __ATOMIC_RELEASE);
  }
  /* The kernel returns the other two and moves the head. */
  struct io_event evs[8];
  CHECK_EQ(io_getevents(ctx, 0, 8, evs, NULL), 2);
  CHECK_EQ(evs[0].data, 203);
  CHECK_EQ(evs[1].data, 204);
  CHECK_EQ(r->head, 5);
  CHECK_EQ(r->tail, 5);
  /* Fewer than asked: nr bounds the copy and the rest stays. */
  CHECK_EQ(io_submit(ctx, 3, ptrs), 3);
  CHECK_EQ(io_getevents(ctx, 1, 1, evs, NULL), 1);
  CHECK_EQ(evs[0].data, 200);
  CHECK_EQ(r->head, 6);
  CHECK_EQ(io_getevents(ctx, 2, 2, evs, NULL), 2);
  CHECK_EQ(evs[1].data, 202);
  close(fd);
  CHECK_SYS(io_destroy(ctx));
  printf("PASS user_ring\n");
}

/* wrap runs more requests through a small ring than it has slots. */
static void wrap(void) {
  aio_context_t ctx = 0;
  CHECK_SYS(io_setup(1, &ctx));
  struct ring *r = (struct ring *)ctx;
  int fd = tmpfile_rw();
  struct iocb cb;
  for (unsigned i = 0; i < r->nr * 2 + 3; i++) {
    prep(&cb, IOCB_CMD_PWRITE, fd, "w", 1, i, i);
    CHECK_EQ(submit1(ctx, &cb), 1);
    struct io_event ev = reap1(ctx);
    CHECK_EQ(ev.data, i);
    CHECK_EQ(ev.res, 1);
  }
  /* Without reaping, the ring fills: EAGAIN before the slots run out. */
  long n = 0;
  for (;;) {
    prep(&cb, IOCB_CMD_PWRITE, fd, "w", 1, 0, 0);
    long ret = submit1(ctx, &cb);
    if (ret == -1) {
      CHECK_EQ(errno, EAGAIN);
      break;
    }
    n++;
    CHECK(n < r->nr);
  }
  CHECK(n >= 1);
  /* Reaping frees the slots again. */
  struct io_event *evs = calloc(r->nr, sizeof(*evs));
  CHECK_EQ(io_getevents(ctx, n, r->nr, evs, NULL), n);
  free(evs);
  prep(&cb, IOCB_CMD_PWRITE, fd, "w", 1, 0, 0);
  CHECK_EQ(submit1(ctx, &cb), 1);
  close(fd);
  CHECK_SYS(io_destroy(ctx));
  printf("PASS wrap\n");
}

static aio_context_t waker_ctx;
static int waker_fd;
static struct iocb waker_cb;

static void *waker(void *arg) {
  usleep(50000);
  prep(&waker_cb, IOCB_CMD_PWRITE, waker_fd, "t", 1, 0, 77);
  CHECK_EQ(submit1(waker_ctx, &waker_cb), 1);
  return NULL;
}

static volatile int sigs;
static void on_sig(int sig) { sigs++; }

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void getevents(void) {
  aio_context_t ctx = 0;
  CHECK_SYS(io_setup(8, &ctx));
  struct io_event evs[4];
  struct timespec zero = {0, 0};
  CHECK_ERR(io_getevents(ctx, 2, 1, evs, NULL), EINVAL);
  CHECK_ERR(io_getevents(ctx, -1, 1, evs, NULL), EINVAL);
  CHECK_ERR(io_getevents(ctx, 1, -1, evs, NULL), EINVAL);
  CHECK_ERR(io_getevents(777, 0, 1, evs, NULL), EINVAL);
  CHECK_ERR(io_getevents(ctx, 0, 1, evs, (struct timespec *)8), EFAULT);
  CHECK_EQ(io_getevents(ctx, 0, 0, evs, NULL), 0);
  CHECK_EQ(io_getevents(ctx, 0, 4, evs, NULL), 0);
  CHECK_EQ(io_getevents(ctx, 1, 4, evs, &zero), 0);

  /* A relative timeout. */
  struct timespec ts = {0, 60 * 1000 * 1000};
  double t0 = now();
  CHECK_EQ(io_getevents(ctx, 1, 4, evs, &ts), 0);
  CHECK(now() - t0 >= 0.05);

  /* Another thread's completion wakes the waiter. */
  waker_ctx = ctx;
  waker_fd = tmpfile_rw();
  pthread_t th;
  CHECK_EQ(pthread_create(&th, NULL, waker, NULL), 0);
  CHECK_EQ(io_getevents(ctx, 1, 4, evs, NULL), 1);
  CHECK_EQ(evs[0].data, 77);
  pthread_join(th, NULL);

  /* An event that cannot be copied out: EFAULT, and it stays. */
  struct iocb cb;
  prep(&cb, IOCB_CMD_PWRITE, waker_fd, "u", 1, 0, 78);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_ERR(io_getevents(ctx, 1, 4, (struct io_event *)8, NULL), EFAULT);
  CHECK_EQ(io_getevents(ctx, 1, 4, evs, NULL), 1);
  CHECK_EQ(evs[0].data, 78);

  /* A signal ends the wait with EINTR, even with SA_RESTART. */
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sig;
  sa.sa_flags = SA_RESTART;
  CHECK_SYS(sigaction(SIGALRM, &sa, NULL));
  struct itimerval it = {{0, 0}, {0, 50000}};
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
  CHECK_ERR(io_getevents(ctx, 1, 4, evs, NULL), EINTR);

  /* io_pgetevents: the mask is in force while waiting. */
  sigset_t block;
  sigemptyset(&block);
  sigaddset(&block, SIGALRM);
  struct {
    sigset_t *mask;
    size_t size;
  } as = {&block, 8};
  ts.tv_nsec = 150 * 1000 * 1000;
  sigs = 0;
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
  CHECK_EQ(syscall(SYS_io_pgetevents, ctx, 1, 4, evs, &ts, &as), 0);
  /* The blocked signal arrived during the wait and is delivered as the
   * call returns, once the old mask is back. */
  CHECK_EQ(sigs, 1);
  /* With it unblocked, it interrupts the wait. */
  sigset_t none;
  sigemptyset(&none);
  as.mask = &none;
  CHECK_SYS(setitimer(ITIMER_REAL, &it, NULL));
  CHECK_ERR(syscall(SYS_io_pgetevents, ctx, 1, 4, evs, NULL, &as), EINTR);
  CHECK_EQ(sigs, 2);
  as.size = 4;
  CHECK_ERR(syscall(SYS_io_pgetevents, ctx, 1, 4, evs, &ts, &as), EINVAL);
  CHECK_ERR(syscall(SYS_io_pgetevents, ctx, 1, 4, evs, &ts, (void *)8),
            EFAULT);
  /* No sigset at all is io_getevents. */
  CHECK_EQ(syscall(SYS_io_pgetevents, ctx, 0, 4, evs, &zero, NULL), 0);
  signal(SIGALRM, SIG_DFL);
  close(waker_fd);
  CHECK_SYS(io_destroy(ctx));
  printf("PASS getevents\n");
}

static void poll_cancel(void) {
  aio_context_t ctx = 0;
  CHECK_SYS(io_setup(8, &ctx));
  int p[2];
  CHECK_SYS(pipe(p));
  struct iocb cb;
  struct io_event evs[2];
  struct timespec zero = {0, 0};

  /* Not ready: pending until the pipe has data. */
  prep(&cb, IOCB_CMD_POLL, p[0], (void *)(uintptr_t)POLLIN, 0, 0, 5);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(io_getevents(ctx, 0, 2, evs, &zero), 0);
  CHECK_EQ(write(p[1], "x", 1), 1);
  CHECK_EQ(io_getevents(ctx, 1, 2, evs, NULL), 1);
  CHECK_EQ(evs[0].data, 5);
  CHECK_EQ(evs[0].obj, (uintptr_t)&cb);
  /* Woken by the write, Linux reports the wake-up's mask: POLLIN and,
   * for a pipe, POLLRDNORM. */
  CHECK(evs[0].res & POLLIN);
  CHECK_EQ(evs[0].res & ~(POLLIN | POLLRDNORM), 0);

  /* Ready at once. */
  prep(&cb, IOCB_CMD_POLL, p[1], (void *)(uintptr_t)POLLOUT, 0, 0, 6);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).res, POLLOUT);
  /* One-shot: readable now, and reported once. */
  prep(&cb, IOCB_CMD_POLL, p[0], (void *)(uintptr_t)POLLIN, 0, 0, 7);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).res, POLLIN);
  CHECK_EQ(io_getevents(ctx, 0, 2, evs, &zero), 0);
  char c;
  CHECK_EQ(read(p[0], &c, 1), 1);

  /* Hang-up is reported although not asked for. */
  int q[2];
  CHECK_SYS(pipe(q));
  prep(&cb, IOCB_CMD_POLL, q[0], (void *)(uintptr_t)POLLIN, 0, 0, 8);
  CHECK_EQ(submit1(ctx, &cb), 1);
  close(q[1]);
  CHECK(reap1(ctx).res & POLLHUP);
  close(q[0]);

  /* io_cancel: a pending poll is cancelled (EINPROGRESS) and completes
   * with no events. */
  prep(&cb, IOCB_CMD_POLL, p[0], (void *)(uintptr_t)POLLIN, 0, 0, 9);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_ERR(io_cancel(ctx, &cb, &evs[1]), EINPROGRESS);
  struct io_event ev = reap1(ctx);
  CHECK_EQ(ev.data, 9);
  CHECK_EQ(ev.res, 0);
  /* Already done: EINVAL. So are reads and writes, which complete in
   * io_submit. */
  CHECK_ERR(io_cancel(ctx, &cb, &evs[1]), EINVAL);
  prep(&cb, IOCB_CMD_PWRITE, p[1], "y", 1, 0, 10);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_ERR(io_cancel(ctx, &cb, &evs[1]), EINVAL);
  CHECK_EQ(reap1(ctx).res, 1);
  /* aio_key must be KIOCB_KEY (0). */
  cb.aio_key = 1;
  CHECK_ERR(io_cancel(ctx, &cb, &evs[1]), EINVAL);
  CHECK_ERR(io_cancel(ctx, (struct iocb *)8, &evs[1]), EFAULT);
  cb.aio_key = 0;
  CHECK_ERR(io_cancel(4242, &cb, &evs[1]), EINVAL);

  /* Poll argument errors. */
  prep(&cb, IOCB_CMD_POLL, p[0], (void *)0x10000, 0, 0, 11);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  prep(&cb, IOCB_CMD_POLL, p[0], (void *)(uintptr_t)POLLIN, 1, 0, 11);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  prep(&cb, IOCB_CMD_POLL, p[0], (void *)(uintptr_t)POLLIN, 0, 4, 11);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);

  /* io_destroy cancels pending polls and returns. */
  prep(&cb, IOCB_CMD_POLL, p[0], (void *)(uintptr_t)POLLIN, 0, 0, 12);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_SYS(io_destroy(ctx));
  close(p[0]);
  close(p[1]);
  printf("PASS poll_cancel\n");
}

static void resfd(void) {
  aio_context_t ctx = 0;
  CHECK_SYS(io_setup(8, &ctx));
  int efd = eventfd(0, EFD_NONBLOCK);
  CHECK(efd >= 0);
  int fd = tmpfile_rw();
  struct iocb cbs[3];
  struct iocb *ptrs[3];
  for (int i = 0; i < 3; i++) {
    prep(&cbs[i], IOCB_CMD_PWRITE, fd, "r", 1, i, i);
    cbs[i].aio_flags = IOCB_FLAG_RESFD;
    cbs[i].aio_resfd = efd;
    ptrs[i] = &cbs[i];
  }
  CHECK_EQ(io_submit(ctx, 3, ptrs), 3);
  uint64_t v = 0;
  CHECK_EQ(read(efd, &v, 8), 8);
  CHECK_EQ(v, 3);
  struct io_event evs[3];
  CHECK_EQ(io_getevents(ctx, 3, 3, evs, NULL), 3);

  /* An asynchronous completion (poll) signals it too; an event loop
   * waits on the eventfd with poll(2). */
  int p[2];
  CHECK_SYS(pipe(p));
  struct iocb cb;
  prep(&cb, IOCB_CMD_POLL, p[0], (void *)(uintptr_t)POLLIN, 0, 0, 9);
  cb.aio_flags = IOCB_FLAG_RESFD;
  cb.aio_resfd = efd;
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_ERR(read(efd, &v, 8), EAGAIN);
  CHECK_EQ(write(p[1], "x", 1), 1);
  struct pollfd pfd = {efd, POLLIN, 0};
  CHECK_EQ(poll(&pfd, 1, 5000), 1);
  CHECK_EQ(read(efd, &v, 8), 8);
  CHECK_EQ(v, 1);
  CHECK_EQ(reap1(ctx).data, 9);

  /* The resfd must be an open eventfd. */
  prep(&cb, IOCB_CMD_PWRITE, fd, "r", 1, 0, 0);
  cb.aio_flags = IOCB_FLAG_RESFD;
  cb.aio_resfd = 9999;
  CHECK_ERR(submit1(ctx, &cb), EBADF);
  cb.aio_resfd = fd;
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  close(p[0]);
  close(p[1]);
  close(fd);
  close(efd);
  CHECK_SYS(io_destroy(ctx));
  printf("PASS resfd\n");
}

static void destroy_unmap(void) {
  aio_context_t ctx = 0;
  CHECK_SYS(io_setup(8, &ctx));
  CHECK(mapped((void *)ctx));
  CHECK_SYS(io_destroy(ctx));
  /* The ring is gone with the context. */
  CHECK(!mapped((void *)ctx));
  CHECK_ERR(io_destroy(ctx), EINVAL);
  struct io_event ev;
  CHECK_ERR(io_getevents(ctx, 0, 1, &ev, NULL), EINVAL);
  CHECK_ERR(io_destroy(0), EINVAL);

  /* Unmapping the ring makes the context unreachable: Linux finds a
   * context through the ID in its ring. */
  ctx = 0;
  CHECK_SYS(io_setup(8, &ctx));
  CHECK_SYS(munmap((void *)ctx, 4096));
  int fd = tmpfile_rw();
  struct iocb cb;
  prep(&cb, IOCB_CMD_PWRITE, fd, "m", 1, 0, 0);
  CHECK_ERR(submit1(ctx, &cb), EINVAL);
  CHECK_ERR(io_getevents(ctx, 0, 1, &ev, NULL), EINVAL);
  CHECK_ERR(io_destroy(ctx), EINVAL);

  /* A look-alike ring at another address is not a context either. */
  aio_context_t real = 0;
  CHECK_SYS(io_setup(8, &real));
  void *fake = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  memcpy(fake, (void *)real, 64);
  CHECK_ERR(submit1((aio_context_t)fake, &cb), EINVAL);
  munmap(fake, 4096);
  CHECK_SYS(io_destroy(real));
  close(fd);
  printf("PASS destroy_unmap\n");
}

static void fork_child(void) {
  aio_context_t ctx = 0;
  CHECK_SYS(io_setup(8, &ctx));
  int fd = tmpfile_rw();
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    /* The ring's mapping is copied like any shared mapping, but the
     * context is not inherited: the child's address space has none. */
    CHECK(mapped((void *)ctx));
    struct iocb cb;
    prep(&cb, IOCB_CMD_PWRITE, fd, "c", 1, 0, 0);
    CHECK_ERR(submit1(ctx, &cb), EINVAL);
    CHECK_ERR(io_destroy(ctx), EINVAL);
    /* The child makes its own. */
    aio_context_t mine = 0;
    CHECK_SYS(io_setup(4, &mine));
    CHECK_EQ(submit1(mine, &cb), 1);
    CHECK_EQ(reap1(mine).res, 1);
    _exit(0);
  }
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* The parent's context is untouched. */
  struct iocb cb;
  prep(&cb, IOCB_CMD_PWRITE, fd, "p", 1, 0, 3);
  CHECK_EQ(submit1(ctx, &cb), 1);
  CHECK_EQ(reap1(ctx).data, 3);
  close(fd);
  CHECK_SYS(io_destroy(ctx));
  printf("PASS fork_child\n");
}

/* exec_child runs in the exec'd image with the old context's address. */
static int exec_child(const char *arg) {
  aio_context_t ctx = strtoull(arg, NULL, 0);
  struct io_event ev;
  CHECK_ERR(io_getevents(ctx, 0, 1, &ev, NULL), EINVAL);
  CHECK_ERR(io_destroy(ctx), EINVAL);
  return 0;
}

static void exec_drops(void) {
  long before = read_sysctl("aio-nr");
  fflush(stdout);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    aio_context_t ctx = 0;
    CHECK_SYS(io_setup(5, &ctx));
    char arg[32];
    snprintf(arg, sizeof(arg), "%#llx", (unsigned long long)ctx);
    execl(self_exe, self_exe, "exec-child", arg, (char *)NULL);
    _exit(2);
  }
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* Exit (and exec) give the contexts back to aio-nr. */
  int ok = 0;
  for (int i = 0; i < 50 && !ok; i++) {
    ok = read_sysctl("aio-nr") <= before;
    if (!ok) usleep(10000);
  }
  CHECK(ok);
  printf("PASS exec_drops\n");
}

int main(int argc, char **argv) {
  self_exe = argv[0];
  if (argc == 3 && strcmp(argv[1], "exec-child") == 0)
    return exec_child(argv[2]);
  CHECK(mkdtemp(tmpdir) != NULL);
  setup_ring();
  aio_nr();
  read_write();
  submit_errors();
  fsync_ops();
  user_ring();
  wrap();
  getevents();
  poll_cancel();
  resfd();
  destroy_unmap();
  fork_child();
  exec_drops();
  rmdir(tmpdir);
  return 0;
}
