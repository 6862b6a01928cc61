#!/usr/bin/env bash
# Build the Bun helper binary and the C launcher into dist/.
#   HELPER_PATH: where the helper will be installed (baked into the launcher).
#   DIST: output directory instead of dist/ (scripts/deb.sh builds its own).
set -euo pipefail
cd "$(dirname "$0")/.."
HELPER_PATH=${HELPER_PATH:-/usr/local/lib/fusermount3/fusermount3-bun}
case "$HELPER_PATH" in /*) ;; *) echo "build: HELPER_PATH must be absolute" >&2; exit 1 ;; esac
BUN=./node_modules/.bin/bun
[ -x "$BUN" ] || { echo "build: bun not installed; run 'npm ci' first" >&2; exit 1; }
command -v cc >/dev/null || { echo "build: no C compiler (apt-get install gcc)" >&2; exit 1; }
out=${DIST:-dist}
mkdir -p "$out"
"$BUN" build --compile --bytecode --format=esm --minify \
  --no-compile-autoload-dotenv --no-compile-autoload-bunfig --compile-jit-policy=10 \
  bin/fusermount3.ts src/serviceworker.ts --outfile "$out/fusermount3-bun" >/dev/null
cc -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -fPIE -static-pie -fstack-protector-strong \
  -D_FORTIFY_SOURCE=2 -Wl,-z,relro,-z,now \
  -DHELPER_PATH="\"$HELPER_PATH\"" src/launcher/fusermount3.c -o "$out/fusermount3"
echo "built $out/fusermount3 (launcher for $HELPER_PATH) and $out/fusermount3-bun"
