/*
 * ptrace: tracing a child with ptrace(2), and process_vm_readv/writev.
 * Checks the TRACEME+execve SIGTRAP stop, ATTACH/SEIZE/INTERRUPT/DETACH,
 * syscall stops with TRACESYSGOOD and PTRACE_GET_SYSCALL_INFO, changing a
 * syscall's result with GETREGS/SETREGS and skipping one, PEEK/POKE on
 * data and on read-only text, PEEKUSER, the fork/vfork/exec/exit event
 * stops with GETEVENTMSG, signal suppression/injection/replacement,
 * int3 and SINGLESTEP, EXITKILL, EPERM/ESRCH cases, TracerPid and
 * process_vm_readv/writev.
 */
#include "test.h"

#include <signal.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#ifndef PTRACE_GET_SYSCALL_INFO
#define PTRACE_GET_SYSCALL_INFO 0x420e
#endif

/* struct ptrace_syscall_info, spelled out for old headers. */
struct syscall_info {
  unsigned char op;
  unsigned char pad[3];
  unsigned int arch;
  unsigned long long ip, sp;
  union {
    struct {
      unsigned long long nr, args[6];
    } entry;
    struct {
      long long rval;
      unsigned char is_error;
    } exit;
  };
};

static char *self;

/* stopped waits for pid to stop and returns the whole status. */
static int stopped(pid_t pid) {
  int st;
  CHECK_EQ(waitpid(pid, &st, __WALL), pid);
  CHECK(WIFSTOPPED(st));
  return st;
}

static int exited(pid_t pid) {
  int st;
  CHECK_EQ(waitpid(pid, &st, __WALL), pid);
  CHECK(WIFEXITED(st));
  return WEXITSTATUS(st);
}

/* traced_child forks a child that traces itself and stops with SIGSTOP,
 * then runs fn and exits with its result. */
static pid_t traced_child(int (*fn)(void)) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
      _exit(100);
    raise(SIGSTOP);
    _exit(fn());
  }
  int st = stopped(pid);
  CHECK_EQ(WSTOPSIG(st), SIGSTOP);
  return pid;
}

static void traceme_exec(void) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0)
      _exit(100);
    /* A second TRACEME is EPERM. */
    if (ptrace(PTRACE_TRACEME, 0, 0, 0) != -1 || errno != EPERM)
      _exit(101);
    execl(self, self, "exit7", (char *)0);
    _exit(102);
  }
  int st = stopped(pid);
  CHECK_EQ(WSTOPSIG(st), SIGTRAP);
  CHECK_EQ(st >> 16, 0);
  /* Stopped at the new program's entry: its registers are readable. */
  struct user_regs_struct regs;
  CHECK_SYS(ptrace(PTRACE_GETREGS, pid, 0, &regs));
  CHECK(regs.rip != 0 && regs.rsp != 0);
  CHECK_SYS(ptrace(PTRACE_CONT, pid, 0, 0));
  CHECK_EQ(exited(pid), 7);
}

static void sleeper_loop(void) {
  for (;;)
    pause();
}

static void attach_seize_detach(void) {
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0)
    sleeper_loop();
  CHECK_SYS(ptrace(PTRACE_ATTACH, pid, 0, 0));
  CHECK_ERR(ptrace(PTRACE_ATTACH, pid, 0, 0), EPERM);
  int st = stopped(pid);
  CHECK_EQ(WSTOPSIG(st), SIGSTOP);
  siginfo_t si;
  CHECK_SYS(ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
  CHECK_EQ(si.si_signo, SIGSTOP);

  /* TracerPid names the tracer. */
  char path[64], buf[4096];
  snprintf(path, sizeof(path), "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  CHECK(f != NULL);
  int tracer = -1;
  while (fgets(buf, sizeof(buf), f))
    if (sscanf(buf, "TracerPid: %d", &tracer) == 1)
      break;
  fclose(f);
  CHECK_EQ(tracer, getpid());

  CHECK_SYS(ptrace(PTRACE_DETACH, pid, 0, 0));
  /* Detached: requests fail with ESRCH. */
  CHECK_ERR(ptrace(PTRACE_PEEKDATA, pid, &si, 0), ESRCH);

  /* SEIZE does not stop; INTERRUPT does, as PTRACE_EVENT_STOP. */
  CHECK_SYS(ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD));
  struct user_regs_struct regs;
  CHECK_ERR(ptrace(PTRACE_GETREGS, pid, 0, &regs), ESRCH);
  CHECK_SYS(ptrace(PTRACE_INTERRUPT, pid, 0, 0));
  st = stopped(pid);
  CHECK_EQ(WSTOPSIG(st), SIGTRAP);
  CHECK_EQ(st >> 16, PTRACE_EVENT_STOP);
  CHECK_SYS(ptrace(PTRACE_GETREGS, pid, 0, &regs));
  CHECK_SYS(ptrace(PTRACE_CONT, pid, 0, 0));
  CHECK_SYS(kill(pid, SIGKILL));
  CHECK_EQ(waitpid(pid, &st, __WALL), pid);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
}

/* PTRACE_INTERRUPT reaches a tracee that is resuming from the stop a
 * detach ended and going back into pause(): a race the sandbox once lost
 * (the tracee slept on in pause), so it is run many times. */
static void interrupt_while_resuming(void) {
  for (int i = 0; i < 50; i++) {
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
      sleeper_loop();
    CHECK_SYS(ptrace(PTRACE_ATTACH, pid, 0, 0));
    CHECK_EQ(WSTOPSIG(stopped(pid)), SIGSTOP);
    CHECK_SYS(ptrace(PTRACE_DETACH, pid, 0, 0));
    CHECK_SYS(ptrace(PTRACE_SEIZE, pid, 0, 0));
    CHECK_SYS(ptrace(PTRACE_INTERRUPT, pid, 0, 0));
    int st = stopped(pid);
    CHECK_EQ(st >> 16, PTRACE_EVENT_STOP);
    CHECK_SYS(kill(pid, SIGKILL));
    CHECK_EQ(waitpid(pid, &st, __WALL), pid);
  }
}

static int syscall_child(void) {
  long r = syscall(SYS_getppid);
  errno = 0;
  long skipped = syscall(SYS_getpid);
  if (r != 12345)
    return 1;
  return skipped == -1 && errno == ENOSYS ? 0 : 2;
}

static void syscall_stops(void) {
  pid_t pid = traced_child(syscall_child);
  CHECK_SYS(ptrace(PTRACE_SETOPTIONS, pid, 0, PTRACE_O_TRACESYSGOOD));
  int entered = 0, changed = 0, skipped = 0;
  for (;;) {
    CHECK_SYS(ptrace(PTRACE_SYSCALL, pid, 0, 0));
    int st;
    CHECK_EQ(waitpid(pid, &st, __WALL), pid);
    if (WIFEXITED(st)) {
      CHECK_EQ(WEXITSTATUS(st), 0);
      break;
    }
    CHECK(WIFSTOPPED(st));
    CHECK_EQ(WSTOPSIG(st), SIGTRAP | 0x80);
    struct user_regs_struct regs;
    CHECK_SYS(ptrace(PTRACE_GETREGS, pid, 0, &regs));
    struct syscall_info info;
    long n = ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof(info), &info);
    CHECK(n > 0);
    if (!entered) {
      CHECK_EQ(info.op, 1); /* entry */
      CHECK_EQ(n, 80);
      CHECK_EQ(info.entry.nr, regs.orig_rax);
      CHECK_EQ(info.arch, 0xc000003e);
      CHECK_EQ((long)regs.rax, -ENOSYS);
      if (regs.orig_rax == SYS_getpid && changed) {
        regs.orig_rax = -1;
        regs.rax = -ENOSYS;
        CHECK_SYS(ptrace(PTRACE_SETREGS, pid, 0, &regs));
        skipped = 1;
      }
    } else {
      CHECK_EQ(info.op, 2); /* exit */
      CHECK_EQ(n, 33);
      CHECK_EQ(info.exit.rval, (long long)regs.rax);
      if (regs.orig_rax == SYS_getppid) {
        CHECK_EQ((long)regs.rax, getpid());
        regs.rax = 12345;
        CHECK_SYS(ptrace(PTRACE_SETREGS, pid, 0, &regs));
        changed = 1;
      }
    }
    entered = !entered;
  }
  CHECK(changed && skipped);
}

static volatile long data_word = 0x1111;

__attribute__((noinline)) static int text_fn(void) {
  int r;
  /* mov $1, %eax: a fixed encoding whose immediate the tracer patches. */
  __asm__ volatile("mov $1, %0" : "=a"(r));
  return r;
}

static int poke_child(void) {
  if (data_word != 0x2222)
    return 1;
  return text_fn() == 2 ? 0 : 2;
}

static void peek_poke(void) {
  pid_t pid = traced_child(poke_child);
  errno = 0;
  long w = ptrace(PTRACE_PEEKDATA, pid, &data_word, 0);
  CHECK_EQ(errno, 0);
  CHECK_EQ(w, 0x1111);
  CHECK_SYS(ptrace(PTRACE_POKEDATA, pid, &data_word, 0x2222));
  /* Text: the bytes read are the program's; a write lands although the
   * page is read-only to the program. */
  unsigned char *fn = (unsigned char *)text_fn;
  long orig;
  memcpy(&orig, fn, sizeof(orig));
  errno = 0;
  w = ptrace(PTRACE_PEEKTEXT, pid, fn, 0);
  CHECK_EQ(errno, 0);
  CHECK_EQ(w, orig);
  int at = -1;
  for (int i = 0; i < 4; i++)
    if (fn[i] == 0xb8 && fn[i + 1] == 1)
      at = i + 1;
  CHECK(at > 0);
  unsigned char patched[8];
  memcpy(patched, &w, 8);
  patched[at] = 2;
  memcpy(&w, patched, 8);
  CHECK_SYS(ptrace(PTRACE_POKETEXT, pid, fn, w));
  CHECK_EQ(ptrace(PTRACE_PEEKTEXT, pid, fn, 0), w);
  /* Our own copy of the text is unchanged. */
  CHECK_EQ(text_fn(), 1);
  /* PEEKUSER reads registers at their struct user offsets; unmapped
   * memory is EIO. */
  struct user_regs_struct regs;
  CHECK_SYS(ptrace(PTRACE_GETREGS, pid, 0, &regs));
  errno = 0;
  CHECK_EQ((unsigned long)ptrace(PTRACE_PEEKUSER, pid, offsetof(struct user, regs.rip), 0), regs.rip);
  CHECK_EQ(errno, 0);
  CHECK_EQ(ptrace(PTRACE_PEEKUSER, pid, offsetof(struct user, u_debugreg[7]), 0), 0);
  CHECK_ERR(ptrace(PTRACE_PEEKUSER, pid, 3, 0), EIO);
  CHECK_ERR(ptrace(PTRACE_PEEKDATA, pid, (void *)8, 0), EIO);
  CHECK_SYS(ptrace(PTRACE_CONT, pid, 0, 0));
  CHECK_EQ(exited(pid), 0);
}

static int events_child(void) {
  pid_t c = fork();
  if (c == 0)
    _exit(3);
  int st;
  if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 3)
    return 1;
  c = vfork();
  if (c == 0)
    _exit(4);
  if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 4)
    return 2;
  execl(self, self, "exit7", (char *)0);
  return 3;
}

static void events(void) {
  pid_t pid = traced_child(events_child);
  CHECK_SYS(ptrace(PTRACE_SETOPTIONS, pid, 0,
                   PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEVFORKDONE |
                       PTRACE_O_TRACEEXEC | PTRACE_O_TRACEEXIT));
  CHECK_SYS(ptrace(PTRACE_CONT, pid, 0, 0));
  int seen[8] = {0};
  pid_t kids[2] = {0, 0};
  int nkids = 0, kid_stops = 0;
  for (;;) {
    int st;
    pid_t w = waitpid(-1, &st, __WALL);
    CHECK(w > 0);
    if (w == pid && WIFEXITED(st)) {
      CHECK_EQ(WEXITSTATUS(st), 7);
      break;
    }
    if (w != pid) {
      /* An auto-attached grandchild, with our options: a SIGSTOP, its
       * exit event, then its exit. */
      if (WIFSTOPPED(st)) {
        if (WSTOPSIG(st) == SIGSTOP)
          kid_stops++;
        else
          CHECK_EQ(st >> 8, SIGTRAP | PTRACE_EVENT_EXIT << 8);
        CHECK_SYS(ptrace(PTRACE_CONT, w, 0, 0));
      } else {
        CHECK(WIFEXITED(st));
      }
      continue;
    }
    CHECK(WIFSTOPPED(st));
    if (WSTOPSIG(st) == SIGCHLD) {
      /* The grandchildren's exits: pass the signal on. */
      CHECK_SYS(ptrace(PTRACE_CONT, pid, 0, SIGCHLD));
      continue;
    }
    CHECK_EQ(WSTOPSIG(st), SIGTRAP);
    int ev = st >> 16;
    CHECK(ev > 0 && ev < 8);
    seen[ev]++;
    unsigned long msg;
    CHECK_SYS(ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg));
    switch (ev) {
    case PTRACE_EVENT_FORK:
    case PTRACE_EVENT_VFORK:
      CHECK(nkids < 2);
      kids[nkids++] = msg;
      break;
    case PTRACE_EVENT_VFORK_DONE:
      CHECK_EQ(msg, kids[1]);
      break;
    case PTRACE_EVENT_EXEC:
      CHECK_EQ(msg, pid);
      break;
    case PTRACE_EVENT_EXIT:
      CHECK_EQ(msg, 7 << 8);
      break;
    }
    CHECK_SYS(ptrace(PTRACE_CONT, pid, 0, 0));
  }
  CHECK_EQ(seen[PTRACE_EVENT_FORK], 1);
  CHECK_EQ(seen[PTRACE_EVENT_VFORK], 1);
  CHECK_EQ(seen[PTRACE_EVENT_VFORK_DONE], 1);
  CHECK_EQ(seen[PTRACE_EVENT_EXEC], 1);
  CHECK_EQ(seen[PTRACE_EVENT_EXIT], 1);
  CHECK_EQ(kid_stops, 2);
  CHECK(kids[0] > 0 && kids[1] > 0 && kids[0] != kids[1]);
}

static volatile int usr1_count;
static void on_usr1(int sig) { usr1_count++; }

static int signals_child(void) {
  signal(SIGUSR1, on_usr1);
  kill(getpid(), SIGUSR1); /* suppressed by the tracer */
  kill(getpid(), SIGUSR1); /* delivered */
  kill(getpid(), SIGUSR2); /* replaced by SIGUSR1, so not fatal */
  return usr1_count == 2 ? 0 : 10 + usr1_count;
}

static void signals(void) {
  pid_t pid = traced_child(signals_child);
  int n = 0;
  CHECK_SYS(ptrace(PTRACE_CONT, pid, 0, 0));
  for (;;) {
    int st;
    CHECK_EQ(waitpid(pid, &st, 0), pid);
    if (WIFEXITED(st)) {
      CHECK_EQ(WEXITSTATUS(st), 0);
      break;
    }
    CHECK(WIFSTOPPED(st));
    siginfo_t si;
    CHECK_SYS(ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
    CHECK_EQ(si.si_signo, WSTOPSIG(st));
    CHECK_EQ(si.si_code, SI_USER);
    CHECK_EQ(si.si_pid, pid);
    int inject = 0;
    switch (n++) {
    case 0:
      CHECK_EQ(WSTOPSIG(st), SIGUSR1);
      break;
    case 1:
      CHECK_EQ(WSTOPSIG(st), SIGUSR1);
      inject = SIGUSR1;
      break;
    case 2:
      CHECK_EQ(WSTOPSIG(st), SIGUSR2);
      inject = SIGUSR1;
      break;
    default:
      CHECK(0);
    }
    CHECK_SYS(ptrace(PTRACE_CONT, pid, 0, inject));
  }
  CHECK_EQ(n, 3);
}

static int step_child(void) {
  __asm__ volatile("int3\n\tnop\n\tnop\n\tnop\n\tnop\n\tnop\n\tint3" ::: "memory");
  return 0;
}

static void breakpoint_singlestep(void) {
  pid_t pid = traced_child(step_child);
  CHECK_SYS(ptrace(PTRACE_CONT, pid, 0, 0));
  int st = stopped(pid);
  CHECK_EQ(WSTOPSIG(st), SIGTRAP);
  struct user_regs_struct regs;
  CHECK_SYS(ptrace(PTRACE_GETREGS, pid, 0, &regs));
  unsigned long ip = regs.rip;
  /* The int3 is just behind the stop. */
  CHECK_EQ(ptrace(PTRACE_PEEKTEXT, pid, ip - 1, 0) & 0xffff, 0x90cc);
  for (int i = 1; i <= 5; i++) {
    CHECK_SYS(ptrace(PTRACE_SINGLESTEP, pid, 0, 0));
    st = stopped(pid);
    CHECK_EQ(WSTOPSIG(st), SIGTRAP);
    siginfo_t si;
    CHECK_SYS(ptrace(PTRACE_GETSIGINFO, pid, 0, &si));
    CHECK_EQ(si.si_signo, SIGTRAP);
    CHECK_EQ(si.si_code, TRAP_TRACE);
    CHECK_SYS(ptrace(PTRACE_GETREGS, pid, 0, &regs));
    CHECK_EQ(regs.rip, ip + i);
    /* The trap flag the step used is not visible. */
    CHECK_EQ(regs.eflags & 0x100, 0);
  }
  CHECK_SYS(ptrace(PTRACE_CONT, pid, 0, 0));
  st = stopped(pid);
  CHECK_EQ(WSTOPSIG(st), SIGTRAP);
  CHECK_SYS(ptrace(PTRACE_GETREGS, pid, 0, &regs));
  CHECK_EQ(regs.rip, ip + 6);
  CHECK_SYS(ptrace(PTRACE_CONT, pid, 0, 0));
  CHECK_EQ(exited(pid), 0);
}

static void exitkill(void) {
  pid_t victim = fork();
  CHECK(victim >= 0);
  if (victim == 0)
    sleeper_loop();
  pid_t tracer = fork();
  CHECK(tracer >= 0);
  if (tracer == 0) {
    if (ptrace(PTRACE_SEIZE, victim, 0, PTRACE_O_EXITKILL) != 0)
      _exit(1);
    _exit(0);
  }
  CHECK_EQ(exited(tracer), 0);
  int st;
  CHECK_EQ(waitpid(victim, &st, 0), victim);
  CHECK(WIFSIGNALED(st));
  CHECK_EQ(WTERMSIG(st), SIGKILL);
}

static void errors(void) {
  CHECK_ERR(ptrace(PTRACE_ATTACH, getpid(), 0, 0), EPERM);
  CHECK_ERR(ptrace(PTRACE_ATTACH, 999999, 0, 0), ESRCH);
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0)
    sleeper_loop();
  /* Not traced by us. */
  CHECK_ERR(ptrace(PTRACE_CONT, pid, 0, 0), ESRCH);
  CHECK_ERR(ptrace(PTRACE_SEIZE, pid, 0, 1 << 30), EIO);
  CHECK_SYS(ptrace(PTRACE_SEIZE, pid, 0, 0));
  /* Traced but running. */
  CHECK_ERR(ptrace(PTRACE_CONT, pid, 0, 0), ESRCH);
  CHECK_SYS(kill(pid, SIGKILL));
  int st;
  CHECK_EQ(waitpid(pid, &st, 0), pid);
  CHECK(WIFSIGNALED(st));
}

static char vm_buf[64] = "remote data";

static void process_vm(void) {
  int ready[2], go[2];
  CHECK_SYS(pipe(ready));
  CHECK_SYS(pipe(go));
  pid_t pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    strcpy(vm_buf, "child's data");
    char c;
    write(ready[1], "r", 1);
    /* Wait until the parent has written, then report what we see. */
    if (read(go[0], &c, 1) != 1)
      _exit(1);
    _exit(strcmp(vm_buf, "written!") == 0 ? 0 : 2);
  }
  char c;
  CHECK_EQ(read(ready[0], &c, 1), 1);
  char got[13] = {0};
  struct iovec local[2] = {{got, 6}, {got + 6, 7}};
  struct iovec remote = {vm_buf, 13};
  CHECK_EQ(process_vm_readv(pid, local, 2, &remote, 1, 0), 13);
  CHECK_EQ(strcmp(got, "child's data"), 0);
  CHECK_ERR(process_vm_readv(pid, local, 2, &remote, 1, 1), EINVAL);
  CHECK_ERR(process_vm_readv(999999, local, 2, &remote, 1, 0), ESRCH);
  struct iovec bad = {(void *)8, 8};
  CHECK_ERR(process_vm_readv(pid, local, 1, &bad, 1, 0), EFAULT);
  char msg[] = "written!";
  struct iovec l2 = {msg, sizeof(msg)};
  CHECK_EQ(process_vm_writev(pid, &l2, 1, &remote, 1, 0), sizeof(msg));
  CHECK_EQ(write(go[1], "w", 1), 1);
  CHECK_EQ(exited(pid), 0);
  close(ready[0]);
  close(ready[1]);
  close(go[0]);
  close(go[1]);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "exit7") == 0)
    _exit(7);
  self = argv[0];
  test_init();
  RUN(traceme_exec);
  RUN(attach_seize_detach);
  RUN(interrupt_while_resuming);
  RUN(syscall_stops);
  RUN(peek_poke);
  RUN(events);
  RUN(signals);
  RUN(breakpoint_singlestep);
  RUN(exitkill);
  RUN(errors);
  RUN(process_vm);
  return 0;
}
