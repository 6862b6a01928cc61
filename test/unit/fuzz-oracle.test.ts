// Unit tests for the differential fuzzer's pure parts: the seedable generator
// (test/fuzz/gen.ts) and the oracle that maps a divergence to a documented
// difference (test/fuzz/oracle.ts). Expected values come from
// /work/shared/spec/sync-init-protocol.md §11.2 and fusermount3.md §2, §8.
import t from "tap";
import { generateCase, caseRng } from "../fuzz/gen.ts";
import { masterSplit, tokens314, transformValue, parseMaster, plan, judge, crashOf, type Outcome } from "../fuzz/oracle.ts";
import { DIFFERENCES } from "../integration/differences.ts";

const env = { uid: 1001, gid: 1001 };

t.test("generator: a case depends on (seed, index) only, and never on Math.random", async (t) => {
  const real = Math.random;
  Math.random = () => { throw new Error("Math.random used"); };
  try {
    const a = Array.from({ length: 300 }, (_, i) => generateCase(7, i, env));
    const b = Array.from({ length: 300 }, (_, i) => generateCase(7, 299 - i, env)).reverse();
    t.same(a, b, "same cases whatever the order they are drawn in");
    const other = Array.from({ length: 300 }, (_, i) => generateCase(8, i, env));
    t.notSame(a.map((c) => c.args), other.map((c) => c.args), "another seed gives other cases");
    t.not(caseRng(2 ** 40 + 5, 0).next(), caseRng(5, 0).next(), "both halves of a large seed count");
    const shapes = new Set(a.map((c) => c.shape));
    t.same([...shapes].sort(), ["getopt", "mount", "options", "unmount"], "every shape is drawn");
    t.ok(a.every((c) => c.index >= 0 && c.seed === 7 && Array.isArray(c.args)), "well-formed cases");
  } finally {
    Math.random = real;
  }
});

t.test("master's x- splitter (sync-init-protocol.md §11.2 table)", async (t) => {
  const rows: Array<[string, string, string[]]> = [
    ["", "", []], ["ro,x-gvfs-hide", "ro", ["x-gvfs-hide"]], ["x-a,ro,x-b", "ro", ["x-a", "x-b"]],
    [",ro", "ro", []], ["ro,,x-a", "ro,", ["x-a"]], ["ro,,nodev", "ro,,nodev", []], ["ro,,", "ro,,", []],
    ["x-a,", "", ["x-a"]], ["X-foo", "X-foo", []], ["x-", "", ["x-"]], ["fsname=a\\,x-b", "fsname=a\\", ["x-b"]],
  ];
  for (const [input, regular, x] of rows) {
    const s = masterSplit(input);
    t.equal(s.regular, regular, `${JSON.stringify(input)}: regular`);
    t.same(s.x, x, `${JSON.stringify(input)}: x list`);
  }
});

t.test("libfuse's tokenizer: escapes only in fsname=/subtype= tokens (§8.1)", async (t) => {
  t.same(tokens314("ro,,nodev"), ["ro", "", "nodev"]);
  t.same(tokens314("ro,"), ["ro"], "a final comma ends the list");
  t.same(tokens314("ro,,"), ["ro", ""], "two final commas leave one empty token");
  t.same(tokens314("fsname=a\\,b,ro"), ["fsname=a\\,b", "ro"]);
  t.same(tokens314("a\\,b"), ["a\\", "b"], "a backslash elsewhere is literal");
  t.same(tokens314("fsname=a\\"), ["fsname=a\\"], "a final backslash stays");
});

t.test("the 3.14 equivalent of an -o value", async (t) => {
  const cases: Array<[string, string, string[]]> = [
    ["ro,x-a", "ro", ["x-options"]],
    [",ro", "ro", ["leading-empty-token"]],
    ["relatime,ro", "ro", ["flag-name-union"]],
    ["ro,large_read", "ro", ["large-read-silent"]],
    ["ro,,x-a", "ro,", ["x-options"]],
    ["relatime,,", ",", ["flag-name-union"]],
    ["ro,relatime,,", "ro,,", ["flag-name-union"]],
    ["fsname=a\\,relatime", "fsname=a\\,relatime", []],
    ["ro,bogus", "ro,bogus", []],
  ];
  for (const [v, want, ids] of cases) {
    const tv = transformValue(v);
    t.equal(tv.value, want, `${JSON.stringify(v)} → ${JSON.stringify(want)}`);
    t.same([...tv.ids].sort(), ids.sort(), `${JSON.stringify(v)}: differences`);
  }
});

t.test("getopt model over master's table (§2.2)", async (t) => {
  const p = parseMaster(["m", "-uoro", "--opt", "x-a", "--", "-h"]);
  t.equal(p.end, "run");
  t.same(p.operands, ["m", "-h"], "permutation, and -- ends the options");
  t.ok(p.unmount);
  t.equal(parseMaster(["--=x"]).end, "error", "an empty long name is ambiguous");
  t.equal(parseMaster(["-Vx"]).end, "version", "first action wins");
  t.equal(parseMaster(["-xV"]).end, "error");
  t.equal(parseMaster(["-o"]).end, "error", "-o needs an argument");
  t.ok(parseMaster(["--auto", "m"]).autoUnmount, "--auto is --auto-unmount");
  t.ok(parseMaster(["--sync", "m"]).syncInit);
});

t.test("plan: the C-equivalent argv", async (t) => {
  let pl = plan(["--options=x-a,ro", "m"], true);
  t.same(pl.cArgs, ["-o", "ro", "m"]);
  t.same([...pl.ids].sort(), ["long-options", "x-options"]);
  pl = plan(["-oro", "m"], true);
  t.notOk(pl.changed, "nothing to change");
  pl = plan(["--comm-fd=3", "m"], false);
  t.same(pl.cArgs, ["m"]);
  t.equal(pl.cCommFd, true, "--comm-fd 3 becomes _FUSE_COMMFD=3");
  pl = plan(["--comm-fd", "7", "m"], true);
  t.ok(pl.untranslatable, "--comm-fd 7 has no 3.14 equivalent here");
  pl = plan(["--auto-unmount", "m"], true);
  t.ok(pl.untranslatable);
  pl = plan(["-x", "--options=x-a"], true);
  t.same(pl.cArgs, ["-x", "--options=x-a"], "nothing after the first error is touched");
  pl = plan(["-o", "ro", "ramfs"], true);
  t.same(pl.cArgs, ["-o", "ro", "tmpfs"], "the ramfs mountpoint becomes its tmpfs twin");
  pl = plan(["--sync-init", "-o", "ro", "m"], true);
  t.ok(pl.syncInit);
  t.same(pl.cArgs, ["-o", "ro", "m"]);
  const known = new Set<string>(DIFFERENCES.map((d) => d.id));
  for (const args of [["-V"], ["--=x"], ["-o", "large_read,relatime,,x-a", "m"], ["-o", "auto_unmount", "m"]]) {
    for (const id of plan(args, true).ids) t.ok(known.has(id), `${id} is in differences.ts`);
  }
});

const out = (o: Partial<Outcome>): Outcome => ({ code: 0, signal: null, stdout: "", stderr: "", gotFd: false, mounts: [], preMounts: [], ...o });
const M = "/tmp/fz/h/m rw,nosuid,nodev,relatime - fuse /dev/fuse rw,user_id=1001,group_id=1001";

t.test("judge", async (t) => {
  let pl = plan(["-o", "ro,x-a", "m"], true);
  const cRaw = out({ code: 1, stderr: "fusermount3: unknown option 'x-a'\n" });
  const ours = out({ gotFd: true, mounts: [M] });
  t.same(judge(pl, cRaw, ours, out({ gotFd: true, mounts: [M] })), { kind: "explained", ids: ["x-options"] });
  t.equal(judge(pl, cRaw, ours, out({ gotFd: true, mounts: [] })).kind, "unexplained", "the 3.14 equivalent must match");
  t.equal(judge(pl, out({ code: 1, stderr: "fusermount3: something else\n" }), ours, out({ gotFd: true, mounts: [M] })).kind,
    "unexplained", "3.14 must show the documented behaviour");
  pl = plan(["-o", "ro", "m"], true);
  t.equal(judge(pl, out({ code: 1 }), out({ code: 0 }), undefined).kind, "unexplained", "no feature, no excuse");
  t.same(judge(pl, ours, ours, undefined), { kind: "agree" });
  pl = plan(["-V"], true);
  t.same(judge(pl, out({ stdout: "fusermount3 version: 3.14.0\n" }), out({ stdout: "fusermount3 version: 3.19.0\n" }), undefined),
    { kind: "explained", ids: ["version-string"] });
  pl = plan(["-o", "auto_unmount", "m"], true);
  t.same(judge(pl, out({ gotFd: true, mounts: [M] }), out({ gotFd: true }), undefined), { kind: "explained", ids: ["auto-unmount-as-caller"] });
});

t.test("crashes", async (t) => {
  const c = out({ code: 1, stderr: "fusermount3: unknown option 'x'\n" });
  t.equal(crashOf(out({ code: 1, stderr: "TypeError: x is undefined\n    at main (a.ts:1:1)\n" }), c), "stderr matches /\\n\\s+at \\S/");
  t.equal(crashOf(out({ code: null, signal: "SIGSEGV" }), c), "killed by SIGSEGV");
  t.equal(crashOf(out({ code: 3 }), c), "exit status 3");
  t.equal(crashOf(out({ timedOut: true }), c), "timed out (killed)");
  t.equal(crashOf(out({ code: 1, stderr: "fusermount3: unknown option 'TypeError'\n" }), out({ code: 1, stderr: "fusermount3: unknown option 'TypeError'\n" })), undefined,
    "text the C helper printed too is no crash");
});
