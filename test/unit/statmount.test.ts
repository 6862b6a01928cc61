// statmount(2) decoding on buffers recorded from Linux 6.18 (made by this
// project's tests' kind of set-up: a root tmpfs with options, and a user's FUSE
// mount with fsname and subtype), so the offsets of struct statmount are
// checked without a kernel.
import t from "tap";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeStatmount } from "../../src/policy/statmount.ts";
import { fullFsType, ownsByOptions, isFuseType } from "../../src/policy/mountinfo.ts";

const records = JSON.parse(readFileSync(join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures", "statmount", "records.json"), "utf8")) as
  Record<string, { id: string; hex: string }>;
const decode = (name: string) => decodeStatmount(Uint8Array.from(Buffer.from(records[name]!.hex, "hex")));

t.test("a tmpfs mounted by root with options", async (t) => {
  const m = decode("tmpfs");
  t.equal(m.id, BigInt(records.tmpfs!.id), "the unique ID asked for");
  t.equal(m.fsType, "tmpfs");
  t.equal(m.subtype, undefined);
  t.equal(m.source, "rectmp");
  t.equal(m.mountPoint, "/tmp/rec/t");
  t.equal(m.root, "/");
  t.match(m.fsOptions, /(^|,)size=64k(,|$)/);
  t.match(m.fsOptions, /(^|,)mode=750(,|$)/);
  t.ok(m.oldId > 0 && m.oldId < 1 << 20, "the old (mountinfo) ID is small");
  t.ok(m.parentId > 1n << 31n, "the parent's unique ID");
});

t.test("a user's FUSE mount with fsname and subtype", async (t) => {
  const m = decode("fuse");
  t.equal(m.id, BigInt(records.fuse!.id));
  t.equal(m.fsType, "fuse");
  t.equal(m.subtype, "rec");
  t.equal(fullFsType(m.fsType, m.subtype), "fuse.rec", "as mountinfo shows it");
  t.ok(isFuseType(fullFsType(m.fsType, m.subtype)));
  t.equal(m.source, "my src", "unescaped, unlike mountinfo");
  t.equal(m.mountPoint, "/tmp/rec/f");
  t.equal(m.fsOptions, "user_id=1001,group_id=1001");
  t.ok(ownsByOptions(m.fsOptions, 1001));
  t.notOk(ownsByOptions(m.fsOptions, 100));
});

t.test("strings outside the returned mask are empty, never read", async (t) => {
  const b = Uint8Array.from(Buffer.from(records.fuse!.hex, "hex"));
  new DataView(b.buffer).setBigUint64(8, 0x3n, true); // SB_BASIC | MNT_BASIC only
  const m = decodeStatmount(b);
  t.equal(m.fsType, "");
  t.equal(m.mountPoint, "");
  t.equal(m.fsOptions, "");
  t.equal(m.id, BigInt(records.fuse!.id));
});
