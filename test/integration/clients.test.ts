// Real FUSE programs mounting through our helper, as the unprivileged user.
// In a private mount namespace our launcher is bind-mounted over
// /usr/bin/fusermount3, which is where libfuse 3 looks first and where the
// libfuse 2 name /usr/bin/fusermount points, so the programs use it unchanged.
import t from "tap";
import { writeFileSync, chownSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { integration, have, OURS, user, scratch, mkdirAs, inNamespace, cleanupDir } from "../lib/harness.ts";

integration("real FUSE clients", () => {
  const u = user("fmtest");
  const base = scratch(u);
  t.teardown(() => cleanupDir(base));

  // Every script runs as root in its own namespace; `as` runs a command as the
  // user with a minimal environment; `cleanup` kills leftover servers by PID.
  const prologue = `
    mount --bind ${OURS} /usr/bin/fusermount3
    as() { runuser -u ${u.name} -- env -i PATH=/usr/bin:/bin HOME=/ "$@"; }
    mounted() { awk -v p="$1" '$5 == p' /proc/self/mountinfo | grep -q .; }
    fstype() { awk -v p="$1" '$5 == p { for (i = 7; i <= NF; i++) if ($i == "-") { print $(i+1) " " $(i+2); break } }' /proc/self/mountinfo; }
    pids=""
    cleanup() { for p in $pids; do kill -9 "$p" 2>/dev/null || true; done; }
    trap cleanup EXIT
  `;

  t.test("the bound helper is ours", async (t) => {
    const r = inNamespace(`${prologue}
      as /usr/bin/fusermount3 -V
      as /usr/bin/fusermount -V`);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, "fusermount3 version: 3.19.0\nfusermount3 version: 3.19.0\n");
  });

  const src = mkdirAs(u, `${base}/src`);
  writeFileSync(`${src}/hello.txt`, "hello from the source\n");
  chownSync(`${src}/hello.txt`, u.uid, u.gid);

  t.test("bindfs (libfuse 2, calls us as 'fusermount')", { skip: !have("bindfs") && "bindfs not installed" }, async (t) => {
    const mnt = mkdirAs(u, `${base}/bindfs`);
    const r = inNamespace(`${prologue}
      as bindfs --no-allow-other ${src} ${mnt}
      mounted ${mnt}
      fstype ${mnt}
      as cat ${mnt}/hello.txt
      as fusermount -u ${mnt}
      ! mounted ${mnt} && echo unmounted`);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^fuse /m);
    t.match(r.stdout, /hello from the source/);
    t.match(r.stdout, /unmounted/);
  });

  t.test("squashfuse (libfuse 3.14): mount, read, unmount; auto_unmount after kill -9", { skip: !(have("squashfuse") && have("mksquashfs")) && "squashfuse/mksquashfs not installed" }, async (t) => {
    const img = `${base}/img.sqfs`;
    spawnSync("mksquashfs", [src, img, "-quiet", "-noappend", "-no-progress"]);
    const mnt = mkdirAs(u, `${base}/sq`);
    const r = inNamespace(`${prologue}
      as squashfuse ${img} ${mnt}
      fstype ${mnt}
      as cat ${mnt}/hello.txt
      as fusermount3 -u ${mnt}
      ! mounted ${mnt} && echo unmounted
      as squashfuse -o auto_unmount ${img} ${mnt}
      server=$(pgrep -u ${u.name} -x squashfuse); pids="$pids $server"
      mounted ${mnt} && echo remounted
      kill -9 $server
      for i in $(seq 100); do mounted ${mnt} || break; sleep 0.1; done
      ! mounted ${mnt} && echo auto-unmounted`);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^fuse\.squashfuse squashfuse$/m);
    t.match(r.stdout, /hello from the source/);
    t.match(r.stdout, /unmounted\nremounted\nauto-unmounted/);
  });

  t.test("fuse-zip (libfuse 2): mount, read, unmount", { skip: !(have("fuse-zip") && have("zip")) && "fuse-zip/zip not installed" }, async (t) => {
    const zip = `${base}/a.zip`;
    spawnSync("zip", ["-qj", zip, `${src}/hello.txt`]);
    chownSync(zip, u.uid, u.gid);
    const mnt = mkdirAs(u, `${base}/zip`);
    const r = inNamespace(`${prologue}
      as fuse-zip -r ${zip} ${mnt}
      fstype ${mnt}
      as cat ${mnt}/hello.txt
      as fusermount -u ${mnt}
      for i in $(seq 50); do mounted ${mnt} || break; sleep 0.1; done
      ! mounted ${mnt} && echo unmounted`);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^fuse(\.fuse-zip)? /m);
    t.match(r.stdout, /hello from the source/);
    t.match(r.stdout, /unmounted/);
  });

  t.test("bindfs auto_unmount after kill -9 (libfuse 2 watchdog path)", { skip: !have("bindfs") && "bindfs not installed" }, async (t) => {
    const mnt = mkdirAs(u, `${base}/bindfs-auto`);
    const r = inNamespace(`${prologue}
      as bindfs --no-allow-other -o auto_unmount ${src} ${mnt}
      server=$(pgrep -u ${u.name} -x bindfs); pids="$pids $server"
      mounted ${mnt} && echo mounted
      kill -9 $server
      for i in $(seq 100); do mounted ${mnt} || break; sleep 0.1; done
      ! mounted ${mnt} && echo auto-unmounted`);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /mounted\nauto-unmounted/);
  });

});
