# Sourced by test/run.sh: the Debian packages the integration tests use, and
# install_test_packages, which installs the missing ones as root (apt-get
# update only then; non-interactive, without stdin). FM_TEST_NO_APT=1: never.
# Tested with stub dpkg-query/apt-get by test/unit/packages.test.ts.

# What the integration tests run besides our own code: the reference C helper
# and /etc/fuse.conf (fuse3), real FUSE clients (bindfs, squashfuse, fuse-zip
# and the tools that make their images), a compiler for the launcher, the
# util-linux tools the tests and install.sh use (unshare, setpriv, runuser,
# findmnt, script, mount), useradd, pgrep, man for the man page check; apparmor
# and lintian for the AppArmor profile and Debian package tests (dpkg-dev for
# the exact libc6 dependency); python3 for sockets of other kinds and deep cwds;
# systemd for systemd-analyze verify and systemd-socket-activate (the service's
# units, run without systemd as PID 1).
TEST_PACKAGES=(fuse3 bindfs squashfuse fuse-zip squashfs-tools zip gcc libc6-dev util-linux bsdutils mount
  passwd procps man-db groff-base apparmor lintian dpkg-dev python3 systemd)

# Installs the missing ones (apt-get update only then), without stdin.
install_test_packages() {
  local need=() pkg out
  [ "${FM_TEST_NO_APT:-}" = 1 ] && return 0
  command -v dpkg-query >/dev/null && command -v apt-get >/dev/null || {
    echo "test: no dpkg-query/apt-get: not installing ${TEST_PACKAGES[*]}; tests that need them skip or fail"; return 0; }
  for pkg in "${TEST_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
  done
  [ ${#need[@]} -eq 0 ] && return 0
  echo "test: installing the Debian packages the tests use: ${need[*]}"
  out=$(export DEBIAN_FRONTEND=noninteractive
    apt-get -o DPkg::Lock::Timeout=300 update -qq </dev/null 2>&1 &&
    apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" </dev/null 2>&1) || {
    printf '%s\n' "$out" | tail -n 20
    echo "test: apt-get install ${need[*]} failed (FM_TEST_NO_APT=1 skips this step)"
    echo "0 passed, 1 failed, 0 skipped"; exit 1; }
}
