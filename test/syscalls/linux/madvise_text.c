/*
 * madvise_text: madvise(MADV_DONTNEED) on file-backed and anonymous memory.
 * Checks that dropping the program's own text pages (a private, read-only,
 * executable file mapping) brings back the executable's bytes, so code on
 * them still runs; that a text page a tracer wrote to (PTRACE_POKETEXT,
 * which makes a private copy) shows the file's bytes again; that a private
 * file mapping loses its written copy and reads the file's current
 * contents; that private anonymous memory reads zeros again (in a forked
 * child without touching the parent's copy); and that shared file and
 * shared anonymous mappings keep their contents.
 */
#include "test.h"

#include <fcntl.h>
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

static long pagesz;
static char *dir;

static void *page_of(const void *p) {
  return (void *)((uintptr_t)p & ~(uintptr_t)(pagesz - 1));
}

/* The main program's first PT_LOAD segment that holds addr. */
struct seg_query {
  uintptr_t addr;
  uintptr_t vaddr;  /* relocated p_vaddr */
  uintptr_t filesz;
  off_t off;
  int found;
};

static int find_seg(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct seg_query *q = data;
  for (int i = 0; i < info->dlpi_phnum; i++) {
    const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
    uintptr_t va = info->dlpi_addr + ph->p_vaddr;
    if (ph->p_type == PT_LOAD && q->addr >= va && q->addr < va + ph->p_filesz) {
      q->vaddr = va;
      q->filesz = ph->p_filesz;
      q->off = ph->p_offset;
      q->found = 1;
      return 1;
    }
  }
  return 1; /* only the first object, the executable */
}

/*
 * same_as_exe reports whether the page at pg holds the executable's bytes
 * (the part of it inside the file-backed segment), read from
 * /proc/self/exe.
 */
static int same_as_exe(const void *pg) {
  struct seg_query q = {.addr = (uintptr_t)pg};
  dl_iterate_phdr(find_seg, &q);
  CHECK(q.found);
  uintptr_t lo = (uintptr_t)pg, hi = lo + pagesz;
  if (hi > q.vaddr + q.filesz) hi = q.vaddr + q.filesz;
  int fd = open("/proc/self/exe", O_RDONLY);
  CHECK_SYS(fd);
  char *buf = malloc(pagesz);
  CHECK(buf != NULL);
  size_t n = hi - lo;
  CHECK_EQ(pread(fd, buf, n, q.off + (lo - q.vaddr)), n);
  int same = memcmp(buf, (const void *)lo, n) == 0;
  free(buf);
  CHECK_SYS(close(fd));
  return same;
}

/* Functions on text pages that get dropped. */
__attribute__((noinline)) static int text_fn(int x) { return x * 3 + 1; }

__attribute__((noinline)) static int magic_fn(void) {
  int r;
  /* mov $0x55, %eax: a fixed encoding whose immediate the tracer
   * patches. */
  __asm__ volatile("mov $0x55, %0" : "=a"(r));
  return r;
}

int main(void);

static void text_page(void) {
  CHECK_EQ(text_fn(2), 7);
  /* The page holding this very function, then the one holding text_fn
   * and main. */
  void *pages[] = {page_of((void *)text_page), page_of((void *)text_fn),
                   page_of((void *)main)};
  for (int i = 0; i < 3; i++) {
    CHECK_SYS(madvise(pages[i], pagesz, MADV_DONTNEED));
    CHECK_EQ(text_fn(i), 3 * i + 1);
    CHECK(same_as_exe(pages[i]));
  }
  /* The whole text segment at once. */
  struct seg_query q = {.addr = (uintptr_t)text_fn};
  dl_iterate_phdr(find_seg, &q);
  CHECK(q.found);
  void *start = page_of((void *)q.vaddr);
  size_t len = q.vaddr + q.filesz - (uintptr_t)start;
  CHECK_SYS(madvise(start, len, MADV_DONTNEED));
  CHECK_EQ(text_fn(5), 16);
  CHECK(same_as_exe(page_of((void *)text_fn)));
}

/* Child of poked_text_page: runs the code its tracer changed, drops the
 * page and runs it again. */
static int poked_child(void) {
  if (magic_fn() != 0x66) return 1;
  if (same_as_exe(page_of((void *)magic_fn))) return 2;
  if (madvise(page_of((void *)magic_fn), pagesz, MADV_DONTNEED) != 0) return 3;
  if (magic_fn() != 0x55) return 4;
  if (!same_as_exe(page_of((void *)magic_fn))) return 5;
  return 0;
}

static void poked_text_page(void) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) _exit(100);
    raise(SIGSTOP);
    _exit(poked_child());
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFSTOPPED(st) && WSTOPSIG(st) == SIGSTOP);
  unsigned char *fn = (unsigned char *)magic_fn;
  int at = -1;
  for (int i = 0; i < 8 && at < 0; i++)
    if (fn[i] == 0xb8 && fn[i + 1] == 0x55) at = i + 1;
  CHECK(at > 0);
  errno = 0;
  long w = ptrace(PTRACE_PEEKTEXT, pid, fn, 0);
  CHECK_EQ(errno, 0);
  unsigned char b[sizeof(w)];
  memcpy(b, &w, sizeof(w));
  b[at] = 0x66;
  memcpy(&w, b, sizeof(w));
  CHECK_SYS(ptrace(PTRACE_POKETEXT, pid, fn, w));
  CHECK_SYS(ptrace(PTRACE_CONT, pid, 0, 0));
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
  /* The tracer's own text never changed. */
  CHECK_EQ(magic_fn(), 0x55);
}

static int make_file(const char *name, char c, size_t len) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  CHECK_SYS(fd);
  char *buf = malloc(len);
  CHECK(buf != NULL);
  memset(buf, c, len);
  CHECK_EQ(write(fd, buf, len), len);
  free(buf);
  return fd;
}

static void private_file(void) {
  /* Two pages and a half: the last page is zero past EOF. */
  size_t flen = 2 * pagesz + pagesz / 2;
  int fd = make_file("private", 'f', flen);
  char *m = mmap(NULL, 3 * pagesz, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  CHECK(m != MAP_FAILED);
  CHECK_EQ(m[0], 'f');
  m[0] = 'z';
  m[pagesz] = 'z';
  m[flen] = 'z';
  /* The file changes under the written copies and the untouched page. */
  CHECK_EQ(pwrite(fd, "g", 1, 0), 1);
  CHECK_EQ(pwrite(fd, "g", 1, pagesz), 1);
  CHECK_EQ(m[0], 'z');
  CHECK_EQ(m[pagesz], 'z');
  CHECK_EQ(m[flen], 'z');
  CHECK_SYS(madvise(m, 3 * pagesz, MADV_DONTNEED));
  /* The copies are gone: the file's current bytes, zeros past EOF. */
  CHECK_EQ(m[0], 'g');
  CHECK_EQ(m[1], 'f');
  CHECK_EQ(m[pagesz], 'g');
  CHECK_EQ(m[2 * pagesz], 'f');
  CHECK_EQ(m[flen - 1], 'f');
  CHECK_EQ(m[flen], 0);
  /* Nothing was written back. */
  char c;
  CHECK_EQ(pread(fd, &c, 1, flen - 1), 1);
  CHECK_EQ(c, 'f');
  CHECK_SYS(munmap(m, 3 * pagesz));
  CHECK_SYS(close(fd));
}

static void private_file_readonly(void) {
  /* A read-only private mapping, like text but not executable: a write
   * through mprotect makes a copy, which MADV_DONTNEED discards. */
  int fd = make_file("ro", 'r', pagesz);
  char *m = mmap(NULL, pagesz, PROT_READ, MAP_PRIVATE, fd, 0);
  CHECK(m != MAP_FAILED);
  CHECK_EQ(m[0], 'r');
  CHECK_SYS(madvise(m, pagesz, MADV_DONTNEED));
  CHECK_EQ(m[0], 'r');
  CHECK_SYS(mprotect(m, pagesz, PROT_READ | PROT_WRITE));
  m[0] = 'w';
  CHECK_SYS(mprotect(m, pagesz, PROT_READ));
  CHECK_EQ(m[0], 'w');
  CHECK_SYS(madvise(m, pagesz, MADV_DONTNEED));
  CHECK_EQ(m[0], 'r');
  CHECK_SYS(munmap(m, pagesz));
  CHECK_SYS(close(fd));
}

static void private_anon(void) {
  size_t len = 4 * pagesz;
  char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  CHECK(p != MAP_FAILED);
  memset(p, 0xab, len);
  /* In a child the pages are shared copy-on-write with the parent: the
   * child reads zeros, the parent keeps its data. */
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (madvise(p, len, MADV_DONTNEED) != 0) _exit(2);
    for (size_t i = 0; i < len; i++)
      if (p[i] != 0) _exit(3);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
  CHECK_EQ((unsigned char)p[0], 0xab);
  CHECK_EQ((unsigned char)p[len - 1], 0xab);
  CHECK_SYS(madvise(p + pagesz, pagesz, MADV_DONTNEED));
  CHECK_EQ((unsigned char)p[pagesz - 1], 0xab);
  for (long i = 0; i < pagesz; i++) CHECK_EQ(p[pagesz + i], 0);
  CHECK_EQ((unsigned char)p[2 * pagesz], 0xab);
  CHECK_SYS(munmap(p, len));
}

static void shared_file(void) {
  int fd = make_file("shared", 's', 2 * pagesz);
  char *m = mmap(NULL, 2 * pagesz, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK(m != MAP_FAILED);
  m[0] = 'z';
  m[pagesz] = 'y';
  CHECK_SYS(madvise(m, 2 * pagesz, MADV_DONTNEED));
  /* Only the page-table entries went: the data is the file's. */
  CHECK_EQ(m[0], 'z');
  CHECK_EQ(m[1], 's');
  CHECK_EQ(m[pagesz], 'y');
  char c;
  CHECK_EQ(pread(fd, &c, 1, 0), 1);
  CHECK_EQ(c, 'z');
  /* A write through the file shows up after the drop too. */
  CHECK_EQ(pwrite(fd, "w", 1, 1), 1);
  CHECK_SYS(madvise(m, pagesz, MADV_DONTNEED));
  CHECK_EQ(m[1], 'w');
  CHECK_SYS(munmap(m, 2 * pagesz));
  CHECK_SYS(close(fd));
}

static void shared_anon(void) {
  char *p = mmap(NULL, 2 * pagesz, PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  CHECK(p != MAP_FAILED);
  memset(p, 0x5a, 2 * pagesz);
  CHECK_SYS(madvise(p, 2 * pagesz, MADV_DONTNEED));
  CHECK_EQ(p[0], 0x5a);
  CHECK_EQ(p[2 * pagesz - 1], 0x5a);
  CHECK_SYS(munmap(p, 2 * pagesz));
}

int main(void) {
  test_init();
  pagesz = sysconf(_SC_PAGESIZE);
  dir = test_tmpdir();
  RUN(text_page);
  RUN(poked_text_page);
  RUN(private_file);
  RUN(private_file_readonly);
  RUN(private_anon);
  RUN(shared_file);
  RUN(shared_anon);
  test_rmdir(dir);
  return 0;
}
