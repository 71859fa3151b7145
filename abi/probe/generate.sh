#!/usr/bin/env bash
# Regenerate fixtures/layouts/<arch>.json and fixtures/vectors/<arch>/*.json
# from the installed Xen headers (Debian libxen-dev).
#
#   abi/probe/generate.sh [OUTDIR]     OUTDIR defaults to the repository's fixtures/
#
# x86_64 probes are compiled and run; i386, arm64 and arm32 probes are only
# cross-compiled and their record tables are read back from the object file.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
out="${1:-$root/fixtures}"
xen_include="${XEN_INCLUDE:-/usr/include/xen}"

arches=(x86_64 i386 arm64 arm32)
declare -A cc=([x86_64]=gcc [i386]=i686-linux-gnu-gcc [arm64]=aarch64-linux-gnu-gcc [arm32]=arm-linux-gnueabihf-gcc)
declare -A objcopy=([x86_64]=objcopy [i386]=i686-linux-gnu-objcopy [arm64]=aarch64-linux-gnu-objcopy [arm32]=arm-linux-gnueabihf-objcopy)

for tool in "${cc[@]}" "${objcopy[@]}"; do
    command -v "$tool" >/dev/null || { echo "generate.sh: missing $tool" >&2; exit 2; }
done
[ -f "$xen_include/hvm/dm_op.h" ] || { echo "generate.sh: no Xen headers at $xen_include (install libxen-dev)" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# An include directory holding only the Xen header tree, as <xen/...>.
mkdir -p "$tmp/inc"
ln -s "$xen_include" "$tmp/inc/xen"

cflags=(-std=gnu11 -O2 -Wall -Wextra -Werror -D__XEN_TOOLS__ -I"$tmp/inc" -I"$here")

# --- constants.h must list every object-like numeric #define of dm_op.h and ioreq.h
for hdr in hvm/dm_op.h hvm/ioreq.h; do
    printf '#include <stdint.h>\n#include <xen/%s>\n' "$hdr" |
        gcc -D__XEN_TOOLS__ -I"$tmp/inc" -E -dD -x c - |
        awk -v want="$hdr" '
            /^# [0-9]+ "/ { infile = index($3, want "\"") > 0; next }
            infile && /^#define [A-Za-z_][A-Za-z0-9_]*[ \t]/ {
                name = $2; val = $0; sub(/^#define [A-Za-z_][A-Za-z0-9_]*[ \t]+/, "", val)
                if (val ~ /[0-9]/ && name !~ /_H_*$/) print name
            }' >"$tmp/defines.txt"
    while read -r name; do
        grep -Eq "K\\($name\\)" "$here/constants.h" ||
            { echo "generate.sh: $name (xen/$hdr) is missing from constants.h" >&2; exit 1; }
    done <"$tmp/defines.txt"
done

# --- host build of the layout probe (also the reader for cross tables)
gcc "${cflags[@]}" -DPROBE_MAIN -o "$tmp/layouts" "$here/layouts.c"

mkdir -p "$out/layouts"
for arch in "${arches[@]}"; do
    # The cross compilers must see only their own sysroot plus the Xen tree.
    "${cc[$arch]}" "${cflags[@]}" -H -c -o "$tmp/layouts.$arch.o" "$here/layouts.c" 2>"$tmp/includes.$arch"
    if [ "$arch" != x86_64 ] && grep -qE '^\.+ /usr/include/' "$tmp/includes.$arch"; then
        echo "generate.sh: $arch build used host headers:" >&2
        grep -E '^\.+ /usr/include/' "$tmp/includes.$arch" >&2
        exit 1
    fi
    "${objcopy[$arch]}" -O binary --only-section=xendm_probe "$tmp/layouts.$arch.o" "$tmp/layouts.$arch.bin"
    "$tmp/layouts" --blob "$tmp/layouts.$arch.bin" --arch "$arch" >"$tmp/layout.$arch.json"
    if [ "$arch" = x86_64 ]; then
        # compile-and-run result must equal the object-file route
        "$tmp/layouts" --arch x86_64 >"$tmp/layout.run.json"
        cmp -s "$tmp/layout.run.json" "$tmp/layout.$arch.json" ||
            { echo "generate.sh: x86_64 run and object tables differ" >&2; diff "$tmp/layout.run.json" "$tmp/layout.$arch.json" >&2; exit 1; }
    fi
    cp "$tmp/layout.$arch.json" "$out/layouts/$arch.json"
done

# --- golden vectors (x86_64: compiled and run)
gcc "${cflags[@]}" -o "$tmp/vectors" "$here/vectors.c"
rm -rf "$out/vectors/x86_64"
mkdir -p "$out/vectors"
"$tmp/vectors" "$out/vectors"

# --- golden vectors for the cross targets: only the types whose layout or shape differs from x86_64,
#     read back from the object file of vectors_cross.c
declare -A cross_types=(
    [i386]=xen_dm_op_buf,privcmd_dm_op_buf,privcmd_dm_op
    [arm64]=xen_dm_op_buf
    [arm32]=xen_dm_op_buf,privcmd_dm_op_buf,privcmd_dm_op
)
for arch in i386 arm64 arm32; do
    "${cc[$arch]}" "${cflags[@]}" -H -c -o "$tmp/vectors.$arch.o" "$here/vectors_cross.c" 2>"$tmp/vincludes.$arch"
    if grep -qE '^\.+ /usr/include/' "$tmp/vincludes.$arch"; then
        echo "generate.sh: $arch vector build used host headers" >&2
        exit 1
    fi
    "${objcopy[$arch]}" -O binary --only-section=xendm_vectors "$tmp/vectors.$arch.o" "$tmp/vectors.$arch.bin"
    rm -rf "$out/vectors/$arch"
    "$tmp/vectors" --blob "$tmp/vectors.$arch.bin" --arch "$arch" --types "${cross_types[$arch]}" "$out/vectors"
done
