#!/usr/bin/env bash
# Build the Debian package (npm run deb): DIR/fusermount3-ts_<version>_<arch>.deb
# with the set-uid launcher /usr/bin/fusermount3 (root, 4755), the helper
# /usr/lib/fusermount3/fusermount3-bun (root, 0755), the man page, and
# maintainer scripts that divert Debian's fusermount3 and add our AppArmor
# rules with the same code as install.sh --system (packaging/).
#
#   scripts/deb.sh [--version V] [--out DIR] [--no-build] [--compress xz|gzip|zstd|none] [--level N]
#     --version V   package version (default: package.json's)
#     --out DIR     where the .deb goes (default: dist)
#     --no-build    package the binaries of the previous build (dist/deb-build)
#     --compress    dpkg-deb compressor (default: xz at level 1: 15 s for the
#                   110 MB helper on 2 cores, against 75 s at xz's default level)
#     --level N     compression level
set -euo pipefail
cd "$(dirname "$0")/.."
umask 022

HELPER=/usr/lib/fusermount3/fusermount3-bun
BUILD=dist/deb-build
version='' out=dist build=1 compress=xz level=''
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version=${2:?--version needs a value}; shift 2 ;;
    --out) out=${2:?--out needs a directory}; shift 2 ;;
    --no-build) build=0; shift ;;
    --compress) compress=${2:?--compress needs a value}; shift 2 ;;
    --level) level=${2:?--level needs a number}; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "deb: unknown argument '$1' (see --help)" >&2; exit 1 ;;
  esac
done
for tool in dpkg-deb dpkg node gzip strip md5sum; do
  command -v "$tool" >/dev/null || { echo "deb: $tool is needed (apt-get install dpkg-dev nodejs binutils)" >&2; exit 1; }
done
[ -n "$version" ] || version=$(node -p 'require("./package.json").version')
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || { echo "deb: invalid version '$version'" >&2; exit 1; }
maintainer=$(node -p 'require("./package.json").author')
arch=$(dpkg --print-architecture)
case "$arch" in amd64|arm64) ;; *) echo "deb: $arch is not supported (the FFI layer is for x86_64 and arm64)" >&2; exit 1 ;; esac

if [ "$build" = 1 ]; then
  DIST=$BUILD HELPER_PATH=$HELPER bash scripts/build.sh
fi
for f in "$BUILD/fusermount3" "$BUILD/fusermount3-bun"; do
  [ -f "$f" ] || { echo "deb: $f missing (build without --no-build first)" >&2; exit 1; }
done
# The launcher execs the path baked in at build time: it must be the package's.
grep -qaF "$HELPER" "$BUILD/fusermount3" || { echo "deb: $BUILD/fusermount3 was not built for $HELPER" >&2; exit 1; }

# Timestamps (file mtimes, changelog) from the commit, so that a rebuild of the
# same commit gives the same package.
: "${SOURCE_DATE_EPOCH:=$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
export SOURCE_DATE_EPOCH

stage=$(mktemp -d "${TMPDIR:-/tmp}/fm-deb.XXXXXX")
trap 'rm -rf -- "$stage"' EXIT
root=$stage/root
mkdir -p "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/fusermount3" "$root/usr/share/man/man1" \
  "$root/usr/share/doc/fusermount3-ts" "$root/usr/share/fusermount3-ts/apparmor" "$root/usr/share/lintian/overrides"

# The launcher is stripped (it is ours, static, and never debugged in place);
# the helper is not: a Bun executable carries its program inside the file.
install -m 0755 "$BUILD/fusermount3" "$root/usr/bin/fusermount3"
strip --strip-all --remove-section=.comment "$root/usr/bin/fusermount3"
chmod 4755 "$root/usr/bin/fusermount3"
install -m 0755 "$BUILD/fusermount3-bun" "$root$HELPER"
# A stripped (or otherwise damaged) Bun executable loses its program and
# becomes the plain bun CLI, which the set-uid launcher would then run as root
# with the caller's arguments. Never ship one.
case "$("$root$HELPER" -V 2>&1)" in
  "fusermount3 version: "*) ;;
  *) echo "deb: $root$HELPER does not answer -V as fusermount3 (stripped?); not packaging it" >&2; exit 1 ;;
esac
gzip -9n < man/fusermount3.1 > "$root/usr/share/man/man1/fusermount3.1.gz"
install -m 0644 packaging/debian/copyright "$root/usr/share/doc/fusermount3-ts/copyright"
{
  echo "fusermount3-ts ($version) unstable; urgency=medium"
  echo
  echo "  * Built from the fusermount3-ts repository by scripts/deb.sh$(git rev-parse --short HEAD 2>/dev/null | sed 's/^/ (commit /;s/$/)/')."
  echo
  echo " -- $maintainer  $(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n > "$root/usr/share/doc/fusermount3-ts/changelog.gz"
install -m 0644 packaging/apparmor/local-fusermount3 "$root/usr/share/fusermount3-ts/apparmor/local-fusermount3"
install -m 0644 packaging/debian/lintian-overrides "$root/usr/share/lintian/overrides/fusermount3-ts"

# Maintainer scripts: a preinst cannot read its own package's files, so the
# shared shell code is copied into the scripts.
for script in preinst postinst postrm; do
  awk -v divert=packaging/diversions.sh -v apparmor=packaging/apparmor/apparmor-local.sh '
    $0 == "#FM3TS_DIVERSIONS#" { while ((getline l < divert) > 0) print l; close(divert); next }
    $0 == "#FM3TS_APPARMOR#" { while ((getline l < apparmor) > 0) print l; close(apparmor); next }
    { print }' "packaging/debian/$script" > "$root/DEBIAN/$script"
  chmod 0755 "$root/DEBIAN/$script"
  sh -n "$root/DEBIAN/$script"
  ! grep -q '^#FM3TS_' "$root/DEBIAN/$script" || { echo "deb: $script: placeholder left" >&2; exit 1; }
done
install -m 0644 packaging/debian/triggers "$root/DEBIAN/triggers"

# libc6, at the version the helper's symbols need (the launcher is static).
depends=libc6
if command -v dpkg-shlibdeps >/dev/null; then
  mkdir -p "$stage/shlibs/debian"
  printf 'Source: fusermount3-ts\n\nPackage: fusermount3-ts\nArchitecture: any\n' > "$stage/shlibs/debian/control"
  found=$(cd "$stage/shlibs" && dpkg-shlibdeps -O "$root$HELPER" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
  [ -z "$found" ] || depends=$found
fi
case "$depends" in libc6|"libc6 ("*) ;; *) echo "deb: unexpected dependencies: $depends" >&2; exit 1 ;; esac

# Installed-Size as dpkg-gencontrol counts it: KiB per file, rounded up, plus one per directory.
size=$(find "$root" -path "$root/DEBIAN" -prune -o -mindepth 1 -printf '%y %s\n' |
  awk '$1 == "f" { t += int(($2 + 1023) / 1024); next } { t += 1 } END { print t }')
cat > "$root/DEBIAN/control" <<EOF
Package: fusermount3-ts
Version: $version
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Section: utils
Priority: optional
Description: drop-in replacement for libfuse's set-uid fusermount3
 fusermount3 mounts and unmounts FUSE filesystems for unprivileged users on
 behalf of FUSE libraries (libfuse 2 and 3, go-fuse and others). This one is
 written in TypeScript and compiled with Bun; the only set-uid code is a
 small C launcher that execs the helper with a scrubbed environment.
 .
 The package diverts the fuse3 package's /usr/bin/fusermount3 and its man
 page (dpkg-divert --rename), so libfuse 2's /usr/bin/fusermount reaches this
 helper too, and removing the package puts Debian's helper back. Where
 Ubuntu's AppArmor profile for fusermount3 is installed, the package adds the
 rules its helper needs in /etc/apparmor.d/local/fusermount3.
EOF
(cd "$root" && find usr -type f | LC_ALL=C sort | xargs -d '\n' md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"

mkdir -p "$out"
deb=$out/fusermount3-ts_${version}_${arch}.deb
[ -n "$level" ] || case "$compress" in xz) level=1 ;; gzip) level=9 ;; zstd) level=3 ;; *) level=0 ;; esac
dpkg-deb --root-owner-group -Z"$compress" -z"$level" --build "$root" "$deb" >/dev/null
echo "built $deb"
