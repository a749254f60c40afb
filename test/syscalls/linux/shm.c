/*
 * shm: System V shared memory. shmget's key, size and IPC_CREAT/IPC_EXCL
 * rules; shmat at a chosen address (SHM_RND, SHM_REMAP), read-only
 * attachments; segments shared with a forked child; shm_nattch across
 * attach, detach, fork, exit and exec; IPC_RMID deferred until the last
 * detach; IPC_STAT/IPC_SET/IPC_INFO/SHM_INFO/SHM_STAT/SHM_LOCK; permission
 * checks for an unprivileged user; the /proc/self/maps name.
 */
#include "test.h"

#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>

static long page;

/* test_key returns a key unlikely to be used by anyone else. */
static key_t test_key(int n) { return (key_t)(0x5a000000 | (getpid() << 4) | n); }

static int nattch(int id) {
  struct shmid_ds ds;
  CHECK_SYS(shmctl(id, IPC_STAT, &ds));
  return (int)ds.shm_nattch;
}

static void get_rules(void) {
  key_t key = test_key(1);
  CHECK_ERR(shmget(key, page, 0600), ENOENT);
  int id = shmget(key, 2 * page, IPC_CREAT | 0600);
  CHECK(id >= 0);
  CHECK_EQ(shmget(key, 2 * page, IPC_CREAT | 0600), id);
  CHECK_EQ(shmget(key, 0, 0), id);
  CHECK_EQ(shmget(key, page, 0600), id);
  CHECK_ERR(shmget(key, 3 * page, 0600), EINVAL);
  CHECK_ERR(shmget(key, page, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
  /* A new segment needs a size of at least SHMMIN (1). */
  CHECK_ERR(shmget(test_key(2), 0, IPC_CREAT | 0600), EINVAL);
  CHECK_ERR(shmget(IPC_PRIVATE, 0, 0600), EINVAL);
  struct shminfo info;
  CHECK_SYS(shmctl(0, IPC_INFO, (struct shmid_ds *)&info));
  if (info.shmmax < (unsigned long)-1)
    CHECK_ERR(shmget(IPC_PRIVATE, info.shmmax + 1, 0600), EINVAL);
  /* IPC_PRIVATE always makes a new one. */
  int a = shmget(IPC_PRIVATE, 100, 0600), b = shmget(IPC_PRIVATE, 100, 0600);
  CHECK(a >= 0 && b >= 0 && a != b);
  CHECK_SYS(shmctl(a, IPC_RMID, NULL));
  CHECK_SYS(shmctl(b, IPC_RMID, NULL));
  CHECK_SYS(shmctl(id, IPC_RMID, NULL));
  CHECK_ERR(shmctl(id, IPC_RMID, NULL), EINVAL);
  CHECK_ERR(shmctl(-1, IPC_STAT, NULL), EINVAL);
}

static void stat_set(void) {
  key_t key = test_key(3);
  int id = shmget(key, 5000, IPC_CREAT | 0640);
  CHECK(id >= 0);
  struct shmid_ds ds;
  CHECK_SYS(shmctl(id, IPC_STAT, &ds));
  CHECK_EQ(ds.shm_segsz, 5000);
  CHECK_EQ(ds.shm_perm.__key, key);
  CHECK_EQ(ds.shm_perm.mode & 0777, 0640);
  CHECK_EQ(ds.shm_perm.uid, geteuid());
  CHECK_EQ(ds.shm_perm.cuid, geteuid());
  CHECK_EQ(ds.shm_perm.cgid, getegid());
  CHECK_EQ(ds.shm_cpid, getpid());
  CHECK_EQ(ds.shm_lpid, 0);
  CHECK_EQ(ds.shm_nattch, 0);
  CHECK_EQ(ds.shm_atime, 0);
  CHECK(ds.shm_ctime > 0);
  ds.shm_perm.mode = 0600 | 0100000;
  CHECK_SYS(shmctl(id, IPC_SET, &ds));
  CHECK_SYS(shmctl(id, IPC_STAT, &ds));
  CHECK_EQ(ds.shm_perm.mode & 0777777, 0600);
  CHECK_ERR(shmctl(id, IPC_STAT, (struct shmid_ds *)8), EFAULT);
  CHECK_ERR(shmctl(id, 1234, &ds), EINVAL);
  /* Attach and detach times and pid. */
  char *p = shmat(id, NULL, 0);
  CHECK(p != (void *)-1);
  CHECK_SYS(shmctl(id, IPC_STAT, &ds));
  CHECK(ds.shm_atime > 0);
  CHECK_EQ(ds.shm_lpid, getpid());
  CHECK_EQ(ds.shm_nattch, 1);
  CHECK_SYS(shmdt(p));
  CHECK_SYS(shmctl(id, IPC_STAT, &ds));
  CHECK(ds.shm_dtime > 0);
  CHECK_EQ(ds.shm_nattch, 0);
  CHECK_SYS(shmctl(id, IPC_RMID, NULL));
}

static void attach_shared(void) {
  int id = shmget(IPC_PRIVATE, 3 * page, 0600);
  CHECK(id >= 0);
  char *a = shmat(id, NULL, 0);
  char *b = shmat(id, NULL, 0);
  CHECK(a != (void *)-1 && b != (void *)-1 && a != b);
  CHECK_EQ((uintptr_t)a % page, 0);
  CHECK_EQ(a[0], 0);
  CHECK_EQ(a[3 * page - 1], 0);
  strcpy(a + page, "hello");
  CHECK_EQ(strcmp(b + page, "hello"), 0);
  CHECK_EQ(nattch(id), 2);
  /* A partial munmap splits an attachment; shmdt removes what is left. */
  CHECK_SYS(munmap(b + page, page));
  CHECK_EQ(nattch(id), 3);
  CHECK_SYS(shmdt(b));
  CHECK_EQ(nattch(id), 1);
  CHECK_ERR(shmdt(b), EINVAL);
  CHECK_ERR(shmdt(a + 1), EINVAL);
  CHECK_ERR(shmdt(a + page), EINVAL);
  CHECK_SYS(shmdt(a));
  CHECK_EQ(nattch(id), 0);
  CHECK_SYS(shmctl(id, IPC_RMID, NULL));
}

static void fork_shared(void) {
  int id = shmget(IPC_PRIVATE, page, 0600);
  volatile int *p = shmat(id, NULL, 0);
  CHECK(p != (void *)-1);
  int pipefd[2];
  CHECK_SYS(pipe(pipefd));
  pid_t pid = fork();
  if (pid == 0) {
    char c;
    if (nattch(id) != 2) _exit(2);
    p[0] = 42;
    /* Wait for the parent's write. */
    if (read(pipefd[0], &c, 1) != 1) _exit(3);
    _exit(p[1] == 7 ? 0 : 4);
  }
  while (p[0] != 42) usleep(1000);
  CHECK_EQ(nattch(id), 2);
  p[1] = 7;
  CHECK_EQ(write(pipefd[1], "x", 1), 1);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_EQ(nattch(id), 1);
  close(pipefd[0]);
  close(pipefd[1]);
  CHECK_SYS(shmdt((void *)p));
  CHECK_SYS(shmctl(id, IPC_RMID, NULL));
}

static const char *self;

static void exec_detaches(void) {
  int id = shmget(IPC_PRIVATE, page, 0600);
  char *p = shmat(id, NULL, 0);
  CHECK(p != (void *)-1);
  pid_t pid = fork();
  if (pid == 0) {
    char arg[32];
    snprintf(arg, sizeof(arg), "%d", id);
    execl(self, self, "nattch", arg, (char *)NULL);
    _exit(5);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st));
  CHECK_EQ(WEXITSTATUS(st), 0);
  CHECK_SYS(shmdt(p));
  CHECK_SYS(shmctl(id, IPC_RMID, NULL));
}

static sigjmp_buf jb;
static void on_segv(int sig) { siglongjmp(jb, 1); }

static void readonly(void) {
  int id = shmget(IPC_PRIVATE, page, 0600);
  char *w = shmat(id, NULL, 0);
  strcpy(w, "data");
  char *r = shmat(id, NULL, SHM_RDONLY);
  CHECK(r != (void *)-1);
  CHECK_EQ(strcmp(r, "data"), 0);
  CHECK_ERR(mprotect(r, page, PROT_READ | PROT_WRITE), EACCES);
  CHECK_SYS(mprotect(w, page, PROT_READ));
  CHECK_SYS(mprotect(w, page, PROT_READ | PROT_WRITE));
  struct sigaction sa = {.sa_handler = on_segv}, old;
  sigaction(SIGSEGV, &sa, &old);
  volatile int faulted = 0;
  if (sigsetjmp(jb, 1) == 0) {
    r[0] = 'x';
  } else {
    faulted = 1;
  }
  sigaction(SIGSEGV, &old, NULL);
  CHECK(faulted);
  CHECK_EQ(w[0], 'd');
  CHECK_SYS(shmdt(r));
  CHECK_SYS(shmdt(w));
  CHECK_SYS(shmctl(id, IPC_RMID, NULL));
}

static void addresses(void) {
  int id = shmget(IPC_PRIVATE, 2 * page, 0600);
  /* Find a free range. */
  char *hole = mmap(NULL, 8 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(hole != MAP_FAILED);
  CHECK_SYS(munmap(hole, 8 * page));
  char *p = shmat(id, hole + page, 0);
  CHECK_EQ(p, hole + page);
  /* Occupied: EINVAL unless SHM_REMAP. */
  CHECK_ERR((long)shmat(id, hole, 0), EINVAL);
  CHECK_EQ(shmat(id, hole + page, SHM_REMAP), hole + page);
  CHECK_EQ(nattch(id), 1);
  CHECK_ERR((long)shmat(id, NULL, SHM_REMAP), EINVAL);
  /* Unaligned: EINVAL, or rounded down with SHM_RND. */
  CHECK_ERR((long)shmat(id, hole + 3 * page + 1, 0), EINVAL);
  CHECK_EQ(shmat(id, hole + 3 * page + 1, SHM_RND), hole + 3 * page);
  CHECK_EQ(nattch(id), 2);
  CHECK_SYS(shmdt(hole + page));
  CHECK_SYS(shmdt(hole + 3 * page));
  CHECK_ERR((long)shmat(-1, NULL, 0), EINVAL);
  CHECK_ERR((long)shmat(id + 1000000, NULL, 0), EINVAL);
  CHECK_SYS(shmctl(id, IPC_RMID, NULL));
}

static void rmid_deferred(void) {
  key_t key = test_key(4);
  int id = shmget(key, page, IPC_CREAT | 0600);
  char *p = shmat(id, NULL, 0);
  strcpy(p, "still here");
  CHECK_SYS(shmctl(id, IPC_RMID, NULL));
  /* The key is free at once; the segment lives on while attached. */
  CHECK_ERR(shmget(key, page, 0600), ENOENT);
  struct shmid_ds ds;
  CHECK_SYS(shmctl(id, IPC_STAT, &ds));
  CHECK(ds.shm_perm.mode & SHM_DEST);
  CHECK_EQ(ds.shm_perm.__key, IPC_PRIVATE);
  CHECK_EQ(ds.shm_nattch, 1);
  CHECK_EQ(strcmp(p, "still here"), 0);
  /* A removed segment may still be attached by ID. */
  char *q = shmat(id, NULL, SHM_RDONLY);
  CHECK(q != (void *)-1);
  CHECK_EQ(strcmp(q, "still here"), 0);
  CHECK_SYS(shmdt(q));
  int id2 = shmget(key, page, IPC_CREAT | IPC_EXCL | 0600);
  CHECK(id2 >= 0 && id2 != id);
  CHECK_SYS(shmctl(id2, IPC_RMID, NULL));
  CHECK_SYS(shmdt(p));
  CHECK_ERR(shmctl(id, IPC_STAT, &ds), EINVAL);
}

static void info(void) {
  int id = shmget(IPC_PRIVATE, 3 * page, 0600);
  struct shminfo si;
  int maxidx = shmctl(0, IPC_INFO, (struct shmid_ds *)&si);
  CHECK(maxidx >= 0);
  CHECK_EQ(si.shmmin, 1);
  CHECK(si.shmmni > 0);
  CHECK(si.shmmax >= 3 * page);
  /* /proc/sys/kernel shows the same limits. */
  FILE *pf = fopen("/proc/sys/kernel/shmmni", "r");
  CHECK(pf != NULL);
  unsigned long mni = 0, max = 0;
  CHECK_EQ(fscanf(pf, "%lu", &mni), 1);
  fclose(pf);
  CHECK_EQ(mni, si.shmmni);
  pf = fopen("/proc/sys/kernel/shmmax", "r");
  CHECK(pf != NULL);
  CHECK_EQ(fscanf(pf, "%lu", &max), 1);
  fclose(pf);
  CHECK_EQ(max, si.shmmax);
  struct shm_info su;
  int maxidx2 = shmctl(0, SHM_INFO, (struct shmid_ds *)&su);
  CHECK_EQ(maxidx2, maxidx);
  CHECK(su.used_ids >= 1);
  CHECK(su.shm_tot >= 3);
  /* SHM_STAT takes an index and returns the ID. */
  int found = 0;
  for (int i = 0; i <= maxidx; i++) {
    struct shmid_ds ds;
    int r = shmctl(i, SHM_STAT, &ds);
    if (r == id) {
      found = 1;
      CHECK_EQ(ds.shm_segsz, 3 * page);
    }
  }
  CHECK(found);
  CHECK_ERR(shmctl(maxidx + 1, SHM_STAT, &(struct shmid_ds){0}), EINVAL);
  if (geteuid() == 0) {
    struct shmid_ds ds;
    CHECK_SYS(shmctl(id, SHM_LOCK, NULL));
    CHECK_SYS(shmctl(id, IPC_STAT, &ds));
    CHECK(ds.shm_perm.mode & SHM_LOCKED);
    CHECK_SYS(shmctl(id, SHM_UNLOCK, NULL));
    CHECK_SYS(shmctl(id, IPC_STAT, &ds));
    CHECK(!(ds.shm_perm.mode & SHM_LOCKED));
  }
  CHECK_SYS(shmctl(id, IPC_RMID, NULL));
}

static void permissions(void) {
  pid_t pid = fork();
  if (pid == 0) {
    if (geteuid() == 0 && setuid(65534) != 0) _exit(10);
    int id = shmget(IPC_PRIVATE, page, 0400);
    CHECK(id >= 0);
    CHECK_ERR((long)shmat(id, NULL, 0), EACCES);
    char *p = shmat(id, NULL, SHM_RDONLY);
    CHECK(p != (void *)-1);
    CHECK_SYS(shmdt(p));
    struct shmid_ds ds;
    CHECK_SYS(shmctl(id, IPC_STAT, &ds));
    ds.shm_perm.mode = 0;
    CHECK_SYS(shmctl(id, IPC_SET, &ds));
    CHECK_ERR(shmctl(id, IPC_STAT, &ds), EACCES);
    CHECK_ERR((long)shmat(id, NULL, SHM_RDONLY), EACCES);
    /* The owner may still remove it. */
    CHECK_SYS(shmctl(id, IPC_RMID, NULL));
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  if (geteuid() == 0) {
    /* Someone else's segment. */
    int id = shmget(IPC_PRIVATE, page, 0600);
    pid = fork();
    if (pid == 0) {
      if (setuid(65534) != 0) _exit(10);
      CHECK_ERR((long)shmat(id, NULL, 0), EACCES);
      CHECK_ERR(shmctl(id, IPC_RMID, NULL), EPERM);
      CHECK_ERR(shmctl(id, SHM_LOCK, NULL), EPERM);
      _exit(0);
    }
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CHECK_SYS(shmctl(id, IPC_RMID, NULL));
  }
}

static void proc_maps(void) {
  key_t key = test_key(5);
  int id = shmget(key, page, IPC_CREAT | 0600);
  char *p = shmat(id, NULL, 0);
  CHECK(p != (void *)-1);
  char want[64];
  snprintf(want, sizeof(want), "/SYSV%08x (deleted)", (unsigned)key);
  FILE *f = fopen("/proc/self/maps", "r");
  CHECK(f != NULL);
  char line[512];
  int found = 0;
  while (fgets(line, sizeof(line), f)) {
    unsigned long start;
    char perms[8];
    if (sscanf(line, "%lx-%*x %7s", &start, perms) == 2 && start == (unsigned long)p) {
      CHECK(strstr(line, want) != NULL);
      CHECK_EQ(strcmp(perms, "rw-s"), 0);
      found = 1;
    }
  }
  fclose(f);
  CHECK(found);
  CHECK_SYS(shmdt(p));
  CHECK_SYS(shmctl(id, IPC_RMID, NULL));
}

int main(int argc, char **argv) {
  page = sysconf(_SC_PAGESIZE);
  if (argc == 3 && strcmp(argv[1], "nattch") == 0) {
    /* Exec'd by exec_detaches: the parent alone is attached now. */
    struct shmid_ds ds;
    if (shmctl(atoi(argv[2]), IPC_STAT, &ds) != 0) return 1;
    return ds.shm_nattch == 1 ? 0 : 2;
  }
  self = "/proc/self/exe";
  test_init();
  RUN(get_rules);
  RUN(stat_set);
  RUN(attach_shared);
  RUN(fork_shared);
  RUN(exec_detaches);
  RUN(readonly);
  RUN(addresses);
  RUN(rmid_deferred);
  RUN(info);
  RUN(permissions);
  RUN(proc_maps);
  return 0;
}
