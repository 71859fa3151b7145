#!/usr/bin/env bash
# Build and run the C baseline of the codec benchmarks (abi/probe/bench_codec.c) with gcc -O2.
#
#   abi/probe/bench_codec.sh [ITERATIONS]
#
# Prints one JSON line: {"xen_dm_op":{"encode_ns":..,"decode_ns":..},"ioreq_t":{...}},
# nanoseconds per operation, median of 5 runs (default 2000000 iterations per run).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
xen_include="${XEN_INCLUDE:-/usr/include/xen}"
command -v gcc >/dev/null || { echo "bench_codec.sh: gcc is required" >&2; exit 2; }
[ -f "$xen_include/hvm/dm_op.h" ] || { echo "bench_codec.sh: no Xen headers at $xen_include (install libxen-dev)" >&2; exit 2; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/inc"
ln -s "$xen_include" "$tmp/inc/xen"
gcc -std=gnu11 -O2 -Wall -Wextra -Werror -D__XEN_TOOLS__ -I"$tmp/inc" -I"$here" -o "$tmp/bench_codec" "$here/bench_codec.c"
"$tmp/bench_codec" "$@"
