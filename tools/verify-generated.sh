#!/usr/bin/env bash
# Regenerates every generated file in a scratch copy of the work tree and
# fails if any differs from the copy here, so a stale or hand-edited
# generated file cannot land. Works on a dirty tree too.
set -euo pipefail
cd "$(dirname "$0")/.."
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$scratch" 2>/dev/null || true
(cd "$scratch" && go generate ./...)
if ! diff -r -q . "$scratch" -x .git -x bin >/tmp/verify-generated.diff 2>&1; then
	grep -v '^Only in \./' /tmp/verify-generated.diff > /tmp/verify-generated.real || true
	if [ -s /tmp/verify-generated.real ]; then
		echo "verify-generated: generated files are stale; run 'make generate' and commit:" >&2
		cat /tmp/verify-generated.real >&2
		exit 1
	fi
fi
echo "verify-generated: generated files are up to date"
