/*
 * proc: /proc/self and its files.
 * Checks that self and thread-self name the caller; that status, stat and
 * statm have Linux's format and agree with what the process knows of
 * itself (IDs, umask, blocked and ignored signals, argv's address, the
 * address space size); that maps shows the stack, the code and a fresh
 * read-only mapping; that cmdline is argv; that exe names the binary; and
 * that fd/ and fdinfo/ describe open files and pipes; and that another
 * process shows as running, sleeping or stopped as it is.
 */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

static int g_argc;
static char **g_argv;
static char *dir;

/* read_file reads a whole file into a static buffer, NUL-terminated, in
 * small reads so that files generated across several reads are covered. */
static char *read_file(const char *path, size_t *len) {
  static char buf[1 << 16];
  int fd = open(path, O_RDONLY);
  CHECK(fd >= 0);
  size_t n = 0;
  for (;;) {
    ssize_t r = read(fd, buf + n, n + 100 < sizeof(buf) ? 100 : sizeof(buf) - 1 - n);
    CHECK(r >= 0);
    if (r == 0) break;
    n += r;
    CHECK(n < sizeof(buf) - 1);
  }
  close(fd);
  buf[n] = 0;
  if (len) *len = n;
  return buf;
}

/* field returns the value of "Key:\tvalue" in a status text. */
static const char *field(const char *text, const char *key) {
  static char val[512];
  char pat[64];
  snprintf(pat, sizeof(pat), "\n%s:\t", key);
  const char *p = strstr(text, pat);
  if (p == NULL && strncmp(text, pat + 1, strlen(pat + 1)) == 0) p = text - 1;
  if (p == NULL) {
    fprintf(stderr, "status has no %s line\n", key);
    CHECK(p != NULL);
  }
  p += strlen(pat);
  size_t n = strcspn(p, "\n");
  CHECK(n < sizeof(val));
  memcpy(val, p, n);
  val[n] = 0;
  return val;
}

static const char *comm(void) {
  static char c[16];
  const char *base = strrchr(g_argv[0], '/');
  base = base ? base + 1 : g_argv[0];
  snprintf(c, sizeof(c), "%s", base);
  return c;
}

static void self_links(void) {
  char buf[64], want[64];
  ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = 0;
  snprintf(want, sizeof(want), "%d", getpid());
  CHECK(strcmp(buf, want) == 0);
  n = readlink("/proc/thread-self", buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = 0;
  snprintf(want, sizeof(want), "%d/task/%ld", getpid(), (long)syscall(SYS_gettid));
  CHECK(strcmp(buf, want) == 0);
  /* The PID directory is listed in /proc. */
  snprintf(want, sizeof(want), "%d", getpid());
  DIR *d = opendir("/proc");
  CHECK(d != NULL);
  int found = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, want) == 0) found = 1;
  }
  closedir(d);
  CHECK(found);
}

static void status(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  CHECK_SYS(sigprocmask(SIG_BLOCK, &set, NULL));
  CHECK(signal(SIGUSR2, SIG_IGN) != SIG_ERR);
  mode_t old = umask(027);

  char *s = read_file("/proc/self/status", NULL);
  char want[128];
  CHECK(strcmp(field(s, "Name"), comm()) == 0);
  CHECK(strcmp(field(s, "Umask"), "0027") == 0);
  CHECK(strcmp(field(s, "State"), "R (running)") == 0);
  snprintf(want, sizeof(want), "%d", getpid());
  CHECK(strcmp(field(s, "Pid"), want) == 0);
  CHECK(strcmp(field(s, "Tgid"), want) == 0);
  CHECK(strcmp(field(s, "NSpid"), want) == 0);
  snprintf(want, sizeof(want), "%d", getppid());
  CHECK(strcmp(field(s, "PPid"), want) == 0);
  CHECK(strcmp(field(s, "TracerPid"), "0") == 0);
  snprintf(want, sizeof(want), "%d\t%d\t%d\t%d", getuid(), geteuid(), geteuid(), geteuid());
  CHECK(strcmp(field(s, "Uid"), want) == 0);
  snprintf(want, sizeof(want), "%d\t%d\t%d\t%d", getgid(), getegid(), getegid(), getegid());
  CHECK(strcmp(field(s, "Gid"), want) == 0);
  CHECK(strcmp(field(s, "Threads"), "1") == 0);
  /* SIGUSR1 is signal 10 (bit 9), SIGUSR2 signal 12 (bit 11). */
  unsigned long long blk = strtoull(field(s, "SigBlk"), NULL, 16);
  unsigned long long ign = strtoull(field(s, "SigIgn"), NULL, 16);
  CHECK_EQ(strlen(field(s, "SigBlk")), 16);
  CHECK(blk & (1ULL << (SIGUSR1 - 1)));
  CHECK(ign & (1ULL << (SIGUSR2 - 1)));
  CHECK_EQ(strlen(field(s, "CapEff")), 16);
  /* Memory lines: right-aligned in 8 columns, in kB. */
  const char *vm = field(s, "VmSize");
  CHECK_EQ(strlen(vm), 11);
  CHECK(strcmp(vm + 8, " kB") == 0);
  CHECK(atol(vm) > 0);
  CHECK(atol(field(s, "VmRSS")) > 0);

  umask(old);
  CHECK(signal(SIGUSR2, SIG_DFL) != SIG_ERR);
  CHECK_SYS(sigprocmask(SIG_UNBLOCK, &set, NULL));
}

static void stat_and_statm(void) {
  char *s = read_file("/proc/self/stat", NULL);
  char *open = strchr(s, '('), *close = strrchr(s, ')');
  CHECK(open != NULL && close != NULL && close > open);
  *close = 0;
  CHECK(strcmp(open + 1, comm()) == 0);
  CHECK_EQ(atoi(s), getpid());
  /* Fields 3..52 follow the comm. */
  unsigned long long f[53] = {0};
  char state = 0;
  char *p = close + 1;
  CHECK(sscanf(p, " %c", &state) == 1);
  CHECK_EQ(state, 'R');
  p += 2;
  int n = 3;
  char *tok;
  while ((tok = strsep(&p, " \n")) != NULL) {
    if (*tok == 0) continue;
    n++;
    CHECK(n <= 52);
    f[n] = strtoull(tok, NULL, 10);
  }
  CHECK_EQ(n, 52);
  CHECK_EQ(f[4], getppid());
  CHECK_EQ(f[5], getpgrp());
  CHECK_EQ(f[6], getsid(0));
  CHECK_EQ(f[20], 1);          /* num_threads */
  CHECK(f[23] > 0);            /* vsize */
  CHECK(f[24] > 0);            /* rss */
  CHECK_EQ(f[38], SIGCHLD);    /* exit_signal */
  /* arg_start..arg_end hold argv's strings. */
  CHECK_EQ(f[48], (uintptr_t)g_argv[0]);
  CHECK(f[49] > f[48]);
  CHECK(f[51] > f[50]);

  long pg = sysconf(_SC_PAGESIZE);
  unsigned long m[7];
  char *sm = read_file("/proc/self/statm", NULL);
  CHECK_EQ(sscanf(sm, "%lu %lu %lu %lu %lu %lu %lu", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &m[6]), 7);
  /* Reading allocates nothing that moves the size by more than a few
   * pages between the two files. */
  long diff = (long)m[0] * pg - (long)f[23];
  CHECK(diff < 16 * pg && diff > -16 * pg);
  CHECK(m[1] > 0 && m[1] <= m[0]);
}

static void maps(void) {
  long pg = sysconf(_SC_PAGESIZE);
  char *ro = mmap(NULL, 3 * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(ro != MAP_FAILED);
  int local = 0;
  uintptr_t stack = (uintptr_t)&local, code = (uintptr_t)&maps, anon = (uintptr_t)ro;
  int saw_stack = 0, saw_code = 0, saw_anon = 0, lines = 0;

  char *s = read_file("/proc/self/maps", NULL);
  char *line, *rest = s;
  while ((line = strsep(&rest, "\n")) != NULL && *line) {
    unsigned long start, end, off, ino;
    unsigned maj, min;
    char perms[5];
    int name = 0;
    CHECK_EQ(sscanf(line, "%lx-%lx %4s %lx %x:%x %lu %n", &start, &end, perms, &off, &maj, &min, &ino, &name), 7);
    CHECK(start < end && start % pg == 0 && end % pg == 0);
    CHECK(perms[3] == 'p' || perms[3] == 's');
    lines++;
    if (stack >= start && stack < end) {
      saw_stack = 1;
      CHECK(strcmp(line + name, "[stack]") == 0);
      CHECK(strncmp(perms, "rw", 2) == 0);
    }
    if (code >= start && code < end) {
      saw_code = 1;
      CHECK(perms[2] == 'x');
    }
    if (anon >= start && anon < end) {
      saw_anon = 1;
      CHECK(strcmp(perms, "r--p") == 0);
      CHECK(end - anon >= (unsigned long)(3 * pg));
    }
  }
  CHECK(lines >= 3);
  CHECK(saw_stack && saw_code && saw_anon);
  CHECK_SYS(munmap(ro, 3 * pg));
}

static void cmdline(void) {
  size_t n;
  char *s = read_file("/proc/self/cmdline", &n);
  size_t off = 0;
  for (int i = 0; i < g_argc; i++) {
    size_t l = strlen(g_argv[i]) + 1;
    CHECK(off + l <= n);
    CHECK(memcmp(s + off, g_argv[i], l) == 0);
    off += l;
  }
  CHECK_EQ(off, n);
}

static void exe(void) {
  char buf[4096], *want = realpath(g_argv[0], NULL);
  CHECK(want != NULL);
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = 0;
  CHECK(strcmp(buf, want) == 0);
  /* Following the link reaches the same file. */
  struct stat a, b;
  CHECK_SYS(stat("/proc/self/exe", &a));
  CHECK_SYS(stat(want, &b));
  CHECK(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
  free(want);
}

static void fds(void) {
  char path[512], link[512], buf[512], *real = realpath(dir, NULL);
  CHECK(real != NULL);
  snprintf(path, sizeof(path), "%s/file", dir);
  int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, "hello", 5), 5);

  snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = 0;
  snprintf(path, sizeof(path), "%s/file", real);
  CHECK(strcmp(buf, path) == 0);
  /* Opening the link opens the file anew, at offset 0. */
  int again = open(link, O_RDONLY);
  CHECK(again >= 0);
  char c[5];
  CHECK_EQ(read(again, c, 5), 5);
  CHECK(memcmp(c, "hello", 5) == 0);
  close(again);

  snprintf(link, sizeof(link), "/proc/self/fdinfo/%d", fd);
  char *info = read_file(link, NULL);
  CHECK(strcmp(field(info, "pos"), "5") == 0);
  /* O_LARGEFILE is always set on 64-bit; O_CLOEXEC shows the fd flag. */
  char want[32];
  snprintf(want, sizeof(want), "0%o", O_RDWR | O_CLOEXEC | 0100000);
  CHECK(strcmp(field(info, "flags"), want) == 0);

  int p[2];
  CHECK_SYS(pipe(p));
  struct stat st;
  CHECK_SYS(fstat(p[0], &st));
  snprintf(link, sizeof(link), "/proc/self/fd/%d", p[0]);
  n = readlink(link, buf, sizeof(buf) - 1);
  CHECK(n > 0);
  buf[n] = 0;
  snprintf(want, sizeof(want), "pipe:[%lu]", (unsigned long)st.st_ino);
  CHECK(strcmp(buf, want) == 0);

  /* fd/ lists exactly the open descriptors (plus the directory's own). */
  DIR *d = opendir("/proc/self/fd");
  CHECK(d != NULL);
  int seen_fd = 0, seen_pipe = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    int num = atoi(e->d_name);
    CHECK(fcntl(num, F_GETFD) >= 0);
    CHECK_EQ(e->d_type, DT_LNK);
    if (num == fd) seen_fd = 1;
    if (num == p[1]) seen_pipe = 1;
  }
  closedir(d);
  CHECK(seen_fd && seen_pipe);

  close(p[0]);
  close(p[1]);
  CHECK_ERR(readlink(link, buf, sizeof(buf)), ENOENT);
  close(fd);
  free(real);
}

/* proc_state reads the state letter of /proc/PID/stat. */
static char proc_state(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  CHECK(fgets(buf, sizeof(buf), f) != NULL);
  fclose(f);
  char *p = strrchr(buf, ')');
  CHECK(p != NULL && p[1] == ' ');
  return p[2];
}

/* Another process is R while it computes, S while it sleeps in a call
 * and T while stopped. */
static void other_task_state(void) {
  pid_t busy = fork();
  CHECK_SYS(busy);
  if (busy == 0) {
    volatile unsigned long x = 0;
    for (;;) x++;
  }
  int running = 0;
  for (int i = 0; i < 20 && !running; i++) {
    usleep(20000);
    running = proc_state(busy) == 'R';
  }
  CHECK(running);
  CHECK_SYS(kill(busy, SIGSTOP));
  char st = 0;
  for (int i = 0; i < 200 && st != 'T'; i++) {
    usleep(5000);
    st = proc_state(busy);
  }
  CHECK_EQ(st, 'T');
  CHECK_SYS(kill(busy, SIGKILL));
  CHECK_SYS(waitpid(busy, NULL, 0));

  pid_t idle = fork();
  CHECK_SYS(idle);
  if (idle == 0) {
    pause();
    _exit(0);
  }
  test_wait_sleeping(idle);
  CHECK_EQ(proc_state(idle), 'S');
  CHECK_SYS(kill(idle, SIGKILL));
  CHECK_SYS(waitpid(idle, NULL, 0));
}

int main(int argc, char **argv) {
  test_init();
  g_argc = argc;
  g_argv = argv;
  dir = test_tmpdir();
  RUN(self_links);
  RUN(status);
  RUN(stat_and_statm);
  RUN(maps);
  RUN(cmdline);
  RUN(exe);
  RUN(fds);
  RUN(other_task_state);
  test_rmdir(dir);
  return 0;
}
