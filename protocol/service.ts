// The service protocol: what the launcher sends to `fusermount3-bun --service`
// over its AF_UNIX SOCK_SEQPACKET socket, and what it gets back. Pure: no I/O.
// See README.md here ("The service protocol").
//
// Request: ONE message, with SCM_RIGHTS fds in this order: the caller's fds 0,
// 1, 2, an O_PATH fd of its cwd, and (flag COMM_FD) the fd that _FUSE_COMMFD
// names. Credentials are never in the message: the service takes them from
// SO_PEERCRED / SO_PEERGROUPS of the connection.
//
//   0   4  magic "FM3Q"
//   4   4  u32 version (1)
//   8   4  u32 flags (bit 0: the comm fd is attached)
//   12  4  u32 argc (1 .. MAX_ARGC)
//   16  …  argc NUL-terminated strings (argv[0] first), then zero or more
//          NUL-terminated "NAME=value" strings, NAME one of VARIABLES, each
//          at most once; nothing after the last NUL.
// Integers are host-endian (the launcher and the service run on one host).
//
// Replies (each one message): NOTICE_WATCHING ("FM3W", 4 bytes) when the
// request goes on as an auto-unmount watch (the launcher then waits without a
// deadline, as libfuse's watchdog lives as long as the FUSE server), and
// finally "FM3S" + i32 exit status (8 bytes); then the service closes.

export const REQUEST_MAGIC = "FM3Q";
export const VERSION = 1;
export const FLAG_COMM_FD = 1;
// The same request again, from a launcher whose watch the service held when it
// went away: hand the watch back (needs the comm fd).
export const FLAG_RESUME = 2;
export const HEADER_SIZE = 16;
export const MAX_REQUEST_BYTES = 65536;
export const MAX_ARGC = 4096;
export const VARIABLES = ["_FUSE_COMMFD", "_FUSE_COMMFD2", "FUSE_KERN_DEVICE"] as const;
export type Variable = (typeof VARIABLES)[number];
// fds 0, 1, 2 and the cwd; the comm fd is the fifth.
export const BASE_FDS = 4;
export const STATUS_MAGIC = "FM3S";
export const NOTICE_WATCHING = "FM3W";
export const DEFAULT_SOCKET = "/run/fusermount3/service.sock";
// How long a connection may take to deliver its request after accept().
export const REQUEST_DEADLINE_MS = 5000;

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export type ServiceRequest = {
  argv: string[]; // argv[0] included
  env: Partial<Record<Variable, string>>;
  commFdAttached: boolean;
  resume: boolean;
};

export type Parsed = { ok: true; request: ServiceRequest } | { ok: false; error: string };

// Strings are decoded as UTF-8 with replacement, exactly as the runtime decodes
// the set-uid path's argv (main refuses U+FFFD in arguments).
export function parseRequest(data: Uint8Array): Parsed {
  const bad = (error: string): Parsed => ({ ok: false, error });
  if (data.length < HEADER_SIZE) return bad("short request");
  if (data.length > MAX_REQUEST_BYTES) return bad("request too long");
  const magic = String.fromCharCode(data[0]!, data[1]!, data[2]!, data[3]!);
  if (magic !== REQUEST_MAGIC) return bad("not a fusermount3 request");
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (dv.getUint32(4, littleEndian) !== VERSION) return bad("unsupported request version");
  const flags = dv.getUint32(8, littleEndian);
  if ((flags & ~(FLAG_COMM_FD | FLAG_RESUME)) !== 0) return bad("unknown request flags");
  if ((flags & FLAG_RESUME) !== 0 && (flags & FLAG_COMM_FD) === 0) return bad("a resumed watch needs its comm fd");
  const argc = dv.getUint32(12, littleEndian);
  if (argc < 1 || argc > MAX_ARGC) return bad("bad argument count");
  if (data.length > HEADER_SIZE && data[data.length - 1] !== 0) return bad("request does not end with NUL");
  const strings: string[] = [];
  const decoder = new TextDecoder("utf-8", { fatal: false });
  for (let off = HEADER_SIZE; off < data.length;) {
    const end = data.indexOf(0, off);
    strings.push(decoder.decode(data.subarray(off, end)));
    off = end + 1;
  }
  if (strings.length < argc) return bad("truncated request");
  const env: Partial<Record<Variable, string>> = {};
  for (const kv of strings.slice(argc)) {
    const eq = kv.indexOf("=");
    const name = eq < 0 ? kv : kv.slice(0, eq);
    if (eq < 0 || !(VARIABLES as readonly string[]).includes(name)) return bad("unknown variable in request");
    if (env[name as Variable] !== undefined) return bad("variable given twice");
    env[name as Variable] = kv.slice(eq + 1);
  }
  return { ok: true, request: { argv: strings.slice(0, argc), env, commFdAttached: (flags & FLAG_COMM_FD) !== 0, resume: (flags & FLAG_RESUME) !== 0 } };
}

// For tests and for clients other than the C launcher.
export function encodeRequest(argv: readonly string[], env: Partial<Record<Variable, string>> = {}, commFdAttached = false, resume = false): Uint8Array {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(HEADER_SIZE);
  head.write(REQUEST_MAGIC, 0, "latin1");
  const w = (v: number, at: number) => (littleEndian ? head.writeUInt32LE(v, at) : head.writeUInt32BE(v, at));
  w(VERSION, 4); w((commFdAttached ? FLAG_COMM_FD : 0) | (resume ? FLAG_RESUME : 0), 8); w(argv.length, 12);
  parts.push(head);
  for (const s of argv) parts.push(Buffer.from(`${s}\0`, "utf8"));
  for (const [k, v] of Object.entries(env)) if (v !== undefined) parts.push(Buffer.from(`${k}=${v}\0`, "utf8"));
  return Buffer.concat(parts);
}

export function encodeStatusReply(status: number): Uint8Array {
  const b = Buffer.alloc(8);
  b.write(STATUS_MAGIC, 0, "latin1");
  if (littleEndian) b.writeInt32LE(status | 0, 4); else b.writeInt32BE(status | 0, 4);
  return b;
}

export function decodeReply(b: Uint8Array): { kind: "watching" } | { kind: "status"; status: number } | undefined {
  const magic = b.length >= 4 ? String.fromCharCode(b[0]!, b[1]!, b[2]!, b[3]!) : "";
  if (b.length === 4 && magic === NOTICE_WATCHING) return { kind: "watching" };
  if (b.length === 8 && magic === STATUS_MAGIC) {
    const dv = new DataView(b.buffer, b.byteOffset, 8);
    return { kind: "status", status: dv.getInt32(4, littleEndian) };
  }
  return undefined;
}

// The launcher's own checks of the three variables (src/launcher/fusermount3.c),
// applied again by the service: a client other than the launcher may send
// anything, and the shared code only ever sees what the launcher would pass.
export function launcherFilter(env: Partial<Record<Variable, string>>): Partial<Record<Variable, string>> {
  const out: Partial<Record<Variable, string>> = {};
  const digits = (v: string) => v.length > 0 && v.length <= 10 && /^[0-9]+$/.test(v);
  const device = (v: string) => v.length > 5 && v.length <= 255 && v.startsWith("/dev/") && /^[!-~]+$/.test(v);
  if (env._FUSE_COMMFD !== undefined && digits(env._FUSE_COMMFD)) out._FUSE_COMMFD = env._FUSE_COMMFD;
  if (env._FUSE_COMMFD2 !== undefined && digits(env._FUSE_COMMFD2)) out._FUSE_COMMFD2 = env._FUSE_COMMFD2;
  if (env.FUSE_KERN_DEVICE !== undefined && device(env.FUSE_KERN_DEVICE)) out.FUSE_KERN_DEVICE = env.FUSE_KERN_DEVICE;
  return out;
}
