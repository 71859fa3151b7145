#!/usr/bin/env bash
# Installs the Debian packages the native parts, the C oracle and the integration suites need (gcc, libxen-dev,
# cross compilers, the real QEMU device model and the real xenstore clients).
# Idempotent: does nothing when everything is already present. Needs root (or sudo) on a fresh machine.
set -euo pipefail
pkgs=(gcc make libc6-dev libxen-dev gcc-i686-linux-gnu gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf qemu-system-xen xenstore-utils strace)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: missing Debian packages (${missing[*]}) and no apt-get; native suites will skip outside CI" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
