// A small FUSE low-level protocol server for Bun (and Node): reads requests from
// an already-mounted /dev/fuse fd, decodes them, calls a `Filesystem` and writes
// the replies. Struct layouts follow <linux/fuse.h> (protocol 7.38), x86_64 /
// arm64 little-endian only.
//
// The device is read with the callback form of node:fs `read`, which runs the
// blocking read(2) on the runtime's thread pool: the JS thread stays free to run
// timers, sockets and other promises while the kernel has nothing to ask. Only
// one read is in flight at a time, so one request buffer is reused; each
// request is copied out of it before the next read is issued.
//
// Replies are written synchronously (writeSync): a write to /dev/fuse never
// blocks, and the kernel wants each reply in a single write().

import { read as readAsync, writeSync } from "node:fs";

// ---- constants --------------------------------------------------------------

export const Errno = {
  EPERM: 1, ENOENT: 2, EINTR: 4, EIO: 5, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13,
  EEXIST: 17, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EROFS: 30, ERANGE: 34,
  ENOSYS: 38, ENODATA: 61, EPROTO: 71, EOPNOTSUPP: 95, ENOTCONN: 107,
} as const;

export const Op = {
  LOOKUP: 1, FORGET: 2, GETATTR: 3, SETATTR: 4, READLINK: 5, SYMLINK: 6, MKNOD: 8,
  MKDIR: 9, UNLINK: 10, RMDIR: 11, RENAME: 12, LINK: 13, OPEN: 14, READ: 15, WRITE: 16,
  STATFS: 17, RELEASE: 18, FSYNC: 20, SETXATTR: 21, GETXATTR: 22, LISTXATTR: 23,
  REMOVEXATTR: 24, FLUSH: 25, INIT: 26, OPENDIR: 27, READDIR: 28, RELEASEDIR: 29,
  FSYNCDIR: 30, GETLK: 31, SETLK: 32, SETLKW: 33, ACCESS: 34, CREATE: 35, INTERRUPT: 36,
  BMAP: 37, DESTROY: 38, IOCTL: 39, POLL: 40, NOTIFY_REPLY: 41, BATCH_FORGET: 42,
  FALLOCATE: 43, READDIRPLUS: 44, RENAME2: 45, LSEEK: 46, COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48, REMOVEMAPPING: 49, SYNCFS: 50, TMPFILE: 51, STATX: 52,
} as const;

// Highest protocol minor whose reply layouts this file fills in completely.
export const PROTO_MAJOR = 7;
export const PROTO_MINOR = 38;
// Below 7.23 fuse_init_out is shorter; older kernels than that are not worth
// the compat code for an example.
const MIN_KERNEL_MINOR = 23;

const INIT_FLAGS = {
  ASYNC_READ: 1 << 0, BIG_WRITES: 1 << 5, PARALLEL_DIROPS: 1 << 18, MAX_PAGES: 1 << 22,
} as const;
const FOPEN_DIRECT_IO = 1 << 0;
const FOPEN_KEEP_CACHE = 1 << 1;

const IN_HEADER = 40;
const OUT_HEADER = 16;
const ATTR_SIZE = 88;
const PAGE = 4096;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;

// ---- the interface a filesystem implements -----------------------------------

export type MaybePromise<T> = T | Promise<T>;

// Who asked, from fuse_in_header.
export type RequestContext = { unique: bigint; nodeid: number; uid: number; gid: number; pid: number };

// Times are milliseconds since the epoch, as in Date.now() / Stats.mtimeMs.
export type Attr = {
  ino: number; mode: number; nlink: number; uid: number; gid: number; size: number;
  blocks?: number; atimeMs?: number; mtimeMs?: number; ctimeMs?: number;
  rdev?: number; blksize?: number;
};

// Valid times are seconds; they default to the session's attrValid/entryValid.
export type Entry = { nodeid: number; generation?: number; attr: Attr; entryValid?: number; attrValid?: number };
export type AttrReply = { attr: Attr; attrValid?: number };
export type OpenReply = { fh?: number; keepCache?: boolean; directIo?: boolean };

// One directory entry; `ino` and the type bits of `mode` are what readdir(3)
// shows (d_ino, d_type).
export type DirEntry = { name: string; ino: number; mode: number };

export type Statfs = {
  blocks: number; bfree: number; bavail: number; files: number; ffree: number;
  bsize: number; namelen: number; frsize: number;
};

// Node ids are JS numbers: ids above 2^53 are not representable (and not needed
// by anything that hands out ids itself). Errors are reported by throwing a
// FuseError (or any error with a numeric errno, as node:fs throws); anything
// else becomes EIO. Optional operations have the defaults noted.
export interface Filesystem {
  init?(info: InitInfo): void;
  destroy?(): void;
  lookup(parent: number, name: string, ctx: RequestContext): MaybePromise<Entry>;
  forget?(nodeid: number, nlookup: bigint): void;
  getattr(nodeid: number, ctx: RequestContext): MaybePromise<AttrReply>;
  /** default: fh 0 */
  open?(nodeid: number, flags: number, ctx: RequestContext): MaybePromise<OpenReply>;
  /** default: ENOSYS */
  read?(nodeid: number, fh: number, offset: number, size: number, ctx: RequestContext): MaybePromise<Uint8Array>;
  release?(nodeid: number, fh: number, ctx: RequestContext): MaybePromise<void>;
  /** default: fh 0 */
  opendir?(nodeid: number, flags: number, ctx: RequestContext): MaybePromise<OpenReply>;
  /** The whole listing, "." and ".." included if wanted; serve() pages it by
   *  index (a READDIR offset is the index of the next entry). default: ENOSYS */
  readdir?(nodeid: number, fh: number, ctx: RequestContext): MaybePromise<DirEntry[]>;
  releasedir?(nodeid: number, fh: number, ctx: RequestContext): MaybePromise<void>;
  /** default: an empty filesystem with 255-byte names */
  statfs?(nodeid: number, ctx: RequestContext): MaybePromise<Statfs>;
  /** default: allowed (0) */
  access?(nodeid: number, mask: number, ctx: RequestContext): MaybePromise<void>;
  /** default: ENODATA (no such attribute) */
  getxattr?(nodeid: number, name: string, size: number, ctx: RequestContext): MaybePromise<Uint8Array>;
}

export class FuseError extends Error {
  constructor(readonly errno: number, message?: string) {
    super(message ?? `FUSE error ${errno}`);
  }
}

export type InitInfo = {
  /** What the kernel offered in FUSE_INIT. */
  major: number; minor: number; kernelFlags: number; maxReadahead: number;
  /** What was agreed. */
  protoMinor: number; flags: number; maxWrite: number;
  /** performance.now() right after the INIT reply was written. */
  answeredAt: number;
};

export type ServeOptions = {
  /** Seconds the kernel may cache attributes / names. Default 1. */
  attrValid?: number; entryValid?: number;
  /** Largest WRITE the kernel may send; the read buffer is sized from it. Default 1 MiB. */
  maxWrite?: number;
  maxReadahead?: number;
  /** Called for every request (opcode name, header) when set. */
  debug?: (line: string) => void;
  /** Unexpected failures (a bad reply, a handler throwing a non-errno error). */
  onError?: (err: unknown) => void;
};

export type Session = {
  initialized: Promise<InitInfo>;
  closed: Promise<void>;
  /** Stop reading requests. The read already handed to the thread pool cannot
   *  be cancelled: a request it brings is dropped unanswered (the fd may have
   *  been closed and its number reused by then), and it ends for good when the
   *  fs is unmounted or the fd's last reference goes (which aborts the
   *  connection, failing that request too). */
  stop(): void;
};

// ---- encoding helpers --------------------------------------------------------

const opNames = new Map<number, string>(Object.entries(Op).map(([k, v]) => [v, k]));

const align8 = (n: number): number => (n + 7) & ~7;
const u64 = (n: number | bigint): bigint => BigInt.asUintN(64, BigInt(n));

function splitTime(ms: number | undefined): [bigint, number] {
  const t = ms ?? 0;
  const sec = Math.floor(t / 1000);
  const nsec = Math.min(999_999_999, Math.max(0, Math.round((t - sec * 1000) * 1e6)));
  return [BigInt(sec), nsec];
}

function splitValid(seconds: number): [bigint, number] {
  const s = Math.max(0, seconds);
  const whole = Math.floor(s);
  return [BigInt(whole), Math.min(999_999_999, Math.round((s - whole) * 1e9))];
}

// struct fuse_attr (88 bytes)
function putAttr(b: Buffer, off: number, a: Attr): void {
  const [as, an] = splitTime(a.atimeMs);
  const [ms, mn] = splitTime(a.mtimeMs);
  const [cs, cn] = splitTime(a.ctimeMs);
  b.writeBigUInt64LE(u64(a.ino), off);
  b.writeBigUInt64LE(u64(a.size), off + 8);
  b.writeBigUInt64LE(u64(a.blocks ?? Math.ceil(a.size / 512)), off + 16);
  b.writeBigUInt64LE(u64(as), off + 24);
  b.writeBigUInt64LE(u64(ms), off + 32);
  b.writeBigUInt64LE(u64(cs), off + 40);
  b.writeUInt32LE(an, off + 48);
  b.writeUInt32LE(mn, off + 52);
  b.writeUInt32LE(cn, off + 56);
  b.writeUInt32LE(a.mode >>> 0, off + 60);
  b.writeUInt32LE(a.nlink >>> 0, off + 64);
  b.writeUInt32LE(a.uid >>> 0, off + 68);
  b.writeUInt32LE(a.gid >>> 0, off + 72);
  b.writeUInt32LE((a.rdev ?? 0) >>> 0, off + 76);
  b.writeUInt32LE((a.blksize ?? PAGE) >>> 0, off + 80);
  b.writeUInt32LE(0, off + 84); // flags (FUSE_ATTR_SUBMOUNT, ...): none
}

// NUL-terminated name at `off` (LOOKUP, GETXATTR).
function cName(req: Buffer, off: number): string {
  const end = req.indexOf(0, off);
  return req.toString("utf8", off, end < 0 ? req.length : end);
}

function errnoOf(err: unknown): number | undefined {
  if (err instanceof FuseError) return err.errno;
  if (typeof err === "object" && err !== null && "errno" in err) {
    const e = (err as { errno: unknown }).errno;
    if (typeof e === "number" && Number.isInteger(e) && e !== 0) return Math.abs(e);
  }
  return undefined;
}

// node:fs callback errors carry the errno name in `code`.
function codeOf(err: unknown): string | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const c = (err as { code: unknown }).code;
    if (typeof c === "string") return c;
  }
  return undefined;
}

const isPromise = <T>(v: MaybePromise<T>): v is Promise<T> =>
  typeof v === "object" && v !== null && typeof (v as { then?: unknown }).then === "function";

// ---- the session ---------------------------------------------------------------

export function serve(fd: number, fs: Filesystem, opts: ServeOptions = {}): Session {
  const attrValid = opts.attrValid ?? 1;
  const entryValid = opts.entryValid ?? 1;
  const maxWrite = opts.maxWrite ?? 1 << 20;
  const maxReadahead = opts.maxReadahead ?? 1 << 20;
  // A read must fit the largest request (a WRITE of maxWrite plus headers), or
  // the kernel fails it with EINVAL; one spare page covers the headers.
  const buf = Buffer.alloc(Math.max(maxWrite + PAGE, 128 * 1024 + PAGE));
  const debug = opts.debug;
  const onError = opts.onError ?? ((err: unknown) => console.error("fuse:", err));

  let state: "running" | "closed" = "running";
  let inited = false;
  let protoMinor = 0;

  let resolveInit!: (i: InitInfo) => void;
  let rejectInit!: (e: Error) => void;
  const initialized = new Promise<InitInfo>((res, rej) => { resolveInit = res; rejectInit = rej; });
  let resolveClosed!: () => void;
  let rejectClosed!: (e: unknown) => void;
  const closed = new Promise<void>((res, rej) => { resolveClosed = res; rejectClosed = rej; });
  // The caller may await only one of them; an unobserved rejection must not
  // take the process down.
  initialized.catch(() => {});
  closed.catch(() => {});

  function finish(err?: unknown): void {
    if (state === "closed") return;
    state = "closed";
    if (!inited) rejectInit(new Error("FUSE session ended before FUSE_INIT"));
    try { fs.destroy?.(); } catch (e) { onError(e); }
    if (err === undefined) resolveClosed(); else rejectClosed(err);
  }

  // One write per reply: the kernel takes a reply only as a single write.
  function send(unique: bigint, error: number, payload?: Uint8Array): boolean {
    if (state !== "running") return false;
    const len = OUT_HEADER + (payload?.length ?? 0);
    const out = Buffer.allocUnsafe(len);
    out.writeUInt32LE(len, 0);
    out.writeInt32LE(error === 0 ? 0 : -Math.abs(error), 4);
    out.writeBigUInt64LE(unique, 8);
    if (payload) out.set(payload, OUT_HEADER);
    try {
      writeSync(fd, out, 0, len);
      return true;
    } catch (err) {
      const code = codeOf(err);
      // ENOENT: the request was interrupted or aborted before our answer.
      if (code === "ENOENT") return false;
      if (code === "ENODEV") { finish(); return false; }
      onError(err);
      return false;
    }
  }

  function sendError(unique: bigint, err: unknown): void {
    const e = errnoOf(err);
    if (e === undefined) onError(err);
    send(unique, e ?? Errno.EIO);
  }

  // Runs a (possibly async) handler and answers with its encoded result.
  function answer<T>(unique: bigint, call: () => MaybePromise<T>, encode: (v: T) => Uint8Array | undefined): void {
    const done = (v: T): void => {
      let payload: Uint8Array | undefined;
      try { payload = encode(v); } catch (e) { sendError(unique, e); return; }
      send(unique, 0, payload);
    };
    let r: MaybePromise<T>;
    try { r = call(); } catch (e) { sendError(unique, e); return; }
    if (isPromise(r)) r.then(done, (e: unknown) => sendError(unique, e));
    else done(r);
  }

  const entryOut = (e: Entry): Buffer => {
    const b = Buffer.alloc(40 + ATTR_SIZE);
    const [es, en] = splitValid(e.entryValid ?? entryValid);
    const [as, an] = splitValid(e.attrValid ?? attrValid);
    b.writeBigUInt64LE(u64(e.nodeid), 0);
    b.writeBigUInt64LE(u64(e.generation ?? 0), 8);
    b.writeBigUInt64LE(es, 16);
    b.writeBigUInt64LE(as, 24);
    b.writeUInt32LE(en, 32);
    b.writeUInt32LE(an, 36);
    putAttr(b, 40, e.attr);
    return b;
  };

  const attrOut = (r: AttrReply): Buffer => {
    const b = Buffer.alloc(16 + ATTR_SIZE);
    const [s, n] = splitValid(r.attrValid ?? attrValid);
    b.writeBigUInt64LE(s, 0);
    b.writeUInt32LE(n, 8);
    putAttr(b, 16, r.attr);
    return b;
  };

  const openOut = (r: OpenReply | undefined): Buffer => {
    const b = Buffer.alloc(16);
    b.writeBigUInt64LE(u64(r?.fh ?? 0), 0);
    b.writeUInt32LE((r?.keepCache ? FOPEN_KEEP_CACHE : 0) | (r?.directIo ? FOPEN_DIRECT_IO : 0), 8);
    return b;
  };

  const statfsOut = (s: Statfs): Buffer => {
    const b = Buffer.alloc(80); // struct fuse_kstatfs
    b.writeBigUInt64LE(u64(s.blocks), 0);
    b.writeBigUInt64LE(u64(s.bfree), 8);
    b.writeBigUInt64LE(u64(s.bavail), 16);
    b.writeBigUInt64LE(u64(s.files), 24);
    b.writeBigUInt64LE(u64(s.ffree), 32);
    b.writeUInt32LE(s.bsize >>> 0, 40);
    b.writeUInt32LE(s.namelen >>> 0, 44);
    b.writeUInt32LE(s.frsize >>> 0, 48);
    return b;
  };

  // struct fuse_dirent records from index `offset` on, as many as fit `size`;
  // each record's `off` is the index of the entry after it.
  const direntsOut = (list: DirEntry[], offset: number, size: number): Buffer => {
    const parts: Buffer[] = [];
    let total = 0;
    for (let i = offset; i < list.length; i++) {
      const d = list[i]!;
      const name = Buffer.from(d.name, "utf8");
      const rec = align8(24 + name.length);
      if (total + rec > size) break;
      const b = Buffer.alloc(rec);
      b.writeBigUInt64LE(u64(d.ino), 0);
      b.writeBigUInt64LE(BigInt(i + 1), 8);
      b.writeUInt32LE(name.length, 16);
      b.writeUInt32LE(((d.mode & S_IFMT) >>> 12) >>> 0, 20);
      name.copy(b, 24);
      parts.push(b);
      total += rec;
    }
    return Buffer.concat(parts, total);
  };

  function handleInit(unique: bigint, req: Buffer): void {
    const major = req.readUInt32LE(IN_HEADER);
    const minor = req.readUInt32LE(IN_HEADER + 4);
    const kernelReadahead = req.readUInt32LE(IN_HEADER + 8);
    const kernelFlags = req.readUInt32LE(IN_HEADER + 12);
    if (major > PROTO_MAJOR) {
      // The kernel retries INIT with the major we answer; only the header
      // fields of fuse_init_out are read in this exchange.
      const b = Buffer.alloc(8);
      b.writeUInt32LE(PROTO_MAJOR, 0);
      b.writeUInt32LE(PROTO_MINOR, 4);
      send(unique, 0, b);
      return;
    }
    if (major < PROTO_MAJOR || minor < MIN_KERNEL_MINOR) {
      send(unique, Errno.EPROTO);
      finish(new Error(`unsupported kernel FUSE protocol ${major}.${minor}`));
      return;
    }
    protoMinor = Math.min(minor, PROTO_MINOR);
    const wanted = INIT_FLAGS.ASYNC_READ | INIT_FLAGS.BIG_WRITES | INIT_FLAGS.PARALLEL_DIROPS | INIT_FLAGS.MAX_PAGES;
    const flags = (wanted & kernelFlags) >>> 0;
    const readahead = Math.min(kernelReadahead, maxReadahead);
    const b = Buffer.alloc(64); // struct fuse_init_out, full size since 7.23
    b.writeUInt32LE(PROTO_MAJOR, 0);
    b.writeUInt32LE(protoMinor, 4);
    b.writeUInt32LE(readahead, 8);
    b.writeUInt32LE(flags, 12);
    b.writeUInt16LE(0, 16); // max_background: kernel default
    b.writeUInt16LE(0, 18); // congestion_threshold: kernel default
    b.writeUInt32LE(maxWrite, 20);
    b.writeUInt32LE(1, 24); // time_gran: nanoseconds
    // The kernel clamps this to its own limit (fuse_max_pages_limit).
    b.writeUInt16LE(Math.min(0xffff, Math.ceil(maxWrite / PAGE)), 28);
    b.writeUInt16LE(0, 30); // map_alignment (DAX only)
    b.writeUInt32LE(0, 32); // flags2: no FUSE_INIT_EXT features asked for
    if (!send(unique, 0, b)) { finish(new Error("could not answer FUSE_INIT")); return; }
    inited = true;
    const info: InitInfo = {
      major, minor, kernelFlags, maxReadahead: kernelReadahead,
      protoMinor, flags, maxWrite, answeredAt: performance.now(),
    };
    try { fs.init?.(info); } catch (e) { onError(e); }
    resolveInit(info);
  }

  function dispatch(req: Buffer): void {
    if (req.length < IN_HEADER) { onError(new Error(`short FUSE request (${req.length} bytes)`)); return; }
    const opcode = req.readUInt32LE(4);
    const unique = req.readBigUInt64LE(8);
    const nodeid = Number(req.readBigUInt64LE(16));
    const ctx: RequestContext = {
      unique, nodeid, uid: req.readUInt32LE(24), gid: req.readUInt32LE(28), pid: req.readUInt32LE(32),
    };
    // Request extensions (total_extlen, in 8-byte units) trail the arguments.
    const argEnd = Math.max(IN_HEADER, req.readUInt32LE(0) - req.readUInt16LE(36) * 8);
    debug?.(`${opNames.get(opcode) ?? `op${opcode}`} unique=${unique} nodeid=${nodeid} len=${req.length}`);

    if (opcode === Op.INIT) { handleInit(unique, req); return; }
    if (!inited) { send(unique, Errno.EIO); return; }

    switch (opcode) {
      case Op.LOOKUP: {
        const name = cName(req.subarray(0, argEnd), IN_HEADER);
        answer(unique, () => fs.lookup(nodeid, name, ctx), entryOut);
        return;
      }
      case Op.FORGET:
        try { fs.forget?.(nodeid, req.readBigUInt64LE(IN_HEADER)); } catch (e) { onError(e); }
        return; // no reply
      case Op.BATCH_FORGET: {
        const count = req.readUInt32LE(IN_HEADER);
        for (let i = 0; i < count; i++) {
          const off = IN_HEADER + 8 + i * 16;
          if (off + 16 > req.length) break;
          try { fs.forget?.(Number(req.readBigUInt64LE(off)), req.readBigUInt64LE(off + 8)); } catch (e) { onError(e); }
        }
        return; // no reply
      }
      case Op.GETATTR:
        answer(unique, () => fs.getattr(nodeid, ctx), attrOut);
        return;
      case Op.OPEN:
      case Op.OPENDIR: {
        const flags = req.readUInt32LE(IN_HEADER);
        const h = opcode === Op.OPEN ? fs.open : fs.opendir;
        answer(unique, () => (h ? h.call(fs, nodeid, flags, ctx) : undefined), openOut);
        return;
      }
      case Op.READ: {
        const fh = Number(req.readBigUInt64LE(IN_HEADER));
        const offset = Number(req.readBigUInt64LE(IN_HEADER + 8));
        const size = req.readUInt32LE(IN_HEADER + 16);
        const r = fs.read;
        if (!r) { send(unique, Errno.ENOSYS); return; }
        answer(unique, () => r.call(fs, nodeid, fh, offset, size, ctx),
          (data) => (data.length > size ? data.subarray(0, size) : data));
        return;
      }
      case Op.READDIR: {
        const fh = Number(req.readBigUInt64LE(IN_HEADER));
        const offset = Number(req.readBigUInt64LE(IN_HEADER + 8));
        const size = req.readUInt32LE(IN_HEADER + 16);
        const r = fs.readdir;
        if (!r) { send(unique, Errno.ENOSYS); return; }
        answer(unique, () => r.call(fs, nodeid, fh, ctx), (list) => direntsOut(list, offset, size));
        return;
      }
      case Op.RELEASE:
      case Op.RELEASEDIR: {
        const fh = Number(req.readBigUInt64LE(IN_HEADER));
        const h = opcode === Op.RELEASE ? fs.release : fs.releasedir;
        answer(unique, () => h?.call(fs, nodeid, fh, ctx), () => undefined);
        return;
      }
      case Op.STATFS:
        answer(unique, () => (fs.statfs ? fs.statfs(nodeid, ctx)
          : { blocks: 0, bfree: 0, bavail: 0, files: 0, ffree: 0, bsize: 512, namelen: 255, frsize: 512 }), statfsOut);
        return;
      case Op.ACCESS: {
        const mask = req.readUInt32LE(IN_HEADER);
        answer(unique, () => fs.access?.(nodeid, mask, ctx), () => undefined);
        return;
      }
      case Op.FLUSH:
        send(unique, 0);
        return;
      case Op.GETXATTR: {
        const size = req.readUInt32LE(IN_HEADER);
        const name = cName(req.subarray(0, argEnd), IN_HEADER + 8);
        const g = fs.getxattr;
        if (!g) { send(unique, Errno.ENODATA); return; }
        answer(unique, () => g.call(fs, nodeid, name, size, ctx), (value) => {
          // size 0 asks for the length only (struct fuse_getxattr_out).
          if (size === 0) {
            const b = Buffer.alloc(8);
            b.writeUInt32LE(value.length, 0);
            return b;
          }
          if (value.length > size) throw new FuseError(Errno.ERANGE);
          return value;
        });
        return;
      }
      case Op.DESTROY:
        send(unique, 0);
        finish();
        return;
      case Op.INTERRUPT:
        // Every request here is answered without waiting, so there is never
        // anything to interrupt; INTERRUPT takes no reply.
        return;
      default:
        // Includes STATX (the kernel falls back to GETATTR) and LISTXATTR
        // (the kernel then reports EOPNOTSUPP without asking again).
        send(unique, Errno.ENOSYS);
    }
  }

  function readNext(): void {
    if (state !== "running") return;
    readAsync(fd, buf, 0, buf.length, null, (err, n) => {
      if (state !== "running") return;
      if (err) {
        const code = codeOf(err);
        // EINTR: signal; ENOENT: the request was interrupted while we read it.
        if (code === "EINTR" || code === "ENOENT") { readNext(); return; }
        // EAGAIN only on an O_NONBLOCK fd: back off instead of spinning.
        if (code === "EAGAIN") { setTimeout(readNext, 5); return; }
        if (code === "ENODEV") { finish(); return; }
        finish(err);
        return;
      }
      if (n === 0) { finish(); return; }
      // Copy out: the buffer is reused by the next read while an async
      // handler may still be looking at its arguments.
      const req = Buffer.from(buf.subarray(0, n));
      try { dispatch(req); } catch (e) { onError(e); }
      readNext();
    });
  }

  readNext();

  return {
    initialized,
    closed,
    stop(): void {
      finish();
    },
  };
}
