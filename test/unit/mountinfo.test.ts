// Unit tests for src/policy/mountinfo.ts: /proc/self/mountinfo (proc(5)) parsing, FUSE mount
// counting (fusermount3.md §8.5: fuseblk not counted), ownership (§12.3).
import t from "tap";
import {
  parseMountinfo, unescapeOctal, countFuseMounts, topMountAt, ownedBy, isFuseType, type MountEntry,
} from "../../src/policy/mountinfo.ts";

const SAMPLE = [
  "22 1 0:21 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw",
  "25 1 8:1 / / rw,relatime shared:1 master:2 - ext4 /dev/sda1 rw,errors=remount-ro",
  "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue",
  "40 25 0:45 / /home/bob/mnt rw,nosuid,nodev,relatime shared:200 - fuse.sshfs bob@host: rw,user_id=1000,group_id=1000,default_permissions",
  "41 25 0:46 / /tmp/x rw,nosuid,nodev,relatime - fuse /dev/fuse rw,user_id=0,group_id=0",
  "42 25 7:0 / /media/disk rw,nosuid,nodev,relatime - fuseblk /dev/loop0 rw,user_id=0,group_id=0,allow_other,blksize=4096",
  "43 25 0:47 / /sys/fs/fuse/connections rw,relatime - fusectl fusectl rw",
  "",
].join("\n");

t.test("parse real-looking lines (proc(5))", async (t) => {
  const e = parseMountinfo(SAMPLE);
  t.equal(e.length, 7);
  t.same(e[0], {
    id: 22, parentId: 1, root: "/", mountPoint: "/proc", mountOptions: "rw,nosuid,nodev,noexec,relatime",
    fsType: "proc", source: "proc", superOptions: "rw",
  });
  t.same(e[1], {
    id: 25, parentId: 1, root: "/", mountPoint: "/", mountOptions: "rw,relatime",
    fsType: "ext4", source: "/dev/sda1", superOptions: "rw,errors=remount-ro",
  }, "two optional fields shared:1 master:2");
  t.same(e[2], {
    id: 36, parentId: 35, root: "/mnt1", mountPoint: "/mnt2", mountOptions: "rw,noatime",
    fsType: "ext3", source: "/dev/root", superOptions: "rw,errors=continue",
  }, "the proc(5) example");
  t.same(e[3], {
    id: 40, parentId: 25, root: "/", mountPoint: "/home/bob/mnt", mountOptions: "rw,nosuid,nodev,relatime",
    fsType: "fuse.sshfs", source: "bob@host:", superOptions: "rw,user_id=1000,group_id=1000,default_permissions",
  });
  t.same(e[4]?.mountOptions, "rw,nosuid,nodev,relatime", "no optional fields");
  t.equal(e[4]?.fsType, "fuse");
  t.equal(e[5]?.fsType, "fuseblk");
  t.equal(e[6]?.fsType, "fusectl");

  const many = parseMountinfo("50 25 0:50 / /a rw shared:1 master:2 propagate_from:3 unbindable - tmpfs tmpfs rw,size=10k\n");
  t.equal(many.length, 1);
  t.equal(many[0]?.fsType, "tmpfs");
  t.equal(many[0]?.source, "tmpfs");
  t.equal(many[0]?.superOptions, "rw,size=10k");
  t.equal(many[0]?.mountPoint, "/a");

  const noNl = parseMountinfo("51 25 0:51 / /b rw - fuse src rw,user_id=1,group_id=1");
  t.equal(noNl.length, 1, "last line without newline parsed");
  t.equal(noNl[0]?.superOptions, "rw,user_id=1,group_id=1");
});

t.test("octal escapes in mountpoint and source", async (t) => {
  const line = "60 25 0:60 /r\\040oot /mnt/a\\040b\\011c\\012d\\134e rw,nosuid - fuse.x my\\040src\\134x rw,user_id=1000,group_id=1000\n";
  const [e] = parseMountinfo(line);
  t.ok(e);
  t.equal(e?.mountPoint, "/mnt/a b\tc\nd\\e", "\\040 \\011 \\012 \\134 in mountpoint");
  t.equal(e?.source, "my src\\x", "escapes in source");
  t.equal(e?.root, "/r oot", "escapes in root");
  t.equal(e?.fsType, "fuse.x");

  t.equal(unescapeOctal("a\\040b"), "a b");
  t.equal(unescapeOctal("\\011\\012\\134"), "\t\n\\");
  t.equal(unescapeOctal("\\134040"), "\\040", "no double unescaping");
  t.equal(unescapeOctal("plain"), "plain");
  t.equal(unescapeOctal("trailing\\"), "trailing\\", "lone backslash kept");
  t.equal(unescapeOctal("\\04"), "\\04", "short escape kept");
  t.equal(unescapeOctal(""), "");
});

t.test("malformed lines are skipped without throwing", async (t) => {
  const bad = [
    "garbage",
    "1 2 3",
    "1 2 3:4 / /x rw",
    "1 2 3:4 / /x rw shared:1",
    "1 2 3:4 / /x rw - fuse",
    "1 2 3:4 / /x rw - fuse src",
    "- - - - - -",
    " ",
    "\t",
    "\0\0\0",
  ];
  let out: MountEntry[] = [];
  t.doesNotThrow(() => { out = parseMountinfo(bad.join("\n") + "\n" + SAMPLE); });
  t.equal(out.length, 7, "only the good lines");
  t.same(out.map((e) => e.id), [22, 25, 36, 40, 41, 42, 43]);
  t.same(parseMountinfo(""), []);
  t.same(parseMountinfo("\n\n\n"), []);
  for (const b of bad) t.doesNotThrow(() => parseMountinfo(b), JSON.stringify(b));
});

t.test("isFuseType", async (t) => {
  for (const ty of ["fuse", "fuseblk", "fuse.sshfs", "fuseblk.ntfs", "fuse.", "fuse.a.b"]) t.equal(isFuseType(ty), true, ty);
  for (const ty of ["fusectl", "fuse3", "ext4", "", "FUSE", "xfuse", "fuseblkx", "tmpfs"]) t.equal(isFuseType(ty), false, ty);
});

t.test("countFuseMounts: fuse and fuse.* only, not fuseblk (§8.5)", async (t) => {
  t.equal(countFuseMounts(parseMountinfo(SAMPLE)), 2, "fuse.sshfs + fuse; not fuseblk, not fusectl");
  const mk = (ty: string, i: number) => `${i} 25 0:${i} / /m${i} rw - ${ty} s rw`;
  const types = ["fuse", "fuse.a", "fuse.b", "fuseblk", "fuseblk.c", "fusectl", "ext4", "fuse"];
  t.equal(countFuseMounts(parseMountinfo(types.map(mk).join("\n"))), 4);
  t.equal(countFuseMounts([]), 0);
});

t.test("topMountAt: stacked mounts", async (t) => {
  const stacked = [
    "25 1 8:1 / / rw - ext4 /dev/sda1 rw",
    "70 25 0:70 / /mnt/s rw - fuse.a a rw,user_id=1000,group_id=1000",
    "71 70 0:71 / /mnt/s rw - fuse.b b rw,user_id=0,group_id=0",
    "72 71 0:72 / /mnt/s rw - fuse.c c rw,user_id=1001,group_id=1001",
    "73 25 0:73 / /mnt/other rw - fuse d rw,user_id=1000,group_id=1000",
  ];
  const e = parseMountinfo(stacked.join("\n"));
  t.equal(topMountAt(e, "/mnt/s")?.id, 72, "top of three stacked mounts");
  t.equal(topMountAt(e, "/mnt/other")?.id, 73);
  t.equal(topMountAt(e, "/"), e[0]);
  t.equal(topMountAt(e, "/nope"), undefined);
  t.equal(topMountAt(e, "/mnt/s/"), undefined, "exact path match");
  const rev = parseMountinfo([stacked[3], stacked[2], stacked[1]].join("\n"));
  t.equal(topMountAt(rev, "/mnt/s")?.id, 72, "listing order does not matter");
  const two = parseMountinfo([stacked[1], stacked[2]].join("\n"));
  t.equal(topMountAt(two, "/mnt/s")?.id, 71);
  // A mount below /mnt/s whose parent is the top one does not count (different mountpoint).
  const child = parseMountinfo([stacked[1], "80 70 0:80 / /mnt/s/sub rw - tmpfs t rw"].join("\n"));
  t.equal(topMountAt(child, "/mnt/s")?.id, 70);
  const esc = parseMountinfo("90 25 0:90 / /mnt/a\\040b rw - fuse x rw,user_id=1,group_id=1\n");
  t.equal(topMountAt(esc, "/mnt/a b")?.id, 90, "matches the unescaped path");
});

t.test("ownedBy: user_id exact (§12.3)", async (t) => {
  const one = (line: string) => parseMountinfo(line + "\n")[0]!;
  const e1000 = one("40 25 0:45 / /m rw,nosuid,nodev - fuse.sshfs s rw,user_id=1000,group_id=1000");
  t.equal(ownedBy(e1000, 1000, "bob"), true);
  t.equal(ownedBy(e1000, 1000, undefined), true);
  t.equal(ownedBy(e1000, 100, "eve"), false, "uid 100 does not own user_id=1000");
  t.equal(ownedBy(e1000, 10, "eve"), false);
  t.equal(ownedBy(e1000, 10000, "eve"), false);
  t.equal(ownedBy(e1000, 0, "root"), false, "root is not the owner (root skips the test elsewhere)");

  const e10 = one("41 25 0:46 / /m rw - fuse s rw,user_id=10,group_id=10");
  t.equal(ownedBy(e10, 1, "x"), false, "uid 1 does not own user_id=10");
  t.equal(ownedBy(e10, 10, "x"), true);
  const e1 = one("42 25 0:47 / /m rw - fuse s rw,user_id=1,group_id=10");
  t.equal(ownedBy(e1, 10, "x"), false, "uid 10 does not own user_id=1 (group_id=10 is not user_id)");
  t.equal(ownedBy(e1, 1, "x"), true);

  const first = one("43 25 0:48 / /m rw - fuse s user_id=1000,group_id=5");
  t.equal(ownedBy(first, 1000, "x"), true, "user_id= at the start");
  const last = one("44 25 0:49 / /m rw - fuse s rw,group_id=5,user_id=1000");
  t.equal(ownedBy(last, 1000, "x"), true, "user_id= at the end");
  const pre = one("45 25 0:50 / /m rw - fuse s rw,xuser_id=1000,group_id=5");
  t.equal(ownedBy(pre, 1000, "x"), false, "must be at the start or after a comma");
  const sfx = one("46 25 0:51 / /m rw - fuse s rw,user_id=1000x");
  t.equal(ownedBy(sfx, 1000, "x"), false, "followed by , or end");

  for (const ty of ["fuse", "fuseblk", "fuse.sshfs", "fuseblk.ntfs"]) {
    const e = one(`47 25 0:52 / /m rw - ${ty} s rw,user_id=1000,group_id=1000`);
    t.equal(ownedBy(e, 1000, "bob"), true, `${ty} is a FUSE type`);
  }
  for (const ty of ["ext4", "tmpfs", "fusectl", "fuse3", "nfs"]) {
    const e = one(`48 25 0:53 / /m rw - ${ty} s rw,user_id=1000,group_id=1000,user=bob`);
    t.equal(ownedBy(e, 1000, "bob"), false, `${ty} is never owned`);
  }
});

t.test("ownedBy: legacy user=<name> record extending to the end (§12.3)", async (t) => {
  const one = (line: string) => parseMountinfo(line + "\n")[0]!;
  const u = one("50 25 0:55 / /m rw,nosuid,nodev - fuse s rw,user=bob");
  t.equal(ownedBy(u, 4242, "bob"), true, "user=bob at the end");
  t.equal(ownedBy(u, 4242, "bo"), false, "no prefix match on the name");
  t.equal(ownedBy(u, 4242, "alice"), false);
  t.equal(ownedBy(u, 4242, undefined), false, "no user name: no user= match");
  const bobby = one("51 25 0:56 / /m rw - fuse s rw,user=bobby");
  t.equal(ownedBy(bobby, 4242, "bob"), false, "user=bobby is not bob");
  const notEnd = one("52 25 0:57 / /m rw - fuse s rw,user=bob,x-gvfs-hide");
  t.equal(ownedBy(notEnd, 4242, "bob"), false, "must extend to the end");
  const xuser = one("53 25 0:58 / /m rw - fuse s rw,xuser=bob");
  t.equal(ownedBy(xuser, 4242, "bob"), false, "must start the string or follow a comma");
});

t.test("hostile inputs do not throw", async (t) => {
  const mib = 1 << 20;
  const longPath = "/" + "a".repeat(mib);
  const e = parseMountinfo(`1 2 0:1 / ${longPath} rw - fuse s rw,user_id=1\n`);
  t.equal(e[0]?.mountPoint.length, mib + 1);
  t.doesNotThrow(() => parseMountinfo("x ".repeat(mib)));
  t.doesNotThrow(() => parseMountinfo("\\".repeat(mib)));
  t.doesNotThrow(() => parseMountinfo("- ".repeat(mib / 2)));
  const uni = parseMountinfo("1 2 0:1 / /mnt/ünï✓ rw - fuse.日本 sörce rw,user_id=5\n");
  t.equal(uni[0]?.mountPoint, "/mnt/ünï✓");
  t.equal(uni[0]?.fsType, "fuse.日本");
  t.equal(countFuseMounts(uni), 1);
  t.equal(ownedBy(uni[0]!, 5, "ü"), true);
  const lines = Array.from({ length: 20000 }, (_, i) => `${i + 2} 1 0:${i} / /m rw - fuse s rw,user_id=${i}`).join("\n");
  const big = parseMountinfo(lines);
  t.equal(big.length, 20000);
  t.equal(countFuseMounts(big), 20000);
  t.doesNotThrow(() => topMountAt(big, "/m"));
  const chain = Array.from({ length: 2000 }, (_, i) => `${i + 100} ${i + 99} 0:${i} / /c rw - fuse s rw`).reverse().join("\n");
  t.equal(topMountAt(parseMountinfo(chain), "/c")?.id, 2099, "top of a 2000-deep stack");
  t.doesNotThrow(() => unescapeOctal("\\777\\000\\400"));
});

t.test("countFuseMountsInText agrees with the parsed count on tricky tables", async (t) => {
  const { countFuseMountsInText, ownsByOptions, fullFsType } = await import("../../src/policy/mountinfo.ts");
  const line = (id: number, mp: string, type: string, src = "src", opts = "rw") =>
    `${id} 1 0:${id} / ${mp} rw,nosuid shared:1 - ${type} ${src} ${opts}`;
  const table = [
    line(1, "/", "ext4"),
    line(2, "/a\\040-\\040fuse\\040x", "tmpfs"), // " - fuse " inside a name, escaped
    line(3, "/m1", "fuse", "/dev/fuse", "rw,user_id=1000,group_id=1000"),
    line(4, "/m2", "fuse.sshfs", "host:/x", "rw,user_id=1000"),
    line(5, "/m3", "fuseblk", "/dev/sdb1"),
    line(6, "/m4", "fusectl", "fusectl"),
    line(7, "/m5", "fuse.a-b", "-\\040fuse\\040"),
    line(8, "/m6", "tmpfs", "fuse"),
  ].join("\n") + "\n";
  t.equal(countFuseMountsInText(table), countFuseMounts(parseMountinfo(table)));
  t.equal(countFuseMountsInText(table), 3);
  t.equal(countFuseMountsInText(""), 0);
  t.ok(ownsByOptions("user_id=1000,group_id=1000", 1000));
  t.notOk(ownsByOptions("user_id=1000,group_id=1000", 100), "uid 100 is not uid 1000");
  t.notOk(ownsByOptions("rw,group_id=1000", 1000));
  t.equal(fullFsType("fuse", "sshfs"), "fuse.sshfs");
  t.equal(fullFsType("fuseblk"), "fuseblk");
});
