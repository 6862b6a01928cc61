// The Debian package (npm run deb): its contents, lintian, and dpkg -i /
// reinstall / upgrade / -r / --purge on a scratch root (an overlay of /usr, a
// scratch copy of dpkg's database bound over /var/lib/dpkg, an overlay of
// /etc/apparmor.d, in a private mount namespace), with real mounts through
// the installed helper by an unprivileged user, Debian's helper restored byte
// for byte, the takeover of an install.sh --system installation, and the
// AppArmor rules written, reloaded and removed by the maintainer scripts.
import t, { type Test } from "tap";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, statSync, existsSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { integration, ROOT, PREFIX, user, inNamespace, rootScratch, SETUID_INSTALL } from "../lib/harness.ts";
import { findParser, profileForParser, ubuntuProfile, localRules } from "../lib/apparmor.ts";

const packaged = spawnSync("dpkg-query", ["-S", "/bin/fusermount3"]).status === 0;
const overlay = readFileSync("/proc/filesystems", "utf8").includes("\toverlay\n");
const dpkgDeb = spawnSync("dpkg-deb", ["--version"]).status === 0;

t.setTimeout(900000); // builds the package, runs lintian and five dpkg scenarios

integration("Debian package tests", () => {
  const u = user("fmtest");
  const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
  const debian = {
    helper: sha("/usr/bin/fusermount3"),
    mode: (statSync("/usr/bin/fusermount3").mode & 0o7777).toString(8),
    man: sha("/usr/share/man/man1/fusermount3.1.gz"),
  };
  const out = rootScratch();
  t.teardown(() => rmSync(out, { recursive: true, force: true }));
  const arch = spawnSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).stdout.trim();
  const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
  const deb1 = join(out, `fusermount3-ts_${version}_${arch}.deb`);
  const deb2 = join(out, `fusermount3-ts_${version}.1_${arch}.deb`);
  const parser = findParser();
  const aaProfile = join(out, "apparmor-profile");
  if (parser) writeFileSync(aaProfile, profileForParser(ubuntuProfile()).text);

  // The same scratch root for every scenario; each runs in its own namespace.
  const prelude = `
    export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    work=$(mktemp -d /var/tmp/fm-deb.XXXXXX)
    img=
    cleanup() {
      set +e; cd /
      [ -n "$img" ] && { umount -l "$img/m" 2>/dev/null; rm -rf "$img"; }
      for m in /sys/module /etc/apparmor.d /var/lib/dpkg /usr; do mountpoint -q "$m" && umount -l "$m"; done
      rm -rf "$work"
    }
    trap cleanup EXIT
    mkdir "$work/upper" "$work/work" "$work/dpkg" "$work/aa-upper" "$work/aa-work"
    cp -a /var/lib/dpkg/. "$work/dpkg/"
    mount -t overlay overlay -o "lowerdir=/usr,upperdir=$work/upper,workdir=$work/work" /usr
    mount --bind "$work/dpkg" /var/lib/dpkg
    if [ -d /etc/apparmor.d ]; then
      mount -t overlay overlay -o "lowerdir=/etc/apparmor.d,upperdir=$work/aa-upper,workdir=$work/aa-work" /etc/apparmor.d
      rm -f /etc/apparmor.d/fusermount3 /etc/apparmor.d/local/fusermount3
    fi
    # Never load a profile into this kernel, even one with AppArmor enabled: hide
    # its switch (/sys/module/apparmor/parameters/enabled). A reload test puts a
    # fake one here and a stand-in apparmor_parser that compiles instead.
    mount -t tmpfs tmpfs /sys/module
    # No log in /var/log; triggers of other packages (man-db) stay pending in the scratch database.
    D() { dpkg --log="$work/dpkg.log" --no-triggers "$@"; }
    digest() { if [ -e "$1" ]; then sha256sum < "$1" | cut -d' ' -f1; else echo "missing"; fi; }
    state() {
      echo "$1 MODE $(stat -c '%U:%G %a' /usr/bin/fusermount3) HELPER $(stat -c '%U:%G %a' /usr/lib/fusermount3/fusermount3-bun 2>&1 | head -1)"
      echo "$1 DIVERSIONS $(dpkg-divert --list fusermount3-ts | sort | tr '\\n' ';')"
      echo "$1 SHA $(digest /usr/bin/fusermount3) MAN $(digest /usr/share/man/man1/fusermount3.1.gz)"
      echo "$1 KEPT $(digest /usr/bin/fusermount3.distrib) KEPTMAN $(digest /usr/share/man/man1/fusermount3.distrib.1.gz)"
      echo "$1 STATUS [$(dpkg-query -W -f '\${db:Status-Abbrev}\${Version}' fusermount3-ts 2>/dev/null || true)]"
      echo "$1 VERSION $(/usr/bin/fusermount3 -V 2>&1) LINK $(/usr/bin/fusermount -V 2>&1)"
      echo "$1 FILES [$(ls -d /usr/lib/fusermount3 /usr/share/fusermount3-ts /usr/share/doc/fusermount3-ts /usr/share/man/man1/fusermount3.1 2>/dev/null | tr '\\n' ' ')]"
    }
    as() { runuser -u ${u.name} -- env -i PATH=/usr/bin:/bin "$@"; }
    img=$(mktemp -d /tmp/fm-deb-img.XXXXXX); chmod 755 "$img"; mkdir "$img/d"; echo deb-ok > "$img/d/f"
    mksquashfs "$img/d" "$img/i.sqfs" -quiet -noappend -no-progress; chmod 644 "$img/i.sqfs"
    mkdir "$img/m"; chown ${u.name} "$img/m"
    cp ${PREFIX}/tools/hello "$img/hello"; chmod 755 "$img/hello"
    # As the user, through whatever is installed: libfuse 3 (squashfuse), libfuse 2
    # (bindfs, through /usr/bin/fusermount), and our client with --sync-init.
    mounts() {
      as squashfuse "$img/i.sqfs" "$img/m"
      echo "$1 SQUASHFUSE $(as cat "$img/m/f")"
      as /usr/bin/fusermount3 -u "$img/m" && echo "$1 SQUASHFUSE-UNMOUNTED"
      if command -v bindfs >/dev/null; then
        as bindfs --no-allow-other "$img/d" "$img/m"
        echo "$1 BINDFS $(as cat "$img/m/f")"
        as fusermount -u "$img/m" && echo "$1 BINDFS-UNMOUNTED"
      fi
      as "$img/hello" "$img/m" --helper /usr/bin/fusermount3 > "$img/ready" 2> "$img/err" &
      server=$!
      for i in $(seq 100); do [ -s "$img/ready" ] && break; sleep 0.1; done
      echo "$1 HELLO $(head -1 "$img/ready") $(as cat "$img/m/hello")"
      as /usr/bin/fusermount3 -u "$img/m" && echo "$1 HELLO-UNMOUNTED"
      wait "$server" || true
      rm -f "$img/ready"
    }
  `;
  const run = (script: string, timeoutMs = 240000) =>
    inNamespace(prelude + script, { PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" }, timeoutMs);
  const line = (out: string, tag: string, key: string): string =>
    new RegExp(`^${tag} ${key} (.*)$`, "m").exec(out)?.[1] ?? `(no ${tag} ${key})`;
  const diversions = "diversion of /bin/fusermount3 to /bin/fusermount3.distrib by fusermount3-ts;" +
    "diversion of /usr/bin/fusermount3 to /usr/bin/fusermount3.distrib by fusermount3-ts;" +
    "diversion of /usr/share/man/man1/fusermount3.1.gz to /usr/share/man/man1/fusermount3.distrib.1.gz by fusermount3-ts;";
  const installed = (t: Test, out: string, tag: string, v: string) => {
    t.equal(line(out, tag, "MODE"), "root:root 4755 HELPER root:root 755", `${tag}: modes and owners`);
    t.equal(line(out, tag, "DIVERSIONS"), diversions, `${tag}: diversions`);
    t.equal(line(out, tag, "KEPT"), `${debian.helper} KEPTMAN ${debian.man}`, `${tag}: Debian's files kept aside unchanged`);
    t.equal(line(out, tag, "STATUS"), `[ii ${v}]`, `${tag}: installed`);
    t.equal(line(out, tag, "VERSION"), "fusermount3 version: 3.19.0 LINK fusermount3 version: 3.19.0", `${tag}: ours, also as fusermount`);
  };
  const restored = (t: Test, out: string, tag: string, status: string) => {
    t.equal(line(out, tag, "SHA"), `${debian.helper} MAN ${debian.man}`, `${tag}: Debian's helper and man page back byte for byte`);
    t.match(line(out, tag, "MODE"), new RegExp(`^root:root ${debian.mode} HELPER `), `${tag}: with its mode`);
    t.equal(line(out, tag, "DIVERSIONS"), "", `${tag}: no diversion left`);
    t.equal(line(out, tag, "KEPT"), "missing KEPTMAN missing", `${tag}: no .distrib left`);
    t.equal(line(out, tag, "STATUS"), `[${status}]`, `${tag}: package state`);
    t.equal(line(out, tag, "FILES"), "[]", `${tag}: none of our files left`);
    t.match(line(out, tag, "VERSION"), /^fusermount3 version: 3\.14\.\d+ LINK fusermount3 version: 3\.14\.\d+$/, `${tag}: Debian's helper answers`);
  };

  t.test("npm run deb builds the package", { timeout: 200000 }, async (t) => {
    const b1 = spawnSync("npm", ["run", "--silent", "deb", "--", "--out", out], { cwd: ROOT, encoding: "utf8" });
    t.equal(b1.status, 0, b1.stderr);
    t.ok(existsSync(deb1), deb1);
    const b2 = spawnSync("bash", ["scripts/deb.sh", "--no-build", "--version", `${version}.1`, "--compress", "zstd", "--out", out], { cwd: ROOT, encoding: "utf8" });
    t.equal(b2.status, 0, b2.stderr);
    t.ok(existsSync(deb2), deb2);

    const contents = spawnSync("dpkg-deb", ["--contents", deb1], { encoding: "utf8" }).stdout;
    t.match(contents, /^-rwsr-xr-x root\/root +\d+ \S+ \S+ \.\/usr\/bin\/fusermount3$/m, "launcher set-uid root");
    t.match(contents, /^-rwxr-xr-x root\/root +\d+ \S+ \S+ \.\/usr\/lib\/fusermount3\/fusermount3-bun$/m, "helper 0755 root");
    t.match(contents, /^-rw-r--r-- root\/root +\d+ \S+ \S+ \.\/usr\/share\/man\/man1\/fusermount3\.1\.gz$/m, "man page");
    t.match(contents, /\.\/usr\/share\/fusermount3-ts\/apparmor\/local-fusermount3$/m, "AppArmor rules");
    t.match(contents, /\.\/usr\/share\/doc\/fusermount3-ts\/copyright$/m);
    const field = (f: string) => spawnSync("dpkg-deb", ["--field", deb1, f], { encoding: "utf8" }).stdout.trim();
    t.equal(field("Package"), "fusermount3-ts");
    t.equal(field("Version"), version);
    t.equal(field("Architecture"), arch);
    t.match(field("Depends"), /^libc6( \(>= [0-9.]+\))?$/);
    t.equal(field("Conflicts"), "");
    t.equal(field("Replaces"), "");
    t.equal(spawnSync("dpkg-deb", ["--field", deb2, "Version"], { encoding: "utf8" }).stdout.trim(), `${version}.1`);
    // The launcher execs the helper at the package's path.
    const x = spawnSync("sh", ["-c", `dpkg-deb --fsys-tarfile '${deb1}' | tar -xOf - ./usr/bin/fusermount3 | grep -caF /usr/lib/fusermount3/fusermount3-bun`], { encoding: "utf8" });
    t.not(x.stdout.trim(), "0", "launcher built for /usr/lib/fusermount3/fusermount3-bun");
  });

  const lintian = spawnSync("lintian", ["--version"]).status === 0;
  t.test("lintian", { timeout: 120000, skip: lintian ? false : "lintian is not installed (Debian package lintian)" }, async (t) => {
    const r = spawnSync("lintian", ["--tag-display-limit", "0", "--display-info", "--fail-on", "error,warning", deb1], { encoding: "utf8" });
    // lintian's diversion check reports /bin/fusermount3 or not depending on
    // Perl's hash order (a man page diversion switches it to loose matching
    // for the paths it looks at afterwards), so that override may go unused.
    const flaky = /^I: fusermount3-ts: unused-override diversion-for-unknown-file bin\/fusermount3 /;
    const tags = `${r.stdout}${r.stderr}`.split("\n").filter((l) => /^[EWIX]: /.test(l) && !flaky.test(l));
    t.same(tags, [], "no error, warning or info tag beyond the documented overrides");
    t.equal(r.status, 0, r.stderr);
  });

  t.test("dpkg -i, a real mount, reinstall, upgrade, -r, --purge", { timeout: 240000 }, async (t) => {
    const r = run(`
      state BEFORE
      D -i ${deb1}; state INSTALLED; mounts INSTALLED
      echo "INSTALLED VERIFY [$(dpkg --verify fusermount3-ts 2>&1)]"
      D -i ${deb1}; state REINSTALLED
      D -i ${deb2}; state UPGRADED; mounts UPGRADED
      D -r fusermount3-ts; state REMOVED
      D -P fusermount3-ts; state PURGED
      D -i ${deb1}; D -P fusermount3-ts; state PURGED-DIRECTLY
      mounts DEBIAN
    `);
    t.equal(r.code, 0, r.stderr);
    const o = r.stdout;
    t.equal(line(o, "BEFORE", "SHA"), `${debian.helper} MAN ${debian.man}`, "the scratch root starts as the machine");
    installed(t, o, "INSTALLED", version);
    t.equal(line(o, "INSTALLED", "VERIFY"), "[]", "dpkg --verify: every file as packaged");
    for (const tag of ["INSTALLED", "UPGRADED"]) {
      t.equal(line(o, tag, "SQUASHFUSE"), "deb-ok", `${tag}: squashfuse (libfuse 3) mounted by the user`);
      t.equal(line(o, tag, "HELLO").replace(/^\{.*"protocol":"([a-z-]+)".*\} /, "$1 "), "sync-init Hello, world!", `${tag}: our client, --sync-init through the package's helper`);
      t.match(o, new RegExp(`^${tag} SQUASHFUSE-UNMOUNTED$`, "m"));
      t.match(o, new RegExp(`^${tag} HELLO-UNMOUNTED$`, "m"));
      if (o.includes(`${tag} BINDFS `)) t.equal(line(o, tag, "BINDFS"), "deb-ok", `${tag}: bindfs (libfuse 2) through /usr/bin/fusermount`);
    }
    installed(t, o, "REINSTALLED", version);
    installed(t, o, "UPGRADED", `${version}.1`);
    restored(t, o, "REMOVED", "rc " + `${version}.1`);
    restored(t, o, "PURGED", "");
    restored(t, o, "PURGED-DIRECTLY", "");
    t.equal(line(o, "DEBIAN", "SQUASHFUSE"), "deb-ok", "Debian's helper mounts again");
    t.equal(line(o, "DEBIAN", "HELLO").replace(/^\{.*"protocol":"([a-z-]+)".*\} /, "$1 "), "classic Hello, world!", "Debian's 3.14 helper: the client falls back to the classic protocol");
    t.equal(sha("/usr/bin/fusermount3"), debian.helper, "the machine's own file never changed");
    t.equal(spawnSync("dpkg-query", ["-W", "fusermount3-ts"]).status, 1, "the machine's dpkg database never saw the package");
  });

  t.test("the package takes over an install.sh --system installation", { timeout: 240000 }, async (t) => {
    const r = run(`
      cd ${ROOT}
      bash install.sh --system > /dev/null
      state SCRIPT
      D -i ${deb1}; state TAKEN
      echo "TAKEN MANIFEST [$(ls /usr/lib/fusermount3/installed-files 2>&1 | head -1)]"
      echo "TAKEN REFUSES [$( (bash install.sh --uninstall --system 2>&1; echo "rc=$?") | tr '\n' ' ')]"
      mounts TAKEN
      D -r fusermount3-ts; state REMOVED
    `);
    t.equal(r.code, 0, r.stderr);
    const o = r.stdout;
    t.equal(line(o, "SCRIPT", "DIVERSIONS"), diversions, "install.sh --system makes the same diversions");
    installed(t, o, "TAKEN", version);
    t.match(line(o, "TAKEN", "MANIFEST"), /No such file/, "install.sh's manifest is gone");
    t.equal(line(o, "TAKEN", "FILES"), "[/usr/lib/fusermount3 /usr/share/doc/fusermount3-ts /usr/share/fusermount3-ts ]", "install.sh's uncompressed man page is gone");
    t.match(line(o, "TAKEN", "REFUSES"), /^\[install\.sh: the fusermount3-ts Debian package is installed; use apt\/dpkg to upgrade or remove it rc=1 \]$/);
    t.equal(line(o, "TAKEN", "SQUASHFUSE"), "deb-ok");
    restored(t, o, "REMOVED", `rc ${version}`);
  });

  const apparmor = parser !== undefined && existsSync("/etc/apparmor.d");
  t.test("AppArmor: the maintainer scripts add, reload and remove our rules", {
    timeout: 240000, skip: apparmor ? false : "apparmor_parser and /etc/apparmor.d are needed (Debian package apparmor)",
  }, async (t) => {
    // What the postinst installs: our file with a second line recording what it replaced.
    const expected = (previous: string) => {
      const [head, ...rest] = localRules().split("\n");
      return [head, `# fusermount3-ts-previous: ${previous}`, ...rest].join("\n");
    };
    writeFileSync(join(out, "expected-none"), expected("none"));
    writeFileSync(join(out, "expected-empty"), expected("empty"));
    // A stand-in profile package, to fire the package's file trigger.
    const r = run(`
      check() { apparmor_parser --skip-kernel-load --skip-cache /etc/apparmor.d/fusermount3 >/dev/null 2>&1 && echo compiles || echo broken; }
      local=/etc/apparmor.d/local/fusermount3
      # No profile: nothing is written.
      D -i ${deb1}; echo "NOPROFILE [$(ls $local 2>&1 | head -1)]"; D -r fusermount3-ts
      # Profile, no local file.
      cp ${aaProfile} /etc/apparmor.d/fusermount3
      D -i ${deb1} 2> "$work/err1"; cmp -s $local ${join(out, "expected-none")} && echo "NONE installed-as-expected $(check)"
      D -i ${deb2}; cmp -s $local ${join(out, "expected-none")} && echo "NONE kept-on-upgrade"
      D -r fusermount3-ts; echo "NONE REMOVED [$(ls $local 2>&1 | head -1)] $(check)"
      # An empty stub, as packages create: put back empty.
      : > $local
      D -i ${deb1}; cmp -s $local ${join(out, "expected-empty")} && echo "EMPTY installed-as-expected"
      D -P fusermount3-ts; echo "EMPTY PURGED [$(stat -c %s $local)]"
      # The administrator's own rules are never touched.
      echo '/srv/data/ r,' > $local
      D -i ${deb1} 2> "$work/err2"; echo "FOREIGN [$(cat $local)] $(grep -c 'holds rules of its own' "$work/err2")"
      D -r fusermount3-ts; echo "FOREIGN REMOVED [$(cat $local)]"
      rm -f $local /etc/apparmor.d/fusermount3
      # The trigger: the profile arrives (or goes) after the package.
      D -i ${deb1}
      mkdir -p "$work/prof/DEBIAN" "$work/prof/etc/apparmor.d"
      cp ${aaProfile} "$work/prof/etc/apparmor.d/fusermount3"
      printf 'Package: fm-test-apparmor-profile\\nVersion: 1\\nArchitecture: all\\nMaintainer: test <test@example.org>\\nDescription: test\\n' > "$work/prof/DEBIAN/control"
      dpkg-deb --root-owner-group -Znone --build "$work/prof" "$work/prof.deb" > /dev/null
      D -i "$work/prof.deb"; D --triggers-only fusermount3-ts
      cmp -s $local ${join(out, "expected-none")} && echo "TRIGGER installed-as-expected"
      D -P fm-test-apparmor-profile; D --triggers-only fusermount3-ts
      echo "TRIGGER PROFILE-GONE [$(ls $local 2>&1 | head -1)]"
      D -r fusermount3-ts
      # With AppArmor enabled the profile is reloaded: a stand-in apparmor_parser
      # records the calls and compiles instead of loading (this kernel has no AppArmor).
      mkdir -p /sys/module/apparmor/parameters; echo Y > /sys/module/apparmor/parameters/enabled
      real=$(command -v apparmor_parser)
      printf '#!/bin/sh\\necho "$*" >> %s/parser.log\\nargs=\\nfor a; do case $a in --replace) args="$args --skip-kernel-load" ;; --write-cache|--skip-read-cache) ;; *) args="$args $a" ;; esac; done\\nexec %s --skip-cache $args\\n' "$work" "$real" > /usr/local/sbin/apparmor_parser
      chmod 755 /usr/local/sbin/apparmor_parser
      cp ${aaProfile} /etc/apparmor.d/fusermount3
      D -i ${deb1}; echo "RELOAD INSTALLED $(grep -c -- '--replace.* /etc/apparmor.d/fusermount3$' "$work/parser.log")"
      D -r fusermount3-ts; echo "RELOAD REMOVED $(grep -c -- '--replace.* /etc/apparmor.d/fusermount3$' "$work/parser.log") [$(ls $local 2>&1 | head -1)]"
    `);
    t.equal(r.code, 0, r.stderr);
    const o = r.stdout;
    t.match(o, /^NOPROFILE \[ls: cannot access .*No such file/m, "nothing written without Ubuntu's profile");
    t.match(o, /^NONE installed-as-expected compiles$/m, "our rules installed and the profile compiles with them");
    t.match(o, /^NONE kept-on-upgrade$/m);
    t.match(o, /^NONE REMOVED \[ls: cannot access .*No such file.*\] compiles$/m, "removed again");
    t.match(o, /^EMPTY installed-as-expected$/m, "an empty stub is replaced");
    t.match(o, /^EMPTY PURGED \[0\]$/m, "and put back empty");
    t.match(o, /^FOREIGN \[\/srv\/data\/ r,\] 1$/m, "someone else's rules are left alone, with a message");
    t.match(o, /^FOREIGN REMOVED \[\/srv\/data\/ r,\]$/m, "also on removal");
    t.match(o, /^TRIGGER installed-as-expected$/m, "a profile installed after the package gets our rules (file trigger)");
    t.match(o, /^TRIGGER PROFILE-GONE \[ls: cannot access .*No such file/m, "and loses them with the profile");
    t.match(o, /^RELOAD INSTALLED 1$/m, "the profile is reloaded after installing our rules");
    t.match(o, /^RELOAD REMOVED 2 \[ls: cannot access .*No such file/m, "and after removing them");
  });
}, { setuid: SETUID_INSTALL, also: () => (!packaged || !overlay || !dpkgDeb ? "needs dpkg-deb, Debian's fuse3 package and overlayfs" : undefined) });
