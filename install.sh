#!/usr/bin/env bash
# Build and install fusermount3: the set-uid launcher as PREFIX/bin/fusermount3,
# the (never set-uid) Bun helper as PREFIX/lib/fusermount3/fusermount3-bun and
# the man page.
#
#   ./install.sh [--prefix DIR]              build, install, check (default /usr/local)
#   ./install.sh --system                    replace the system's /usr/bin/fusermount3
#   ./install.sh --uninstall [--prefix DIR | --system]
#                                            remove exactly what was installed; with
#                                            --system, put the packaged helper back
#   --service      also install the service's systemd units (fusermount3.socket,
#                  fusermount3.service; --system: /etc/systemd/system, else
#                  PREFIX/lib/systemd/system) and start them if systemd runs;
#                  a reinstall keeps them until --uninstall
#   --no-setuid    install the launcher without the set-uid bit (0755): users
#                  can then mount only through the service
#
# --system diverts the packaged files with dpkg-divert --rename, so that upgrades
# of fuse3 do not overwrite ours (without dpkg: a backup copy), adds our rules
# for Ubuntu's AppArmor profile when it is there, then mounts a small FUSE
# filesystem through the new helper as 'nobody' to check it. The Debian
# package (npm run deb) does the same with the same code (packaging/).
# dpkg's tools honour DPKG_ADMINDIR (tests point it at a scratch copy).
# --service: the units go to /etc/systemd/system for --system because
# /usr/lib/systemd/system is dpkg's and a Debian admin looks for local units
# in /etc; for a prefix, to PREFIX/lib/systemd/system (systemd searches
# /usr/local/lib/systemd/system; units elsewhere are linked with systemctl link).
set -euo pipefail
cd "$(dirname "$0")"
. packaging/diversions.sh
. packaging/apparmor/apparmor-local.sh

prefix=/usr/local
action=install
system=0
service=0
setuid=1
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a directory" >&2; exit 1; }; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#--prefix=}; shift ;;
    --system) system=1; prefix=/usr; shift ;;
    --uninstall) action=uninstall; shift ;;
    --service) service=1; shift ;;
    --no-setuid) setuid=0; shift ;;
    -h|--help) sed -n "2,/^# dpkg's tools/{/^# dpkg's tools/d;s/^# \{0,1\}//p}" "$0"; exit 0 ;;
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
socket=/run/fusermount3/service.sock
if [ "$system" = 1 ]; then unitdir=/etc/systemd/system; else unitdir=$prefix/lib/systemd/system; fi
units="fusermount3.socket fusermount3.service"
systemd_runs() { [ -d /run/systemd/system ]; }
# Units outside systemd's search path must be linked into it.
unit_searched() {
  case "$1" in /etc/systemd/system|/usr/local/lib/systemd/system|/usr/lib/systemd/system|/lib/systemd/system) return 0 ;; esac
  return 1
}

# Move a packaged file out of the way (dpkg keeps future upgrades there too).
set_aside() {
  fm3ts_divert_add "$1"
  echo "divert:$1" >> "$manifest.new"
}

put_back() {
  local entry=$1
  case "$entry" in
    divert:*) fm3ts_divert_remove "${entry#divert:}" ;;
    backup:*) local f=${entry#backup:}; mv -f -- "$f.fusermount3-ts-backup" "$f" ;;
  esac
}

# The Debian package owns the system install when it is there.
if [ "$system" = 1 ] && command -v dpkg-query >/dev/null &&
   [ "$(dpkg-query -W -f '${db:Status-Status}' fusermount3-ts 2>/dev/null)" = installed ]; then
  echo "install.sh: the fusermount3-ts Debian package is installed; use apt/dpkg to upgrade or remove it" >&2
  exit 1
fi

if [ "$action" = uninstall ]; then
  [ -f "$manifest" ] || { echo "install.sh: nothing installed under $prefix (no $manifest)"; exit 0; }
  # Watches are processes of the service's unit (KillMode=process): stopping
  # it ends the service, never a watched mount.
  if grep -q '^unit:' "$manifest" && systemd_runs; then
    systemctl disable --now $units || echo "install.sh: could not stop and disable $units (see above); removing them anyway" >&2
  fi
  { grep '^unit:' "$manifest" || true; } | while IFS= read -r entry; do rm -f -- "${entry#unit:}"; done
  if grep -q '^unit:' "$manifest" && systemd_runs; then systemctl daemon-reload; fi
  while IFS= read -r f; do
    case "$f" in "$prefix"/*) rm -f -- "$f" ;; esac
  done < "$manifest"
  # Put the packaged files back, last set aside first.
  tac "$manifest" | while IFS= read -r entry; do put_back "$entry"; done
  if [ "$system" = 1 ]; then fm3ts_apparmor_remove; fi
  rm -f -- "$manifest"
  rmdir -- "$libdir" 2>/dev/null || true
  case "$unitdir" in "$prefix"/lib/*) rmdir -- "$unitdir" "${unitdir%/system}" 2>/dev/null || true ;; esac
  echo "install.sh: removed fusermount3 from $prefix"
  exit 0
fi

command -v cc >/dev/null || { echo "install.sh: no C compiler found; install gcc (apt-get install gcc)" >&2; exit 1; }
if [ ! -x node_modules/.bin/bun ] || [ ! -d node_modules/tap ]; then
  command -v npm >/dev/null || { echo "install.sh: npm is needed to fetch bun and the build tools" >&2; exit 1; }
  npm ci --no-audit --no-fund
fi

existing=$prefix/bin
while [ ! -e "$existing" ]; do existing=$(dirname "$existing"); done
if [ "$setuid" = 1 ] && findmnt -no OPTIONS --target "$existing" 2>/dev/null | tr ',' '\n' | grep -qx nosuid; then
  echo "install.sh: $prefix/bin is on a filesystem mounted nosuid; the launcher's set-uid bit would be ignored (choose another --prefix)" >&2
  exit 1
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

: > "$manifest.new"
if [ "$system" = 1 ] && [ ! -f "$manifest" ]; then
  if command -v dpkg-divert >/dev/null; then
    for f in $(fm3ts_divert_paths); do set_aside "$f"; done
  elif [ -e "$launcher" ]; then
    cp -a -- "$launcher" "$launcher.fusermount3-ts-backup"
    echo "backup:$launcher" >> "$manifest.new"
  fi
elif [ -f "$manifest" ]; then
  grep -E '^(divert|backup):' "$manifest" >> "$manifest.new" || true # reinstall: keep what was set aside
fi
# A reinstall keeps the service's units: leaving them unlisted would leave
# them behind at --uninstall, and removing them would stop the service.
if [ -f "$manifest" ] && grep -q '^unit:' "$manifest"; then service=1; fi

install -m 0755 -o root -g root dist/fusermount3-bun "$helper.new" && mv -f "$helper.new" "$helper"
if [ "$setuid" = 1 ]; then launcher_mode=4755; else launcher_mode=755; fi
install -m "$launcher_mode" -o root -g root dist/fusermount3 "$launcher.new" && mv -f "$launcher.new" "$launcher"
install -D -m 0644 -o root -g root man/fusermount3.1 "$manpage"
if [ "$service" = 1 ]; then
  install -d -m 0755 -o root -g root "$unitdir"
  for u in $units; do
    sed -e "s|@HELPER@|$helper|g" -e "s|@PREFIX@|$prefix|g" "packaging/systemd/$u" > "$unitdir/$u.new"
    chmod 0644 "$unitdir/$u.new" && mv -f "$unitdir/$u.new" "$unitdir/$u"
    echo "unit:$unitdir/$u" >> "$manifest.new"
  done
fi
{ printf '%s\n' "$launcher" "$helper" "$manpage"; cat "$manifest.new"; } > "$manifest"
rm -f -- "$manifest.new"
# Ubuntu confines whatever is at /usr/bin/fusermount3 with its own profile.
if [ "$system" = 1 ]; then
  fm3ts_apparmor_sync packaging/apparmor/local-fusermount3 || { echo "install.sh: AppArmor rules not installed (see above)" >&2; exit 1; }
fi

# Check: launcher set-uid root (unless --no-setuid), helper not, and it answers.
[ "$(stat -c '%u %a' "$launcher")" = "0 $launcher_mode" ] || { echo "install.sh: $launcher is not root's with mode $launcher_mode" >&2; exit 1; }
[ "$(stat -c '%a' "$helper")" = 755 ] || { echo "install.sh: $helper must not be set-uid" >&2; exit 1; }
out=$("$launcher" -V) || { echo "install.sh: $launcher -V failed" >&2; exit 1; }
echo "install.sh: installed $launcher ($out)"

service_started=0
if [ "$service" = 1 ]; then
  if systemd_runs; then
    if ! unit_searched "$unitdir"; then
      for u in $units; do systemctl link "$unitdir/$u" >/dev/null; done
    fi
    systemctl daemon-reload
    systemctl enable --now fusermount3.socket
    # A reinstall: the running service goes on with the new helper (its
    # watches stay, KillMode=process).
    systemctl try-restart fusermount3.service
    service_started=1
    echo "install.sh: fusermount3.socket enabled and started ($socket)"
  else
    echo "install.sh: systemd is not running: start the service with systemd-socket-activate --seqpacket -l $socket $helper --service (or as root: $helper --service)"
  fi
fi
if [ "$setuid" = 0 ]; then
  echo "install.sh: $launcher is not set-uid: users can mount only while the service answers at $socket"
fi

# --system: an unprivileged account mounts, reads and unmounts a small FUSE
# filesystem through the installed helper, in a private mount namespace.
if [ "$system" = 1 ]; then
  if [ "$setuid" = 0 ] && [ "$service_started" = 0 ]; then
    echo "install.sh: self-check skipped: the launcher is not set-uid and no service was started"
  elif [ ! -c /dev/fuse ]; then
    echo "install.sh: self-check skipped: no /dev/fuse (load the module: modprobe fuse)"
  elif ! setpriv --reuid=nobody --regid=nogroup --clear-groups -- test -r /dev/fuse -a -w /dev/fuse 2>/dev/null; then
    echo "install.sh: self-check skipped: /dev/fuse is not usable by users (mode $(stat -c %a /dev/fuse); Debian's default is 0666)"
  else
    ./node_modules/.bin/bun build --compile examples/hello/main.ts --outfile dist/selfcheck-hello >/dev/null
    # The service mounts in its own (the host's) mount namespace, not in the
    # self-check's private one.
    ns=private; [ "$service_started" = 1 ] && ns=host
    bash scripts/selfcheck.sh "$launcher" dist/selfcheck-hello "$ns" \
      || { echo "install.sh: self-check failed: an unprivileged mount through $launcher did not work" >&2; exit 1; }
    echo "install.sh: self-check passed (nobody mounted, read and unmounted a FUSE filesystem)"
  fi
fi
