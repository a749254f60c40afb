/*
 * sem: System V semaphores. semget's rules; semop applying an array of
 * operations atomically, IPC_NOWAIT, blocking until another process
 * changes a value (with GETNCNT/GETZCNT counting the waiter), semtimedop's
 * timeout, EINTR on a signal, EIDRM when the set is removed; SEM_UNDO
 * reverted at exit; semctl's GETVAL/SETVAL/GETALL/SETALL/GETPID/IPC_STAT/
 * IPC_SET/IPC_INFO/SEM_INFO/SEM_STAT.
 */
#include "test.h"

#include <signal.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/time.h>
#include <sys/wait.h>

union semun {
  int val;
  struct semid_ds *buf;
  unsigned short *array;
  struct seminfo *__buf;
};

static key_t test_key(int n) { return (key_t)(0x5b000000 | (getpid() << 4) | n); }

static int getval(int id, int n) { return semctl(id, n, GETVAL); }

/* wait_count polls GETNCNT/GETZCNT until it reaches want. */
static void wait_count(int id, int n, int cmd, int want) {
  for (int i = 0; i < 5000; i++) {
    if (semctl(id, n, cmd) == want) return;
    usleep(1000);
  }
  CHECK_EQ(semctl(id, n, cmd), want);
}

static void get_rules(void) {
  key_t key = test_key(1);
  CHECK_ERR(semget(key, 2, 0600), ENOENT);
  CHECK_ERR(semget(key, 0, IPC_CREAT | 0600), EINVAL);
  CHECK_ERR(semget(key, -1, IPC_CREAT | 0600), EINVAL);
  int id = semget(key, 3, IPC_CREAT | 0600);
  CHECK(id >= 0);
  CHECK_EQ(semget(key, 3, 0), id);
  CHECK_EQ(semget(key, 0, 0), id);
  CHECK_ERR(semget(key, 4, 0), EINVAL);
  CHECK_ERR(semget(key, 3, IPC_CREAT | IPC_EXCL), EEXIST);
  struct seminfo si;
  CHECK(semctl(0, 0, IPC_INFO, (union semun){.__buf = &si}) >= 0);
  CHECK_ERR(semget(IPC_PRIVATE, si.semmsl + 1, 0600), EINVAL);
  struct semid_ds ds;
  CHECK_SYS(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}));
  CHECK_EQ(ds.sem_nsems, 3);
  CHECK_EQ(ds.sem_perm.__key, key);
  CHECK_EQ(ds.sem_perm.mode & 0777, 0600);
  CHECK_EQ(ds.sem_perm.uid, geteuid());
  CHECK_EQ(ds.sem_otime, 0);
  CHECK(ds.sem_ctime > 0);
  ds.sem_perm.mode = 0640;
  CHECK_SYS(semctl(id, 0, IPC_SET, (union semun){.buf = &ds}));
  CHECK_SYS(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}));
  CHECK_EQ(ds.sem_perm.mode & 0777, 0640);
  CHECK_SYS(semctl(id, 0, IPC_RMID));
  CHECK_ERR(semctl(id, 0, IPC_RMID), EINVAL);
  CHECK_ERR(semctl(id, 0, GETVAL), EINVAL);
}

static void values(void) {
  int id = semget(IPC_PRIVATE, 3, 0600);
  CHECK(id >= 0);
  CHECK_EQ(getval(id, 0), 0);
  CHECK_SYS(semctl(id, 1, SETVAL, (union semun){.val = 7}));
  CHECK_EQ(getval(id, 1), 7);
  CHECK_EQ(semctl(id, 1, GETPID), getpid());
  CHECK_ERR(semctl(id, 3, GETVAL), EINVAL);
  CHECK_ERR(semctl(id, -1, SETVAL, (union semun){.val = 1}), EINVAL);
  CHECK_ERR(semctl(id, 0, SETVAL, (union semun){.val = 32768}), ERANGE);
  CHECK_ERR(semctl(id, 0, SETVAL, (union semun){.val = -1}), ERANGE);
  unsigned short all[3] = {1, 2, 3};
  CHECK_SYS(semctl(id, 0, SETALL, (union semun){.array = all}));
  unsigned short got[3] = {0};
  CHECK_SYS(semctl(id, 0, GETALL, (union semun){.array = got}));
  CHECK(got[0] == 1 && got[1] == 2 && got[2] == 3);
  unsigned short bad[3] = {1, 40000, 3};
  CHECK_ERR(semctl(id, 0, SETALL, (union semun){.array = bad}), ERANGE);
  CHECK_ERR(semctl(id, 0, GETALL, (union semun){.array = (void *)8}), EFAULT);
  CHECK_ERR(semctl(id, 0, 1234), EINVAL);
  CHECK_SYS(semctl(id, 0, IPC_RMID));
}

static void atomic_ops(void) {
  int id = semget(IPC_PRIVATE, 2, 0600);
  struct sembuf inc[2] = {{0, 2, 0}, {1, 1, 0}};
  CHECK_SYS(semop(id, inc, 2));
  CHECK_EQ(getval(id, 0), 2);
  CHECK_EQ(getval(id, 1), 1);
  /* The second operation cannot proceed, so neither happens. */
  struct sembuf ops[2] = {{0, -1, IPC_NOWAIT}, {1, -2, IPC_NOWAIT}};
  CHECK_ERR(semop(id, ops, 2), EAGAIN);
  CHECK_EQ(getval(id, 0), 2);
  CHECK_EQ(getval(id, 1), 1);
  /* Operations apply in order to the running value. */
  struct sembuf seq[2] = {{0, -2, 0}, {0, 0, 0}};
  CHECK_SYS(semop(id, seq, 2));
  CHECK_EQ(getval(id, 0), 0);
  struct sembuf zero = {0, 0, 0};
  CHECK_SYS(semop(id, &zero, 1));
  struct sembuf wz = {1, 0, IPC_NOWAIT};
  CHECK_ERR(semop(id, &wz, 1), EAGAIN);
  /* Errors. */
  struct sembuf far = {2, 1, 0};
  CHECK_ERR(semop(id, &far, 1), EFBIG);
  CHECK_ERR(semop(id, inc, 0), EINVAL);
  CHECK_ERR(semop(-1, inc, 1), EINVAL);
  CHECK_ERR(semop(id, (void *)8, 1), EFAULT);
  struct sembuf big = {0, 32767, 0};
  CHECK_SYS(semop(id, &big, 1));
  struct sembuf over = {0, 1, 0};
  CHECK_ERR(semop(id, &over, 1), ERANGE);
  struct semid_ds ds;
  CHECK_SYS(semctl(id, 0, IPC_STAT, (union semun){.buf = &ds}));
  CHECK(ds.sem_otime > 0);
  CHECK_SYS(semctl(id, 0, IPC_RMID));
}

static void blocking(void) {
  int id = semget(IPC_PRIVATE, 1, 0600);
  pid_t pid = fork();
  if (pid == 0) {
    struct sembuf down = {0, -1, 0};
    if (semop(id, &down, 1) != 0) _exit(1);
    /* Then wait for zero. */
    struct sembuf z = {0, 0, 0};
    if (semop(id, &z, 1) != 0) _exit(2);
    _exit(0);
  }
  wait_count(id, 0, GETNCNT, 1);
  /* The child takes one and then waits for the other to go. */
  struct sembuf up = {0, 2, 0};
  CHECK_SYS(semop(id, &up, 1));
  wait_count(id, 0, GETZCNT, 1);
  CHECK_EQ(semctl(id, 0, GETNCNT), 0);
  CHECK_EQ(getval(id, 0), 1);
  CHECK_SYS(semctl(id, 0, SETVAL, (union semun){.val = 0}));
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_EQ(semctl(id, 0, GETPID), pid);
  CHECK_SYS(semctl(id, 0, IPC_RMID));
}

static void timeout(void) {
  int id = semget(IPC_PRIVATE, 1, 0600);
  struct sembuf down = {0, -1, 0};
  struct timespec ts = {0, 50 * 1000 * 1000};
  long long t0 = test_now_ns();
  CHECK_ERR(semtimedop(id, &down, 1, &ts), EAGAIN);
  CHECK(test_now_ns() - t0 >= 45 * 1000 * 1000LL);
  struct timespec bad = {0, 1000000000};
  CHECK_ERR(semtimedop(id, &down, 1, &bad), EINVAL);
  CHECK_SYS(semctl(id, 0, SETVAL, (union semun){.val = 1}));
  CHECK_SYS(semtimedop(id, &down, 1, &ts));
  CHECK_SYS(semctl(id, 0, IPC_RMID));
}

static void on_alarm(int sig) {}

static void interrupted(void) {
  int id = semget(IPC_PRIVATE, 1, 0600);
  struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART}, old;
  sigaction(SIGALRM, &sa, &old);
  struct itimerval it = {{0, 0}, {0, 50000}};
  setitimer(ITIMER_REAL, &it, NULL);
  struct sembuf down = {0, -1, 0};
  /* Never restarted, even with SA_RESTART. */
  CHECK_ERR(semop(id, &down, 1), EINTR);
  sigaction(SIGALRM, &old, NULL);
  alarm(20);
  CHECK_EQ(semctl(id, 0, GETNCNT), 0);
  CHECK_SYS(semctl(id, 0, IPC_RMID));
}

static void removed(void) {
  int id = semget(IPC_PRIVATE, 1, 0600);
  pid_t pid = fork();
  if (pid == 0) {
    struct sembuf down = {0, -1, 0};
    int r = semop(id, &down, 1);
    _exit(r == -1 && errno == EIDRM ? 0 : 1);
  }
  wait_count(id, 0, GETNCNT, 1);
  CHECK_SYS(semctl(id, 0, IPC_RMID));
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void undo(void) {
  int id = semget(IPC_PRIVATE, 2, 0600);
  CHECK_SYS(semctl(id, 0, SETVAL, (union semun){.val = 5}));
  pid_t pid = fork();
  if (pid == 0) {
    struct sembuf ops[2] = {{0, -2, SEM_UNDO}, {1, 3, SEM_UNDO}};
    if (semop(id, ops, 2) != 0) _exit(1);
    struct sembuf plain = {1, 1, 0};
    if (semop(id, &plain, 1) != 0) _exit(2);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  /* The SEM_UNDO operations were reverted at exit, the plain one not. */
  CHECK_EQ(getval(id, 0), 5);
  CHECK_EQ(getval(id, 1), 1);
  CHECK_EQ(semctl(id, 0, GETPID), pid);

  /* An adjustment is clamped at zero, and SETVAL clears adjustments. */
  pid = fork();
  if (pid == 0) {
    struct sembuf up = {0, 2, SEM_UNDO};
    if (semop(id, &up, 1) != 0) _exit(1);
    struct sembuf up1 = {1, 4, SEM_UNDO};
    if (semop(id, &up1, 1) != 0) _exit(1);
    /* Someone takes the value away; the -2 undo then stops at 0. */
    struct sembuf down = {0, -7, 0};
    if (semop(id, &down, 1) != 0) _exit(2);
    if (semctl(id, 1, SETVAL, (union semun){.val = 2}) != 0) _exit(3);
    _exit(0);
  }
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_EQ(getval(id, 0), 0);
  CHECK_EQ(getval(id, 1), 2);
  CHECK_SYS(semctl(id, 0, IPC_RMID));
}

static void info(void) {
  int id = semget(IPC_PRIVATE, 4, 0600);
  struct seminfo si;
  int maxidx = semctl(0, 0, IPC_INFO, (union semun){.__buf = &si});
  CHECK(maxidx >= 0);
  CHECK(si.semmsl > 0 && si.semopm > 0 && si.semmni > 0);
  CHECK_EQ(si.semvmx, 32767);
  FILE *pf = fopen("/proc/sys/kernel/sem", "r");
  CHECK(pf != NULL);
  int msl, mns, opm, mni;
  CHECK_EQ(fscanf(pf, "%d %d %d %d", &msl, &mns, &opm, &mni), 4);
  fclose(pf);
  CHECK(msl == si.semmsl && mns == si.semmns && opm == si.semopm && mni == si.semmni);
  CHECK_EQ(semctl(0, 0, SEM_INFO, (union semun){.__buf = &si}), maxidx);
  CHECK(si.semusz >= 1);
  CHECK(si.semaem >= 4);
  int found = 0;
  for (int i = 0; i <= maxidx; i++) {
    struct semid_ds ds;
    if (semctl(i, 0, SEM_STAT, (union semun){.buf = &ds}) == id) {
      found = 1;
      CHECK_EQ(ds.sem_nsems, 4);
    }
  }
  CHECK(found);
  CHECK_SYS(semctl(id, 0, IPC_RMID));
}

static void permissions(void) {
  if (geteuid() != 0) return;
  int id = semget(IPC_PRIVATE, 1, 0644);
  pid_t pid = fork();
  if (pid == 0) {
    if (setuid(65534) != 0) _exit(10);
    CHECK_EQ(semctl(id, 0, GETVAL), 0);
    struct sembuf up = {0, 1, IPC_NOWAIT};
    CHECK_ERR(semop(id, &up, 1), EACCES);
    CHECK_ERR(semctl(id, 0, SETVAL, (union semun){.val = 1}), EACCES);
    CHECK_ERR(semctl(id, 0, IPC_RMID), EPERM);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_SYS(semctl(id, 0, IPC_RMID));
}

int main(void) {
  test_init();
  RUN(get_rules);
  RUN(values);
  RUN(atomic_ops);
  RUN(blocking);
  RUN(timeout);
  RUN(interrupted);
  RUN(removed);
  RUN(undo);
  RUN(info);
  RUN(permissions);
  return 0;
}
