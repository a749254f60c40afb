/*
 * brk: the raw brk system call.
 * Checks that brk(0) reports the break, that growing it maps zeroed
 * writable memory, that shrinking unmaps it again, and that a refused
 * request returns the unchanged break (brk never returns -1 itself).
 *
 * Raw syscalls only, and the break is restored before any check can print:
 * glibc's malloc caches its own idea of the break, so nothing may allocate
 * while we have moved it (test_init gives stdout a static buffer).
 */
#include "test.h"

#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/syscall.h>

static long pagesz;
static sigjmp_buf jb;

static uintptr_t sys_brk(uintptr_t addr) {
  return (uintptr_t)syscall(SYS_brk, addr);
}

static void on_segv(int sig) {
  (void)sig;
  siglongjmp(jb, 1);
}

static int faults(volatile char *p) {
  if (sigsetjmp(jb, 1) == 0) {
    (void)*p;
    return 0;
  }
  return 1;
}

static void query(void) {
  uintptr_t a = sys_brk(0);
  uintptr_t b = sys_brk(0);
  CHECK(a != 0);
  CHECK_EQ(a, b);
  /* The heap starts above this binary's data. */
  static int in_bss;
  CHECK(a > (uintptr_t)&in_bss);
}

static void grow_and_shrink(void) {
  uintptr_t start = sys_brk(0);
  uintptr_t want = start + 16 * pagesz;
  uintptr_t got = sys_brk(want);
  int ok_grow = got == want;
  int zero = 1, rw = 1;
  if (ok_grow) {
    volatile char *p = (volatile char *)start;
    for (long i = 0; i < 16 * pagesz; i++) {
      if (p[i] != 0) zero = 0;
    }
    p[0] = 1;
    p[16 * pagesz - 1] = 2;
    rw = p[0] == 1 && p[16 * pagesz - 1] == 2;
  }
  /* Shrink back to a page boundary past start, then fully. */
  uintptr_t mid = (start + pagesz - 1) / pagesz * pagesz + pagesz;
  uintptr_t shrunk = sys_brk(mid);
  int gone = faults((volatile char *)(mid + 2 * pagesz));
  uintptr_t back = sys_brk(start);
  CHECK(ok_grow);
  CHECK(zero);
  CHECK(rw);
  CHECK_EQ(shrunk, mid);
  CHECK(gone);
  CHECK_EQ(back, start);
}

static void regrow_is_zero(void) {
  uintptr_t start = sys_brk(0);
  uintptr_t top = (start + pagesz - 1) / pagesz * pagesz + 4 * pagesz;
  CHECK_EQ(sys_brk(top), top);
  memset((void *)(top - 2 * pagesz), 0x5a, 2 * pagesz);
  sys_brk(top - 2 * pagesz);
  uintptr_t again = sys_brk(top);
  /* Memory given back and taken again must not keep old contents. */
  int zero = ((volatile char *)(top - pagesz))[0] == 0;
  sys_brk(start);
  CHECK_EQ(again, top);
  CHECK(zero);
}

static void refused(void) {
  uintptr_t start = sys_brk(0);
  /* Below the data segment and absurdly high are both refused. */
  CHECK_EQ(sys_brk(4096), start);
  CHECK_EQ(sys_brk((uintptr_t)1 << 62), start);
  CHECK_EQ(sys_brk(0), start);
}

int main(void) {
  test_init();
  pagesz = sysconf(_SC_PAGESIZE);
  struct sigaction sa = {0};
  sa.sa_handler = on_segv;
  CHECK_SYS(sigaction(SIGSEGV, &sa, NULL));
  RUN(query);
  RUN(grow_and_shrink);
  RUN(regrow_is_zero);
  RUN(refused);
  return 0;
}
