import t from "tap";
import {
  encodeStatus, decodeStatus, statusFromErrno, FD_MESSAGE_BYTE, PROCEED_BYTE, STATUS_SIZE,
  PROCEED_TIMEOUT_SECONDS, INIT_TIMEOUT_SECONDS, FUSE_DEV_IOC_SYNC_INIT,
} from "../../protocol/wire.ts";

t.test("constants of the wire protocol", async (t) => {
  t.equal(FD_MESSAGE_BYTE, 0);
  t.equal(PROCEED_BYTE, 0);
  t.equal(STATUS_SIZE, 4);
  t.equal(PROCEED_TIMEOUT_SECONDS, 300, "the production constant (test builds define a shorter one)");
  t.equal(INIT_TIMEOUT_SECONDS, 300);
  t.equal(FUSE_DEV_IOC_SYNC_INIT, (229 << 8) | 3);
});

t.test("status bytes are host-endian int32 (little-endian here)", async (t) => {
  const vectors: Array<[number, number[]]> = [
    [0, [0x00, 0x00, 0x00, 0x00]],
    [-1, [0xff, 0xff, 0xff, 0xff]], // -EPERM
    [-2, [0xfe, 0xff, 0xff, 0xff]], // -ENOENT
    [-5, [0xfb, 0xff, 0xff, 0xff]], // -EIO
    [-22, [0xea, 0xff, 0xff, 0xff]], // -EINVAL
    [-38, [0xda, 0xff, 0xff, 0xff]], // -ENOSYS
  ];
  for (const [status, bytes] of vectors) {
    t.same([...encodeStatus(status)], bytes, `encode ${status}`);
    t.equal(decodeStatus(new Uint8Array(bytes)), status, `decode ${status}`);
  }
  t.equal(decodeStatus(encodeStatus(-2147483648)), -2147483648);
  t.equal(decodeStatus(new Uint8Array([9, 1, 2, 3, 4, 0, 0, 0, 0]).subarray(1, 5)), 0x04030201, "honours byteOffset");
});

t.test("malformed status lengths are refused", async (t) => {
  t.throws(() => decodeStatus(new Uint8Array(3)), RangeError);
  t.throws(() => decodeStatus(new Uint8Array(5)), RangeError);
  t.throws(() => decodeStatus(new Uint8Array(0)), RangeError);
});

t.test("a failure never maps to status 0", async (t) => {
  t.equal(statusFromErrno(22), -22);
  t.equal(statusFromErrno(1), -1);
  for (const bad of [0, -5, 4096, 1e9, NaN, 1.5, Infinity]) t.equal(statusFromErrno(bad), -5, `errno ${bad} → -EIO`);
});
