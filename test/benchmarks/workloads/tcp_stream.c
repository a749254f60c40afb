/*
 * tcp_stream: one process sends to another over a TCP connection on
 * 127.0.0.1 in 64 KiB writes; one iteration is one MiB delivered (the
 * receiver has read it all when the clock stops), so the time per
 * iteration is the inverse of single-stream loopback throughput.
 */
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "bench.h"

#define CHUNK (64 << 10)
#define MIB (1 << 20)

int main(int argc, char **argv) {
  long long n = bench_iterations(argc, argv, 0, "");
  int ln = socket(AF_INET, SOCK_STREAM, 0);
  if (ln < 0) bench_die("socket");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof(addr);
  if (bind(ln, (struct sockaddr *)&addr, sizeof(addr)) != 0) bench_die("bind");
  if (listen(ln, 1) != 0) bench_die("listen");
  if (getsockname(ln, (struct sockaddr *)&addr, &len) != 0) bench_die("getsockname");
  static char buf[CHUNK];

  pid_t pid = fork();
  if (pid < 0) bench_die("fork");
  if (pid == 0) {
    int c = accept(ln, NULL, NULL);
    if (c < 0) bench_die("accept");
    /* Read everything, then answer one byte: the sender's clock stops
     * when all of it has arrived, not when it left. */
    long long want = n * MIB, got = 0;
    while (got < want) {
      ssize_t r = read(c, buf, sizeof(buf));
      if (r <= 0) bench_die("receiver read");
      got += r;
    }
    if (write(c, "k", 1) != 1) bench_die("receiver write");
    _exit(0);
  }
  close(ln);
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) bench_die("socket");
  if (connect(s, (struct sockaddr *)&addr, sizeof(addr)) != 0) bench_die("connect");
  memset(buf, 'x', sizeof(buf));

  long long start = bench_now_ns();
  for (long long i = 0; i < n; i++) {
    for (int off = 0; off < MIB; off += CHUNK) {
      ssize_t done = 0;
      while (done < CHUNK) {
        ssize_t w = write(s, buf + done, CHUNK - done);
        if (w <= 0) bench_die("write");
        done += w;
      }
    }
  }
  char k;
  if (read(s, &k, 1) != 1) bench_die("read the receiver's answer");
  long long total = bench_now_ns() - start;

  close(s);
  int status;
  if (waitpid(pid, &status, 0) != pid) bench_die("waitpid");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    fprintf(stderr, "receiver ended with status %#x\n", status);
    return 1;
  }
  bench_report("tcp_stream", n, total);
  return 0;
}
