#!/usr/bin/env bash
# Regenerate the probe fixtures into a temporary directory and compare them
# with the committed fixtures/layouts and fixtures/vectors.
# Exit 0 when identical, 1 with a diff when they differ, 2 when the toolchain
# or the Xen headers are missing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
bash "$here/generate.sh" "$tmp"
status=0
for sub in layouts vectors; do
    diff -ru "$root/fixtures/$sub" "$tmp/$sub" || status=1
done
if [ "$status" -ne 0 ]; then
    echo "check.sh: fixtures differ from what the probes generate (run: npm run fixtures)" >&2
    exit 1
fi
echo "check.sh: fixtures match the probes"
