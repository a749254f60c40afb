/*
 * pty_util.h: pty set-up shared by the terminal tests (dev_tty.c,
 * pty_jobctl.c). Include after test.h.
 */
#ifndef APPKERNEL_PTY_UTIL_H
#define APPKERNEL_PTY_UTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

/* new_pty returns a master and the replica's name. */
static int new_pty(char *name) {
  int m = posix_openpt(O_RDWR | O_NOCTTY);
  CHECK_SYS(m);
  CHECK_SYS(grantpt(m));
  CHECK_SYS(unlockpt(m));
  strcpy(name, ptsname(m));
  return m;
}

/* wait_exit waits for pid and returns its exit status, -1 if it did not
 * exit normally. */
static int wait_exit(pid_t pid) {
  int st;
  CHECK_SYS(waitpid(pid, &st, 0));
  if (!WIFEXITED(st)) {
    fprintf(stderr, "child %d: status %#x\n", pid, st);
    return -1;
  }
  return WEXITSTATUS(st);
}

/* leader makes the caller a session leader whose controlling terminal is
 * the replica name (opened without O_NOCTTY); returns the replica. */
static int leader(const char *name) {
  CHECK_SYS(setsid());
  int s = open(name, O_RDWR);
  CHECK_SYS(s);
  CHECK_EQ(tcgetpgrp(s), getpid());
  return s;
}

#endif
