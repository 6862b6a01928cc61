// How our AppArmor rules get into /etc/apparmor.d/local/fusermount3 and out
// again (packaging/apparmor/apparmor-local.sh, shared by install.sh --system
// and the package's maintainer scripts): install.sh --system with Ubuntu's
// profile present, and the refusals and roll-backs when something is wrong.
// Runs in a private mount namespace over overlays of /etc/apparmor.d (and
// /usr, /var/lib/dpkg for install.sh), so the machine is not changed. This
// kernel has no AppArmor: profiles are compiled, not enforced, and "reload"
// is exercised with a stand-in apparmor_parser.
import t from "tap";
import { spawnSync } from "node:child_process";
import { readFileSync, existsSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { integration, ROOT, inNamespace, rootScratch, SETUID_INSTALL } from "../lib/harness.ts";
import { findParser, profileForParser, ubuntuProfile, localRules } from "../lib/apparmor.ts";

const parser = findParser();
const overlay = readFileSync("/proc/filesystems", "utf8").includes("\toverlay\n");
const packaged = spawnSync("dpkg-query", ["-S", "/bin/fusermount3"]).status === 0;

integration("AppArmor install tests", () => {
  const dir = rootScratch();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const profile = profileForParser(ubuntuProfile()).text;
  writeFileSync(join(dir, "profile"), profile);
  writeFileSync(join(dir, "profile-broken"), profile.replace("/dev/fuse rw,", "/dev/fuse rw"));
  writeFileSync(join(dir, "rules"), localRules());
  writeFileSync(join(dir, "rules-broken"), `${localRules()}capability notacap,\n`);
  writeFileSync(join(dir, "rules-unmarked"), localRules().split("\n").slice(1).join("\n"));
  const [head, ...rest] = localRules().split("\n");
  writeFileSync(join(dir, "expected"), [head, "# fusermount3-ts-previous: none", ...rest].join("\n"));

  const prelude = `
    export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    work=$(mktemp -d /var/tmp/fm-aa.XXXXXX)
    cleanup() {
      set +e; cd /
      for m in /sys/module /etc/apparmor.d /var/lib/dpkg /usr; do mountpoint -q "$m" && umount -l "$m"; done
      rm -rf "$work"
    }
    trap cleanup EXIT
    mkdir "$work/aa-upper" "$work/aa-work"
    mount -t overlay overlay -o "lowerdir=/etc/apparmor.d,upperdir=$work/aa-upper,workdir=$work/aa-work" /etc/apparmor.d
    rm -f /etc/apparmor.d/fusermount3 /etc/apparmor.d/local/fusermount3
    # Never load a profile into this kernel, even one with AppArmor enabled: hide
    # its switch (/sys/module/apparmor/parameters/enabled). A reload test puts a
    # fake one here and a stand-in apparmor_parser that compiles instead.
    mount -t tmpfs tmpfs /sys/module
    local=/etc/apparmor.d/local/fusermount3
    # Each call as a maintainer script makes it: set -e, not inside a condition.
    aa_sync() { set +e; (set -e; . ${ROOT}/packaging/apparmor/apparmor-local.sh; fm3ts_apparmor_sync "$1") 2> "$work/err"; rc=$?; set -e; echo "rc=$rc"; }
    aa_remove() { set +e; (set -e; . ${ROOT}/packaging/apparmor/apparmor-local.sh; fm3ts_apparmor_remove) 2> "$work/err"; rc=$?; set -e; echo "rc=$rc"; }
    show() { if [ -e $local ]; then if cmp -s $local ${join(dir, "expected")}; then echo ours; else echo "other:$(head -c 40 $local | tr '\\n' ' ')"; fi; else echo absent; fi; }
  `;
  const run = (script: string, timeoutMs = 120000) => inNamespace(prelude + script, {}, timeoutMs);
  const line = (out: string, key: string): string => new RegExp(`^${key} (.*)$`, "m").exec(out)?.[1] ?? `(no ${key})`;

  t.test("refusals and roll-backs", async (t) => {
    const r = run(`
      cp ${dir}/profile /etc/apparmor.d/fusermount3
      echo "BROKEN-NEW $(aa_sync ${dir}/rules-broken) $(show) $(grep -c 'were rejected; nothing changed' "$work/err")"
      aa_sync ${dir}/rules > /dev/null
      echo "BROKEN-UPDATE $(aa_sync ${dir}/rules-broken) $(show)"
      echo "UNMARKED $(aa_remove >/dev/null; aa_sync ${dir}/rules-unmarked) $(show)"
      echo "FOREIGN $(echo '/srv/ r,' > $local; aa_sync ${dir}/rules) $(show) $(aa_remove) $(show)"
      rm -f $local
      cp ${dir}/profile-broken /etc/apparmor.d/fusermount3
      echo "PROFILE-BROKEN $(aa_sync ${dir}/rules) $(show) $(grep -c 'does not compile even without our rules' "$work/err")"
      cp ${dir}/profile /etc/apparmor.d/fusermount3
      echo "LEFTOVERS [$(ls /etc/apparmor.d/local/ | grep fusermount3-ts || true)]"
      # AppArmor enabled, and the kernel refuses the new profile: back to the old state.
      mkdir -p /sys/module/apparmor/parameters; echo Y > /sys/module/apparmor/parameters/enabled
      real=$(command -v apparmor_parser)
      mkdir -p "$work/bin"
      printf '#!/bin/sh\\necho "$*" >> %s/parser.log\\ncase "$*" in *--replace*) grep -q fusermount3-ts-previous /etc/apparmor.d/local/fusermount3 2>/dev/null && exit 1; exit 0 ;; esac\\nexec %s "$@"\\n' "$work" "$real" > "$work/bin/apparmor_parser"
      chmod 755 "$work/bin/apparmor_parser"
      rm -f $local
      echo "LOAD-REFUSED $(PATH=$work/bin:$PATH aa_sync ${dir}/rules) $(show) $(grep -c -- --replace "$work/parser.log")"
    `);
    t.equal(r.code, 0, r.stderr);
    const o = r.stdout;
    t.equal(line(o, "BROKEN-NEW"), "rc=1 absent 1", "rules that break the profile are refused and nothing is left");
    t.equal(line(o, "BROKEN-UPDATE"), "rc=1 ours", "an update that breaks it keeps the installed rules");
    t.equal(line(o, "UNMARKED"), "rc=1 absent", "a rules file without the marker is refused");
    t.equal(line(o, "FOREIGN"), "rc=0 other:/srv/ r,  rc=0 other:/srv/ r, ", "someone else's file is neither replaced nor removed");
    t.equal(line(o, "PROFILE-BROKEN"), "rc=0 ours 1", "a profile broken without us: our rules go in anyway, with a message");
    t.equal(line(o, "LEFTOVERS"), "[]", "no temporary files left");
    t.equal(line(o, "LOAD-REFUSED"), "rc=1 absent 2", "the kernel refusing the profile: rolled back and the old one loaded again");
  });

  t.test("install.sh --system adds our rules when Ubuntu's profile is there, --uninstall removes them", {
    timeout: 240000, skip: packaged ? false : "needs Debian's fuse3 package",
  }, async (t) => {
    const r = run(`
      mkdir "$work/upper" "$work/work" "$work/dpkg"
      cp -a /var/lib/dpkg/. "$work/dpkg/"
      mount -t overlay overlay -o "lowerdir=/usr,upperdir=$work/upper,workdir=$work/work" /usr
      mount --bind "$work/dpkg" /var/lib/dpkg
      cp ${dir}/profile /etc/apparmor.d/fusermount3
      cd ${ROOT}
      bash install.sh --system > "$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
      echo "INSTALLED $(show) $(apparmor_parser --skip-kernel-load --skip-cache /etc/apparmor.d/fusermount3 >/dev/null 2>&1 && echo compiles)"
      echo "SELFCHECK $(grep -c 'self-check passed' "$work/out")"
      bash install.sh --system > /dev/null 2>&1
      echo "REINSTALLED $(show)"
      bash install.sh --uninstall --system > /dev/null 2>&1
      echo "UNINSTALLED $(show)"
    `);
    t.equal(r.code, 0, r.stderr);
    t.equal(line(r.stdout, "INSTALLED"), "ours compiles");
    t.equal(line(r.stdout, "SELFCHECK"), "1", "the self-check still mounts (not confined here: no AppArmor in this kernel)");
    t.equal(line(r.stdout, "REINSTALLED"), "ours", "a reinstall keeps what the file replaced");
    t.equal(line(r.stdout, "UNINSTALLED"), "absent");
  });
}, {
  setuid: SETUID_INSTALL,
  also: () => (!parser || !existsSync("/etc/apparmor.d") ? "apparmor_parser and /etc/apparmor.d are needed (Debian package apparmor)"
    : !overlay ? "needs overlayfs" : undefined),
});
