#!/bin/sh
# nginx_wrk: requests per second of nginx serving a 4 KiB static file to
# wrk over 127.0.0.1, both in the same place (natively, or in one
# sandbox). One operation is one HTTP request and its response.
#
# usage: nginx_wrk.sh SECONDS PORT SCRATCH_DIR
# Prints a RESULT line (see bench.h) with iterations = requests completed
# and total_ns = their number divided by wrk's rate; exits 1 on any
# failure, a socket error or a non-2xx response included.
set -u
[ $# -eq 3 ] || { echo "usage: $0 SECONDS PORT SCRATCH_DIR" >&2; exit 2; }
secs=$1 port=$2 dir=$3/nginx_wrk.$$
mkdir -p "$dir/www" || exit 1
# The same 4 KiB of printable bytes every run.
awk 'BEGIN { for (i = 0; i < 64; i++) printf "%063d\n", i }' >"$dir/www/file.txt"
cat >"$dir/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 256; }
http {
	access_log off;
	client_body_temp_path $dir/body;
	proxy_temp_path $dir/proxy;
	fastcgi_temp_path $dir/fastcgi;
	server {
		listen 127.0.0.1:$port;
		root $dir/www;
	}
}
CONF
url=http://127.0.0.1:$port/file.txt
nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/server.log" 2>&1 &
srv=$!
i=0
until curl -sf -o /dev/null "$url"; do
	if ! kill -0 $srv 2>/dev/null || [ $i -ge 600 ]; then
		echo "nginx did not start:" >&2; cat "$dir/server.log" "$dir/error.log" >&2; kill -9 $srv 2>/dev/null; exit 1
	fi
	i=$((i + 1)); sleep 0.1
done
wrk -t 1 -c 8 -d "${secs}s" "$url" >"$dir/wrk.out" 2>&1
rc=$?
kill $srv; wait $srv
if [ $rc -ne 0 ] || grep -q -e 'Socket errors' -e 'Non-2xx' "$dir/wrk.out"; then
	echo "wrk failed (exit $rc):" >&2; cat "$dir/wrk.out" >&2; exit 1
fi
awk '
/ requests in / { n = $1 }
/^Requests\/sec:/ { rate = $2 }
END {
	if (n < 1 || rate <= 0) { print "no request count or rate in wrk output" > "/dev/stderr"; exit 1 }
	total = sprintf("%.0f", n / rate * 1e9)
	printf "RESULT name=nginx_wrk iterations=%d total_ns=%s ns_per_op=%.3f\n", n, total, total / n
}' "$dir/wrk.out" || { cat "$dir/wrk.out" >&2; exit 1; }
rm -rf "$dir"
