/*
 * tcp_connect: connections per second over 127.0.0.1. One iteration is
 * a whole connection's life: socket, connect, the server's accept and
 * close, the client reading end-of-file, and the client's close.
 *
 * The client ends each connection with a reset (SO_LINGER of 0), which
 * leaves no TIME_WAIT socket behind. With orderly closes, each run would
 * leave tens of thousands of TIME_WAIT sockets for a minute; Linux then
 * searches the exhausted ephemeral port range on every connect (we
 * measured native connects slowing from ~40 us to ~150 us), so one run
 * would slow the next and the native column would measure the harness's
 * own history.
 */
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench.h"

static void connect_once(const struct sockaddr_in *addr) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) bench_die("socket");
  if (connect(s, (const struct sockaddr *)addr, sizeof(*addr)) != 0) bench_die("connect");
  char b;
  ssize_t r = read(s, &b, 1);
  if (r != 0) {
    if (r > 0) errno = EPROTO;
    bench_die("read: want end-of-file");
  }
  struct linger lg = {.l_onoff = 1, .l_linger = 0};
  if (setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)) != 0) bench_die("SO_LINGER");
  if (close(s) != 0) bench_die("close");
}

int main(int argc, char **argv) {
  long long n = bench_iterations(argc, argv, 0, "");
  int ln = socket(AF_INET, SOCK_STREAM, 0);
  if (ln < 0) bench_die("socket");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(addr);
  if (bind(ln, (struct sockaddr *)&addr, sizeof(addr)) != 0) bench_die("bind");
  if (listen(ln, 128) != 0) bench_die("listen");
  if (getsockname(ln, (struct sockaddr *)&addr, &len) != 0) bench_die("getsockname");

  pid_t pid = fork();
  if (pid < 0) bench_die("fork");
  if (pid == 0) {
    /* The warm-up connection, then the measured ones. */
    for (long long i = 0; i < n + 1; i++) {
      int c = accept(ln, NULL, NULL);
      if (c < 0) bench_die("accept");
      if (close(c) != 0) bench_die("server close");
    }
    _exit(0);
  }
  close(ln);

  /* One untimed connection, so the server is known to be accepting. */
  connect_once(&addr);
  long long start = bench_now_ns();
  for (long long i = 0; i < n; i++) connect_once(&addr);
  long long total = bench_now_ns() - start;

  int status;
  if (waitpid(pid, &status, 0) != pid) bench_die("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "server ended with status %#x\n", status);
    return 1;
  }
  bench_report("tcp_connect", n, total);
  return 0;
}
