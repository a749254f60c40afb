/*
 * tcp_rr: two processes pass one byte back and forth over a TCP
 * connection on 127.0.0.1 (TCP_NODELAY); one iteration is a full request
 * and response, the latency floor of a local client and server.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench.h"

int main(int argc, char **argv) {
  long long n = bench_iterations(argc, argv, 0, "");
  int ln = socket(AF_INET, SOCK_STREAM, 0);
  if (ln < 0) bench_die("socket");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(addr);
  if (bind(ln, (struct sockaddr *)&addr, sizeof(addr)) != 0) bench_die("bind");
  if (listen(ln, 1) != 0) bench_die("listen");
  if (getsockname(ln, (struct sockaddr *)&addr, &len) != 0) bench_die("getsockname");

  pid_t pid = fork();
  if (pid < 0) bench_die("fork");
  if (pid == 0) {
    int c = accept(ln, NULL, NULL);
    if (c < 0) bench_die("accept");
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    char b;
    for (;;) {
      ssize_t r = read(c, &b, 1);
      if (r == 0) _exit(0); /* the client closed: done */
      if (r != 1) bench_die("server read");
      if (write(c, &b, 1) != 1) bench_die("server write");
    }
  }
  close(ln);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) bench_die("socket");
  if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) != 0) bench_die("connect");
  int one = 1;
  setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

  char b = 'r';
  /* One untimed round trip, so the server is known to be running. */
  if (write(s, &b, 1) != 1 || read(s, &b, 1) != 1) bench_die("warm-up");

  long long start = bench_now_ns();
  for (long long i = 0; i < n; i++) {
    if (write(s, &b, 1) != 1) bench_die("write");
    if (read(s, &b, 1) != 1) bench_die("read");
  }
  long long total = bench_now_ns() - start;

  close(s);
  int status;
  if (waitpid(pid, &status, 0) != pid) bench_die("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "server ended with status %#x\n", status);
    return 1;
  }
  bench_report("tcp_rr", n, total);
  return 0;
}
