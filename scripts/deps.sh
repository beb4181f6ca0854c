#!/usr/bin/env bash
# Install the Debian 12 packages tillpipe builds, tests and demos with.
# Idempotent: does nothing when everything is already there.
set -euo pipefail

packages=(build-essential cmake pkg-config libjansson-dev libsodium-dev check libsubunit-dev
          libcurl4-openssl-dev libarchive-dev libs3-dev libmicrohttpd-dev libjwt-dev nettle-dev libseccomp-dev curl
          libpq-dev postgresql postgresql-client
          binutils clang-format iproute2
          clang libclang-rt-14-dev) # the fuzzers (tests/fuzz/): clang and its libFuzzer runtime
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The S3 test server (s3rver) runs on Node.js: Debian's, unless one is there.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
