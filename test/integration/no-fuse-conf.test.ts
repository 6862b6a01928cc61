// Without the fuse3 package there is no /etc/fuse.conf, and the helper must
// work with libfuse's defaults: mount_max 1000, no user_allow_other, no
// message. Each case runs in a nested private mount namespace in which /etc is
// a tmpfs copy of the real one without fuse.conf (the real /etc is only read).
import t from "tap";
import { existsSync } from "node:fs";
import { integration, OURS, C_HELPER, FAKE_CLIENT, user, scratch, mkdirAs, inNamespace, cleanupDir, type Run } from "../lib/harness.ts";

integration("no /etc/fuse.conf", () => {
  const u = user("fmtest");
  const base = scratch(u);
  t.teardown(() => cleanupDir(base));

  const withoutConf = (body: string, timeoutMs = 60000): Run => inNamespace(`
    etc=$(mktemp -d ${base}/etc.XXXXXX)
    mount -t tmpfs -o mode=755 tmpfs "$etc"
    cp -a /etc/. "$etc/"
    rm -f "$etc/fuse.conf"
    mount --move "$etc" /etc
    [ ! -e /etc/fuse.conf ] || { echo "fuse.conf still visible" >&2; exit 1; }
    as() { setpriv --reuid ${u.uid} --regid ${u.gid} --clear-groups -- env -i PATH=/usr/bin:/bin "$@"; }
    # The fake client's one-line report; the helper's stderr is in it.
    client() { as ${FAKE_CLIENT} "$(printf '{"helper":"%s","argv0":"fusermount3","args":%s}' "$1" "$2")" | tail -n 1; }
    fusemounts() { awk '{ for (i = 7; i <= NF; i++) if ($i == "-") { print $(i+1); break } }' /proc/self/mountinfo | grep -cE '^fuse(\\.|$)' || true; }
    ${body}`, {}, timeoutMs);

  type Report = { gotFd: boolean; exitCode: number | null; stderr: string };
  const reports = (r: Run): Record<string, Report> => Object.fromEntries(r.stdout.split("\n")
    .filter((l) => l.startsWith("REPORT "))
    .map((l) => { const [, name, json] = /^REPORT (\S+) (.*)$/.exec(l)!; return [name!, JSON.parse(json!) as Report]; }));
  const lines = (r: Run, tag: string): string[] => r.stdout.split("\n").filter((l) => l.startsWith(`${tag} `)).map((l) => l.slice(tag.length + 1));

  t.test("mount and unmount through our helper", async (t) => {
    const mnt = mkdirAs(u, `${base}/m`);
    const r = withoutConf(`
      echo "REPORT mount $(client ${OURS} '["-o","rw,nosuid,nodev","--","${mnt}"]')"
      echo "MOUNTED $(awk -v p=${mnt} '$5 == p' /proc/self/mountinfo | wc -l)"
      as ${OURS} -u ${mnt} 2> ${base}/u.err && echo "UNMOUNT 0" || echo "UNMOUNT $?"
      echo "UNMOUNT-STDERR $(cat ${base}/u.err)"
      echo "MOUNTED $(awk -v p=${mnt} '$5 == p' /proc/self/mountinfo | wc -l)"`);
    t.equal(r.code, 0, r.stderr);
    const m = reports(r).mount;
    t.ok(m?.gotFd, "the fd arrived");
    t.equal(m?.exitCode, 0, "the helper exits 0");
    t.equal(m?.stderr, "", "no message about the missing file");
    t.same(lines(r, "MOUNTED"), ["1", "0"], "mounted, then unmounted");
    t.same(lines(r, "UNMOUNT"), ["0"]);
    t.same(lines(r, "UNMOUNT-STDERR"), [""]);
  });

  t.test("allow_other and allow_root are refused (no user_allow_other)", async (t) => {
    const mnt = mkdirAs(u, `${base}/ao`);
    const helpers = existsSync(C_HELPER) ? [["ours", OURS], ["c", C_HELPER]] : [["ours", OURS]];
    const r = withoutConf(helpers.map(([name, h]) => `
      echo "REPORT ${name}-allow_other $(client ${h} '["-o","allow_other","--","${mnt}"]')"
      echo "REPORT ${name}-allow_root $(client ${h} '["-o","allow_root","--","${mnt}"]')"`).join("\n") + `
      echo "MOUNTED $(awk -v p=${mnt} '$5 == p' /proc/self/mountinfo | wc -l)"`);
    t.equal(r.code, 0, r.stderr);
    const got = reports(r);
    for (const opt of ["allow_other", "allow_root"]) {
      const o = got[`ours-${opt}`];
      t.equal(o?.exitCode, 1, `${opt}: exit 1`);
      t.equal(o?.gotFd, false, `${opt}: no fd`);
      t.equal(o?.stderr, `fusermount3: option ${opt} only allowed if 'user_allow_other' is set in /etc/fuse.conf\n`, `${opt}: libfuse's message`);
      const c = got[`c-${opt}`];
      if (c) t.same({ code: c.exitCode, stderr: c.stderr, gotFd: c.gotFd }, { code: o?.exitCode, stderr: o?.stderr, gotFd: o?.gotFd }, `${opt}: as the C helper`);
    }
    t.same(lines(r, "MOUNTED"), ["0"], "nothing mounted");
  });

  t.test("mount_max is 1000: with 999 FUSE mounts one more is allowed, then refused", async (t) => {
    const mnt = mkdirAs(u, `${base}/mm`);
    const mnt2 = mkdirAs(u, `${base}/mm2`);
    // Root fills the table with dead FUSE mounts (any user's count) up to 999.
    const r = withoutConf(`
      fill=${base}/fill; mkdir -p "$fill"
      n=$(fusemounts)
      for i in $(seq $((n + 1)) 999); do
        mkdir "$fill/$i"; exec 5<>/dev/fuse
        mount -i -t fuse -o fd=5,rootmode=40000,user_id=0,group_id=0 filler "$fill/$i"; exec 5>&-
      done
      echo "COUNT $(fusemounts)"
      echo "REPORT 1000th $(client ${OURS} '["--","${mnt}"]')"
      echo "COUNT $(fusemounts)"
      echo "REPORT 1001st $(client ${OURS} '["--","${mnt2}"]')"
      echo "COUNT $(fusemounts)"`, 120000);
    t.equal(r.code, 0, r.stderr);
    t.same(lines(r, "COUNT"), ["999", "1000", "1000"], "FUSE mounts before, after the 1000th, after the refusal");
    const got = reports(r);
    t.equal(got["1000th"]?.exitCode, 0, "the 1000th mount is allowed");
    t.equal(got["1000th"]?.gotFd, true);
    t.equal(got["1001st"]?.exitCode, 1, "the 1001st is refused");
    t.equal(got["1001st"]?.gotFd, false);
    t.equal(got["1001st"]?.stderr, "fusermount3: too many FUSE filesystems mounted; mount_max=N can be set in /etc/fuse.conf\n");
  });
});
