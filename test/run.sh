#!/usr/bin/env bash
# Runs every test (npm test).
#  - unit tests of the pure modules, under Node;
#  - as root: installs the Debian packages the tests use if any is missing
#    (apt-get, non-interactive; FM_TEST_NO_APT=1 to never do that), builds and
#    installs the helper set-uid into a temporary prefix, creates the
#    unprivileged test users, and runs the integration, real-client and
#    differential tests as those users, all inside a private mount namespace so
#    that nothing they mount or bind is visible to (or left on) the machine;
#  - as another user: the unit tests only, and one line saying what was skipped.
# Arguments name test files to run instead of the whole suite.
# Ends with the line "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules/tap ] && [ -x node_modules/.bin/bun ] || npm ci --no-audit --no-fund >/dev/null

# The Debian packages the integration tests use (install_test_packages).
. test/lib/packages.sh

# One run at a time on a machine: runs share /dev/fuse's mode, the test users
# and dpkg.
if [ "$(id -u)" = 0 ]; then
  exec 9>/run/lock/fusermount3-ts-tests.lock 2>/dev/null || exec 9>/tmp/fusermount3-ts-tests.lock
  flock 9
  install_test_packages
fi

log=$(mktemp /tmp/fm-test-log.XXXXXX)
cleanup() {
  [ -n "${fuse_mode:-}" ] && chmod "$fuse_mode" /dev/fuse 2>/dev/null
  [ -n "${FM_TEST_PREFIX:-}" ] && [ -d "$FM_TEST_PREFIX" ] && rm -rf -- "$FM_TEST_PREFIX"
  rm -f -- "$log"
}
trap cleanup EXIT

files=(test/unit)
runner=()
if [ "$(id -u)" = 0 ]; then
  # /var/tmp: on the root filesystem, which is not mounted nosuid.
  FM_TEST_PREFIX=$(mktemp -d /var/tmp/fm-test-prefix.XXXXXX)
  chmod 755 "$FM_TEST_PREFIX"
  export FM_TEST_PREFIX
  ./install.sh --prefix "$FM_TEST_PREFIX" >/dev/null || { echo "test: install failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
  # Tools the test users run are compiled into the prefix: the checkout itself
  # may sit where they cannot read it (/root).
  tool() { # OUTPUT-NAME SOURCE [bun build flags]
    local out=$1 src=$2; shift 2
    ./node_modules/.bin/bun build --compile "$@" "$src" --outfile "$FM_TEST_PREFIX/tools/$out" >/dev/null \
      || { echo "test: building $src failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
  }
  tool fakeclient test/tools/fakeclient.ts
  tool syncpeer test/tools/syncpeer.ts
  tool exchange test/tools/exchange.ts
  tool faultpeer test/tools/faultpeer.ts
  tool hello examples/hello/main.ts
  tool fuzz test/fuzz/run.ts
  tool syslogsink test/tools/syslogsink.ts
  tool serviceclient test/tools/serviceclient.ts
  for c_tool in nosyscall manymounts; do
    cc -O2 -Wall -o "$FM_TEST_PREFIX/tools/$c_tool" "test/tools/$c_tool.c" \
      || { echo "test: building $c_tool failed"; echo "0 passed, 1 failed"; exit 1; }
  done
  # A helper with a 2-second proceed timeout, for the timeout test only. It is
  # never set-uid and never installed; the tests run it as root directly.
  tool fusermount3-bun-short-timeout bin/fusermount3.ts --define FM_TEST_PROCEED_TIMEOUT=2 \
    --no-compile-autoload-dotenv --no-compile-autoload-bunfig
  chmod -R a+rX "$FM_TEST_PREFIX/tools"
  for u in fmtest fmtest2; do id "$u" >/dev/null 2>&1 || useradd -M -d /nonexistent -s /usr/sbin/nologin "$u"; done
  if [ -e /dev/fuse ]; then
    fuse_mode=$(stat -c %a /dev/fuse)
    chmod 666 /dev/fuse
  fi
  files+=(test/integration)
  # The tests' own user-space mount table: a private tmpfs on /run/mount with
  # an empty utab (the state the helper records into), so that no record of a
  # test mount ever reaches the machine's /run/mount/utab, where it would
  # outlive the mount when the namespace goes.
  mkdir -p /run/mount
  runner=(unshare -m --propagation private -- bash -c \
    'mount -t tmpfs -o mode=0755,size=4m fm-test-mount-table /run/mount && : > /run/mount/utab && exec "$@"' fm-test)
fi

[ $# -gt 0 ] && files=("$@")
# The type check is part of the test: strict TypeScript over everything.
typecheck=0
if ./node_modules/.bin/tsc --noEmit -p . > "$log.tsc" 2>&1; then
  echo "ok - tsc --noEmit (strict) found no error"
else
  typecheck=1
  cat "$log.tsc"
  echo "not ok - tsc --noEmit (strict) found errors"
fi
rm -f -- "$log.tsc"
test_records() { grep -o 'TARGET=/tmp/fm-[^ ]*' /run/mount/utab 2>/dev/null | sort; }
records_before=$(test_records)
"${runner[@]}" ./node_modules/.bin/tap --jobs=1 --reporter=tap "${files[@]}" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# The machine's utab must not have gained records of test mounts.
leaked=0
if [ "$(id -u)" = 0 ] && [ "$(test_records)" != "$records_before" ]; then
  leaked=1
  echo "not ok - records of test mounts were left in the machine's /run/mount/utab:"
  comm -13 <(printf '%s\n' "$records_before") <(test_records) | sed 's/^/#   /'
fi
summary=$(grep -E '^# \{ total: [0-9]+' "$log" | tail -1)
pass=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary"); pass=${pass:-0}
fail=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary"); fail=${fail:-0}
skip=$(sed -nE 's/.*skip: ([0-9]+).*/\1/p' <<<"$summary"); skip=${skip:-0}
if [ "$rc" != 0 ] && [ "$fail" = 0 ]; then fail=1; fi
if [ "$typecheck" = 1 ]; then fail=$((fail + 1)); rc=1; else pass=$((pass + 1)); fi
if [ "$leaked" = 1 ]; then fail=$((fail + 1)); rc=1; fi
if [ "$(id -u)" != 0 ] && { [ $# -eq 0 ] || printf '%s\n' "$@" | grep -q integration; }; then
  echo "test: not root, so the integration tests were skipped (test/integration: real mounts as unprivileged test users, the comparison with the C helper, install); to run them too: sudo npm test"
fi
echo "$pass passed, $fail failed, $skip skipped"
exit "$rc"
