#!/usr/bin/env bash
# npm run bench: our helper against Debian's C /usr/bin/fusermount3, both
# installed set-uid root, driven as the unprivileged user fmtest.
#
#   npm run bench [-- OPTIONS]
#     --quick               N=20 and one round of each concurrency test (a smoke run)
#     -n N                  iterations per latency measurement and kind (default 300)
#     --out DIR             where results.json and RESULTS.md go (default bench/)
#     --variant NAME=DIR    also measure a helper built from the source tree DIR
#                           (a modified copy of this checkout; its own install.sh
#                           installs it set-uid into the temporary prefix); it is
#                           interleaved with ours and C in every measurement
#     --phases LIST         only these (comma-separated): classic,classic-utab,syncinit,version,
#                           rss,watchdog,concurrent,mountmax,service,scale; the other phases' results
#                           are kept from the results.json already in --out (merged; see --no-merge)
#     --no-merge            with --phases: write this run's phases alone
#     --scale-sizes LIST    extra mounts in the table for the scale phase (default 0,1000,10000)
#     --scale-cycles N      recorded cycles per helper, size, scenario and round (default 40)
#     --scale-rounds N      rounds per size (default 3)
#     --rss-runs N          runs per kind for peak RSS (default 30)
#     --service-watches N   auto-unmount mounts per group in the service phase (default 100)
#     --extra-v NAME=PATH   also time PATH -V with the start-up kinds (diagnostics;
#                           PATH must be executable by fmtest)
#     -h, --help            this text (the controller's own options:
#                           bun scripts/bench/run.ts --help)
#
# Peak RSS is measured with /usr/bin/time -f %M (Debian package "time"; installed
# with apt-get if missing).
#
# Set-up as test/run.sh does it: same lock, temporary prefix on the root
# filesystem, the user fmtest, /dev/fuse mode 666 for the run (restored), and
# every measurement inside `unshare -m --propagation private` so nothing leaks.
# The service phase also needs the users fmbench0..fmbench9 (created like
# fmtest when missing, and kept) and runs `fusermount3-bun --service` as root
# on a private tmpfs at /run/fusermount3 inside that namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
for a in "$@"; do case "$a" in -h|--help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac; done
[ "$(id -u)" = 0 ] || { echo "bench: must be run as root (it installs the helper set-uid into a temporary prefix)" >&2; exit 1; }
[ -x /usr/bin/fusermount3 ] || { echo "bench: /usr/bin/fusermount3 (the C reference) is missing: apt-get install fuse3" >&2; exit 1; }
[ -e /dev/fuse ] || { echo "bench: /dev/fuse is missing" >&2; exit 1; }
[ -d node_modules/tap ] && [ -x node_modules/.bin/bun ] || npm ci --no-audit --no-fund >/dev/null
if [ ! -x /usr/bin/time ]; then
  echo "bench: installing /usr/bin/time (apt-get install time) to measure peak RSS" >&2
  apt-get install -y time >/dev/null 2>&1 || echo "bench: could not install time; peak RSS will not be measured" >&2
fi
BUN=$PWD/node_modules/.bin/bun

export BENCH_COMMAND="npm run bench${*:+ -- $*}"
run_args=()
phases=
variants=()
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) run_args+=(--quick); shift ;;
    -n) run_args+=(-n "$2"); shift 2 ;;
    --out) run_args+=(--out "$(realpath -m "$2")"); shift 2 ;;
    --phases) run_args+=("$1" "$2"); phases=$2; shift 2 ;;
    --rss-runs|--extra-v|--scale-sizes|--scale-cycles|--scale-rounds|--service-watches) run_args+=("$1" "$2"); shift 2 ;;
    --no-merge) run_args+=(--no-merge); shift ;;
    --variant)
      name=${2%%=*} src=${2#*=}
      [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] && [ -d "$src" ] || { echo "bench: --variant NAME=DIR (got '$2')" >&2; exit 1; }
      variants+=("$name=$(realpath "$src")"); run_args+=(--variant "$name"); shift 2 ;;
    *) echo "bench: unknown argument '$1'" >&2; exit 1 ;;
  esac
done

# (The 2>/dev/null on a group: on exec itself it would silence the rest of the script.)
{ exec 9>/run/lock/fusermount3-ts-tests.lock; } 2>/dev/null || exec 9>/tmp/fusermount3-ts-tests.lock
flock 9

cleanup() {
  [ -n "${fuse_mode:-}" ] && chmod "$fuse_mode" /dev/fuse 2>/dev/null
  [ -n "${prefix:-}" ] && [ -d "$prefix" ] && rm -rf -- "$prefix"
  # Mounts below it lived in the benchmark's namespace, which is gone by now.
  [ -n "${scratch:-}" ] && [ -d "$scratch" ] && rm -rf --one-file-system -- "$scratch"
  return 0
}
trap cleanup EXIT

# /var/tmp: on the root filesystem, which is not mounted nosuid.
prefix=$(mktemp -d /var/tmp/fm-bench-prefix.XXXXXX)
chmod 755 "$prefix"
./install.sh --prefix "$prefix" >/dev/null
for v in "${variants[@]}"; do
  name=${v%%=*} src=${v#*=}
  [ -e "$src/node_modules" ] || ln -s "$PWD/node_modules" "$src/node_modules"
  (cd "$src" && ./install.sh --prefix "$prefix/variants/$name" >/dev/null) || { echo "bench: installing variant $name from $src failed" >&2; exit 1; }
done

# The client and the start-up floors, compiled into the prefix so that the
# user can run them wherever this checkout is.
mkdir -p "$prefix/bench"
"$BUN" build --compile scripts/bench/client.ts --outfile "$prefix/bench/client" >/dev/null
"$BUN" build --compile --bytecode --format=esm --minify scripts/bench/floor-exit.ts --outfile "$prefix/bench/empty-exit" >/dev/null
"$BUN" build --compile --bytecode --format=esm --minify scripts/bench/floor-empty.ts --outfile "$prefix/bench/empty" >/dev/null
# The same floor behind a set-uid launcher built from src/launcher/fusermount3.c
# (only HELPER_PATH differs): what the launcher's extra exec costs by itself.
cc -std=c11 -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -fPIE -pie -fstack-protector-strong \
  -D_FORTIFY_SOURCE=2 -Wl,-z,relro,-z,now -DHELPER_PATH="\"$prefix/bench/empty-exit\"" \
  src/launcher/fusermount3.c -o "$prefix/bench/launcher-empty-exit"
chmod -R a+rX "$prefix/bench"
chown root:root "$prefix/bench/launcher-empty-exit"
chmod 4755 "$prefix/bench/launcher-empty-exit"
# The service phase's launcher: our installed one WITHOUT the set-uid bit (only
# the service can make it mount).
install -m 0755 "$prefix/bin/fusermount3" "$prefix/bench/fusermount3-nosuid"

id fmtest >/dev/null 2>&1 || useradd -M -d /nonexistent -s /usr/sbin/nologin fmtest
# The service phase's users, each mounting at once through the service.
if [ -z "$phases" ] || [[ ",$phases," == *,service,* ]]; then
  for i in 0 1 2 3 4 5 6 7 8 9; do
    id "fmbench$i" >/dev/null 2>&1 || useradd -M -d /nonexistent -s /usr/sbin/nologin "fmbench$i"
  done
fi
fuse_mode=$(stat -c %a /dev/fuse)
chmod 666 /dev/fuse

scratch=$(mktemp -d /tmp/fm-bench.XXXXXX)

host_mounts=$(wc -l </proc/self/mountinfo)
rc=0
unshare -m --propagation private -- "$BUN" scripts/bench/run.ts --prefix "$prefix" --user fmtest --dir "$scratch" "${run_args[@]}" || rc=$?
# Every mount of the run (up to 10,000 for the scale phase) lived in the
# namespace, which is gone: none may show up here.
if grep -q -F "$scratch" /proc/self/mountinfo; then
  echo "bench: mounts below $scratch leaked into the host's mount table" >&2; rc=1
fi
echo "bench: host mount table: $host_mounts lines before the run, $(wc -l </proc/self/mountinfo) after" >&2
exit "$rc"
