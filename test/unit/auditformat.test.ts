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

t.test("review finding 8: every character a log reader could misread is escaped", async (t) => {
  const cases: Array<[string, string]> = [
    ["a\u0085b", "a\\u0085b"], // NEL (C1)
    ["\u009b31m", "\\u009b31m"], // CSI (C1)
    ["x\u2028y\u2029z", "x\\u2028y\\u2029z"], // line and paragraph separators
    ["evil\u202efdp.exe", "evil\\u202efdp.exe"], // RIGHT-TO-LEFT OVERRIDE
    ["\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"], // isolates
    ["zero\u200bwidth\u200e\u200f", "zero\\u200bwidth\\u200e\\u200f"],
    ["bom\ufeff", "bom\\ufeff"],
    ["lone\ud800", "lone\\ud800"],
    ["private\ue000", "private\\ue000"],
    ["tab\tnl\n", "tab\\tnl\\n"],
    ["ordinary é ß 中文 😀", "ordinary é ß 中文 😀"],
  ];
  for (const [raw, escaped] of cases) t.equal(quote(raw), `"${escaped}"`, escaped); // a raw U+2028 would break the TAP stream
});

t.test("review finding 8: the tag is fixed", async (t) => {
  const { AUDIT_IDENT } = await import("../../src/policy/auditformat.ts");
  t.equal(AUDIT_IDENT, "fusermount3");
});
