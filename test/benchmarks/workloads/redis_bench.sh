#!/bin/sh
# redis_bench: operations per second of redis-server driven by
# redis-benchmark (50 clients, SET then GET) over 127.0.0.1, both in the
# same place (natively, or in one sandbox). One operation is one request
# and its reply.
#
# usage: redis_bench.sh REQUESTS PORT SCRATCH_DIR
# REQUESTS is per command. Prints a RESULT line (see bench.h) with
# iterations = all requests and total_ns = the time the benchmark's own
# rates imply for them; exits 1 on any failure.
set -u
[ $# -eq 3 ] || { echo "usage: $0 REQUESTS PORT SCRATCH_DIR" >&2; exit 2; }
n=$1 port=$2 dir=$3/redis_bench.$$
mkdir -p "$dir" || exit 1
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >"$dir/server.log" 2>&1 &
srv=$!
i=0
until redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; do
	if ! kill -0 $srv 2>/dev/null || [ $i -ge 600 ]; then
		echo "redis-server did not start:" >&2; cat "$dir/server.log" >&2; kill -9 $srv 2>/dev/null; exit 1
	fi
	i=$((i + 1)); sleep 0.1
done
redis-benchmark -p "$port" -n "$n" -t set,get --csv >"$dir/bench.out" 2>&1
rc=$?
kill $srv; wait $srv
[ $rc -eq 0 ] || { echo "redis-benchmark failed (exit $rc):" >&2; cat "$dir/bench.out" >&2; exit 1; }
awk -F'"' -v n="$n" '
$2 == "SET" || $2 == "GET" { if ($4 > 0) { tests++; secs += n / $4 } }
END {
	if (tests != 2) { print "no SET and GET rates in redis-benchmark output" > "/dev/stderr"; exit 1 }
	total = sprintf("%.0f", secs * 1e9)
	printf "RESULT name=redis_bench iterations=%d total_ns=%s ns_per_op=%.3f\n", 2 * n, total, total / (2 * n)
}' "$dir/bench.out" || { cat "$dir/bench.out" >&2; exit 1; }
rm -rf "$dir"
