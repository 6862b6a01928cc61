// Unit tests for src/policy/paths.ts. Expected values come from fusermount3.md §6 (path
// resolution), §12.2 (chdir_to_parent), §9 (fs-type whitelist, %#010lx), §16/§17 (strtol fd).
import t from "tap";
import {
  splitForResolution, joinResolved, splitParent, fsMagicHex, parseFdNumber, ALLOWED_MOUNTPOINT_FS,
} from "../../src/policy/paths.ts";

t.test("splitForResolution (§6)", async (t) => {
  const cases: Array<[string, { toResolve: string; last?: string }]> = [
    ["/mnt/x", { toResolve: "/mnt", last: "x" }],
    ["/mnt/x/", { toResolve: "/mnt", last: "x" }],
    ["/mnt/x///", { toResolve: "/mnt", last: "x" }],
    ["/x", { toResolve: "/", last: "x" }],
    ["/x/", { toResolve: "/", last: "x" }],
    ["x", { toResolve: ".", last: "x" }],
    ["x/", { toResolve: ".", last: "x" }],
    ["a/b", { toResolve: "a", last: "b" }],
    ["a/b/c/", { toResolve: "a/b", last: "c" }],
    ["../x", { toResolve: "..", last: "x" }],
    ["./x", { toResolve: ".", last: "x" }],
    ["/a//b", { toResolve: "/a/", last: "b" }],
    ["/mnt/.", { toResolve: "/mnt/." }],
    ["/mnt/..", { toResolve: "/mnt/.." }],
    ["/mnt/../", { toResolve: "/mnt/.." }],
    [".", { toResolve: "." }],
    ["..", { toResolve: ".." }],
    ["./", { toResolve: "." }],
    ["a/..", { toResolve: "a/.." }],
    ["/.", { toResolve: "/." }],
    ["/..", { toResolve: "/.." }],
    ["/mnt/...", { toResolve: "/mnt", last: "..." }],
    ["/mnt/.x", { toResolve: "/mnt", last: ".x" }],
  ];
  for (const [input, want] of cases) {
    const got = splitForResolution(input);
    t.equal(got.toResolve, want.toResolve, `${JSON.stringify(input)} toResolve`);
    t.equal(got.last, want.last, `${JSON.stringify(input)} last`);
  }
  // "/" and "///" resolve to "/" (a lone slash is kept; the result is "/").
  for (const root of ["/", "//", "///"]) {
    const s = splitForResolution(root);
    t.equal(joinResolved(s.toResolve, s.last), "/", `${JSON.stringify(root)} → /`);
  }
});

t.test("joinResolved: no double slash (§6 step 5)", async (t) => {
  t.equal(joinResolved("/", "x"), "/x");
  t.equal(joinResolved("/home/bob", "mnt"), "/home/bob/mnt");
  t.equal(joinResolved("/home/bob", undefined), "/home/bob", "whole path resolved: no last component");
  t.equal(joinResolved("/", undefined), "/");
  t.equal(joinResolved("/a", "b c"), "/a/b c");
  // end to end with a pretend realpath
  const realpath = (p: string) => ({ ".": "/home/bob", "/": "/", "/mnt": "/mnt", "/mnt/..": "/" } as Record<string, string>)[p] ?? p;
  const resolve = (p: string) => { const s = splitForResolution(p); return joinResolved(realpath(s.toResolve), s.last); };
  t.equal(resolve("x"), "/home/bob/x");
  t.equal(resolve("/mnt/x/"), "/mnt/x");
  t.equal(resolve("/x"), "/x");
  t.equal(resolve("/mnt/.."), "/");
});

t.test("splitParent (§12.2 chdir_to_parent)", async (t) => {
  t.same(splitParent("/mnt/x"), { parent: "/mnt", last: "x" });
  t.same(splitParent("/a/b/c"), { parent: "/a/b", last: "c" });
  t.same(splitParent("/x"), { parent: "/", last: "x" });
  t.same(splitParent("/"), { parent: "/", last: "." }, "last is . for /");
  t.equal(splitParent("x"), undefined, "relative: invalid abs path");
  t.equal(splitParent(""), undefined);
  t.equal(splitParent("mnt/x"), undefined);
  t.same(splitParent("/a b/c\td"), { parent: "/a b", last: "c\td" });
});

t.test("fsMagicHex = printf(\"%#010lx\") (§9)", async (t) => {
  t.equal(fsMagicHex(0x9fa0n), "0x00009fa0", "procfs");
  t.equal(fsMagicHex(0xef53n), "0x0000ef53");
  t.equal(fsMagicHex(0x1n), "0x00000001");
  t.equal(fsMagicHex(0x64626720n), "0x64626720", "debugfs: 8 digits, no padding needed");
  t.equal(fsMagicHex(0xffffffffn), "0xffffffff");
  t.equal(fsMagicHex(0x736675005346544en), "0x736675005346544e", "wider than 10 chars: no truncation");
});

t.test("parseFdNumber: strtol(s, &end, 10) whole string", async (t) => {
  const good: Array<[string, number]> = [
    ["3", 3], [" 3", 3], ["\t3", 3], ["\n 3", 3], ["+3", 3], ["-1", -1], ["0", 0], ["007", 7],
    ["2147483647", 2147483647], ["-0", 0],
  ];
  for (const [s, v] of good) t.equal(parseFdNumber(s), v, JSON.stringify(s));
  const bad = ["3x", "", "abc", "99999999999999999999", "3 ", " ", "+", "-", "0x3", "3.0", "1e3", "--1", "+-1", "３", "3\n", "x3"];
  for (const s of bad) t.equal(parseFdNumber(s), undefined, JSON.stringify(s));
});

t.test("ALLOWED_MOUNTPOINT_FS (§9 whitelist, master)", async (t) => {
  t.ok(ALLOWED_MOUNTPOINT_FS.has(0xef53n), "ext4 0xEF53");
  t.ok(ALLOWED_MOUNTPOINT_FS.has(0x01021994n), "tmpfs 0x01021994");
  t.ok(ALLOWED_MOUNTPOINT_FS.has(0x65735546n), "fuse 0x65735546");
  t.notOk(ALLOWED_MOUNTPOINT_FS.has(0x9fa0n), "procfs 0x9fa0 not allowed");
  t.notOk(ALLOWED_MOUNTPOINT_FS.has(0x62656572n), "sysfs not allowed");
  t.notOk(ALLOWED_MOUNTPOINT_FS.has(0x64626720n), "debugfs not allowed");
  t.notOk(ALLOWED_MOUNTPOINT_FS.has(0x1cd1n), "devpts not allowed");
  t.notOk(ALLOWED_MOUNTPOINT_FS.has(0n));
  const table = [
    0x61756673n, 0x00000187n, 0xCA451A4En, 0x9123683En, 0x00C36400n, 0xFF534D42n,
    0x0000F15Fn, 0x2011BAB0n, 0x0000EF53n, 0xF2F52010n, 0x65735546n, 0x01161970n,
    0x47504653n, 0x0000482Bn, 0x000072B6n, 0x3153464An, 0x0BD00BD0n, 0x00004D44n,
    0x0000564Cn, 0x00006969n, 0x00003434n, 0x5346544En, 0x7366746En, 0x5346414Fn,
    0x794C7630n, 0xAAD7AAEAn, 0x52654973n, 0xFE534D42n, 0x73717368n, 0x01021994n,
    0x24051905n, 0x18031977n, 0x736675005346544En, 0x58465342n, 0x2FC12FC1n, 0x858458F6n,
  ];
  for (const m of table) t.ok(ALLOWED_MOUNTPOINT_FS.has(m), `${fsMagicHex(m)} allowed`);
  t.equal(ALLOWED_MOUNTPOINT_FS.size, table.length, "exactly the spec's 36 types");
});

t.test("hostile inputs do not throw", async (t) => {
  const mib = 1 << 20;
  const long = "/" + "a/".repeat(mib / 2);
  const s = splitForResolution(long);
  t.equal(s.last, "a");
  t.equal(splitForResolution("/".repeat(mib)).toResolve, "/");
  t.same(splitForResolution("/mnt/ünï✓/"), { toResolve: "/mnt", last: "ünï✓" });
  t.doesNotThrow(() => splitForResolution("\0/\0"));
  t.doesNotThrow(() => splitParent("/" + "x".repeat(mib)));
  t.equal(parseFdNumber("9".repeat(mib)), undefined);
  t.equal(parseFdNumber(" ".repeat(mib) + "5"), 5);
  t.equal(parseFdNumber("٣"), undefined, "non-ASCII digit");
  t.doesNotThrow(() => fsMagicHex(-1n));
});
