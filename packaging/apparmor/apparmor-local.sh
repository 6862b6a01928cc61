# Our site rules for Ubuntu's AppArmor profile "fusermount3": one
# implementation for install.sh --system (which sources this file) and the
# Debian package (scripts/deb.sh copies it into the postinst and postrm).
# POSIX sh.
#
# /etc/apparmor.d/local/fusermount3 is ours only when its first line is the
# marker below; a file with anything else in it is the administrator's and is
# never changed (an empty file is a stub that packages create, and is put back
# empty). The second line of ours records what it replaced, so that removing
# it restores exactly that.

FM3TS_AA_PROFILE=/etc/apparmor.d/fusermount3
FM3TS_AA_LOCAL=/etc/apparmor.d/local/fusermount3
FM3TS_AA_MARKER='# Managed by fusermount3-ts'
FM3TS_AA_PREVIOUS='# fusermount3-ts-previous:'

fm3ts_aa_say() { echo "fusermount3-ts: $*" >&2; }

# Is the local file ours?
fm3ts_aa_ours() {
  [ -f "$FM3TS_AA_LOCAL" ] || return 1
  fm3ts_aa_first=
  IFS= read -r fm3ts_aa_first < "$FM3TS_AA_LOCAL" || true
  case "$fm3ts_aa_first" in "$FM3TS_AA_MARKER"*) return 0 ;; esac
  return 1
}

fm3ts_aa_parser() {
  command -v apparmor_parser 2>/dev/null
}

# AppArmor is active in this kernel (then profiles are reloaded).
fm3ts_aa_enabled() {
  [ "$(cat /sys/module/apparmor/parameters/enabled 2>/dev/null)" = Y ]
}

# Compile the profile with whatever the local file holds now, without loading
# it. Both print the parser's messages (stderr) and nothing else.
fm3ts_aa_check() {
  { "$(fm3ts_aa_parser)" --skip-kernel-load --skip-cache "$FM3TS_AA_PROFILE" >/dev/null; } 2>&1
}

fm3ts_aa_reload() {
  fm3ts_aa_enabled || return 0
  { "$(fm3ts_aa_parser)" --replace --skip-read-cache --write-cache "$FM3TS_AA_PROFILE" >/dev/null; } 2>&1
}

# Put back what our file replaced ("none": no file, "empty": an empty stub).
fm3ts_aa_restore() {
  case "$1" in
    empty) : > "$FM3TS_AA_LOCAL" ;;
    *) rm -f -- "$FM3TS_AA_LOCAL" ;;
  esac
}

# Install or update our rules (from the file RULES) when the profile exists;
# remove ours when it no longer does. Fails (status 1) if our rules break the
# profile, which is then left as it was.
fm3ts_apparmor_sync() {
  fm3ts_aa_rules=$1
  if [ ! -e "$FM3TS_AA_PROFILE" ]; then
    fm3ts_apparmor_remove
    return
  fi
  fm3ts_aa_head=
  IFS= read -r fm3ts_aa_head < "$fm3ts_aa_rules" || true
  case "$fm3ts_aa_head" in
    "$FM3TS_AA_MARKER"*) ;;
    *) fm3ts_aa_say "$fm3ts_aa_rules does not start with the marker line"; return 1 ;;
  esac

  if fm3ts_aa_ours; then
    fm3ts_aa_prev=$(sed -n "2s/^$FM3TS_AA_PREVIOUS //p" "$FM3TS_AA_LOCAL")
    [ "$fm3ts_aa_prev" = empty ] || fm3ts_aa_prev=none
  elif [ ! -e "$FM3TS_AA_LOCAL" ]; then
    fm3ts_aa_prev=none
  elif [ -f "$FM3TS_AA_LOCAL" ] && [ ! -s "$FM3TS_AA_LOCAL" ]; then
    fm3ts_aa_prev=empty
  else
    fm3ts_aa_say "$FM3TS_AA_LOCAL holds rules of its own; not changing it."
    fm3ts_aa_say "Add the rules in $fm3ts_aa_rules to it and run: apparmor_parser -r $FM3TS_AA_PROFILE"
    return 0
  fi

  fm3ts_aa_new=$FM3TS_AA_LOCAL.fusermount3-ts-new
  fm3ts_aa_old=$FM3TS_AA_LOCAL.fusermount3-ts-old
  mkdir -p "${FM3TS_AA_LOCAL%/*}"
  {
    printf '%s\n' "$fm3ts_aa_head"
    printf '%s %s\n' "$FM3TS_AA_PREVIOUS" "$fm3ts_aa_prev"
    sed 1d "$fm3ts_aa_rules"
  } > "$fm3ts_aa_new"
  chmod 0644 "$fm3ts_aa_new"
  if cmp -s "$fm3ts_aa_new" "$FM3TS_AA_LOCAL"; then
    rm -f -- "$fm3ts_aa_new"
    return 0
  fi
  rm -f -- "$fm3ts_aa_old"
  if [ -e "$FM3TS_AA_LOCAL" ]; then cp -p -- "$FM3TS_AA_LOCAL" "$fm3ts_aa_old"; fi
  cp -p -- "$fm3ts_aa_new" "$FM3TS_AA_LOCAL"

  if [ -z "$(fm3ts_aa_parser)" ]; then
    # Nothing to check with, and nothing could load the profile either.
    rm -f -- "$fm3ts_aa_new" "$fm3ts_aa_old"
    fm3ts_aa_say "installed $FM3TS_AA_LOCAL (apparmor_parser not found: not checked)"
    return 0
  fi
  if fm3ts_aa_out=$(fm3ts_aa_check) && fm3ts_aa_out=$(fm3ts_aa_reload); then
    rm -f -- "$fm3ts_aa_new" "$fm3ts_aa_old"
    fm3ts_aa_say "installed $FM3TS_AA_LOCAL$(fm3ts_aa_enabled && echo ' and reloaded the profile')"
    return 0
  fi
  # Back to what was there. If the profile does not compile without our rules
  # either, the fault is not ours: keep them, so the helper works once it does.
  if [ -e "$fm3ts_aa_old" ]; then mv -f -- "$fm3ts_aa_old" "$FM3TS_AA_LOCAL"; else rm -f -- "$FM3TS_AA_LOCAL"; fi
  if fm3ts_aa_check >/dev/null; then
    fm3ts_aa_reload >/dev/null || true
    rm -f -- "$fm3ts_aa_new"
    fm3ts_aa_say "our rules for $FM3TS_AA_PROFILE were rejected; nothing changed:"
    printf '%s\n' "$fm3ts_aa_out" >&2
    return 1
  fi
  mv -f -- "$fm3ts_aa_new" "$FM3TS_AA_LOCAL"
  fm3ts_aa_say "$FM3TS_AA_PROFILE does not compile even without our rules; installed them anyway:"
  printf '%s\n' "$fm3ts_aa_out" >&2
  return 0
}

# Remove our rules (never someone else's) and reload the profile.
fm3ts_apparmor_remove() {
  fm3ts_aa_ours || return 0
  fm3ts_aa_prev=$(sed -n "2s/^$FM3TS_AA_PREVIOUS //p" "$FM3TS_AA_LOCAL")
  fm3ts_aa_restore "$fm3ts_aa_prev"
  fm3ts_aa_say "removed our rules from $FM3TS_AA_LOCAL"
  if [ -e "$FM3TS_AA_PROFILE" ] && [ -n "$(fm3ts_aa_parser)" ]; then
    fm3ts_aa_reload >/dev/null || fm3ts_aa_say "warning: reloading $FM3TS_AA_PROFILE failed"
  fi
  return 0
}
