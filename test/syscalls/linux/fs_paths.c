/*
 * fs_paths: the calls that change or query names.
 * Checks mkdir/mkdirat/rmdir, rename/renameat/renameat2 (RENAME_NOREPLACE,
 * RENAME_EXCHANGE, invalid flag combinations), link/linkat
 * (AT_SYMLINK_FOLLOW), unlink/unlinkat (AT_REMOVEDIR), symlink/symlinkat with
 * readlink/readlinkat (truncation, empty path on an O_PATH link), mknod and
 * mknodat, access/faccessat/faccessat2 (AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH,
 * AT_EACCESS), getcwd (ERANGE), chdir/fchdir, chroot and umask.
 */
#include "test.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif

static char *dir;
static int dfd;

static void put(const char *name, const char *content) {
  int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0);
  CHECK_EQ(write(fd, content, strlen(content)), (long)strlen(content));
  close(fd);
}

static int has(const char *name, const char *content) {
  char buf[64] = {0};
  int fd = openat(dfd, name, O_RDONLY);
  if (fd < 0) return 0;
  long n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  return n >= 0 && strcmp(buf, content) == 0;
}

static void dirs(void) {
  CHECK_SYS(mkdirat(dfd, "d", 0755));
  CHECK_ERR(mkdirat(dfd, "d", 0755), EEXIST);
  CHECK_ERR(mkdirat(dfd, "missing/d", 0755), ENOENT);
  put("d/f", "x");
  CHECK_ERR(unlinkat(dfd, "d", AT_REMOVEDIR), ENOTEMPTY);
  CHECK_ERR(unlinkat(dfd, "d", 0), EISDIR);
  CHECK_ERR(unlinkat(dfd, "d/f", AT_REMOVEDIR), ENOTDIR);
  CHECK_ERR(unlinkat(dfd, "d/f", 0x4000), EINVAL);
  CHECK_SYS(unlinkat(dfd, "d/f", 0));
  CHECK_SYS(unlinkat(dfd, "d", AT_REMOVEDIR));
  CHECK_ERR(unlinkat(dfd, "d", AT_REMOVEDIR), ENOENT);
  char p[600];
  snprintf(p, sizeof(p), "%s/e", dir);
  CHECK_SYS(mkdir(p, 0700));
  CHECK_ERR(rmdir(dir), ENOTEMPTY);
  snprintf(p, sizeof(p), "%s/e/.", dir);
  CHECK_ERR(rmdir(p), EINVAL);
  snprintf(p, sizeof(p), "%s/e", dir);
  CHECK_SYS(rmdir(p));
}

static void renames(void) {
  put("a", "A");
  put("b", "B");
  CHECK_SYS(renameat(dfd, "a", dfd, "c"));
  CHECK(has("c", "A"));
  CHECK_ERR(faccessat(dfd, "a", F_OK, 0), ENOENT);
  /* Replacing is the default; NOREPLACE refuses. */
  CHECK_ERR(syscall(SYS_renameat2, dfd, "c", dfd, "b", RENAME_NOREPLACE), EEXIST);
  CHECK_SYS(syscall(SYS_renameat2, dfd, "c", dfd, "n", RENAME_NOREPLACE));
  /* EXCHANGE swaps two existing names. */
  CHECK_SYS(syscall(SYS_renameat2, dfd, "n", dfd, "b", RENAME_EXCHANGE));
  CHECK(has("n", "B") && has("b", "A"));
  CHECK_ERR(syscall(SYS_renameat2, dfd, "n", dfd, "zz", RENAME_EXCHANGE), ENOENT);
  CHECK_ERR(syscall(SYS_renameat2, dfd, "n", dfd, "b", RENAME_EXCHANGE | RENAME_NOREPLACE), EINVAL);
  CHECK_ERR(syscall(SYS_renameat2, dfd, "n", dfd, "b", 0x100), EINVAL);
  /* A directory cannot replace a file or move under itself. */
  CHECK_SYS(mkdirat(dfd, "dd", 0755));
  CHECK_ERR(renameat(dfd, "dd", dfd, "b"), ENOTDIR);
  CHECK_ERR(renameat(dfd, "b", dfd, "dd"), EISDIR);
  CHECK_ERR(renameat(dfd, "dd", dfd, "dd/x"), EINVAL);
  char from[600], to[600];
  snprintf(from, sizeof(from), "%s/b", dir);
  snprintf(to, sizeof(to), "%s/dd/b", dir);
  CHECK_SYS(rename(from, to));
  CHECK(has("dd/b", "A"));
  CHECK_SYS(unlinkat(dfd, "dd/b", 0));
  CHECK_SYS(unlinkat(dfd, "dd", AT_REMOVEDIR));
  CHECK_SYS(unlinkat(dfd, "n", 0));
}

static void links(void) {
  put("t", "T");
  CHECK_SYS(symlinkat("t", dfd, "s"));
  /* Without AT_SYMLINK_FOLLOW the link itself gets the new name. */
  CHECK_SYS(linkat(dfd, "s", dfd, "s2", 0));
  struct stat st;
  CHECK_SYS(fstatat(dfd, "s2", &st, AT_SYMLINK_NOFOLLOW));
  CHECK(S_ISLNK(st.st_mode));
  CHECK_SYS(linkat(dfd, "s", dfd, "t2", AT_SYMLINK_FOLLOW));
  CHECK_SYS(fstatat(dfd, "t2", &st, AT_SYMLINK_NOFOLLOW));
  CHECK(S_ISREG(st.st_mode));
  CHECK_EQ(st.st_nlink, 2);
  CHECK_ERR(linkat(dfd, "t", dfd, "t2", 0), EEXIST);
  CHECK_ERR(linkat(dfd, "t", dfd, "t3", 0x1), EINVAL);
  CHECK_SYS(mkdirat(dfd, "ld", 0755));
  CHECK_ERR(linkat(dfd, "ld", dfd, "ld2", 0), EPERM);
  char p1[600], p2[600];
  snprintf(p1, sizeof(p1), "%s/t", dir);
  snprintf(p2, sizeof(p2), "%s/t3", dir);
  CHECK_SYS(link(p1, p2));
  CHECK_SYS(unlink(p2));
  CHECK_ERR(unlink(p2), ENOENT);
  if (geteuid() == 0) {
    /* Linking an open file by descriptor. */
    int fd = openat(dfd, "t", O_RDONLY);
    CHECK_SYS(linkat(fd, "", dfd, "byfd", AT_EMPTY_PATH));
    CHECK(has("byfd", "T"));
    close(fd);
    CHECK_SYS(unlinkat(dfd, "byfd", 0));
  }
  CHECK_SYS(unlinkat(dfd, "ld", AT_REMOVEDIR));
  CHECK_SYS(unlinkat(dfd, "s2", 0));
  CHECK_SYS(unlinkat(dfd, "t2", 0));
}

static void symlinks(void) {
  char buf[64];
  memset(buf, 'z', sizeof(buf));
  CHECK_EQ(readlinkat(dfd, "s", buf, sizeof(buf)), 1);
  CHECK_EQ(buf[0], 't');
  CHECK_EQ(buf[1], 'z'); /* no NUL is added */
  CHECK_SYS(symlinkat("a-rather-long-target", dfd, "long"));
  CHECK_EQ(readlinkat(dfd, "long", buf, 6), 6);
  CHECK(memcmp(buf, "a-rath", 6) == 0);
  CHECK_ERR(readlinkat(dfd, "long", buf, 0), EINVAL);
  CHECK_ERR(readlinkat(dfd, "t", buf, sizeof(buf)), EINVAL);
  CHECK_ERR(readlinkat(dfd, "nope", buf, sizeof(buf)), ENOENT);
  char p[600];
  snprintf(p, sizeof(p), "%s/long", dir);
  CHECK_EQ(readlink(p, buf, sizeof(buf)), 20);
  /* An empty path reads an O_PATH|O_NOFOLLOW descriptor's link. */
  int fd = openat(dfd, "long", O_PATH | O_NOFOLLOW);
  CHECK(fd >= 0);
  CHECK_EQ(readlinkat(fd, "", buf, sizeof(buf)), 20);
  close(fd);
  CHECK_ERR(readlinkat(dfd, "", buf, sizeof(buf)), ENOENT);
  CHECK_ERR(symlinkat("", dfd, "empty"), ENOENT);
  CHECK_ERR(symlinkat("x", dfd, "long"), EEXIST);
  snprintf(p, sizeof(p), "%s/long2", dir);
  CHECK_SYS(symlink("dangling", p));
  CHECK_SYS(unlink(p));
  CHECK_SYS(unlinkat(dfd, "long", 0));
}

static void nodes(void) {
  CHECK_SYS(mknodat(dfd, "fifo", S_IFIFO | 0640, 0));
  struct stat st;
  CHECK_SYS(fstatat(dfd, "fifo", &st, 0));
  CHECK(S_ISFIFO(st.st_mode));
  CHECK_SYS(mknodat(dfd, "reg", 0600, 0));
  CHECK_SYS(fstatat(dfd, "reg", &st, 0));
  CHECK(S_ISREG(st.st_mode));
  CHECK_EQ(st.st_size, 0);
  CHECK_ERR(mknodat(dfd, "reg", S_IFREG | 0600, 0), EEXIST);
  CHECK_ERR(mknodat(dfd, "dir", S_IFDIR | 0700, 0), EPERM);
  if (geteuid() == 0) {
    /* /dev/null's numbers, made here with CAP_MKNOD. */
    CHECK_SYS(mknodat(dfd, "null", S_IFCHR | 0666, makedev(1, 3)));
    CHECK_SYS(fstatat(dfd, "null", &st, 0));
    CHECK(S_ISCHR(st.st_mode));
    CHECK_EQ(major(st.st_rdev), 1);
    CHECK_EQ(minor(st.st_rdev), 3);
    CHECK_SYS(unlinkat(dfd, "null", 0));
  } else {
    CHECK_ERR(mknodat(dfd, "null", S_IFCHR | 0666, makedev(1, 3)), EPERM);
  }
  char p[600];
  snprintf(p, sizeof(p), "%s/fifo2", dir);
  CHECK_SYS(mknod(p, S_IFIFO | 0600, 0));
  CHECK_SYS(unlink(p));
  CHECK_SYS(unlinkat(dfd, "fifo", 0));
  CHECK_SYS(unlinkat(dfd, "reg", 0));
}

static void access_checks(void) {
  put("ro", "r");
  CHECK_SYS(fchmodat(dfd, "ro", 0400, 0));
  CHECK_SYS(faccessat(dfd, "ro", R_OK, 0));
  CHECK_SYS(faccessat(dfd, "ro", F_OK, 0));
  if (geteuid() != 0) CHECK_ERR(faccessat(dfd, "ro", W_OK, 0), EACCES);
  /* Nobody may execute a file without any x bit, root included. */
  CHECK_ERR(faccessat(dfd, "ro", X_OK, 0), EACCES);
  CHECK_ERR(faccessat(dfd, "ro", 8, 0), EINVAL);
  CHECK_ERR(faccessat(dfd, "nope", F_OK, 0), ENOENT);
  char p[600];
  snprintf(p, sizeof(p), "%s/ro", dir);
  CHECK_SYS(access(p, R_OK));
  CHECK_ERR(access(p, X_OK), EACCES);
  /* faccessat2: flags. */
  CHECK_SYS(symlinkat("nope", dfd, "dangle"));
  CHECK_ERR(syscall(SYS_faccessat2, dfd, "dangle", F_OK, 0), ENOENT);
  CHECK_SYS(syscall(SYS_faccessat2, dfd, "dangle", F_OK, AT_SYMLINK_NOFOLLOW));
  CHECK_SYS(syscall(SYS_faccessat2, dfd, "ro", R_OK, AT_EACCESS));
  int fd = openat(dfd, "ro", O_PATH);
  CHECK_SYS(syscall(SYS_faccessat2, fd, "", R_OK, AT_EMPTY_PATH));
  CHECK_ERR(syscall(SYS_faccessat2, fd, "", R_OK, 0), ENOENT);
  CHECK_ERR(syscall(SYS_faccessat2, dfd, "ro", R_OK, 0x1), EINVAL);
  close(fd);
  CHECK_SYS(unlinkat(dfd, "dangle", 0));
  CHECK_SYS(unlinkat(dfd, "ro", 0));
}

static void cwd(void) {
  char saved[PATH_MAX], buf[PATH_MAX];
  CHECK(getcwd(saved, sizeof(saved)) != NULL);
  CHECK_SYS(chdir(dir));
  long n = syscall(SYS_getcwd, buf, sizeof(buf));
  CHECK_EQ(n, (long)strlen(dir) + 1);
  CHECK(strcmp(buf, dir) == 0);
  CHECK_ERR(syscall(SYS_getcwd, buf, strlen(dir)), ERANGE);
  CHECK_ERR(syscall(SYS_getcwd, buf, 0), ERANGE);
  CHECK_ERR(syscall(SYS_getcwd, (void *)8, sizeof(buf)), EFAULT);
  /* Relative paths now start here. */
  put("here", "h");
  CHECK_SYS(access("here", F_OK));
  CHECK_SYS(mkdir("sub", 0755));
  CHECK_SYS(chdir("sub"));
  CHECK_SYS(access("../here", F_OK));
  CHECK_ERR(chdir("../here"), ENOTDIR);
  CHECK_ERR(chdir("nope"), ENOENT);
  CHECK_SYS(fchdir(dfd));
  CHECK(getcwd(buf, sizeof(buf)) != NULL && strcmp(buf, dir) == 0);
  int f = open("here", O_RDONLY);
  CHECK_ERR(fchdir(f), ENOTDIR);
  close(f);
  CHECK_ERR(fchdir(f), EBADF);
  /* A removed working directory has no path. */
  CHECK_SYS(chdir("sub"));
  CHECK_SYS(rmdir("../sub"));
  CHECK_ERR(syscall(SYS_getcwd, buf, sizeof(buf)), ENOENT);
  CHECK_SYS(chdir(saved));
  CHECK_SYS(unlinkat(dfd, "here", 0));
}

static void chroot_jail(void) {
  if (geteuid() != 0) {
    CHECK_ERR(chroot(dir), EPERM);
    return;
  }
  CHECK_ERR(chroot("/nonexistent-dir-for-test"), ENOENT);
  put("marker", "m");
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (chroot(dir) != 0) _exit(2);
    /* The working directory is outside the new root until chdir. */
    char buf[PATH_MAX];
    if (syscall(SYS_getcwd, buf, sizeof(buf)) < 0 || strncmp(buf, "(unreachable)", 13) != 0) _exit(3);
    if (chdir("/") != 0) _exit(4);
    if (access("/marker", F_OK) != 0) _exit(5);
    if (access("/../../marker", F_OK) != 0) _exit(6);
    if (getcwd(buf, sizeof(buf)) == NULL || strcmp(buf, "/") != 0) _exit(7);
    _exit(0);
  }
  int status;
  CHECK_EQ(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status));
  CHECK_EQ(WEXITSTATUS(status), 0);
  CHECK_SYS(unlinkat(dfd, "marker", 0));
}

static void umask_calls(void) {
  mode_t old = umask(077);
  CHECK_EQ(umask(0777 | 07000), 077);
  CHECK_EQ(umask(old), 0777);
  umask(027);
  CHECK_SYS(mkdirat(dfd, "um", 0777));
  struct stat st;
  CHECK_SYS(fstatat(dfd, "um", &st, 0));
  CHECK_EQ(st.st_mode & 0777, 0750);
  CHECK_SYS(mknodat(dfd, "umf", S_IFIFO | 0666, 0));
  CHECK_SYS(fstatat(dfd, "umf", &st, 0));
  CHECK_EQ(st.st_mode & 0777, 0640);
  umask(old);
  CHECK_SYS(unlinkat(dfd, "um", AT_REMOVEDIR));
  CHECK_SYS(unlinkat(dfd, "umf", 0));
}

int main(void) {
  test_init();
  dir = test_tmpdir();
  dfd = open(dir, O_RDONLY | O_DIRECTORY);
  CHECK(dfd >= 0);
  RUN(dirs);
  RUN(renames);
  RUN(links);
  RUN(symlinks);
  RUN(nodes);
  RUN(access_checks);
  RUN(cwd);
  RUN(chroot_jail);
  RUN(umask_calls);
  close(dfd);
  test_rmdir(dir);
  return 0;
}
