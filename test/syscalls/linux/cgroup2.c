/*
 * cgroup2: the cgroup v2 filesystem programs size themselves from.
 * Mounts cgroup2 on a private directory and checks what holds both on a
 * host and in the sandbox: the mount is a cgroup2 filesystem that
 * mountinfo lists by that type; cgroup.controllers reads; the cgroup
 * /proc/self/cgroup names ("0::PATH") lists this process in its
 * cgroup.procs; its cpu.stat's usage_usec grows while this process burns
 * CPU; and on a read-only mount, cgroup.procs cannot be opened for
 * writing (EROFS).
 */
#include "test.h"

#include <sys/mount.h>
#include <sys/vfs.h>

#define CGROUP2_SUPER_MAGIC 0x63677270

static char *mnt_dir;    /* the read-write mount */
static char ro_dir[128]; /* the read-only mount */
static char cg_dir[512]; /* this process's cgroup under mnt_dir */

static void mounted(void) {
  struct statfs sfs;
  CHECK_SYS(statfs(mnt_dir, &sfs));
  CHECK_EQ(sfs.f_type, CGROUP2_SUPER_MAGIC);
  /* mountinfo: "... MOUNTPOINT OPTS [OPTIONAL...] - cgroup2 SOURCE ..." */
  static char info[1 << 16];
  test_read_file("/proc/self/mountinfo", info, sizeof(info));
  int found = 0;
  for (char *line = strtok(info, "\n"); line != NULL; line = strtok(NULL, "\n")) {
    char point[256];
    if (sscanf(line, "%*d %*d %*s %*s %255s", point) != 1 || strcmp(point, mnt_dir) != 0) continue;
    char *sep = strstr(line, " - ");
    CHECK(sep != NULL);
    CHECK(strncmp(sep + 3, "cgroup2 ", 8) == 0 || (fprintf(stderr, "%s\n", line), 0));
    found = 1;
  }
  CHECK(found);
}

static void controllers(void) {
  char path[256], buf[4096];
  snprintf(path, sizeof(path), "%s/cgroup.controllers", mnt_dir);
  long n = test_read_file(path, buf, sizeof(buf));
  /* A line of controller names, which may be empty. */
  CHECK(n == 0 || buf[n - 1] == '\n');
}

/* own_cgroup finds this process's cgroup from /proc/self/cgroup. */
static void own_cgroup(void) {
  char buf[4096];
  test_read_file("/proc/self/cgroup", buf, sizeof(buf));
  char *line = strstr(buf, "0::");
  CHECK(line != NULL && (line == buf || line[-1] == '\n'));
  char *path = line + 3, *end = strchr(path, '\n');
  CHECK(end != NULL && path[0] == '/');
  *end = 0;
  snprintf(cg_dir, sizeof(cg_dir), "%s%s", mnt_dir, strcmp(path, "/") == 0 ? "" : path);
}

static void procs_lists_self(void) {
  char path[600];
  static char buf[1 << 20];
  snprintf(path, sizeof(path), "%s/cgroup.procs", cg_dir);
  test_read_file(path, buf, sizeof(buf));
  int found = 0;
  for (char *line = strtok(buf, "\n"); line != NULL; line = strtok(NULL, "\n"))
    if (atoi(line) == getpid()) found = 1;
  CHECK(found);
}

static long long usage_usec(void) {
  char path[600], buf[4096];
  snprintf(path, sizeof(path), "%s/cpu.stat", cg_dir);
  test_read_file(path, buf, sizeof(buf));
  CHECK(strncmp(buf, "usage_usec ", 11) == 0);
  return atoll(buf + 11);
}

static long long cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void cpu_usage_grows(void) {
  long long before = usage_usec();
  long long start = cpu_ns();
  volatile unsigned long x = 0;
  while (cpu_ns() - start < 200000000LL)
    for (int i = 0; i < 100000; i++) x += i;
  long long after = usage_usec();
  CHECK(after > before || (fprintf(stderr, "usage_usec %lld -> %lld\n", before, after), 0));
}

static void read_only(void) {
  snprintf(ro_dir, sizeof(ro_dir), "%s-ro", mnt_dir);
  CHECK_SYS(mkdir(ro_dir, 0755));
  CHECK_SYS(mount("none", ro_dir, "cgroup2", MS_RDONLY, NULL));
  char path[256];
  snprintf(path, sizeof(path), "%s/cgroup.procs", ro_dir);
  CHECK_ERR(open(path, O_WRONLY), EROFS);
  /* Reading is as on the read-write mount. */
  int fd = open(path, O_RDONLY);
  CHECK_SYS(fd);
  close(fd);
  CHECK_SYS(umount(ro_dir));
  CHECK_SYS(rmdir(ro_dir));
}

int main(void) {
  test_init();
  mnt_dir = test_tmpdir();
  if (mount("none", mnt_dir, "cgroup2", 0, NULL) != 0) {
    /* Mounting needs CAP_SYS_ADMIN, natively and in the sandbox alike. */
    CHECK(errno == EPERM);
    test_rmdir(mnt_dir);
    printf("PASS unprivileged\n");
    return 0;
  }
  RUN(mounted);
  RUN(controllers);
  RUN(own_cgroup);
  RUN(procs_lists_self);
  RUN(cpu_usage_grows);
  RUN(read_only);
  CHECK_SYS(umount(mnt_dir));
  test_rmdir(mnt_dir);
  return 0;
}
