#!/usr/bin/env bash
# npm run fuzz -- [--seed N] [--cases M] [--only I] [--report FILE] ... (see test/fuzz/run.ts)
# Builds and installs the helper into a temporary prefix as test/run.sh does,
# compiles the fuzzer into it, and runs it as root. The build shares dist/ with
# test/run.sh, so it happens under that script's lock; the run itself uses only
# private resources (its own prefix, mount namespaces, /dev/fuse node and
# fuse.conf binds) and does not hold the lock.
set -uo pipefail
cd "$(dirname "$0")/../.."
for a in "$@"; do case "$a" in -h|--help) [ -x node_modules/.bin/bun ] || npm ci --no-audit --no-fund >/dev/null
  exec node_modules/.bin/bun test/fuzz/run.ts --help ;; esac; done
[ "$(id -u)" = 0 ] || { echo "fuzz: must be run as root (it installs a set-uid helper and makes mount namespaces)" >&2; exit 2; }
[ -x /usr/bin/fusermount3 ] || { echo "fuzz: the reference /usr/bin/fusermount3 is missing (apt-get install fuse3)" >&2; exit 2; }
[ -d node_modules/tap ] && [ -x node_modules/.bin/bun ] || npm ci --no-audit --no-fund >/dev/null

prefix=
cleanup() { [ -n "$prefix" ] && [ -d "$prefix" ] && rm -rf -- "$prefix"; }
trap cleanup EXIT

exec 9>/run/lock/fusermount3-ts-tests.lock 2>/dev/null || exec 9>/tmp/fusermount3-ts-tests.lock
flock 9
# /var/tmp: on the root filesystem, which is not mounted nosuid.
prefix=$(mktemp -d /var/tmp/fm-fuzz-prefix.XXXXXX)
chmod 755 "$prefix"
./install.sh --prefix "$prefix" >/dev/null || { echo "fuzz: install failed" >&2; exit 2; }
mkdir -p "$prefix/tools"
./node_modules/.bin/bun build --compile test/fuzz/run.ts --outfile "$prefix/tools/fuzz" >/dev/null \
  || { echo "fuzz: building test/fuzz/run.ts failed" >&2; exit 2; }
for u in fmtest fmtest2; do id "$u" >/dev/null 2>&1 || useradd -M -d /nonexistent -s /usr/sbin/nologin "$u"; done
flock -u 9
exec 9>&-

FM_TEST_PREFIX=$prefix "$prefix/tools/fuzz" "$@"
