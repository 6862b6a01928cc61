// The service's request format (protocol/service.ts): what parses, what is
// refused, and the launcher's variable checks applied again.
import t from "tap";
import {
  parseRequest, encodeRequest, encodeStatusReply, decodeReply, launcherFilter, MAX_REQUEST_BYTES, HEADER_SIZE,
} from "../../protocol/service.ts";

t.test("a request round-trips", async (t) => {
  const argv = ["fusermount3", "-o", "fsname=a b", "--", "", "/mnt/ü"];
  const env = { _FUSE_COMMFD: "3", FUSE_KERN_DEVICE: "/dev/fuse" };
  const p = parseRequest(encodeRequest(argv, env, true));
  t.same(p, { ok: true, request: { argv, env, commFdAttached: true, resume: false } }, "empty arguments and UTF-8 survive");
  t.same(parseRequest(encodeRequest(["x"])), { ok: true, request: { argv: ["x"], env: {}, commFdAttached: false, resume: false } });
  t.same(parseRequest(encodeRequest(["x"], {}, true, true)), { ok: true, request: { argv: ["x"], env: {}, commFdAttached: true, resume: true } },
    "a watch handed back after a restart (FLAG_RESUME)");
});

t.test("malformed requests are refused", async (t) => {
  const good = Buffer.from(encodeRequest(["fusermount3", "-V"]));
  const edit = (f: (b: Buffer) => Buffer) => parseRequest(f(Buffer.from(good)));
  const cases: Array<[string, Buffer | Uint8Array]> = [
    ["empty", Buffer.alloc(0)],
    ["short", good.subarray(0, HEADER_SIZE - 1)],
    ["magic", (() => { const b = Buffer.from(good); b[0] = 0x58; return b; })()],
    ["garbage", Buffer.from("GET / HTTP/1.0\r\n\r\n")],
    ["too long", Buffer.concat([good, Buffer.alloc(MAX_REQUEST_BYTES)])],
  ];
  for (const [what, b] of cases) t.equal(parseRequest(b).ok, false, what);
  t.equal(edit((b) => { b.writeUInt32LE(2, 4); return b; }).ok, false, "version");
  t.equal(edit((b) => { b.writeUInt32LE(4, 8); return b; }).ok, false, "unknown flag");
  t.equal(edit((b) => { b.writeUInt32LE(2, 8); return b; }).ok, false, "FLAG_RESUME without the comm fd");
  t.equal(edit((b) => { b.writeUInt32LE(0, 12); return b; }).ok, false, "argc 0");
  t.equal(edit((b) => { b.writeUInt32LE(3, 12); return b; }).ok, false, "fewer strings than argc");
  t.equal(edit((b) => b.subarray(0, b.length - 1)).ok, false, "no final NUL");
  t.equal(parseRequest(encodeRequest(["x"], { SUDO_UID: "0" } as never)).ok, false, "a variable other than the three");
  const twice = Buffer.concat([Buffer.from(encodeRequest(["x"], { _FUSE_COMMFD: "3" })), Buffer.from("_FUSE_COMMFD=4\0")]);
  t.equal(parseRequest(twice).ok, false, "a variable twice");
});

t.test("the launcher's checks of the variables", async (t) => {
  t.same(launcherFilter({ _FUSE_COMMFD: "3", _FUSE_COMMFD2: "12", FUSE_KERN_DEVICE: "/dev/fuse" }),
    { _FUSE_COMMFD: "3", _FUSE_COMMFD2: "12", FUSE_KERN_DEVICE: "/dev/fuse" });
  t.same(launcherFilter({ _FUSE_COMMFD: " 3", _FUSE_COMMFD2: "12345678901", FUSE_KERN_DEVICE: "/dev/" }), {});
  t.same(launcherFilter({ FUSE_KERN_DEVICE: "/dev/a b" }), {});
  t.same(launcherFilter({ FUSE_KERN_DEVICE: "/tmp/fuse" }), {});
});

t.test("replies", async (t) => {
  t.same(decodeReply(encodeStatusReply(0)), { kind: "status", status: 0 });
  t.same(decodeReply(encodeStatusReply(137)), { kind: "status", status: 137 });
  t.same(decodeReply(Buffer.from("FM3W")), { kind: "watching" });
  t.equal(decodeReply(Buffer.from("FM3X")), undefined);
});
