// Unit tests for src/policy/options.ts. Expected values come from
// /work/shared/spec/fusermount3.md §8, §11 and sync-init-protocol.md §11.
import t from "tap";
import type { Test } from "tap";
import {
  splitXOptions, tokenize, applyOptionPolicy, kernelData, kernelParams, fsType, fsSource,
  legacySubtypeFallback, mountRecord, mountAttributes, superblockFlags, MOUNT_FLAGS,
  type Caller, type MountRequest, type PolicyResult,
} from "../../src/policy/options.ts";

const CONF = "/etc/fuse.conf";
const USER: Caller = { isRoot: false, userAllowOther: false, confPath: CONF };
const USER_AO: Caller = { isRoot: false, userAllowOther: true, confPath: CONF };
const ROOT: Caller = { isRoot: true, userAllowOther: false, confPath: CONF };

// MS_* values from the kernel / spec §8.3
const MS_RDONLY = 1, MS_NOSUID = 2, MS_NODEV = 4, MS_NOEXEC = 8, MS_SYNCHRONOUS = 16,
  MS_DIRSYNC = 128, MS_NOSYMFOLLOW = 256, MS_NOATIME = 1024, MS_NODIRATIME = 2048,
  MS_RELATIME = 1 << 21, MS_STRICTATIME = 1 << 24, MS_LAZYTIME = 1 << 25;
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;

function ok(t: Test, r: PolicyResult, what: string): MountRequest {
  if (!r.ok) {
    t.fail(`${what}: expected success, got error ${JSON.stringify(r.error)}`);
    return { blkdev: false, autoUnmount: false, flags: MS_NOSUID | MS_NODEV, kernelOptions: [] };
  }
  t.pass(`${what}: accepted`);
  return r.request;
}
function err(t: Test, r: PolicyResult, expected: string, what: string): void {
  t.equal(r.ok, false, `${what}: rejected`);
  if (!r.ok) t.equal(r.error, expected, `${what}: message`);
}
// The whole non-sync-init pipeline: x- split, then the whitelist on the regular part.
function pipeline(opts: string, caller: Caller) {
  const { regular, x } = splitXOptions(opts);
  return { regular, x, result: applyOptionPolicy(regular, caller) };
}

t.test("x- split table, sync-init-protocol.md §11.2, row by row", async (t) => {
  const rows: Array<[string, string, string, "ok" | string]> = [
    ["", "", "", "ok"],
    ["ro,x-gvfs-hide", "ro", "x-gvfs-hide", "ok"],
    ["x-a,ro,x-b", "ro", "x-a,x-b", "ok"],
    [",ro", "ro", "", "ok"],
    ["ro,,x-a", "ro,", "x-a", "ok"],
    ["ro,,nodev", "ro,,nodev", "", "unknown option ''"],
    ["ro,,", "ro,,", "", "unknown option ''"],
    ["x-a,", "", "x-a", "ok"],
    ["X-foo", "X-foo", "", "unknown option 'X-foo'"],
    ["x-", "", "x-", "ok"],
    ["fsname=a\\,x-b", "fsname=a\\", "x-b", "ok"],
  ];
  for (const [input, regular, x, outcome] of rows) {
    const s = splitXOptions(input);
    t.equal(s.regular, regular, `${JSON.stringify(input)} regular`);
    t.equal(s.x, x, `${JSON.stringify(input)} x`);
    const r = applyOptionPolicy(s.regular, USER);
    if (outcome === "ok") t.equal(r.ok, true, `${JSON.stringify(input)} accepted for non-root`);
    else err(t, r, outcome, JSON.stringify(input));
  }
});

t.test("x- split: further rules of §11.2", async (t) => {
  t.same(splitXOptions("X-a,x-b,xa,-x,x"), { regular: "X-a,xa,-x,x", x: "x-b" }, "only lowercase x- prefix");
  t.same(splitXOptions("x-a\\,b"), { regular: "b", x: "x-a\\" }, "no escapes in the splitter");
  t.same(splitXOptions(",,,"), { regular: "", x: "" }, "only empty tokens");
  t.same(splitXOptions(",,x-a,,ro"), { regular: "ro", x: "x-a" }, "leading empties dropped");
  t.same(splitXOptions("ro,,"), { regular: "ro,,", x: "" });
  t.same(splitXOptions("x-a,,x-b"), { regular: "", x: "x-a,x-b" }, "empty tokens never go to x list");
  t.same(splitXOptions("ro,x-1,nodev,x-2,noexec"), { regular: "ro,nodev,noexec", x: "x-1,x-2" }, "order kept");
  t.same(splitXOptions("x-user=root"), { regular: "", x: "x-user=root" }, "x-user= is a different option");
  // fsname with an x- suffix: §11.2 says fsname "probably" becomes "a\" (unverified): a trailing
  // backslash is kept literally.
  const r = applyOptionPolicy(splitXOptions("fsname=a\\,x-b").regular, USER);
  const req = ok(t, r, "fsname=a\\");
  t.equal(req.fsname, "a\\", "trailing backslash kept (spec marks this unverified)");
});

t.test("tokenizer: escapes only in fsname=/subtype= (§8.1, CVE-2018-10906)", async (t) => {
  t.same(tokenize("context=x\\,allow_other"), ["context=x\\", "allow_other"], "context=x\\,allow_other → two tokens");
  t.same(tokenize("fsname=a\\,allow_other"), ["fsname=a\\,allow_other"], "fsname=a\\,allow_other → one token");
  t.same(tokenize("subtype=a\\,b,ro"), ["subtype=a\\,b", "ro"]);
  t.same(tokenize("default_permissions\\,allow_other"), ["default_permissions\\", "allow_other"]);
  t.same(tokenize("ro,nodev"), ["ro", "nodev"]);
  t.same(tokenize("ro,"), ["ro"], "single trailing comma harmless");
  t.same(tokenize(""), [], "empty string has no tokens");
  t.same(tokenize(",ro"), ["", "ro"], "leading comma gives an empty token");
  t.same(tokenize("ro,,nodev"), ["ro", "", "nodev"]);
  t.same(tokenize("xfsname=a\\,b"), ["xfsname=a\\", "b"], "must begin with fsname=");
  t.same(tokenize("FSNAME=a\\,b"), ["FSNAME=a\\", "b"], "case-sensitive");

  const a = applyOptionPolicy("fsname=a\\,allow_other", USER);
  const ra = ok(t, a, "fsname=a\\,allow_other for non-root without user_allow_other");
  t.equal(ra.fsname, "a,allow_other", "value is a,allow_other");
  t.same(ra.kernelOptions, [], "allow_other did not escape into the kernel options");

  const s = applyOptionPolicy("subtype=x\\,allow_other", USER);
  t.equal(ok(t, s, "subtype escape").subtype, "x,allow_other");

  err(t, applyOptionPolicy("context=x\\,allow_other", USER), "unknown option 'context=x\\'",
    "context=x\\,allow_other");
  // Even with allow_other permitted the first token is rejected.
  err(t, applyOptionPolicy("context=x\\,allow_other", USER_AO), "unknown option 'context=x\\'",
    "context=x\\,allow_other with user_allow_other");

  const e = applyOptionPolicy("fsname=a\\\\b\\x", USER);
  t.equal(ok(t, e, "double backslash").fsname, "a\\bx", "\\\\ → \\, \\x → x");
});

t.test("fsname/subtype: last occurrence wins (§8.2)", async (t) => {
  const r = ok(t, applyOptionPolicy("fsname=a,fsname=b,subtype=c,subtype=d", USER), "repeated");
  t.equal(r.fsname, "b");
  t.equal(r.subtype, "d");
  const e = ok(t, applyOptionPolicy("fsname=,subtype=", USER), "empty values");
  t.equal(e.fsname, "");
  t.equal(e.subtype, "");
});

t.test("blkdev (§8.2, §8.5)", async (t) => {
  err(t, applyOptionPolicy("blkdev", USER), "option blkdev is privileged", "non-root blkdev");
  err(t, applyOptionPolicy("blkdev", USER_AO), "option blkdev is privileged", "non-root blkdev with user_allow_other");
  const r = ok(t, applyOptionPolicy("blkdev,fsname=/dev/loop0", ROOT), "root blkdev");
  t.equal(r.blkdev, true);
  t.equal(fsType(r), "fuseblk");
  t.equal(fsSource(r, "/dev/fuse"), "/dev/loop0");
  const s = ok(t, applyOptionPolicy("blkdev,fsname=/dev/loop0,subtype=mysub", ROOT), "root blkdev subtype");
  t.equal(fsType(s), "fuseblk.mysub");
  t.equal(fsSource(s, "/dev/fuse"), "/dev/loop0");
  t.same(s.kernelOptions, [], "blkdev not passed as a kernel option");
});

t.test("allow_other / allow_root (§8.2)", async (t) => {
  err(t, applyOptionPolicy("allow_other", USER),
    "option allow_other only allowed if 'user_allow_other' is set in /etc/fuse.conf", "allow_other non-root");
  err(t, applyOptionPolicy("allow_root", USER),
    "option allow_root only allowed if 'user_allow_other' is set in /etc/fuse.conf", "allow_root non-root");
  err(t, applyOptionPolicy("ro,default_permissions,allow_other", USER),
    "option allow_other only allowed if 'user_allow_other' is set in /etc/fuse.conf", "later token");

  const a = ok(t, applyOptionPolicy("allow_other", USER_AO), "allow_other with user_allow_other");
  t.same(a.kernelOptions, ["allow_other"]);
  const b = ok(t, applyOptionPolicy("allow_other", ROOT), "allow_other root");
  t.same(b.kernelOptions, ["allow_other"]);

  err(t, applyOptionPolicy("allow_root", USER_AO), "unknown option 'allow_root'", "allow_root permitted (user)");
  err(t, applyOptionPolicy("allow_root", ROOT), "unknown option 'allow_root'", "allow_root root");

  err(t, applyOptionPolicy("allow_other=1", USER_AO), "unknown option 'allow_other=1'", "allow_other=1");
  err(t, applyOptionPolicy("allow_others", ROOT), "unknown option 'allow_others'", "exact names only");
});

t.test("suid and dev: unsafe for users, honoured for root (§8.2, §8.3)", async (t) => {
  const u = applyOptionPolicy("suid", USER);
  const ru = ok(t, u, "user suid");
  t.same(u.warnings, ["unsafe option suid ignored"]);
  t.equal(ru.flags & MS_NOSUID, MS_NOSUID, "MS_NOSUID kept");
  t.equal(ru.flags & MS_NODEV, MS_NODEV, "MS_NODEV kept");

  const d = applyOptionPolicy("dev", USER);
  const rd = ok(t, d, "user dev");
  t.same(d.warnings, ["unsafe option dev ignored"]);
  t.equal(rd.flags & MS_NODEV, MS_NODEV, "MS_NODEV kept");
  t.equal(rd.flags & MS_NOSUID, MS_NOSUID, "MS_NOSUID kept");

  const both = applyOptionPolicy("dev,suid", USER_AO);
  t.same(both.warnings, ["unsafe option dev ignored", "unsafe option suid ignored"], "user_allow_other does not matter");
  t.equal(ok(t, both, "both").flags & (MS_NOSUID | MS_NODEV), MS_NOSUID | MS_NODEV);

  const r = applyOptionPolicy("suid,dev", ROOT);
  const rr = ok(t, r, "root suid,dev");
  t.same(r.warnings, []);
  t.equal(rr.flags & (MS_NOSUID | MS_NODEV), 0, "root clears both");

  const r2 = ok(t, applyOptionPolicy("", ROOT), "root defaults");
  t.equal(r2.flags, MS_NOSUID | MS_NODEV, "flags start from MS_NOSUID|MS_NODEV for root too");
  const u2 = ok(t, applyOptionPolicy("", USER), "user defaults");
  t.equal(u2.flags, MS_NOSUID | MS_NODEV);

  t.same(applyOptionPolicy("nosuid,nodev", USER).warnings, [], "nosuid/nodev are safe");
});

t.test("MOUNT_FLAGS: names, flags, actions and safety (§8.3)", async (t) => {
  // [name, MS flag, sets (true) or clears (false), unsafe]
  const table: Array<[string, number, boolean, boolean]> = [
    ["rw", MS_RDONLY, false, false], ["ro", MS_RDONLY, true, false],
    ["suid", MS_NOSUID, false, true], ["nosuid", MS_NOSUID, true, false],
    ["dev", MS_NODEV, false, true], ["nodev", MS_NODEV, true, false],
    ["exec", MS_NOEXEC, false, false], ["noexec", MS_NOEXEC, true, false],
    ["async", MS_SYNCHRONOUS, false, false], ["sync", MS_SYNCHRONOUS, true, false],
    ["atime", MS_NOATIME, false, false], ["noatime", MS_NOATIME, true, false],
    ["diratime", MS_NODIRATIME, false, false], ["nodiratime", MS_NODIRATIME, true, false],
    ["lazytime", MS_LAZYTIME, true, false], ["nolazytime", MS_LAZYTIME, false, false],
    ["relatime", MS_RELATIME, true, false], ["norelatime", MS_RELATIME, false, false],
    ["strictatime", MS_STRICTATIME, true, false], ["nostrictatime", MS_STRICTATIME, false, false],
    ["dirsync", MS_DIRSYNC, true, false],
    ["symfollow", MS_NOSYMFOLLOW, false, false], ["nosymfollow", MS_NOSYMFOLLOW, true, false],
  ];
  t.equal(MOUNT_FLAGS.length, table.length, "exactly the union of names");
  for (const [name, flag, on, unsafe] of table) {
    const f = MOUNT_FLAGS.find((m) => m.name === name);
    t.ok(f, `${name} present`);
    if (!f) continue;
    t.equal(f.flag, flag, `${name} flag`);
    t.equal(f.on, on, `${name} action`);
    t.equal(f.safe, !unsafe, `${name} ${unsafe ? "unsafe" : "safe"}`);
  }
  t.equal(MOUNT_FLAGS.find((m) => m.name === "suid")?.safe, false, "suid is unsafe");
  t.equal(MOUNT_FLAGS.find((m) => m.name === "dev")?.safe, false, "dev is unsafe");
  t.same(MOUNT_FLAGS.filter((m) => !m.safe).map((m) => m.name).sort(), ["dev", "suid"], "only suid and dev unsafe");

  // Through the policy, for root (nothing unsafe):
  const base = MS_NOSUID | MS_NODEV;
  for (const [name, flag, on] of table) {
    const start = on ? "" : (MOUNT_FLAGS.find((m) => m.name !== name && m.flag === flag && m.on)?.name ?? "");
    const r = applyOptionPolicy(start ? `${start},${name}` : name, ROOT);
    const req = ok(t, r, `root ${start ? start + "," : ""}${name}`);
    t.equal(req.flags & flag, on ? flag : 0, `${name} ${on ? "sets" : "clears"} its flag`);
    t.same(req.kernelOptions, [], `${name} is not a kernel option`);
    if (flag !== MS_NOSUID && flag !== MS_NODEV) t.equal(req.flags & base, base, `${name} leaves nosuid,nodev`);
  }
  // exact token length
  for (const tok of ["r", "rwx", "ro ", " ro", "RO", "nosuid=1", "noatime=0"]) {
    err(t, applyOptionPolicy(tok, ROOT), `unknown option '${tok}'`, JSON.stringify(tok));
  }
});

t.test("accepted and dropped options (§8.2)", async (t) => {
  for (const tok of ["nonempty", "fd=3", "fd=", "rootmode=40000", "user_id=0", "group_id=0", "large_read", "auto_unmount"]) {
    const r = applyOptionPolicy(tok, USER);
    const req = ok(t, r, tok);
    t.same(req.kernelOptions, [], `${tok} not in kernel options`);
    t.equal(req.flags, MS_NOSUID | MS_NODEV, `${tok} leaves flags`);
    t.same(r.warnings, [], `${tok} no warning`);
  }
  t.equal(ok(t, applyOptionPolicy("auto_unmount", USER), "auto_unmount").autoUnmount, true);
  t.equal(ok(t, applyOptionPolicy("ro", USER), "ro").autoUnmount, false);
  // generated values cannot be overridden
  const r = ok(t, applyOptionPolicy("fd=0,rootmode=100000,user_id=0,group_id=0", USER), "forged ids");
  t.equal(kernelData(r, { fd: 5, rootmode: S_IFDIR, uid: 1000, gid: 1000 }),
    "fd=5,rootmode=40000,user_id=1000,group_id=1000");
});

t.test("unknown options (§8.2)", async (t) => {
  const cases = ["", "X-foo", "uid=0", "gid=0", "user=root", "context=system_u:object_r:tmp_t:s0",
    "context=\"a,b\"", "noauto", "nofail", "users", "nonempty=1", "fd", "rootmode", "default_permissions=1",
    "max_read", "blksize", "Default_permissions", "allow_other ", "fscontext=x", "defaults", "owner"];
  for (const tok of cases) {
    const r = applyOptionPolicy(tok === "" ? "," : tok, ROOT);
    // "," tokenizes to a single empty token (the trailing comma of it is harmless)
    err(t, r, `unknown option '${tok === "context=\"a,b\"" ? "context=\"a" : tok}'`, `${JSON.stringify(tok)} (root)`);
  }
  err(t, applyOptionPolicy("uid=0", USER), "unknown option 'uid=0'", "uid=0 user");
  err(t, applyOptionPolicy("user=root", USER), "unknown option 'user=root'", "user=root user");
  err(t, applyOptionPolicy("ro,,nodev", USER), "unknown option ''", "empty token user");
  err(t, applyOptionPolicy(",ro", USER), "unknown option ''", "leading comma without the x- splitter (3.14 behaviour)");
  // first refusal stops processing; earlier warnings are kept
  const r = applyOptionPolicy("dev,bogus,suid", USER);
  err(t, r, "unknown option 'bogus'", "stops at the first refusal");
  t.same(r.warnings, ["unsafe option dev ignored"], "warnings before the refusal kept, later ones not produced");
  err(t, applyOptionPolicy("bogus,blkdev", USER), "unknown option 'bogus'", "first match in order");
  err(t, applyOptionPolicy("blkdev,bogus", USER), "option blkdev is privileged", "first match in order (2)");
});

t.test("kernel options copied verbatim (§8.2)", async (t) => {
  const r = ok(t, applyOptionPolicy("default_permissions,max_read=131072,blksize=4096,ro", USER), "kernel opts");
  t.same(r.kernelOptions, ["default_permissions", "max_read=131072", "blksize=4096"]);
  const v = ok(t, applyOptionPolicy("max_read=abc,blksize=", USER), "values not validated");
  t.same(v.kernelOptions, ["max_read=abc", "blksize="]);
  const ao = ok(t, applyOptionPolicy("default_permissions,allow_other", USER_AO), "with allow_other");
  t.same(ao.kernelOptions, ["default_permissions", "allow_other"], "order kept");
});

t.test("kernelData (§8.4)", async (t) => {
  const r = ok(t, applyOptionPolicy("default_permissions,allow_other", USER_AO), "example");
  t.equal(kernelData(r, { fd: 5, rootmode: S_IFDIR, uid: 1000, gid: 1000 }),
    "default_permissions,allow_other,fd=5,rootmode=40000,user_id=1000,group_id=1000", "spec §8.4 example");
  const e = ok(t, applyOptionPolicy("", USER), "empty");
  t.equal(kernelData(e, { fd: 3, rootmode: S_IFREG, uid: 0, gid: 0 }),
    "fd=3,rootmode=100000,user_id=0,group_id=0", "regular file rootmode is octal 100000");
  t.equal(kernelData(e, { fd: 12, rootmode: S_IFDIR, uid: 4294967294, gid: 65534 }),
    "fd=12,rootmode=40000,user_id=4294967294,group_id=65534", "uid as unsigned decimal");
});

t.test("worked example of fusermount3.md §11", async (t) => {
  const opts = "rw,nosuid,nodev,default_permissions,subtype=sshfs,fsname=bob@host:,x-gvfs-hide";
  const { regular, x, result } = pipeline(opts, USER);
  t.equal(regular, "rw,nosuid,nodev,default_permissions,subtype=sshfs,fsname=bob@host:", "regular list");
  t.equal(x, "x-gvfs-hide", "x list");
  const req = ok(t, result, "worked example");
  t.same(result.warnings, []);
  t.equal(req.flags, MS_NOSUID | MS_NODEV, "flags");
  t.equal(mountAttributes(req.flags), 0x6, "fsmount attrs 0x6");
  const id = { fd: 5, rootmode: S_IFDIR, uid: 1000, gid: 1000 };
  t.equal(kernelData(req, id), "default_permissions,fd=5,rootmode=40000,user_id=1000,group_id=1000", "kernel data");
  t.equal(fsType(req), "fuse.sshfs", "type");
  t.equal(fsSource(req, "/dev/fuse"), "bob@host:", "source");
  t.same(kernelParams(req, id), [
    ["default_permissions", undefined], ["fd", "5"], ["rootmode", "40000"], ["user_id", "1000"], ["group_id", "1000"],
  ], "fsconfig parameters (flag default_permissions, fd as decimal string)");
  t.same(superblockFlags(req.flags), [], "no superblock flags");
  t.equal(mountRecord(req, "bob", x), "rw,nosuid,nodev,default_permissions,user=bob,x-gvfs-hide", "record");
});

t.test("kernelParams never carries table-only or mount-attribute options (§11 step 5)", async (t) => {
  const req = ok(t, applyOptionPolicy(
    "rw,ro,nosuid,suid,nodev,dev,noexec,exec,noatime,atime,nodiratime,diratime,relatime,norelatime," +
    "strictatime,nostrictatime,nosymfollow,symfollow,max_read=4096,fsname=x,subtype=y,auto_unmount", ROOT), "all");
  const keys = kernelParams(req, { fd: 7, rootmode: S_IFDIR, uid: 0, gid: 0 }).map(([k]) => k);
  t.same(keys, ["max_read", "fd", "rootmode", "user_id", "group_id"]);
  t.same(kernelParams(req, { fd: 7, rootmode: S_IFDIR, uid: 0, gid: 0 })[0], ["max_read", "4096"]);
});

t.test("fsType / fsSource (§8.5)", async (t) => {
  const mk = (o: string, c: Caller = ROOT) => ok(t, applyOptionPolicy(o, c), o);
  t.equal(fsType(mk("")), "fuse");
  t.equal(fsSource(mk(""), "/dev/fuse"), "/dev/fuse", "source defaults to the device");
  t.equal(fsType(mk("fsname=X")), "fuse");
  t.equal(fsSource(mk("fsname=X"), "/dev/fuse"), "X");
  t.equal(fsType(mk("subtype=mysub")), "fuse.mysub");
  t.equal(fsSource(mk("subtype=mysub"), "/dev/fuse"), "mysub", "source = subtype when no fsname");
  t.equal(fsSource(mk("subtype=mysub,fsname=myfsname"), "/dev/fuse"), "myfsname");
  t.equal(fsSource(mk("fsname=myfsname,subtype=mysub"), "/dev/fuse"), "myfsname");
  t.equal(fsType(mk("blkdev,subtype=s")), "fuseblk.s");
});

t.test("legacySubtypeFallback (§8.5)", async (t) => {
  const mk = (o: string) => ok(t, applyOptionPolicy(o, ROOT), o);
  t.same(legacySubtypeFallback(mk("subtype=mysub,fsname=myfsname")),
    { type: "fuse", source: "mysub#myfsname" }, "non-blkdev with fsname → subtype#fsname");
  t.same(legacySubtypeFallback(mk("blkdev,subtype=mysub,fsname=/dev/loop0")),
    { type: "fuseblk", source: "/dev/loop0" }, "blkdev → fsname");
  t.same(legacySubtypeFallback(mk("subtype=mysub")),
    { type: "fuse", source: "fuse" }, "no fsname → the type string");
  t.same(legacySubtypeFallback(mk("blkdev,subtype=mysub")),
    { type: "fuseblk", source: "fuseblk" }, "blkdev, no fsname → the type string");
});

t.test("mountRecord (§8.4, sync-init-protocol.md §11.3)", async (t) => {
  const mk = (o: string, c: Caller = ROOT) => ok(t, applyOptionPolicy(o, c), o);
  t.equal(mountRecord(mk(""), undefined, ""), "rw,nosuid,nodev", "root, defaults");
  t.equal(mountRecord(mk("", USER), "alice", ""), "rw,nosuid,nodev,user=alice", "non-root gets user=");
  t.equal(mountRecord(mk(""), undefined, "x-a,x-b"), "rw,nosuid,nodev,x-a,x-b", "x-options last");
  t.equal(mountRecord(mk("", USER), "alice", "x-a"), "rw,nosuid,nodev,user=alice,x-a", "base, user=, x-options");
  t.equal(mountRecord(mk("suid,dev"), undefined, ""), "rw", "root with suid,dev");
  t.equal(
    mountRecord(mk("dirsync,nosymfollow,nodiratime,noatime,sync,noexec,nodev,nosuid,ro"), undefined, ""),
    "ro,nosuid,nodev,noexec,sync,noatime,nodiratime,nosymfollow,dirsync",
    "set flags in master's table order, no rw when read-only");
  t.equal(mountRecord(mk("ro,rw"), undefined, ""), "rw,nosuid,nodev", "last of ro/rw wins");
  t.equal(mountRecord(mk("max_read=4096,default_permissions,fsname=x,subtype=y"), undefined, ""),
    "rw,nosuid,nodev,max_read=4096,default_permissions", "kernel options after the flags; fsname/subtype not recorded");
  const rel = mountRecord(mk("relatime,lazytime,strictatime"), undefined, "");
  // Position of the union-only "set" names is not given by the spec; they must be present.
  for (const n of ["relatime", "lazytime", "strictatime"]) t.ok(rel.split(",").includes(n), `${n} recorded`);
  t.ok(rel.startsWith("rw,nosuid,nodev"), "rw first");
});

t.test("mountAttributes (§11 step 7)", async (t) => {
  t.equal(mountAttributes(0), 0);
  t.equal(mountAttributes(MS_RDONLY), 0x1);
  t.equal(mountAttributes(MS_NOSUID), 0x2);
  t.equal(mountAttributes(MS_NODEV), 0x4);
  t.equal(mountAttributes(MS_NOEXEC), 0x8);
  t.equal(mountAttributes(MS_NOATIME), 0x10);
  t.equal(mountAttributes(MS_RELATIME), 0x0);
  t.equal(mountAttributes(MS_STRICTATIME), 0x20);
  t.equal(mountAttributes(MS_NODIRATIME), 0x80);
  t.equal(mountAttributes(MS_NOSYMFOLLOW), 0x200000);
  t.equal(mountAttributes(MS_NOATIME | MS_STRICTATIME), 0x10, "noatime beats strictatime");
  t.equal(mountAttributes(MS_NOATIME | MS_RELATIME), 0x10, "noatime beats relatime");
  t.equal(mountAttributes(MS_RELATIME | MS_STRICTATIME), 0x0, "relatime beats strictatime");
  t.equal(mountAttributes(MS_SYNCHRONOUS | MS_DIRSYNC), 0, "superblock flags are not mount attributes");
  t.equal(
    mountAttributes(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_NOSYMFOLLOW),
    0x1 | 0x2 | 0x4 | 0x8 | 0x10 | 0x80 | 0x200000);
});

t.test("superblockFlags (§11 step 4)", async (t) => {
  t.same(superblockFlags(0), []);
  t.same(superblockFlags(MS_RDONLY), ["ro"]);
  t.same(superblockFlags(MS_SYNCHRONOUS), ["sync"]);
  t.same(superblockFlags(MS_DIRSYNC), ["dirsync"]);
  t.same(superblockFlags(MS_RDONLY | MS_SYNCHRONOUS | MS_DIRSYNC), ["ro", "sync", "dirsync"]);
  t.same(superblockFlags(MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME | MS_NOSYMFOLLOW |
    MS_RELATIME | MS_STRICTATIME), [], "mount attributes are not superblock flags");
  // §8.3 (unverified for FUSE): lazytime maps to the fsconfig flag `lazytime`.
  t.same(superblockFlags(MS_LAZYTIME), ["lazytime"]);
  const ro = ok(t, applyOptionPolicy("ro", USER), "ro");
  t.same(superblockFlags(ro.flags), ["ro"], "ro is a superblock flag");
  t.equal(mountAttributes(ro.flags), 0x1 | 0x2 | 0x4, "and MOUNT_ATTR_RDONLY in addition");
});

t.test("full pipeline rows for non-root", async (t) => {
  const a = pipeline(",ro,x-gvfs-hide,x-gvfs-notrash", USER);
  const r = ok(t, a.result, "leading comma accepted on master");
  t.equal(a.x, "x-gvfs-hide,x-gvfs-notrash");
  t.equal(mountRecord(r, "bob", a.x), "ro,nosuid,nodev,user=bob,x-gvfs-hide,x-gvfs-notrash");
  const b = pipeline("x-foo,allow_other", USER);
  err(t, b.result, "option allow_other only allowed if 'user_allow_other' is set in /etc/fuse.conf",
    "x- options do not bypass the whitelist");
  const c = pipeline("x-allow_other", USER);
  ok(t, c.result, "x-allow_other is just an x- option");
  t.equal(c.x, "x-allow_other");
  const d = pipeline("X-foo", ROOT);
  err(t, d.result, "unknown option 'X-foo'", "X-foo also for root");
});

t.test("hostile inputs do not throw", async (t) => {
  const mib = 1 << 20;
  const bigTok = "a".repeat(mib);
  t.doesNotThrow(() => splitXOptions(bigTok));
  t.doesNotThrow(() => tokenize(bigTok));
  const r = applyOptionPolicy(bigTok, USER);
  err(t, r, `unknown option '${bigTok}'`, "1 MiB single token");

  const manyRo = Array.from({ length: mib / 4 }, () => "ro").join(",");
  const r2 = applyOptionPolicy(manyRo, USER);
  t.equal(ok(t, r2, "many ro tokens").flags & MS_RDONLY, MS_RDONLY);

  const manyX = Array.from({ length: mib / 8 }, (_, i) => `x-${i}`).join(",");
  const s = splitXOptions(manyX + ",ro");
  t.equal(s.regular, "ro");
  t.equal(s.x.length, manyX.length);

  const commas = ",".repeat(mib);
  t.same(splitXOptions(commas), { regular: "", x: "" });
  t.equal(tokenize(commas).length, mib, "each comma but the last yields an empty token");

  const bs = "fsname=" + "\\".repeat(mib);
  const r3 = applyOptionPolicy(bs, USER);
  t.equal(ok(t, r3, "1 MiB of backslashes").fsname, "\\".repeat(mib / 2));
  const bs2 = "fsname=" + "\\".repeat(mib - 1);
  t.equal(ok(t, applyOptionPolicy(bs2, USER), "odd backslashes").fsname?.length, mib / 2);

  const uni = applyOptionPolicy("fsname=Ünïcødé✓🙂,subtype=日本語", USER);
  const ru = ok(t, uni, "non-ASCII fsname/subtype");
  t.equal(ru.fsname, "Ünïcødé✓🙂");
  t.equal(fsType(ru), "fuse.日本語");
  err(t, applyOptionPolicy("ünknown", USER), "unknown option 'ünknown'", "non-ASCII unknown");
  t.doesNotThrow(() => applyOptionPolicy("fsname=\0,\0,\uD800", ROOT));
  t.doesNotThrow(() => splitXOptions("x-\0,\uDFFF,x-🙂"));
  const big = ok(t, applyOptionPolicy(`max_read=${"9".repeat(mib)}`, USER), "huge max_read value");
  t.equal(kernelData(big, { fd: 5, rootmode: S_IFDIR, uid: 1, gid: 1 }).length, "max_read=".length + mib + ",fd=5,rootmode=40000,user_id=1,group_id=1".length);
});

t.test("x- options that mount(8) would act on as root are refused", async (t) => {
  const { checkXOptions } = await import("../../src/policy/options.ts");
  t.equal(checkXOptions(""), undefined);
  t.equal(checkXOptions("x-gvfs-hide,x-gdu.hide,x-"), undefined, "GNOME's hints pass");
  t.equal(checkXOptions("x-gvfs-hide,x-mount.mkdir"), "unknown option 'x-mount.mkdir'");
  t.equal(checkXOptions("x-mount.mkdir=0700"), "unknown option 'x-mount.mkdir=0700'");
  t.equal(checkXOptions("x-mount.owner=0"), "unknown option 'x-mount.owner=0'");
  t.equal(checkXOptions("x-mount.subdir=a"), "unknown option 'x-mount.subdir=a'");
  t.equal(checkXOptions("x-a b"), "unknown option 'x-a b'");
  t.equal(checkXOptions("x-a\tb"), "unknown option 'x-a\tb'");
  t.equal(checkXOptions("x-a\nb"), "unknown option 'x-a\nb'");
  t.equal(checkXOptions("x-mountain"), undefined, "only the x-mount. namespace");
});
