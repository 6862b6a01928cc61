# Diversions of the packaged fusermount3 and its man page: one implementation
# for install.sh --system (which sources this file) and the Debian package
# (scripts/deb.sh copies it into the preinst and postrm, which cannot read
# files from their own package). POSIX sh. dpkg's tools honour DPKG_ADMINDIR
# (dpkg sets it for maintainer scripts; the tests point it at a scratch copy).
#
# Each diverted file is kept as <f>.distrib (the man page as
# fusermount3.distrib.1.gz, as dash does for sh) and every path is spelled out
# so that the calls can be read, and checked by lintian, as they are.

# The paths to divert, in order. With merged /usr, Debian 12's fuse3 ships the
# helper as /bin/fusermount3, the same file as /usr/bin/fusermount3, so that
# name is diverted (first: --rename moves the file) when dpkg lists it; then
# /usr/bin/fusermount3 and the man page, always, so that a fuse3 listing them
# under /usr also lands beside ours instead of over it.
fm3ts_divert_paths() {
  if dpkg-query -S /bin/fusermount3 >/dev/null 2>&1; then
    echo /bin/fusermount3
  fi
  echo /usr/bin/fusermount3
  echo /usr/share/man/man1/fusermount3.1.gz
}

# Divert one of those paths, renaming the file that is there. A diversion that
# is already ours is left as it is.
fm3ts_divert_add() {
  case "$1" in
    /bin/fusermount3)
      dpkg-divert --quiet --package fusermount3-ts --add --rename --divert /bin/fusermount3.distrib /bin/fusermount3 ;;
    /usr/bin/fusermount3)
      dpkg-divert --quiet --package fusermount3-ts --add --rename --divert /usr/bin/fusermount3.distrib /usr/bin/fusermount3 ;;
    /usr/share/man/man1/fusermount3.1.gz)
      dpkg-divert --quiet --package fusermount3-ts --add --rename --divert /usr/share/man/man1/fusermount3.distrib.1.gz /usr/share/man/man1/fusermount3.1.gz ;;
    *) echo "fusermount3-ts: no diversion for $1" >&2; return 1 ;;
  esac
}

# Is this path diverted by us?
fm3ts_diverted_by_us() {
  [ "$(dpkg-divert --listpackage "$1")" = fusermount3-ts ]
}

# Remove our diversion of one path and rename the kept file back.
fm3ts_divert_remove() {
  fm3ts_diverted_by_us "$1" || return 0
  case "$1" in
    /bin/fusermount3)
      dpkg-divert --quiet --package fusermount3-ts --remove --rename --divert /bin/fusermount3.distrib /bin/fusermount3 ;;
    /usr/bin/fusermount3)
      dpkg-divert --quiet --package fusermount3-ts --remove --rename --divert /usr/bin/fusermount3.distrib /usr/bin/fusermount3 ;;
    /usr/share/man/man1/fusermount3.1.gz)
      dpkg-divert --quiet --package fusermount3-ts --remove --rename --divert /usr/share/man/man1/fusermount3.distrib.1.gz /usr/share/man/man1/fusermount3.1.gz ;;
    *) echo "fusermount3-ts: no diversion for $1" >&2; return 1 ;;
  esac
}

# Every diversion of ours, last added first.
fm3ts_divert_remove_all() {
  fm3ts_divert_remove /usr/share/man/man1/fusermount3.1.gz
  fm3ts_divert_remove /usr/bin/fusermount3
  fm3ts_divert_remove /bin/fusermount3
}
