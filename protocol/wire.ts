// The comm-socket protocol between a FUSE server's mount code and fusermount3,
// shared by the helper and the client module. Pure: no I/O. See README.md here.

// Classic and sync-init: the helper sends one data byte with the /dev/fuse fd
// attached (SCM_RIGHTS).
export const FD_MESSAGE_BYTE = 0x00;
// Sync-init: the client sends one byte (any value) once it serves FUSE_INIT.
export const PROCEED_BYTE = 0x00;
// Sync-init: the helper answers with a host-endian int32, 0 or -errno.
export const STATUS_SIZE = 4;
// How long the helper waits for the proceed byte (libfuse master: 5 minutes).
// Only a separate test build, never the installed helper, defines a shorter one
// at compile time (`bun build --define`): there is no run-time knob a caller
// could turn.
declare const FM_TEST_PROCEED_TIMEOUT: number | undefined;
export const PROCEED_TIMEOUT_SECONDS: number =
  typeof FM_TEST_PROCEED_TIMEOUT === "number" ? FM_TEST_PROCEED_TIMEOUT : 300;
// How long FSCONFIG_CMD_CREATE (which waits for the FUSE_INIT answer) may take.
export const INIT_TIMEOUT_SECONDS = 300;
// _IO(229, 3): arms synchronous FUSE_INIT on an unattached /dev/fuse fd (Linux 6.18+).
export const FUSE_DEV_IOC_SYNC_INIT = 0xe503;

const EIO = 5;
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

// A failed mount never reports 0, even when the errno at hand is 0 or garbage.
export function statusFromErrno(errno: number): number {
  return Number.isInteger(errno) && errno > 0 && errno < 4096 ? -errno : -EIO;
}

export function encodeStatus(status: number): Uint8Array {
  const b = new Uint8Array(STATUS_SIZE);
  new DataView(b.buffer).setInt32(0, status | 0, littleEndian);
  return b;
}

export function decodeStatus(bytes: Uint8Array): number {
  if (bytes.length !== STATUS_SIZE) throw new RangeError(`status is ${STATUS_SIZE} bytes, got ${bytes.length}`);
  return new DataView(bytes.buffer, bytes.byteOffset, STATUS_SIZE).getInt32(0, littleEndian);
}
