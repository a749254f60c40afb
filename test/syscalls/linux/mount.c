/*
 * mount: mount(2) and umount2(2).
 * Checks a new tmpfs mount hides the directory under it until unmounted;
 * a bind mount shows the same files (a recursive one into its own tree
 * too), and MS_REMOUNT|MS_BIND|MS_RDONLY
 * makes it read-only (EROFS) without touching the original; propagation
 * changes are accepted on a mount's root; the errors: an unknown type
 * (ENODEV), a missing target (ENOENT), unmounting what is not a mount
 * point or with unknown flags (EINVAL), MS_REMOUNT below a mount's root
 * (EINVAL), binding a pipe (EINVAL), and both calls without
 * CAP_SYS_ADMIN (EPERM).
 */
#include "test.h"

#include <sys/mount.h>
#include <sys/wait.h>

static char *dir;
static char a[256], b[256], path[512];

static void write_file(const char *p, const char *s) {
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK_SYS(fd);
  CHECK_EQ(write(fd, s, strlen(s)), (ssize_t)strlen(s));
  close(fd);
}

static void tmpfs_hides_and_unmounts(void) {
  snprintf(path, sizeof(path), "%s/under", a);
  write_file(path, "x");
  CHECK_SYS(mount("none", a, "tmpfs", 0, "mode=0700"));
  CHECK_ERR(access(path, F_OK), ENOENT);
  struct stat st;
  CHECK_SYS(stat(a, &st));
  CHECK_EQ(st.st_mode & 07777, 0700);
  snprintf(path, sizeof(path), "%s/over", a);
  write_file(path, "y");
  /* Busy while a file on it is the cwd of nobody and open by nobody: an
   * unmount succeeds and the tmpfs's files are gone. */
  CHECK_SYS(umount2(a, 0));
  CHECK_ERR(access(path, F_OK), ENOENT);
  snprintf(path, sizeof(path), "%s/under", a);
  CHECK_SYS(access(path, F_OK));
  CHECK_SYS(unlink(path));
}

static void bind_and_remount_readonly(void) {
  snprintf(path, sizeof(path), "%s/f", a);
  write_file(path, "data");
  CHECK_SYS(mount(a, b, NULL, MS_BIND, NULL));
  snprintf(path, sizeof(path), "%s/f", b);
  char buf[16] = {0};
  int fd = open(path, O_RDONLY);
  CHECK_SYS(fd);
  CHECK_EQ(read(fd, buf, sizeof(buf)), 4);
  close(fd);
  CHECK(strcmp(buf, "data") == 0);

  CHECK_SYS(mount(NULL, b, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL));
  CHECK_ERR(open(path, O_WRONLY), EROFS);
  snprintf(path, sizeof(path), "%s/g", b);
  CHECK_ERR(open(path, O_WRONLY | O_CREAT, 0644), EROFS);
  /* The original stays writable. */
  snprintf(path, sizeof(path), "%s/f", a);
  fd = open(path, O_WRONLY);
  CHECK_SYS(fd);
  close(fd);

  /* Propagation types change nothing here but are accepted on a mount's
   * root, one at a time. */
  CHECK_SYS(mount(NULL, b, NULL, MS_PRIVATE, NULL));
  CHECK_ERR(mount(NULL, b, NULL, MS_PRIVATE | MS_SHARED, NULL), EINVAL);
  snprintf(path, sizeof(path), "%s/f", b);
  CHECK_SYS(umount2(b, 0));
  CHECK_ERR(access(path, F_OK), ENOENT);
  snprintf(path, sizeof(path), "%s/f", a);
  CHECK_SYS(unlink(path));
}

/* A recursive bind whose target lies inside its source copies the tree
 * as it was, not the copy itself: twice in a row (the second target is in
 * the first copy) this once recursed until the sandbox kernel crashed. */
static void rbind_into_itself(void) {
  char in[600], in2[600], probe[600];
  snprintf(in, sizeof(in), "%s/in", a);
  CHECK_SYS(mkdir(in, 0755));
  CHECK_SYS(mount(a, in, NULL, MS_BIND | MS_REC, NULL));
  snprintf(in2, sizeof(in2), "%s/in/in", a);
  CHECK_SYS(mount(a, in2, NULL, MS_BIND | MS_REC, NULL));
  /* in2 shows a again, whose "in" is there as the directory it is. */
  snprintf(probe, sizeof(probe), "%s/in/in/in", a);
  CHECK_SYS(access(probe, F_OK));
  CHECK_SYS(umount2(in2, MNT_DETACH));
  CHECK_SYS(umount2(in, MNT_DETACH));
  CHECK_SYS(rmdir(in));
}

static void errors(void) {
  CHECK_ERR(mount("none", a, "no-such-fs-type", 0, NULL), ENODEV);
  /* A pipe is in no mount namespace: it cannot be bound. */
  int p[2];
  CHECK_SYS(pipe(p));
  char fdpath[64];
  snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", p[0]);
  snprintf(path, sizeof(path), "%s/file", dir);
  write_file(path, "");
  CHECK_ERR(mount(fdpath, path, NULL, MS_BIND, NULL), EINVAL);
  CHECK_SYS(unlink(path));
  close(p[0]);
  close(p[1]);
  snprintf(path, sizeof(path), "%s/missing", dir);
  CHECK_ERR(mount("none", path, "tmpfs", 0, NULL), ENOENT);
  CHECK_ERR(umount2(a, 0), EINVAL);
  CHECK_ERR(umount2(path, 0), ENOENT);
  CHECK_SYS(mount("none", a, "tmpfs", 0, NULL));
  CHECK_ERR(umount2(a, 0x80000000), EINVAL);
  CHECK_SYS(mkdir(path, 0755));
  snprintf(path, sizeof(path), "%s/missing", a);
  CHECK_SYS(mkdir(path, 0755));
  /* Not the root of a mount. */
  CHECK_ERR(mount(NULL, path, NULL, MS_REMOUNT | MS_RDONLY, NULL), EINVAL);
  CHECK_SYS(umount2(a, 0));
  snprintf(path, sizeof(path), "%s/missing", dir);
  CHECK_SYS(rmdir(path));
}

static void needs_cap_sys_admin(void) {
  pid_t pid = fork();
  CHECK_SYS(pid);
  if (pid == 0) {
    /* Dropping root's IDs drops its capabilities. */
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(2);
    if (mount("none", a, "tmpfs", 0, NULL) == 0 || errno != EPERM) _exit(3);
    if (umount2("/proc", 0) == 0 || errno != EPERM) _exit(4);
    _exit(0);
  }
  int status;
  CHECK_SYS(waitpid(pid, &status, 0));
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
}

int main(void) {
  test_init();
  if (geteuid() != 0) {
    printf("PASS unprivileged\n");
    return 0;
  }
  dir = test_tmpdir();
  chmod(dir, 0755);
  snprintf(a, sizeof(a), "%s/a", dir);
  snprintf(b, sizeof(b), "%s/b", dir);
  CHECK_SYS(mkdir(a, 0755));
  CHECK_SYS(mkdir(b, 0755));
  RUN(tmpfs_hides_and_unmounts);
  RUN(bind_and_remount_readonly);
  RUN(rbind_into_itself);
  RUN(errors);
  RUN(needs_cap_sys_admin);
  test_rmdir(dir);
  return 0;
}
