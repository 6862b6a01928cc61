// Unit tests for src/policy/fuseconf.ts. Expected values come from
// /work/shared/spec/fusermount3.md §7 (master behaviour).
import t from "tap";
import { parseFuseConf, scanInt } from "../../src/policy/fuseconf.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0) & 0xff);
const P = "/etc/fuse.conf";
const conf = (s: string, path?: string) => parseFuseConf(enc(s), path);

t.test("defaults (§7)", async (t) => {
  const c = conf("");
  t.equal(c.userAllowOther, false);
  t.equal(c.mountMax, 1000);
  t.same(c.messages, [], "empty input, no messages");
  const d = conf("# only a comment\n\n   \n");
  t.equal(d.userAllowOther, false);
  t.equal(d.mountMax, 1000);
  t.same(d.messages, []);
  t.same(parseFuseConf(new Uint8Array(0)).messages, []);
});

t.test("user_allow_other: exact word only (§7)", async (t) => {
  t.equal(conf("user_allow_other\n").userAllowOther, true);
  t.equal(conf("  user_allow_other \t\n").userAllowOther, true, "whitespace trimmed");
  t.equal(conf("user_allow_other\r\n").userAllowOther, true, "CR is isspace()");
  t.equal(conf("user_allow_other # yes\n").userAllowOther, true, "comment cut");
  t.equal(conf("user_allow_other#\n").userAllowOther, true);

  const c = conf("user_allow_other = 1\n");
  t.equal(c.userAllowOther, false, "user_allow_other = 1 is not the keyword");
  t.same(c.messages, [`unknown parameter in ${P} at line 1: 'user_allow_other = 1'`]);

  for (const bad of ["User_allow_other", "user_allow_others", "user_allow_other=1", "user allow other", "#user_allow_other x"]) {
    const r = conf(`${bad}\n`);
    t.equal(r.userAllowOther, false, JSON.stringify(bad));
  }
  t.same(conf("user_allow_others\n").messages, [`unknown parameter in ${P} at line 1: 'user_allow_others'`]);
  t.same(conf("#user_allow_other\n").messages, [], "commented out: nothing");
  t.same(conf("user_allow#_other\n").messages, [`unknown parameter in ${P} at line 1: 'user_allow'`], "# anywhere cuts");
});

t.test("mount_max with scanf %i semantics (§7)", async (t) => {
  const cases: Array<[string, number]> = [
    ["mount_max = 5", 5],
    ["mount_max=5", 5],
    ["mount_max   =  5", 5],
    ["mount_max\t=\t5", 5],
    ["mount_max =5", 5],
    ["mount_max= 5", 5],
    ["mount_max = 0x10", 16],
    ["mount_max = 0X1f", 31],
    ["mount_max = 010", 8],
    ["mount_max = 0", 0],
    ["mount_max = 5abc", 5],
    ["mount_max = 12 34", 12],
    ["mount_max = 09", 0],
    ["mount_max = +7", 7],
    ["mount_max = -1", -1],
    ["  mount_max = 20  ", 20],
    ["mount_max = 30 # thirty", 30],
    ["mount_max = 2147483647", 2147483647],
  ];
  for (const [line, want] of cases) {
    const c = conf(`${line}\n`);
    t.equal(c.mountMax, want, JSON.stringify(line));
    t.same(c.messages, [], `${JSON.stringify(line)} no message`);
  }
});

t.test("mount_max < -1 is rejected on master (§7)", async (t) => {
  const c = conf("mount_max = -2\n");
  t.equal(c.mountMax, 1000, "value ignored, default kept");
  t.same(c.messages, [`invalid mount_max = -2 in ${P} at line 1`]);

  const d = conf("mount_max = 7\n# c\nmount_max = -100\n");
  t.equal(d.mountMax, 7, "earlier value kept");
  t.same(d.messages, [`invalid mount_max = -100 in ${P} at line 3`]);

  const e = conf("mount_max = -0x10\n");
  t.equal(e.mountMax, 1000);
  t.same(e.messages, [`invalid mount_max = -16 in ${P} at line 1`], "value printed with %i (decimal)");

  t.equal(conf("mount_max = -1\n").mountMax, -1, "-1 = unlimited is valid");
});

t.test("mount_max lines that do not scan are unknown parameters (§7)", async (t) => {
  for (const line of ["mount_max", "mount_max =", "mount_max = abc", "mount_max 5", "mount_maxx = 5", "Mount_max = 5", "mount_max : 5"]) {
    const c = conf(`${line}\n`);
    t.equal(c.mountMax, 1000, JSON.stringify(line));
    t.same(c.messages, [`unknown parameter in ${P} at line 1: '${line}'`], `${JSON.stringify(line)} message`);
  }
});

t.test("unknown parameter message and line numbers (§7)", async (t) => {
  const c = conf("\n\n# comment\nfoo bar   \n  baz\n");
  t.same(c.messages, [
    `unknown parameter in ${P} at line 4: 'foo bar'`,
    `unknown parameter in ${P} at line 5: 'baz'`,
  ], "trimmed text, physical line numbers");
  t.equal(c.userAllowOther, false);
  t.equal(c.mountMax, 1000);
  const d = conf("foo\n", "/tmp/other.conf");
  t.same(d.messages, ["unknown parameter in /tmp/other.conf at line 1: 'foo'"], "path argument used");
});

t.test("line too long (§7)", async (t) => {
  const long = "x".repeat(300);
  const c = conf(`${long}\nuser_allow_other\nmount_max = 3\nbogus\n`);
  t.same(c.messages, [
    `reading ${P}: line 1 too long`,
    `unknown parameter in ${P} at line 4: 'bogus'`,
  ]);
  t.equal(c.userAllowOther, true, "next line still parsed");
  t.equal(c.mountMax, 3);

  // A too-long line that would otherwise be valid is skipped entirely.
  const padded = "user_allow_other" + " ".repeat(300);
  const d = conf(`# first\n${padded}\n`);
  t.equal(d.userAllowOther, false, "too long line not parsed");
  t.same(d.messages, [`reading ${P}: line 2 too long`]);

  // Boundary: the 256-byte buffer holds 255 bytes; the newline must fit.
  const fits = "user_allow_other" + " ".repeat(254 - "user_allow_other".length); // 254 + \n = 255
  const e = conf(`${fits}\n`);
  t.equal(e.userAllowOther, true, "254 characters + newline fits");
  t.same(e.messages, []);
  const over = "user_allow_other" + " ".repeat(255 - "user_allow_other".length); // 255 + \n = 256
  const f = conf(`${over}\nmount_max = 9\n`);
  t.equal(f.userAllowOther, false, "255 characters + newline does not fit");
  t.same(f.messages, [`reading ${P}: line 1 too long`]);
  t.equal(f.mountMax, 9, "following line parsed");

  // A very long line (spanning many buffers) counts as one line.
  const g = conf(`a\n${"y".repeat(10000)}\nb\n`);
  t.same(g.messages, [
    `unknown parameter in ${P} at line 1: 'a'`,
    `reading ${P}: line 2 too long`,
    `unknown parameter in ${P} at line 3: 'b'`,
  ]);
});

t.test("missing newline at end of file (§7)", async (t) => {
  const c = conf("user_allow_other");
  t.equal(c.userAllowOther, false, "last line without newline not parsed");
  t.same(c.messages, [`reading ${P}: missing newline at end of file`]);

  const d = conf("mount_max = 4\nmount_max = 8");
  t.equal(d.mountMax, 4);
  t.same(d.messages, [`reading ${P}: missing newline at end of file`]);

  const e = conf("x".repeat(300));
  t.equal(e.messages.at(-1), `reading ${P}: missing newline at end of file`, "long unterminated last line");
  t.notOk(e.messages.some((m) => m.includes("unknown parameter")));
});

t.test("repeated keys: last wins (§7)", async (t) => {
  t.equal(conf("mount_max = 5\nmount_max = 7\n").mountMax, 7);
  t.equal(conf("mount_max = 7\nmount_max = 0\n").mountMax, 0);
  t.equal(conf("user_allow_other\nuser_allow_other\n").userAllowOther, true);
});

t.test("comments anywhere (§7)", async (t) => {
  const c = conf("# c\nmount_max = 5 # five\n  # indented\nuser_allow_other#x\n#mount_max = 9\n");
  t.equal(c.mountMax, 5);
  t.equal(c.userAllowOther, true);
  t.same(c.messages, []);
  t.equal(conf("mount_max = #5\n").mountMax, 1000, "comment before the value");
  t.same(conf("mount_max = #5\n").messages, [`unknown parameter in ${P} at line 1: 'mount_max ='`]);
});

t.test("scanInt (scanf %i)", async (t) => {
  t.equal(scanInt("42", 0), 42);
  t.equal(scanInt("  42", 0), 42, "leading whitespace skipped");
  t.equal(scanInt("0x1A", 0), 26);
  t.equal(scanInt("017", 0), 15);
  t.equal(scanInt("0", 0), 0);
  t.equal(scanInt("-5", 0), -5);
  t.equal(scanInt("+5", 0), 5);
  t.equal(scanInt("5abc", 0), 5);
  t.equal(scanInt("08", 0), 0, "octal stops at 8");
  t.equal(scanInt("abc", 0), undefined);
  t.equal(scanInt("", 0), undefined);
  t.equal(scanInt("-", 0), undefined);
  t.equal(scanInt("x=12", 2), 12, "starts at the given index");
});

t.test("hostile inputs do not throw", async (t) => {
  // A NUL byte makes libfuse's `line[strlen(line)-1]` read outside the string (undefined
  // behaviour); the spec only requires that nothing crashes. We only check that parsing
  // resynchronises on later lines.
  t.doesNotThrow(() => parseFuseConf(latin1("\0\nuser_allow_other\n\0\0\0\nmount_max\0 = 5\nmount_max = 6\0\n")));
  const nul = parseFuseConf(latin1("\0\nfoo\nbar\nuser_allow_other\nmount_max = 6\n"));
  t.equal(nul.userAllowOther, true, "parsing resumes after a NUL line");
  t.equal(nul.mountMax, 6);
  const mid = parseFuseConf(latin1("user_allow_other\0junk\nmount_max = 6\n"));
  // (analysis) C sees strlen() stop at the NUL, so the newline seems missing: the line and
  // the next physical line are treated as one over-long line.
  t.equal(mid.userAllowOther, false, "line with embedded NUL not parsed");
  t.equal(mid.mountMax, 1000, "the next line is swallowed as in C");
  t.same(mid.messages, [`reading ${P}: line 1 too long`]);
  t.doesNotThrow(() => parseFuseConf(latin1("\0")));
  t.doesNotThrow(() => parseFuseConf(latin1("\0".repeat(1000) + "\n")));
  const mib = parseFuseConf(enc("a".repeat(1 << 20) + "\nuser_allow_other\n"));
  t.equal(mib.userAllowOther, true, "1 MiB line skipped");
  t.same(mib.messages, [`reading ${P}: line 1 too long`]);
  const many = parseFuseConf(enc("\n".repeat(1 << 20) + "foo\n"));
  t.same(many.messages, [`unknown parameter in ${P} at line ${(1 << 20) + 1}: 'foo'`]);
  const uni = conf("ünïcødé ✓\n");
  t.equal(uni.messages.length, 1);
  t.match(uni.messages[0], new RegExp(`^unknown parameter in ${P} at line 1: '`));
  const bin = parseFuseConf(Uint8Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff));
  t.equal(typeof bin.mountMax, "number");
  const huge = conf(`mount_max = ${"9".repeat(1000)}\n`);
  t.equal(typeof huge.mountMax, "number", "out-of-range mount_max does not throw");
  // A sub-array view must be honoured (byteOffset).
  const buf = enc("XXXXuser_allow_other\n");
  t.equal(parseFuseConf(buf.subarray(4)).userAllowOther, true, "subarray view");
});
