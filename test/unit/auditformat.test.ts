import t from "tap";
import { formatAuditRecord, quote } from "../../src/policy/auditformat.ts";

const at = new Date(2026, 10, 4, 9, 5, 7); // local time, as syslog() stamps
const base = { ident: "fusermount3", pid: 42, now: at, user: "alice", uid: 1000 };

t.test("record layout: priority, stamp, ident[pid], fields", async (t) => {
  t.equal(
    formatAuditRecord({ ...base, event: { action: "mount", mountpoint: "/home/a/m", fstype: "fuse.sshfs", source: "a@h:", options: "ro" }, result: "ok" }),
    '<86>Nov  4 09:05:07 fusermount3[42]: user="alice" uid=1000 action=mount mountpoint="/home/a/m" fstype="fuse.sshfs" source="a@h:" options="ro" result=ok',
  );
  t.equal(
    formatAuditRecord({ ...base, event: { action: "unmount", mountpoint: "/m" }, result: "refused", reason: "entry for /m not found in /etc/mtab" }),
    '<85>Nov  4 09:05:07 fusermount3[42]: user="alice" uid=1000 action=unmount mountpoint="/m" result=refused reason="entry for /m not found in /etc/mtab"',
  );
});

t.test("user text cannot add fields or lines", async (t) => {
  const r = formatAuditRecord({ ...base, event: { action: "mount", mountpoint: '/x" result=ok\nuser="root' }, result: "failed" });
  t.notMatch(r, /\n/);
  // A reader that honours the quoting sees exactly the fields we wrote.
  const fields = [...r.split(": ").slice(1).join(": ").matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)/g)].map((m) => m[1]);
  t.same(fields, ["user", "uid", "action", "mountpoint", "result"]);
  t.match(r, /mountpoint="\/x\\" result=ok\\nuser=\\"root"/);
  t.equal(formatAuditRecord({ ...base, ident: "/evil path\n", event: { action: "mount", mountpoint: "/" }, result: "ok" }).split(":")[0]!.includes("\n"), false);
});

t.test("long values are cut", async (t) => {
  t.ok(quote("a".repeat(5000)).length < 1100);
  t.equal(quote("\u0001"), '"\\u0001"');
  t.equal(formatAuditRecord({ ...base, user: undefined, event: { action: "auto-unmount", mountpoint: "/m" }, result: "ok" }).includes('user="?"'), true);
});
