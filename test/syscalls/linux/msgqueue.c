/*
 * msgqueue: System V message queues. msgget's rules; msgsnd/msgrcv with
 * message types 0, > 0, < 0 and MSG_EXCEPT; MSG_NOERROR truncation and
 * E2BIG; IPC_NOWAIT (EAGAIN, ENOMSG); a sender blocking while the queue
 * is full by msg_qbytes and a receiver blocking until a message of its
 * type arrives; EIDRM on removal; MSG_COPY; msgctl's IPC_STAT/IPC_SET/
 * IPC_INFO/MSG_INFO/MSG_STAT; a new IPC namespace (unshare and clone with
 * CLONE_NEWIPC) seeing none of its parent's queues.
 */
#include "test.h"

#include <signal.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sched.h>
#include <sys/wait.h>

#ifndef MSG_COPY
#define MSG_COPY 040000
#endif

struct msg {
  long mtype;
  char mtext[64];
};

static key_t test_key(int n) { return (key_t)(0x5c000000 | (getpid() << 4) | n); }

static void send(int id, long type, const char *text) {
  struct msg m = {.mtype = type};
  strcpy(m.mtext, text);
  CHECK_SYS(msgsnd(id, &m, strlen(text) + 1, IPC_NOWAIT));
}

/* recv_type receives with flags and returns the message's type. */
static long recv_type(int id, long type, int flags, char *text) {
  struct msg m;
  ssize_t n = msgrcv(id, &m, sizeof(m.mtext), type, flags | IPC_NOWAIT);
  if (n < 0) return -1;
  if (text) strcpy(text, m.mtext);
  return m.mtype;
}

static void get_rules(void) {
  key_t key = test_key(1);
  CHECK_ERR(msgget(key, 0600), ENOENT);
  int id = msgget(key, IPC_CREAT | 0600);
  CHECK(id >= 0);
  CHECK_EQ(msgget(key, 0), id);
  CHECK_ERR(msgget(key, IPC_CREAT | IPC_EXCL | 0600), EEXIST);
  int p = msgget(IPC_PRIVATE, 0600);
  CHECK(p >= 0 && p != id);
  struct msqid_ds ds;
  CHECK_SYS(msgctl(id, IPC_STAT, &ds));
  CHECK_EQ(ds.msg_perm.__key, key);
  CHECK_EQ(ds.msg_perm.mode & 0777, 0600);
  CHECK_EQ(ds.msg_qnum, 0);
  CHECK_EQ(ds.__msg_cbytes, 0);
  struct msginfo mi;
  CHECK(msgctl(0, IPC_INFO, (struct msqid_ds *)&mi) >= 0);
  CHECK_EQ(ds.msg_qbytes, mi.msgmnb);
  CHECK_SYS(msgctl(p, IPC_RMID, NULL));
  CHECK_SYS(msgctl(id, IPC_RMID, NULL));
  CHECK_ERR(msgctl(id, IPC_RMID, NULL), EINVAL);
}

static void types(void) {
  int id = msgget(IPC_PRIVATE, 0600);
  send(id, 5, "five");
  send(id, 2, "two");
  send(id, 7, "seven");
  send(id, 2, "two-b");
  send(id, 1, "one");
  struct msqid_ds ds;
  CHECK_SYS(msgctl(id, IPC_STAT, &ds));
  CHECK_EQ(ds.msg_qnum, 5);
  CHECK_EQ(ds.__msg_cbytes, 5 + 4 + 6 + 6 + 4);
  CHECK_EQ(ds.msg_lspid, getpid());
  CHECK(ds.msg_stime > 0);
  char text[64];
  /* > 0: the first of that type. */
  CHECK_EQ(recv_type(id, 2, 0, text), 2);
  CHECK_EQ(strcmp(text, "two"), 0);
  /* MSG_EXCEPT: the first of another type. */
  CHECK_EQ(recv_type(id, 5, MSG_EXCEPT, text), 7);
  /* < 0: the lowest type not above |type|. */
  CHECK_EQ(recv_type(id, -3, 0, text), 1);
  CHECK_EQ(recv_type(id, -3, 0, text), 2);
  CHECK_EQ(strcmp(text, "two-b"), 0);
  CHECK_EQ(recv_type(id, -3, 0, text), -1);
  CHECK_EQ(errno, ENOMSG);
  CHECK_EQ(recv_type(id, 9, 0, text), -1);
  CHECK_EQ(errno, ENOMSG);
  /* 0: the first of any type. */
  CHECK_EQ(recv_type(id, 0, 0, text), 5);
  CHECK_EQ(recv_type(id, 0, 0, text), -1);
  CHECK_EQ(errno, ENOMSG);
  CHECK_SYS(msgctl(id, IPC_STAT, &ds));
  CHECK_EQ(ds.msg_qnum, 0);
  CHECK_EQ(ds.msg_lrpid, getpid());
  CHECK(ds.msg_rtime > 0);
  CHECK_SYS(msgctl(id, IPC_RMID, NULL));
}

static void sizes(void) {
  int id = msgget(IPC_PRIVATE, 0600);
  send(id, 1, "a longer message");
  struct msg m;
  CHECK_ERR(msgrcv(id, &m, 4, 0, IPC_NOWAIT), E2BIG);
  /* The message stays; MSG_NOERROR truncates it. */
  CHECK_EQ(msgrcv(id, &m, 4, 0, IPC_NOWAIT | MSG_NOERROR), 4);
  CHECK_EQ(memcmp(m.mtext, "a lo", 4), 0);
  CHECK_EQ(msgrcv(id, &m, 4, 0, IPC_NOWAIT), -1);
  CHECK_EQ(errno, ENOMSG);
  /* Empty messages are fine; type must be positive. */
  m.mtype = 3;
  CHECK_SYS(msgsnd(id, &m, 0, 0));
  CHECK_EQ(msgrcv(id, &m, sizeof(m.mtext), 3, IPC_NOWAIT), 0);
  m.mtype = 0;
  CHECK_ERR(msgsnd(id, &m, 1, 0), EINVAL);
  m.mtype = 1;
  struct msginfo mi;
  CHECK(msgctl(0, IPC_INFO, (struct msqid_ds *)&mi) >= 0);
  CHECK_ERR(msgsnd(id, &m, mi.msgmax + 1, 0), EINVAL);
  CHECK_ERR(msgsnd(id, &m, -1, 0), EINVAL);
  CHECK_ERR(msgsnd(id, (void *)8, 1, 0), EFAULT);
  CHECK_ERR(msgrcv(id, &m, -1, 0, 0), EINVAL);
  CHECK_ERR(msgsnd(-1, &m, 1, 0), EINVAL);
  CHECK_SYS(msgctl(id, IPC_RMID, NULL));
}

static void full_queue(void) {
  int id = msgget(IPC_PRIVATE, 0600);
  struct msqid_ds ds;
  CHECK_SYS(msgctl(id, IPC_STAT, &ds));
  ds.msg_qbytes = 20;
  CHECK_SYS(msgctl(id, IPC_SET, &ds));
  CHECK_SYS(msgctl(id, IPC_STAT, &ds));
  CHECK_EQ(ds.msg_qbytes, 20);
  struct msg m = {.mtype = 1};
  memset(m.mtext, 'x', sizeof(m.mtext));
  CHECK_SYS(msgsnd(id, &m, 15, 0));
  CHECK_ERR(msgsnd(id, &m, 10, IPC_NOWAIT), EAGAIN);
  pid_t pid = fork();
  if (pid == 0) {
    /* Blocks until the parent makes room. */
    m.mtype = 2;
    _exit(msgsnd(id, &m, 10, 0) == 0 ? 0 : 1);
  }
  usleep(50000);
  CHECK_SYS(msgctl(id, IPC_STAT, &ds));
  CHECK_EQ(ds.msg_qnum, 1);
  CHECK_EQ(msgrcv(id, &m, sizeof(m.mtext), 1, 0), 15);
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_EQ(msgrcv(id, &m, sizeof(m.mtext), 0, IPC_NOWAIT), 10);
  CHECK_EQ(m.mtype, 2);
  CHECK_SYS(msgctl(id, IPC_RMID, NULL));
}

static void blocking_receive(void) {
  int id = msgget(IPC_PRIVATE, 0600);
  pid_t pid = fork();
  if (pid == 0) {
    struct msg m;
    ssize_t n = msgrcv(id, &m, sizeof(m.mtext), 4, 0);
    _exit(n == 6 && strcmp(m.mtext, "four!") == 0 ? 0 : 1);
  }
  usleep(20000);
  send(id, 3, "three");
  send(id, 4, "four!");
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  char text[64];
  CHECK_EQ(recv_type(id, 0, 0, text), 3);
  /* Removal wakes a blocked receiver with EIDRM. Removed before the
   * child reached msgrcv, the queue would be EINVAL: the child says when
   * it is about to call it, and the parent waits until it sleeps. */
  int ready[2];
  CHECK_SYS(pipe(ready));
  pid = fork();
  if (pid == 0) {
    struct msg m;
    if (write(ready[1], "r", 1) != 1) _exit(2);
    ssize_t n = msgrcv(id, &m, sizeof(m.mtext), 0, 0);
    _exit(n == -1 && errno == EIDRM ? 0 : 1);
  }
  CHECK_EQ(read(ready[0], text, 1), 1);
  close(ready[0]);
  close(ready[1]);
  test_wait_sleeping(pid);
  CHECK_SYS(msgctl(id, IPC_RMID, NULL));
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void on_alarm(int sig) {}

static void interrupted(void) {
  int id = msgget(IPC_PRIVATE, 0600);
  struct sigaction sa = {.sa_handler = on_alarm}, old;
  sigaction(SIGALRM, &sa, &old);
  ualarm(30000, 0);
  struct msg m;
  CHECK_ERR(msgrcv(id, &m, sizeof(m.mtext), 0, 0), EINTR);
  sigaction(SIGALRM, &old, NULL);
  alarm(20);
  CHECK_SYS(msgctl(id, IPC_RMID, NULL));
}

static void copy(void) {
  int id = msgget(IPC_PRIVATE, 0600);
  send(id, 1, "first");
  send(id, 2, "second");
  struct msg m;
  /* MSG_COPY needs IPC_NOWAIT and refuses MSG_EXCEPT. */
  CHECK_ERR(msgrcv(id, &m, sizeof(m.mtext), 0, MSG_COPY), EINVAL);
  CHECK_ERR(msgrcv(id, &m, sizeof(m.mtext), 0, MSG_COPY | IPC_NOWAIT | MSG_EXCEPT), EINVAL);
  ssize_t n = msgrcv(id, &m, sizeof(m.mtext), 1, MSG_COPY | IPC_NOWAIT);
  if (n == -1 && errno == ENOSYS) {
    /* A kernel without CONFIG_CHECKPOINT_RESTORE. */
  } else {
    CHECK_EQ(n, 7);
    CHECK_EQ(m.mtype, 2);
    CHECK_ERR(msgrcv(id, &m, sizeof(m.mtext), 2, MSG_COPY | IPC_NOWAIT), ENOMSG);
    struct msqid_ds ds;
    CHECK_SYS(msgctl(id, IPC_STAT, &ds));
    CHECK_EQ(ds.msg_qnum, 2);
  }
  CHECK_SYS(msgctl(id, IPC_RMID, NULL));
}

static void info(void) {
  int id = msgget(IPC_PRIVATE, 0600);
  send(id, 1, "abc");
  struct msginfo mi;
  int maxidx = msgctl(0, IPC_INFO, (struct msqid_ds *)&mi);
  CHECK(maxidx >= 0);
  CHECK(mi.msgmax > 0 && mi.msgmnb > 0 && mi.msgmni > 0);
  const char *names[3] = {"msgmax", "msgmnb", "msgmni"};
  int want[3] = {mi.msgmax, mi.msgmnb, mi.msgmni};
  for (int i = 0; i < 3; i++) {
    char path[64];
    snprintf(path, sizeof(path), "/proc/sys/kernel/%s", names[i]);
    FILE *pf = fopen(path, "r");
    CHECK(pf != NULL);
    int v = 0;
    CHECK_EQ(fscanf(pf, "%d", &v), 1);
    fclose(pf);
    CHECK_EQ(v, want[i]);
  }
  CHECK_EQ(msgctl(0, MSG_INFO, (struct msqid_ds *)&mi), maxidx);
  CHECK(mi.msgpool >= 1);
  CHECK(mi.msgmap >= 1);
  CHECK(mi.msgtql >= 4);
  int found = 0;
  for (int i = 0; i <= maxidx; i++) {
    struct msqid_ds ds;
    if (msgctl(i, MSG_STAT, &ds) == id) {
      found = 1;
      CHECK_EQ(ds.msg_qnum, 1);
    }
  }
  CHECK(found);
  CHECK_SYS(msgctl(id, IPC_RMID, NULL));
}

static void permissions(void) {
  if (geteuid() != 0) return;
  int id = msgget(IPC_PRIVATE, 0644);
  send(id, 1, "x");
  pid_t pid = fork();
  if (pid == 0) {
    if (setuid(65534) != 0) _exit(10);
    struct msg m = {.mtype = 1};
    CHECK_ERR(msgsnd(id, &m, 1, IPC_NOWAIT), EACCES);
    CHECK_EQ(msgrcv(id, &m, sizeof(m.mtext), 0, IPC_NOWAIT), 2);
    struct msqid_ds ds;
    CHECK_SYS(msgctl(id, IPC_STAT, &ds));
    CHECK_ERR(msgctl(id, IPC_SET, &ds), EPERM);
    CHECK_ERR(msgctl(id, IPC_RMID, NULL), EPERM);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_SYS(msgctl(id, IPC_RMID, NULL));
}

static int key_child(void *arg) {
  key_t key = *(key_t *)arg;
  return msgget(key, 0) == -1 && errno == ENOENT ? 0 : 1;
}

static void namespaces(void) {
  if (geteuid() != 0) return;
  key_t key = test_key(2);
  int id = msgget(key, IPC_CREAT | 0600);
  CHECK(id >= 0);
  pid_t pid = fork();
  if (pid == 0) {
    CHECK_SYS(unshare(CLONE_NEWIPC));
    CHECK_ERR(msgget(key, 0), ENOENT);
    int mine = msgget(key, IPC_CREAT | 0600);
    CHECK(mine >= 0);
    send(mine, 1, "inner");
    /* A forked child shares the new namespace. */
    pid_t c = fork();
    if (c == 0) _exit(msgget(key, 0) == mine ? 0 : 1);
    int st;
    CHECK_EQ(waitpid(c, &st, 0), c);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    _exit(0);
  }
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  /* The inner queue did not appear here. */
  struct msqid_ds ds;
  CHECK_SYS(msgctl(id, IPC_STAT, &ds));
  CHECK_EQ(ds.msg_qnum, 0);
  static char stack[64 * 1024];
  pid = clone(key_child, stack + sizeof(stack), CLONE_NEWIPC | SIGCHLD, &key);
  CHECK(pid > 0);
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  CHECK_ERR(clone(key_child, stack + sizeof(stack), CLONE_NEWIPC | CLONE_SYSVSEM | SIGCHLD, &key), EINVAL);
  CHECK_SYS(msgctl(id, IPC_RMID, NULL));
}

int main(void) {
  test_init();
  RUN(get_rules);
  RUN(types);
  RUN(sizes);
  RUN(full_queue);
  RUN(blocking_receive);
  RUN(interrupted);
  RUN(copy);
  RUN(info);
  RUN(permissions);
  RUN(namespaces);
  return 0;
}
