#!/usr/bin/env bash
# Installs what building and testing appkernel needs on a Debian machine:
# Debian packages for the C tests and test images, and a Go toolchain new
# enough for go.mod. Safe to run again: it only installs what is missing.
set -euo pipefail

want_go=$(awk '/^go /{print $2}' "$(dirname "$0")/../go.mod")
packages=(gcc libc6-dev make git busybox-static ca-certificates qemu-user-static strace gdb python3 curl iproute2
	nginx redis-server redis-tools wrk)
# Servers the e2e and benchmark suites run inside the sandbox, each with a
# configuration of its own; none may run as a host service.
services=(nginx redis-server)

sudo_if_needed() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		echo "install-deps: need root to run: $*" >&2; return 1; fi
}

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "install-deps: installing ${missing[*]}"
	# Debian starts a service when its package is installed unless
	# policy-rc.d forbids it (exit 101); keep an existing policy (a
	# container image's) and remove only our own.
	own_policy=""
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		own_policy=1
		trap 'sudo_if_needed rm -f /usr/sbin/policy-rc.d' EXIT
		printf '#!/bin/sh\nexit 101\n' | sudo_if_needed tee /usr/sbin/policy-rc.d >/dev/null
		sudo_if_needed chmod 755 /usr/sbin/policy-rc.d
	fi
	sudo_if_needed apt-get update -qq
	sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
	if [ -n "$own_policy" ]; then
		sudo_if_needed rm -f /usr/sbin/policy-rc.d
		trap - EXIT
	fi
fi
# Not at boot either, and stopped in case something started them anyway,
# so that nothing listens on the host's ports 80 and 6379.
for s in "${services[@]}"; do
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
		sudo_if_needed systemctl disable --now "$s" >/dev/null 2>&1 || true
	elif [ -x "/etc/init.d/$s" ]; then
		sudo_if_needed update-rc.d "$s" disable >/dev/null 2>&1 || true
		sudo_if_needed "/etc/init.d/$s" stop >/dev/null 2>&1 || true
	fi
done

# version_ge A B: is Go version A at least B?
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }

go_bin=""
for g in go /usr/local/go/bin/go; do
	if command -v "$g" >/dev/null; then go_bin=$(command -v "$g"); break; fi
done
have_go=""
[ -n "$go_bin" ] && have_go=$("$go_bin" env GOVERSION 2>/dev/null | sed 's/^go//') || true
if [ -n "$have_go" ] && version_ge "$have_go" "$want_go"; then
	exit 0
fi

# Debian's own Go is older than go.mod asks for; it can still fetch the
# official toolchain, which the Go module proxy serves as a module.
if [ -z "$go_bin" ]; then
	echo "install-deps: installing Debian's golang-go to bootstrap Go $want_go"
	sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
	go_bin=$(command -v go)
fi
arch=$(dpkg --print-architecture)
mod="golang.org/toolchain@v0.0.1-go${want_go}.linux-${arch}"
echo "install-deps: fetching $mod"
dir=$(cd /tmp && GOFLAGS=-mod=mod GO111MODULE=on "$go_bin" mod download -json "$mod" | awk -F'"' '/"Dir"/{print $4}')
sudo_if_needed rm -rf /usr/local/go
sudo_if_needed cp -r "$dir" /usr/local/go
sudo_if_needed chmod -R u+w /usr/local/go
echo "install-deps: Go $(/usr/local/go/bin/go env GOVERSION) in /usr/local/go"
