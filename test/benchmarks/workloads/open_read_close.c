/*
 * open_read_close: open, read and close a small file, the path-walk and
 * file-table cost that every program start and config read pays. The file
 * is created in the directory given on the command line, so in the sandbox
 * it lives wherever the sandbox puts writes.
 */
#include <fcntl.h>

#include "bench.h"

enum { kFileSize = 128 };

int main(int argc, char **argv) {
  long long n = bench_iterations(argc, argv, 1, "DIR");
  char path[4096];
  if (snprintf(path, sizeof(path), "%s/open_read_close.dat", argv[2]) >=
      (int)sizeof(path)) {
    errno = ENAMETOOLONG;
    bench_die("path");
  }

  char data[kFileSize];
  memset(data, 'x', sizeof(data));
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) bench_die("create");
  if (write(fd, data, sizeof(data)) != (ssize_t)sizeof(data)) bench_die("write");
  if (close(fd) != 0) bench_die("close");

  char buf[4096];
  long long start = bench_now_ns();
  for (long long i = 0; i < n; i++) {
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) bench_die("open");
    if (read(fd, buf, sizeof(buf)) != kFileSize) bench_die("read");
    if (close(fd) != 0) bench_die("close");
  }
  long long total = bench_now_ns() - start;
  unlink(path);
  bench_report("open_read_close", n, total);
  return 0;
}
