/*
 * vdso: the vDSO announced by AT_SYSINFO_EHDR.
 * Natively this is Linux's vDSO; in the sandbox it is the Sentry's. Checks
 * that AT_SYSINFO_EHDR points at an ELF shared object that /proc/self/maps
 * names [vdso] after a [vvar] page; that __vdso_clock_gettime resolves,
 * versioned LINUX_2.6, through the object's own DT_HASH/DT_VERSYM/
 * DT_VERDEF as C libraries look it up; that the clocks it gives (directly
 * and through glibc) are monotonic over 10^6 calls and agree with the raw
 * system call; that REALTIME agrees with time() and gettimeofday(); that the
 * clocks it leaves to the kernel (CPU time) work; that an invalid clock is
 * EINVAL. Prints the cost per call ("bench" lines) for comparison.
 */
#include "test.h"

#include <elf.h>
#include <sched.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>

#define NS 1000000000LL

static long long ts_ns(struct timespec ts) { return ts.tv_sec * NS + ts.tv_nsec; }

static long long raw_now(clockid_t c) {
  struct timespec ts;
  CHECK_SYS(syscall(SYS_clock_gettime, c, &ts));
  return ts_ns(ts);
}

static unsigned long elf_hash(const char *s) {
  unsigned long h = 0;
  for (; *s; s++) {
    h = (h << 4) + (unsigned char)*s;
    unsigned long g = h & 0xf0000000;
    if (g) h ^= g >> 24;
    h &= ~g;
  }
  return h;
}

/* vdso_sym finds name@version in the vDSO at base the way musl does: from
 * the program headers and dynamic section, DT_HASH, DT_VERSYM, DT_VERDEF. */
static void *vdso_sym(uintptr_t base, const char *name, const char *version) {
  Elf64_Ehdr *eh = (Elf64_Ehdr *)base;
  Elf64_Phdr *ph = (Elf64_Phdr *)(base + eh->e_phoff);
  uintptr_t bias = 0;
  Elf64_Dyn *dyn = NULL;
  for (int i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type == PT_LOAD && !bias) bias = base + ph[i].p_offset - ph[i].p_vaddr;
    if (ph[i].p_type == PT_DYNAMIC) dyn = (Elf64_Dyn *)(base + ph[i].p_offset);
  }
  CHECK(dyn != NULL);
  Elf32_Word *hash = NULL;
  Elf64_Sym *syms = NULL;
  const char *strs = NULL;
  Elf64_Half *versym = NULL;
  Elf64_Verdef *verdef = NULL;
  for (; dyn->d_tag != DT_NULL; dyn++) {
    uintptr_t p = bias + dyn->d_un.d_ptr;
    switch (dyn->d_tag) {
      case DT_HASH: hash = (Elf32_Word *)p; break;
      case DT_SYMTAB: syms = (Elf64_Sym *)p; break;
      case DT_STRTAB: strs = (const char *)p; break;
      case DT_VERSYM: versym = (Elf64_Half *)p; break;
      case DT_VERDEF: verdef = (Elf64_Verdef *)p; break;
    }
  }
  CHECK(hash && syms && strs && versym && verdef);
  for (Elf32_Word i = hash[2 + elf_hash(name) % hash[0]]; i; i = hash[2 + hash[0] + i]) {
    if (strcmp(strs + syms[i].st_name, name) || !syms[i].st_shndx) continue;
    for (Elf64_Verdef *d = verdef;; d = (Elf64_Verdef *)((char *)d + d->vd_next)) {
      if (!(d->vd_flags & VER_FLG_BASE) && d->vd_ndx == (versym[i] & 0x7fff)) {
        Elf64_Verdaux *aux = (Elf64_Verdaux *)((char *)d + d->vd_aux);
        if (!strcmp(strs + aux->vda_name, version)) return (void *)(bias + syms[i].st_value);
      }
      if (!d->vd_next) break;
    }
  }
  return NULL;
}

static uintptr_t vdso_base(void) {
  uintptr_t base = getauxval(AT_SYSINFO_EHDR);
  CHECK(base != 0);
  return base;
}

static void image(void) {
  uintptr_t base = vdso_base();
  Elf64_Ehdr *eh = (Elf64_Ehdr *)base;
  CHECK(memcmp(eh->e_ident, ELFMAG, SELFMAG) == 0);
  CHECK_EQ(eh->e_ident[EI_CLASS], ELFCLASS64);
  CHECK_EQ(eh->e_type, ET_DYN);
  /* /proc/self/maps: [vdso] at base, [vvar] somewhere before it. */
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f != NULL);
  char line[512];
  int vdso = 0, vvar = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long start, end;
    CHECK(sscanf(line, "%lx-%lx", &start, &end) == 2);
    if (strstr(line, "[vdso]") && start == base) vdso = 1;
    if (strstr(line, "[vvar]") && end <= base) vvar = 1;
  }
  fclose(f);
  CHECK(vdso);
  CHECK(vvar);
  printf("PASS image\n");
}

#if defined(__x86_64__)
#define VDSO_VERSION "LINUX_2.6"
#define VDSO_GETTIME "__vdso_clock_gettime"
#else
#define VDSO_VERSION "LINUX_2.6.39"
#define VDSO_GETTIME "__kernel_clock_gettime"
#endif

typedef int (*gettime_fn)(clockid_t, struct timespec *);

static void direct(void) {
  gettime_fn fn = (gettime_fn)vdso_sym(vdso_base(), VDSO_GETTIME, VDSO_VERSION);
  CHECK(fn != NULL);
  CHECK(vdso_sym(vdso_base(), VDSO_GETTIME, "LINUX_0.0") == NULL);
  /* Monotonic over 10^6 calls, and consistent with the system call: never
   * behind it, and not ahead by more than a system call could take (a
   * generous second, to catch a wrong offset rather than to time the call). */
  struct timespec ts;
  long long prev = 0;
  for (int i = 0; i < 1000000; i++) {
    CHECK_EQ(fn(CLOCK_MONOTONIC, &ts), 0);
    CHECK(ts.tv_nsec >= 0 && ts.tv_nsec < NS);
    long long t = ts_ns(ts);
    CHECK(t >= prev);
    prev = t;
    if (i % 100000 == 0) {
      long long r = raw_now(CLOCK_MONOTONIC);
      CHECK(r >= t && r - t < NS);
    }
  }
  /* The kernel's paths: CPU-time clocks, MONOTONIC_RAW, invalid IDs (the
   * raw functions return -errno). */
  CHECK_EQ(fn(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
  CHECK(ts_ns(ts) > 0);
  CHECK_EQ(fn(CLOCK_MONOTONIC_RAW, &ts), 0);
  CHECK_EQ(fn(1000, &ts), -EINVAL);
  CHECK_EQ(fn(16, &ts), -EINVAL);
  printf("PASS direct\n");
}

static void libc(void) {
  struct timespec ts;
  long long prev = 0;
  for (int i = 0; i < 1000000; i++) {
    CHECK_SYS(clock_gettime(CLOCK_MONOTONIC, &ts));
    long long t = ts_ns(ts);
    CHECK(t >= prev);
    prev = t;
  }
  /* The vDSO and the system call read the same clock: no offset between
     them. The bound is loose, since a trapped system call can take
     milliseconds on a loaded machine; an offset would be far larger. */
  const long long agree = 100000000;
  long long r = raw_now(CLOCK_MONOTONIC);
  CHECK(r >= prev && r - prev < agree);
  long long b0 = raw_now(CLOCK_BOOTTIME);
  CHECK_SYS(clock_gettime(CLOCK_BOOTTIME, &ts));
  CHECK(ts_ns(ts) >= b0 && ts_ns(ts) - b0 < agree);

  /* REALTIME, gettimeofday and time agree with the system call. */
  long long r0 = raw_now(CLOCK_REALTIME);
  CHECK_SYS(clock_gettime(CLOCK_REALTIME, &ts));
  struct timeval tv;
  CHECK_SYS(gettimeofday(&tv, NULL));
  time_t t = time(NULL);
  long long r1 = raw_now(CLOCK_REALTIME);
  CHECK(ts_ns(ts) >= r0 && ts_ns(ts) <= r1);
  long long g = tv.tv_sec * NS + tv.tv_usec * 1000LL;
  CHECK(g >= r0 - 1000 && g <= r1);
  /* Linux's time() reads the tick-updated seconds: it may trail. */
  CHECK(t <= r1 / NS && t >= r0 / NS - 1);
  struct timezone tz;
  CHECK_SYS(gettimeofday(&tv, &tz));

  CHECK_SYS(clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts));
  CHECK(ts_ns(ts) > 0);
  CHECK_SYS(clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts));
  CHECK(ts_ns(ts) > 0);
  CHECK_ERR(clock_gettime((clockid_t)1000, &ts), EINVAL);
  CHECK_SYS(clock_getres(CLOCK_MONOTONIC, &ts));
  CHECK_EQ(ts_ns(ts), 1);
  CHECK_SYS(clock_getres(CLOCK_MONOTONIC_COARSE, &ts));
  CHECK(ts_ns(ts) >= 1 && ts_ns(ts) < NS);
  CHECK_SYS(clock_getres(CLOCK_REALTIME, NULL));
  CHECK_ERR(clock_getres((clockid_t)1000, &ts), EINVAL);
  unsigned cpu;
  CHECK_SYS(getcpu(&cpu, NULL));
  printf("PASS libc\n");
}

/* bench prints the cost of clock_gettime through glibc and as a raw system
 * call; it checks nothing. */
static void bench(void) {
  struct timespec a, b, ts;
  const int n = 1000000, nraw = 20000;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < n; i++) clock_gettime(CLOCK_MONOTONIC, &ts);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("bench clock_gettime %lld ns/call\n", (ts_ns(b) - ts_ns(a)) / n);
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (int i = 0; i < nraw; i++) syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
  clock_gettime(CLOCK_MONOTONIC, &b);
  printf("bench syscall(clock_gettime) %lld ns/call\n", (ts_ns(b) - ts_ns(a)) / nraw);
}

int main(void) {
  image();
  direct();
  libc();
  bench();
  return 0;
}
