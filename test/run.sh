#!/usr/bin/env bash
# Runs every test (npm test).
#  - unit tests of the pure modules, under Node;
#  - as root: installs the Debian packages the tests use if any is missing
#    (apt-get, non-interactive; FM_TEST_NO_APT=1 to never do that), builds and
#    installs the helper set-uid into a temporary prefix, creates the
#    unprivileged test users, and runs the integration, real-client and
#    differential tests as those users, all inside a private mount namespace so
#    that nothing they mount or bind is visible to (or left on) the machine;
#  - as root, the integration tests a second time in service mode
#    (FM_TEST_MODE=service, test/lib/harness.ts): a root
#    `fusermount3-bun --service` on a private /run/fusermount3, the launcher
#    without its set-uid bit, every caller of it under setpriv --no-new-privs;
#  - as another user: the unit tests only, and one line saying what was skipped.
# Arguments name test files to run instead of the whole suite (the integration
# files among them run in both passes).
# Ends with the line "N passed, N failed, N skipped", over both passes.
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
  # The mountpoint of the service pass's /run/fusermount3, if this run made it.
  [ -n "${made_service_dir:-}" ] && rmdir /run/fusermount3 2>/dev/null
  rm -f -- "$log" "$log".*
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
  cc -O2 -Wall -static -o "$FM_TEST_PREFIX/tools/argv0" test/tools/argv0.c \
    || { echo "test: building argv0 failed"; echo "0 passed, 1 failed"; exit 1; }
  # A helper with a 2-second proceed timeout, for the timeout test only. It is
  # never set-uid and never installed; the tests run it as root directly.
  tool fusermount3-bun-short-timeout bin/fusermount3.ts --define FM_TEST_PROCEED_TIMEOUT=2 \
    --no-compile-autoload-dotenv --no-compile-autoload-bunfig
  chmod -R a+rX "$FM_TEST_PREFIX/tools"
  # The service pass's launcher: the installed one without the set-uid bit
  # (fusermount3.real), behind test/tools/nnpguard.c, which refuses to run it
  # without no-new-privs (so every run in that pass is a run under NNP).
  install -d -m 0755 "$FM_TEST_PREFIX/service"
  install -m 0755 "$FM_TEST_PREFIX/bin/fusermount3" "$FM_TEST_PREFIX/service/fusermount3.real"
  cc -O2 -Wall -static -DLAUNCHER="\"$FM_TEST_PREFIX/service/fusermount3.real\"" \
    -o "$FM_TEST_PREFIX/service/fusermount3" test/tools/nnpguard.c \
    || { echo "test: building nnpguard failed"; echo "0 passed, 1 failed"; exit 1; }
  chmod 0755 "$FM_TEST_PREFIX/service/fusermount3"
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
  # /run/fusermount3 gets a tmpfs of its own in both passes: empty in the
  # set-uid pass (a service of the machine must not answer the tests), the
  # test service's socket in the service pass. The directory is made only if
  # the machine has none, and removed again at the end.
  if [ ! -d /run/fusermount3 ]; then mkdir -m 0755 /run/fusermount3 && made_service_dir=1; fi
  runner=(unshare -m --propagation private -- bash -c \
    'mount -t tmpfs -o mode=0755,size=4m fm-test-mount-table /run/mount && : > /run/mount/utab &&
     mount -t tmpfs -o mode=0755,size=1m fm-test-service /run/fusermount3 && exec "$@"' fm-test)
fi

[ $# -gt 0 ] && files=("$@")
# The service pass runs the integration files among them.
service_files=()
if [ "$(id -u)" = 0 ]; then
  for f in "${files[@]}"; do
    case "$f" in *integration*) service_files+=("$f") ;; esac
  done
fi
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
pass=0 fail=0 skip=0 rc=0
# Adds a tap log's summary to the totals (a failed run without one counts 1).
count() { # LOG RC
  local summary p f s
  summary=$(grep -E '^# \{ total: [0-9]+' "$1" | tail -1)
  p=$(sed -nE 's/.*pass: ([0-9]+).*/\1/p' <<<"$summary")
  f=$(sed -nE 's/.*fail: ([0-9]+).*/\1/p' <<<"$summary")
  s=$(sed -nE 's/.*skip: ([0-9]+).*/\1/p' <<<"$summary")
  f=${f:-0}
  if [ "$2" != 0 ] && [ "$f" = 0 ]; then f=1; fi
  pass=$((pass + ${p:-0})) fail=$((fail + f)) skip=$((skip + ${s:-0}))
  if [ "$2" != 0 ]; then rc=1; fi
}

# FM_TEST_PASSES (default "setuid service") names the passes to run, e.g.
# FM_TEST_PASSES=service npm test -- FILE while working on the service mode.
passes=" ${FM_TEST_PASSES:-setuid service} "

# Pass 1: everything, the integration tests through the set-uid launcher.
if [[ "$passes" == *" setuid "* ]]; then
  start=$SECONDS
  FM_TEST_MODE=setuid "${runner[@]}" ./node_modules/.bin/tap --jobs=1 --reporter=tap "${files[@]}" 2>&1 | tee "$log"
  count "$log" "${PIPESTATUS[0]}"
  echo "# pass 1 (set-uid): $((SECONDS - start)) s"
fi

# Pass 2: the integration tests in service mode. In the test namespace, a
# root `fusermount3-bun --service` (the installed helper) listens on the
# namespace's own /run/fusermount3; it is stopped by PID after the pass, and
# its stderr is shown if the pass failed or it wrote more than its start line.
# The checks after the pass (the service stopped on SIGTERM, no helper process
# and no FUSE mount left) are counted as tests.
if [ ${#service_files[@]} -gt 0 ] && [[ "$passes" == *" service "* ]]; then
  start=$SECONDS
  : > "$log.service"
  echo "0 1" > "$log.checks"
  FM_TEST_MODE=service "${runner[@]}" bash -c '
    svclog=$1 checks=$2; shift 2
    helper=$FM_TEST_PREFIX/lib/fusermount3/fusermount3-bun
    passed=0 failed=0
    ok() { echo "ok - $1"; passed=$((passed + 1)); }
    check() { echo "not ok - $1"; failed=$((failed + 1)); }
    (cd / && exec env -i "$helper" --service) 2>"$svclog" &
    svc=$!
    for _ in $(seq 200); do [ -S /run/fusermount3/service.sock ] && break; sleep 0.05; done
    if [ ! -S /run/fusermount3/service.sock ]; then
      check "the service did not start"; kill -9 "$svc" 2>/dev/null; echo "$passed $failed" > "$checks"; exit 1
    fi
    FM_TEST_SERVICE_PID=$svc ./node_modules/.bin/tap --jobs=1 --reporter=tap "$@"
    rc=$?
    if ! kill -0 "$svc" 2>/dev/null; then
      check "the service (pid $svc) ended during the pass"
    else
      kill -TERM "$svc"
      for _ in $(seq 100); do kill -0 "$svc" 2>/dev/null || break; sleep 0.05; done
      if kill -0 "$svc" 2>/dev/null; then check "the service (pid $svc) did not stop on SIGTERM"; kill -9 "$svc"
      else ok "the service ran through the pass and stopped on SIGTERM"; fi
    fi
    wait "$svc" 2>/dev/null
    # Nothing of the service may outlive the pass: no request child, no watch.
    left=()
    for p in /proc/[0-9]*; do
      [ "$(readlink "$p/exe" 2>/dev/null)" = "$helper" ] && left+=("${p#/proc/}")
    done
    if [ ${#left[@]} -gt 0 ]; then
      check "processes of the helper were left after the service pass: ${left[*]}"
      for p in "${left[@]}"; do echo "#   $p: $(tr "\0" " " < "/proc/$p/cmdline" 2>/dev/null)"; kill -9 "$p" 2>/dev/null; done
    else ok "no helper process left after the service pass"; fi
    # Nor any FUSE mount.
    if grep -q " - fuse" /proc/self/mountinfo; then
      check "FUSE mounts were left after the service pass"; grep " - fuse" /proc/self/mountinfo | sed "s/^/#   /"
    else ok "no FUSE mount left after the service pass"; fi
    echo "$passed $failed" > "$checks"
    exit $rc' fm-service "$log.service" "$log.checks" "${service_files[@]}" 2>&1 | tee "$log.2"
  prc=${PIPESTATUS[0]}
  count "$log.2" "$prc"
  read -r cpass cfail < "$log.checks"
  pass=$((pass + cpass)) fail=$((fail + cfail))
  if [ "$cfail" != 0 ]; then rc=1; fi
  if [ "$prc" != 0 ] || [ "$cfail" != 0 ] || grep -qv 'listening on' "$log.service"; then
    echo "# the service's stderr:"
    sed 's/^/#   /' "$log.service"
  fi
  echo "# pass 2 (service): $((SECONDS - start)) s"
fi

# The machine's utab must not have gained records of test mounts.
leaked=0
if [ "$(id -u)" = 0 ] && [ "$(test_records)" != "$records_before" ]; then
  leaked=1
  echo "not ok - records of test mounts were left in the machine's /run/mount/utab:"
  comm -13 <(printf '%s\n' "$records_before") <(test_records) | sed 's/^/#   /'
fi
if [ "$typecheck" = 1 ]; then fail=$((fail + 1)); rc=1; else pass=$((pass + 1)); fi
if [ "$leaked" = 1 ]; then fail=$((fail + 1)); rc=1; fi
if [ "$(id -u)" != 0 ] && { [ $# -eq 0 ] || printf '%s\n' "$@" | grep -q integration; }; then
  echo "test: not root, so the integration tests were skipped (test/integration: real mounts as unprivileged test users, the comparison with the C helper, install); to run them too: sudo npm test"
fi
echo "$pass passed, $fail failed, $skip skipped"
exit "$rc"
