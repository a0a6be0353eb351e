#!/usr/bin/env bash
# Installs the Debian packages eddy builds and tests with, if any is missing.
# Quiet and idempotent: does nothing when everything is present.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev
  libssl-dev zlib1g-dev libuv1-dev liburing-dev
  curl wrk valgrind python3 netcat-openbsd
  nginx
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  sudo=(sudo -n)
else
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: run as root or with sudo: apt-get install ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# nginx is only the HTTP benchmark's reference, run by bench/http.sh as the
# current user on a free loopback port: keep its package from starting a
# system nginx on port 80 (policy-rc.d answering 101 = "do not start").
policy=/usr/sbin/policy-rc.d
if [[ " ${missing[*]} " == *" nginx "* && ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod 755 "$policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" apt-get update -qq >/dev/null
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
