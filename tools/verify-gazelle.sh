#!/usr/bin/env bash
# Runs gazelle on a scratch copy of the work tree and fails if the BUILD
# files or Go repository rules it writes differ from the ones here.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$scratch" 2>/dev/null || true
(cd "$scratch" && make -s gazelle >/dev/null)
if ! diff -r -q . "$scratch" -x .git -x bin >/tmp/verify-gazelle.diff 2>&1; then
	grep -v '^Only in \./' /tmp/verify-gazelle.diff > /tmp/verify-gazelle.real || true
	if [ -s /tmp/verify-gazelle.real ]; then
		echo "verify-gazelle: BUILD files are not what gazelle writes; run 'make gazelle' and commit:" >&2
		cat /tmp/verify-gazelle.real >&2
		exit 1
	fi
fi
echo "verify-gazelle: BUILD files are up to date"
