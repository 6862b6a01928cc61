#!/usr/bin/env bash
# Build and install fusermount3: the set-uid launcher as PREFIX/bin/fusermount3
# and the (never set-uid) Bun helper as PREFIX/lib/fusermount3/fusermount3-bun.
#
#   ./install.sh [--prefix DIR]              build, install, self-check (default /usr/local)
#   ./install.sh --uninstall [--prefix DIR]  remove exactly what was installed
set -euo pipefail
cd "$(dirname "$0")"

prefix=/usr/local
action=install
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 1; }; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --uninstall) action=uninstall; shift ;;
    -h|--help) sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 1 ;;
  esac
done
case "$prefix" in /*) ;; *) prefix=$(cd "$prefix" 2>/dev/null && pwd) || { echo "install.sh: prefix must exist or be absolute" >&2; exit 1; } ;; esac
prefix=${prefix%/}

[ "$(id -u)" = 0 ] || { echo "install.sh: must be run as root (the launcher is installed set-uid root)" >&2; exit 1; }

libdir=$prefix/lib/fusermount3
helper=$libdir/fusermount3-bun
launcher=$prefix/bin/fusermount3
manpage=$prefix/share/man/man1/fusermount3.1
manifest=$libdir/installed-files

if [ "$action" = uninstall ]; then
  [ -f "$manifest" ] || { echo "install.sh: nothing installed under $prefix (no $manifest)"; exit 0; }
  while IFS= read -r f; do
    case "$f" in "$prefix"/*) rm -f -- "$f" ;; esac
  done < "$manifest"
  rm -f -- "$manifest"
  rmdir -- "$libdir" 2>/dev/null || true
  echo "install.sh: removed fusermount3 from $prefix"
  exit 0
fi

command -v cc >/dev/null || { echo "install.sh: no C compiler found; install gcc (apt-get install gcc)" >&2; exit 1; }
if [ ! -x node_modules/.bin/bun ] || [ ! -d node_modules/tap ]; then
  command -v npm >/dev/null || { echo "install.sh: npm is needed to fetch bun and the build tools" >&2; exit 1; }
  npm ci --no-audit --no-fund
fi

HELPER_PATH=$helper bash scripts/build.sh

install -d -m 0755 -o root -g root "$prefix/bin" "$libdir"
# Every directory above the helper must be root-owned and not writable by
# others, or a user could swap the binary the launcher runs as root.
d=$libdir
while [ "$d" != / ]; do
  if [ "$(stat -c %u "$d")" != 0 ] || [ -n "$(find "$d" -maxdepth 0 -perm /022 ! -perm -1000 2>/dev/null)" ]; then
    echo "install.sh: $d must be owned by root and not writable by group/others" >&2; exit 1
  fi
  d=$(dirname "$d")
done
if findmnt -no OPTIONS --target "$prefix/bin" 2>/dev/null | tr ',' '\n' | grep -qx nosuid; then
  echo "install.sh: $prefix/bin is on a filesystem mounted nosuid; the launcher's set-uid bit would be ignored (choose another --prefix)" >&2
  exit 1
fi

install -m 0755 -o root -g root dist/fusermount3-bun "$helper.new" && mv -f "$helper.new" "$helper"
install -m 4755 -o root -g root dist/fusermount3 "$launcher.new" && mv -f "$launcher.new" "$launcher"
install -D -m 0644 -o root -g root man/fusermount3.1 "$manpage"
printf '%s\n' "$launcher" "$helper" "$manpage" > "$manifest"

# Self-check: launcher set-uid root, helper not, and it answers.
[ "$(stat -c '%u %a' "$launcher")" = "0 4755" ] || { echo "install.sh: $launcher is not set-uid root" >&2; exit 1; }
[ "$(stat -c '%a' "$helper")" = 755 ] || { echo "install.sh: $helper must not be set-uid" >&2; exit 1; }
out=$("$launcher" -V) || { echo "install.sh: $launcher -V failed" >&2; exit 1; }
echo "install.sh: installed $launcher ($out)"
