// The classic "hello" filesystem: a read-only root holding one file, `hello`.

import {
  Errno, FuseError, S_IFDIR, S_IFREG,
  type Attr, type AttrReply, type DirEntry, type Entry, type Filesystem, type OpenReply, type Statfs,
} from "./fuse.ts";

const ROOT = 1; // FUSE_ROOT_ID: the kernel asks for the root by this id
const HELLO = 2;
const O_ACCMODE = 3;
const O_RDONLY = 0;

export class HelloFs implements Filesystem {
  readonly content: Buffer;
  private readonly uid: number;
  private readonly gid: number;
  // Nothing ever changes, so every inode carries the time the fs was made.
  private readonly bornMs = Date.now();

  constructor(opts: { text?: string; uid?: number; gid?: number } = {}) {
    this.content = Buffer.from(opts.text ?? "Hello, world!\n", "utf8");
    this.uid = opts.uid ?? process.getuid?.() ?? 0;
    this.gid = opts.gid ?? process.getgid?.() ?? 0;
  }

  private attr(nodeid: number): Attr {
    const common = { uid: this.uid, gid: this.gid, atimeMs: this.bornMs, mtimeMs: this.bornMs, ctimeMs: this.bornMs };
    if (nodeid === ROOT) return { ino: ROOT, mode: S_IFDIR | 0o755, nlink: 2, size: 0, blocks: 0, ...common };
    if (nodeid === HELLO) return { ino: HELLO, mode: S_IFREG | 0o444, nlink: 1, size: this.content.length, ...common };
    throw new FuseError(Errno.ENOENT);
  }

  lookup(parent: number, name: string): Entry {
    if (parent !== ROOT) throw new FuseError(parent === HELLO ? Errno.ENOTDIR : Errno.ENOENT);
    if (name !== "hello") throw new FuseError(Errno.ENOENT);
    return { nodeid: HELLO, attr: this.attr(HELLO) };
  }

  getattr(nodeid: number): AttrReply {
    return { attr: this.attr(nodeid) };
  }

  open(nodeid: number, flags: number): OpenReply {
    if (nodeid === ROOT) throw new FuseError(Errno.EISDIR);
    if (nodeid !== HELLO) throw new FuseError(Errno.ENOENT);
    // Without default_permissions the kernel leaves permission checks to us,
    // and even root must not get a writable handle.
    if ((flags & O_ACCMODE) !== O_RDONLY) throw new FuseError(Errno.EACCES);
    return { fh: 0, keepCache: true };
  }

  read(nodeid: number, _fh: number, offset: number, size: number): Uint8Array {
    if (nodeid !== HELLO) throw new FuseError(Errno.EISDIR);
    return this.content.subarray(Math.min(offset, this.content.length), Math.min(offset + size, this.content.length));
  }

  opendir(nodeid: number): OpenReply {
    if (nodeid === HELLO) throw new FuseError(Errno.ENOTDIR);
    if (nodeid !== ROOT) throw new FuseError(Errno.ENOENT);
    return { fh: 0 };
  }

  readdir(nodeid: number): DirEntry[] {
    if (nodeid !== ROOT) throw new FuseError(Errno.ENOTDIR);
    return [
      { name: ".", ino: ROOT, mode: S_IFDIR },
      { name: "..", ino: ROOT, mode: S_IFDIR },
      { name: "hello", ino: HELLO, mode: S_IFREG },
    ];
  }

  statfs(): Statfs {
    const bsize = 4096;
    return {
      blocks: Math.ceil(this.content.length / bsize), bfree: 0, bavail: 0,
      files: 2, ffree: 0, bsize, frsize: bsize, namelen: 255,
    };
  }

  access(nodeid: number, mask: number): void {
    if (nodeid !== ROOT && nodeid !== HELLO) throw new FuseError(Errno.ENOENT);
    // Read-only for everyone, root included: no W_OK anywhere, no X_OK on the file.
    if ((mask & 2) !== 0 || (nodeid === HELLO && (mask & 1) !== 0)) throw new FuseError(Errno.EACCES);
  }
}
