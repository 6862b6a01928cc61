// fusermount3 --check: a user's diagnosis; each problem one line naming the fix.
import t from "tap";
import { writeFileSync, chmodSync } from "node:fs";
import { integration, OURS, OURS_HELPER, user, scratch, runAs, inNamespace, cleanupDir } from "../lib/harness.ts";

integration("check tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  t.teardown(() => cleanupDir(base));

  t.test("a healthy installation", async (t) => {
    const r = runAs(u, [OURS, "--check"], { argv0: "fusermount3" });
    t.equal(r.code, 0, r.stdout);
    t.match(r.stdout, /^fusermount3 \d+\.\d+\.\d+: launcher .*\/bin\/fusermount3, helper .*fusermount3-bun\n/);
    t.match(r.stdout, /FUSE protocol 7\.\d+; synchronous FUSE_INIT (supported|not supported)\n/);
    t.match(r.stdout, /\/dev\/fuse: mode 0666, usable by you\n/);
    t.match(r.stdout, /no problems found\n$/);
    const j = JSON.parse(runAs(u, [OURS, "--check", "--json"]).stdout) as Record<string, unknown>;
    t.equal(j.privileged, true);
    t.same(j.problems, []);
    t.match(String(j.fuseProtocol), /^7\.\d+$/);
  });

  t.test("problems name their fix", async (t) => {
    const conf = `${base}/fuse.conf`;
    writeFileSync(conf, "mount_max = 0\nbogus line\n");
    chmodSync(conf, 0o644);
    const r = inNamespace(`
      mkdir -p ${base}/dev && mknod -m 600 ${base}/dev/fuse c 10 229
      mount --bind ${base}/dev/fuse /dev/fuse
      mount --bind ${conf} /etc/fuse.conf
      runuser -u ${u.name} -- env -i ${OURS} --check && echo "exit=0" || echo "exit=$?"`);
    t.match(r.stdout, /fusermount3: you cannot open \/dev\/fuse \(Permission denied\): make it mode 0666 \(chmod 0666 \/dev\/fuse\)\n/);
    t.match(r.stdout, /unknown parameter in \/etc\/fuse.conf at line 2: 'bogus line': fix or remove that line\n/);
    t.match(r.stdout, /mount_max reached \(\d+ FUSE mounts, mount_max = 0\): unmount some or raise mount_max in \/etc\/fuse.conf\n/);
    t.match(r.stdout, /exit=1\n$/);
  });

  t.test("the helper run without its launcher says so", async (t) => {
    const r = runAs(u, [OURS_HELPER, "--check"], { argv0: "fusermount3" });
    t.equal(r.code, 1);
    t.match(r.stdout, /fusermount3: not running as root: run fusermount3 through its set-uid launcher .*\/bin\/fusermount3/);
  });

  t.test("--check takes no mountpoint; --json needs --check", async (t) => {
    t.equal(runAs(u, [OURS, "--check", "/mnt"], { argv0: "fusermount3" }).stderr, "fusermount3: --check takes no mountpoint\n");
    t.equal(runAs(u, [OURS, "--json", "/mnt"], { argv0: "fusermount3" }).stderr, "fusermount3: --json goes with --check\n");
  });
});
