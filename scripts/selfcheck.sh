#!/usr/bin/env bash
# As 'nobody', in a private mount namespace: mount the hello example through
# the given launcher, read its file, unmount it.
#   selfcheck.sh LAUNCHER HELLO-BINARY [private|host]
# host: in this mount namespace instead, for when a service answers the
# launcher: it mounts where it runs, which a private namespace would not see.
set -euo pipefail
launcher=$1 hello=$2 ns=${3:-private}
work=$(mktemp -d /tmp/fusermount3-selfcheck.XXXXXX)
trap 'rm -rf -- "$work"' EXIT
chmod 755 "$work"
cp -- "$hello" "$work/hello" && chmod 755 "$work/hello"
mkdir "$work/mnt" && chown nobody "$work/mnt"
unshare_private=(unshare -m --propagation private --)
[ "$ns" = host ] && unshare_private=()
"${unshare_private[@]}" bash -euo pipefail -c '
  launcher=$1 work=$2
  as() { setpriv --reuid=nobody --regid=nogroup --clear-groups -- env -i PATH=/usr/bin:/bin "$@"; }
  as "$work/hello" "$work/mnt" --helper "$launcher" > "$work/ready" 2> "$work/err" &
  server=$!
  for i in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
  ok=0
  [ "$(as cat "$work/mnt/hello" 2>/dev/null)" = "Hello, world!" ] && ok=1
  as "$launcher" -u "$work/mnt" || ok=0
  for i in $(seq 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$server" 2>/dev/null || true
  umount -l "$work/mnt" 2>/dev/null || true
  [ "$ok" = 1 ] || { cat "$work/err" >&2; exit 1; }
' selfcheck "$launcher" "$work"
