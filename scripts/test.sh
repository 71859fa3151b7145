#!/usr/bin/env bash
# npm test: the whole suite on a fresh Debian machine. Installs the Debian packages the native parts need
# (scripts/setup.sh), builds native/, type-checks, lints, runs every vitest suite, and ends with one
# summary line "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
if [ "${CI:-}" = "true" ]; then
  bash scripts/setup.sh || exit 1
  make -s -C native || exit 1
else
  # On a developer machine without root or without the Debian packages, the native suites skip loudly.
  bash scripts/setup.sh || echo "test: WARNING: could not install the Debian packages; native suites will skip" >&2
  make -s -C native || echo "test: WARNING: native/ did not build; native suites will skip" >&2
fi
npx tsc -p tsconfig.json --noEmit || exit 1
npx eslint . || exit 1
report="$(mktemp -t xendm-vitest.XXXXXX.json)"
npx vitest run --reporter=default --reporter=json --outputFile.json="$report"
rc=$?
# The shim's suites once more on the socket path (the run above takes the shared-memory fast path).
report2="$(mktemp -t xendm-vitest.XXXXXX.json)"
XENDM_SHIM_FASTPATH=0 npx vitest run test/native test/conform test/transport/privcmd-shim.test.ts \
  --reporter=default --reporter=json --outputFile.json="$report2" || rc=1
node -e '
const rs = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
const sum = (k) => rs.reduce((n, r) => n + (r[k] ?? 0), 0);
console.log(`${sum("numPassedTests")} passed, ${sum("numFailedTests")} failed, ${sum("numPendingTests") + sum("numTodoTests")} skipped`);
' "$report" "$report2" || echo "0 passed, 1 failed"
rm -f "$report" "$report2"
exit $rc
