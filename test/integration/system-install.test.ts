// ./install.sh --system replaces the packaged /usr/bin/fusermount3 and
// --uninstall --system restores it byte for byte. Run in a private mount
// namespace over an overlay of /usr and a scratch copy of dpkg's database, so
// the machine itself is never changed.
import t from "tap";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, statSync, existsSync } from "node:fs";
import { join } from "node:path";
import { integration, ROOT, user, inNamespace, SETUID_INSTALL } from "../lib/harness.ts";

const packaged = spawnSync("dpkg-query", ["-S", "/bin/fusermount3"]).status === 0;
const overlay = readFileSync("/proc/filesystems", "utf8").includes("\toverlay\n");

integration("system install tests", () => {
  const u = user("fmtest");
  const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
  const before = { sha: sha("/usr/bin/fusermount3"), mode: statSync("/usr/bin/fusermount3").mode, man: existsSync("/usr/share/man/man1/fusermount3.1.gz") };

  t.test("install --system, use it, uninstall --system", async (t) => {
    const r = inNamespace(`
      work=$(mktemp -d /var/tmp/fm-system.XXXXXX)
      trap 'cd /; for m in /sys/module /etc/apparmor.d /var/lib/dpkg /usr; do umount -l "$m" 2>/dev/null || true; done; rm -rf "$work"' EXIT
      mkdir "$work/upper" "$work/work" "$work/dpkg" "$work/aa-upper" "$work/aa-work"
      cp -a /var/lib/dpkg/. "$work/dpkg/"
      mount -t overlay overlay -o "lowerdir=/usr,upperdir=$work/upper,workdir=$work/work" /usr
      mount --bind "$work/dpkg" /var/lib/dpkg
      # install.sh --system also writes AppArmor rules where Ubuntu's profile is
      # (test/integration/apparmor-install.test.ts tests that): keep it off the
      # machine's /etc/apparmor.d and its kernel here.
      if [ -d /etc/apparmor.d ]; then
        mount -t overlay overlay -o "lowerdir=/etc/apparmor.d,upperdir=$work/aa-upper,workdir=$work/aa-work" /etc/apparmor.d
      fi
      mount -t tmpfs tmpfs /sys/module
      cd ${ROOT}
      echo "== install"
      bash install.sh --system
      echo "VERSION $(/usr/bin/fusermount3 -V)"
      echo "MODE $(stat -c '%u %a' /usr/bin/fusermount3) HELPER $(stat -c '%u %a' /usr/lib/fusermount3/fusermount3-bun)"
      echo "LINK $(readlink /usr/bin/fusermount) -> $(/usr/bin/fusermount -V)"
      echo "DIVERSIONS $(dpkg-divert --list fusermount3-ts | sort | tr '\\n' ';')"
      echo "KEPT $(sha256sum < /usr/bin/fusermount3.distrib | cut -d' ' -f1)"
      echo "== reinstall"
      bash install.sh --system > /dev/null && echo "REINSTALL ok"
      echo "KEPT2 $(sha256sum < /usr/bin/fusermount3.distrib | cut -d' ' -f1)"
      echo "== a real program through it"
      img=$(mktemp -d /tmp/fm-sys-img.XXXXXX); chmod 755 "$img"; mkdir "$img/d"; echo system-ok > "$img/d/f"
      mksquashfs "$img/d" "$img/i.sqfs" -quiet -noappend -no-progress; chmod 644 "$img/i.sqfs"
      mkdir "$img/m"; chown ${u.name} "$img/m"
      runuser -u ${u.name} -- env -i PATH=/usr/bin:/bin squashfuse "$img/i.sqfs" "$img/m"
      echo "READ $(runuser -u ${u.name} -- cat "$img/m/f")"
      runuser -u ${u.name} -- env -i /usr/bin/fusermount3 -u "$img/m" && echo "UNMOUNTED"
      if command -v bindfs >/dev/null; then
        runuser -u ${u.name} -- env -i PATH=/usr/bin:/bin bindfs --no-allow-other "$img/d" "$img/m"
        echo "BINDFS $(runuser -u ${u.name} -- cat "$img/m/f")"
        runuser -u ${u.name} -- env -i PATH=/usr/bin:/bin fusermount -u "$img/m" && echo "BINDFS-UNMOUNTED"
      fi
      rm -rf "$img"
      echo "== uninstall"
      bash install.sh --uninstall --system
      echo "RESTORED $(sha256sum < /usr/bin/fusermount3 | cut -d' ' -f1) $(stat -c '%u %a' /usr/bin/fusermount3)"
      echo "LEFT [$(dpkg-divert --list fusermount3-ts)] [$(ls /usr/lib/fusermount3 2>&1 | head -1)] [$(ls /usr/bin/fusermount3.distrib 2>&1 | head -1)]"
      echo "MAN $(ls /usr/share/man/man1/fusermount3.1.gz) $(ls /usr/share/man/man1/fusermount3.1 2>&1 | head -1)"
    `, { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" }, 240000);
    t.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    t.match(out, /VERSION fusermount3 version: 3\.19\.0\n/);
    t.match(out, /MODE 0 4755 HELPER 0 755\n/);
    t.match(out, /LINK fusermount3 -> fusermount3 version: 3\.19\.0\n/, "libfuse 2's name still reaches us");
    t.match(out, /DIVERSIONS .*diversion of \/bin\/fusermount3 to \/bin\/fusermount3\.distrib by fusermount3-ts;/);
    t.match(out, /diversion of \/usr\/share\/man\/man1\/fusermount3\.1\.gz to \/usr\/share\/man\/man1\/fusermount3\.distrib\.1\.gz by fusermount3-ts/);
    t.match(out, new RegExp(`KEPT ${before.sha}\\n`), "the packaged binary is kept aside unchanged");
    t.match(out, /REINSTALL ok\n/);
    t.match(out, new RegExp(`KEPT2 ${before.sha}\\n`), "a reinstall does not divert twice");
    t.match(out, /install.sh: self-check passed \(nobody mounted, read and unmounted a FUSE filesystem\)\n/);
    t.match(out, /READ system-ok\nUNMOUNTED\n/);
    t.match(out, /BINDFS system-ok\nBINDFS-UNMOUNTED\n/, "libfuse 2 through /usr/bin/fusermount");
    t.match(out, new RegExp(`RESTORED ${before.sha} 0 ${(before.mode & 0o7777).toString(8)}\\n`), "byte for byte, same mode");
    t.match(out, /LEFT \[\] \[ls: cannot access '\/usr\/lib\/fusermount3': No such file or directory\] \[ls: cannot access/);
    t.match(out, /MAN \/usr\/share\/man\/man1\/fusermount3\.1\.gz ls: cannot access/);
    t.equal(sha("/usr/bin/fusermount3"), before.sha, "the machine's own file never changed");
    t.equal(existsSync("/usr/lib/fusermount3"), false);
    t.equal(existsSync("/usr/share/man/man1/fusermount3.1.gz"), before.man);
  });
}, { setuid: SETUID_INSTALL, also: () => (!packaged ? "needs Debian's fuse3 package" : !overlay ? "needs overlayfs" : undefined) });
