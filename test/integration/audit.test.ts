// The audit trail: mounts, unmounts and refusals by users reach syslog through
// /dev/log (authpriv). /dev/log is a datagram socket of the test's own in a
// private /dev inside a nested mount namespace; without it nothing fails.
import t from "tap";
import { readFileSync } from "node:fs";
import { integration, OURS, FAKE_CLIENT, user, scratch, mkdirAs, inNamespace, withPrivateSyslog, cleanupDir, mountsAt } from "../lib/harness.ts";

integration("audit tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  t.teardown(() => cleanupDir(base));
  const log = `${base}/syslog.txt`;

  const withSyslog = (body: string) => withPrivateSyslog(u, log, body);

  t.test("mounts, unmounts and refusals are recorded", async (t) => {
    const mnt = mkdirAs(u, `${base}/m 1`);
    const spec = (opts: string) => JSON.stringify({ helper: OURS, args: ["-o", opts, "--", mnt] });
    const r = withSyslog(`
      as ${FAKE_CLIENT} '${spec("fsname=audited,subtype=aud")}' > /dev/null
      as ${OURS} -u "${mnt}"
      as ${FAKE_CLIENT} '${spec("allow_other")}' > /dev/null
      as ${OURS} -u "${base}/nothing-here" 2>/dev/null || true`);
    t.equal(r.code, 0, r.stderr);
    const lines = readFileSync(log, "utf8").trim().split("\n");
    t.equal(lines.length, 4, lines.join("\n"));
    const pid = String.raw`\[\d+\]`;
    t.match(lines[0], new RegExp(`^<86>\\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d fusermount3${pid}: user="fmtest" uid=${u.uid} action=mount mountpoint="${mnt}" fstype="fuse.aud" source="audited" options="fsname=audited,subtype=aud" result=ok$`));
    t.match(lines[1], new RegExp(`^<86>.*: user="fmtest" uid=${u.uid} action=unmount mountpoint="${mnt}" result=ok$`));
    t.match(lines[2], new RegExp(`^<85>.*action=mount mountpoint="${mnt}" options="allow_other" result=refused reason="option allow_other only allowed if 'user_allow_other' is set in /etc/fuse.conf"$`));
    t.match(lines[3], /^<85>.*action=unmount .* result=failed reason="entry for .* not found in \/etc\/mtab"$/);
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("user-controlled text cannot forge a record", async (t) => {
    const evil = mkdirAs(u, `${base}/x" result=ok\nfake`);
    const r = withSyslog(`as ${OURS} -u '${evil}' 2>/dev/null || true`);
    t.equal(r.code, 0, r.stderr);
    const lines = readFileSync(log, "utf8").trim().split("\n");
    t.equal(lines.length, 1);
    t.match(lines[0], /mountpoint=".*x\\" result=ok\\nfake" result=failed/);
  });

  t.test("no syslog: mounts work and nothing is printed about it", async (t) => {
    const mnt = mkdirAs(u, `${base}/m2`);
    const r = inNamespace(`
      runuser -u ${u.name} -- env -i ${FAKE_CLIENT} '${JSON.stringify({ helper: OURS, args: ["--", mnt] })}'
      runuser -u ${u.name} -- env -i ${OURS} -u ${mnt}`);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /"exitCode":0,"signal":null,"stdout":"","stderr":""/);
  });
});
