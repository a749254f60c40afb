/*
 * sysfs: the /sys files programs size themselves from.
 * Checks that /sys is a sysfs directory; that cpu/online, possible and
 * present parse as CPU lists, that online agrees with
 * sysconf(_SC_NPROCESSORS_ONLN) and with /proc/stat's per-CPU lines, and
 * that every online CPU has its cpuN directory with a topology; that the
 * transparent huge page mode shows exactly one selected value; that
 * /sys/class/net/lo links to a directory with the loopback's attributes;
 * and that attribute files refuse writes.
 */
#include "test.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#define SYSFS_MAGIC 0x62656572
#define MAXCPU 4096

/*
 * parse_cpulist parses Linux's list format ("0-3,5\n") into set and
 * returns the number of CPUs in it, or -1 if text is malformed.
 */
static int parse_cpulist(const char *text, unsigned char *set) {
  memset(set, 0, MAXCPU);
  const char *p = text;
  int count = 0;
  if (*p == '\n' && p[1] == 0) return 0;
  for (;;) {
    if (!isdigit((unsigned char)*p)) return -1;
    char *end;
    long lo = strtol(p, &end, 10), hi = lo;
    p = end;
    if (*p == '-') {
      p++;
      if (!isdigit((unsigned char)*p)) return -1;
      hi = strtol(p, &end, 10);
      p = end;
    }
    if (lo < 0 || hi < lo || hi >= MAXCPU) return -1;
    for (long c = lo; c <= hi; c++) {
      if (set[c]) return -1;
      set[c] = 1;
      count++;
    }
    if (*p == ',') {
      p++;
      continue;
    }
    return (*p == '\n' && p[1] == 0) ? count : -1;
  }
}

static void sys_is_sysfs(void) {
  struct stat st;
  CHECK_SYS(stat("/sys", &st));
  CHECK(S_ISDIR(st.st_mode));
  struct statfs sfs;
  CHECK_SYS(statfs("/sys", &sfs));
  CHECK_EQ(sfs.f_type, SYSFS_MAGIC);
  CHECK_SYS(stat("/sys/fs/cgroup", &st));
  CHECK(S_ISDIR(st.st_mode));
  CHECK_SYS(stat("/sys/kernel", &st));
  CHECK(S_ISDIR(st.st_mode));
  /* lsblk fails without /sys/dev/block, even when there is no disk. */
  CHECK_SYS(stat("/sys/dev/block", &st));
  CHECK(S_ISDIR(st.st_mode));
  CHECK_SYS(stat("/sys/dev/char", &st));
  CHECK(S_ISDIR(st.st_mode));
}

static void cpu_online(void) {
  static unsigned char online[MAXCPU], possible[MAXCPU], present[MAXCPU];
  char buf[4096];
  test_read_file("/sys/devices/system/cpu/online", buf, sizeof(buf));
  int n = parse_cpulist(buf, online);
  CHECK(n >= 1 || (fprintf(stderr, "online: %s", buf), 0));
  CHECK_EQ(n, sysconf(_SC_NPROCESSORS_ONLN));
  CHECK(sysconf(_SC_NPROCESSORS_CONF) >= n);

  test_read_file("/sys/devices/system/cpu/possible", buf, sizeof(buf));
  int np = parse_cpulist(buf, possible);
  CHECK(np >= n);
  test_read_file("/sys/devices/system/cpu/present", buf, sizeof(buf));
  int nr = parse_cpulist(buf, present);
  CHECK(nr >= n && np >= nr);
  for (int c = 0; c < MAXCPU; c++) {
    if (online[c]) CHECK(present[c] && possible[c]);
    if (present[c]) CHECK(possible[c]);
  }

  /* /proc/stat has a line per online CPU. */
  static char stat[1 << 16];
  test_read_file("/proc/stat", stat, sizeof(stat));
  int lines = 0;
  for (char *l = stat; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
    int c;
    /* "cpu  " is the total; "cpuN " the per-CPU lines. */
    if (strncmp(l, "cpu", 3) == 0 && isdigit((unsigned char)l[3]) && sscanf(l, "cpu%d ", &c) == 1) {
      CHECK(c >= 0 && c < MAXCPU && online[c]);
      lines++;
    }
  }
  CHECK_EQ(lines, n);
}

static void cpu_dirs(void) {
  static unsigned char online[MAXCPU], seen[MAXCPU];
  char buf[4096];
  test_read_file("/sys/devices/system/cpu/online", buf, sizeof(buf));
  CHECK(parse_cpulist(buf, online) >= 1);
  memset(seen, 0, sizeof(seen));
  DIR *d = opendir("/sys/devices/system/cpu");
  CHECK(d != NULL);
  struct dirent *e;
  int online_file = 0;
  while ((e = readdir(d)) != NULL) {
    int c;
    char rest;
    if (strcmp(e->d_name, "online") == 0) online_file = 1;
    if (sscanf(e->d_name, "cpu%d%c", &c, &rest) != 1) continue;
    CHECK(c >= 0 && c < MAXCPU);
    CHECK(e->d_type == DT_DIR);
    seen[c] = 1;
  }
  closedir(d);
  CHECK(online_file);
  for (int c = 0; c < MAXCPU; c++) {
    if (!online[c]) continue;
    CHECK(seen[c] || (fprintf(stderr, "no cpu%d directory\n", c), 0));
    char path[128];
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/core_id", c);
    test_read_file(path, buf, sizeof(buf));
    CHECK(isdigit((unsigned char)buf[0]));
    /* A CPU is its own thread sibling. */
    static unsigned char sib[MAXCPU];
    snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%d/topology/thread_siblings_list", c);
    test_read_file(path, buf, sizeof(buf));
    CHECK(parse_cpulist(buf, sib) >= 1);
    CHECK(sib[c]);
  }
}

static void transparent_hugepage(void) {
  char buf[256];
  test_read_file("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof(buf));
  char *open_ = strchr(buf, '['), *close_ = strchr(buf, ']');
  CHECK(open_ != NULL && close_ != NULL && close_ > open_);
  CHECK(strchr(open_ + 1, '[') == NULL);
  *close_ = 0;
  const char *mode = open_ + 1;
  CHECK(strcmp(mode, "always") == 0 || strcmp(mode, "madvise") == 0 || strcmp(mode, "never") == 0);
}

static void net_loopback(void) {
  char target[256];
  ssize_t n = readlink("/sys/class/net/lo", target, sizeof(target) - 1);
  CHECK_SYS(n);
  target[n] = 0;
  CHECK(strstr(target, "devices/virtual/net/lo") != NULL);
  struct stat st;
  CHECK_SYS(stat("/sys/class/net/lo", &st));
  CHECK(S_ISDIR(st.st_mode));
  char buf[64];
  test_read_file("/sys/class/net/lo/type", buf, sizeof(buf));
  CHECK(strcmp(buf, "772\n") == 0); /* ARPHRD_LOOPBACK */
  test_read_file("/sys/class/net/lo/ifindex", buf, sizeof(buf));
  CHECK(atoi(buf) >= 1);
  test_read_file("/sys/class/net/lo/flags", buf, sizeof(buf));
  CHECK(strtol(buf, NULL, 16) & 0x8); /* IFF_LOOPBACK */
  test_read_file("/sys/class/net/lo/address", buf, sizeof(buf));
  CHECK(strcmp(buf, "00:00:00:00:00:00\n") == 0);
}

static void read_only(void) {
  /* EACCES from sysfs itself, or EROFS where /sys is mounted read-only. */
  errno = 0;
  int fd = open("/sys/devices/system/cpu/online", O_WRONLY);
  CHECK(fd == -1 && (errno == EACCES || errno == EROFS));
  fd = open("/sys/kernel/mm/transparent_hugepage/enabled", O_RDONLY);
  CHECK_SYS(fd);
  CHECK_ERR(write(fd, "never", 5), EBADF);
  close(fd);
}

int main(void) {
  test_init();
  RUN(sys_is_sysfs);
  RUN(cpu_online);
  RUN(cpu_dirs);
  RUN(transparent_hugepage);
  RUN(net_loopback);
  RUN(read_only);
  return 0;
}
