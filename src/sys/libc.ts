// The one FFI layer: libc bindings, errno, path/stat helpers, SCM_RIGHTS, fsuid.
// Everything here is synchronous and runs on the JS main thread, which matters
// because setfsuid() is per thread: a check made while the fsuid is dropped must
// never be handed to another thread (no async fs, no Bun.file, no await).
//
// x86_64 / arm64 (LP64, little-endian) only: struct layouts below assume it.

import { dlopen, FFIType, ptr, read, CString, type Pointer } from "bun:ffi";
import { decodeStatmount, STATMOUNT_WANT, type DecodedMount } from "../policy/statmount.ts";

const { i32, u32, i64, u64, i64_fast, ptr: P, void: V, cstring } = FFIType;

const lib = dlopen("libc.so.6", {
  __errno_location: { args: [], returns: P },
  strerror: { args: [i32], returns: cstring },
  getauxval: { args: [u64], returns: u64 },
  getuid: { args: [], returns: u32 },
  geteuid: { args: [], returns: u32 },
  getgid: { args: [], returns: u32 },
  getegid: { args: [], returns: u32 },
  setfsuid: { args: [u32], returns: i32 },
  setfsgid: { args: [u32], returns: i32 },
  setreuid: { args: [u32, u32], returns: i32 },
  setresuid: { args: [u32, u32, u32], returns: i32 },
  setresgid: { args: [u32, u32, u32], returns: i32 },
  clearenv: { args: [], returns: i32 },
  umask: { args: [u32], returns: u32 },
  _exit: { args: [i32], returns: V },
  write: { args: [i32, P, u64], returns: i64_fast },
  read: { args: [i32, P, u64], returns: i64_fast },
  open: { args: [P, i32, u32], returns: i32 },
  openat: { args: [i32, P, i32, u32], returns: i32 },
  close: { args: [i32], returns: i32 },
  dup2: { args: [i32, i32], returns: i32 },
  fcntl: { args: [i32, i32, i64], returns: i32 },
  statx: { args: [i32, P, i32, u32, P], returns: i32 },
  statfs: { args: [P, P], returns: i32 },
  fstatfs: { args: [i32, P], returns: i32 },
  chdir: { args: [P], returns: i32 },
  fchdir: { args: [i32], returns: i32 },
  unshare: { args: [i32], returns: i32 },
  getcwd: { args: [P, u64], returns: P },
  realpath: { args: [P, P], returns: P },
  access: { args: [P, i32], returns: i32 },
  faccessat: { args: [i32, P, i32, i32], returns: i32 },
  mount: { args: [P, P, P, u64, P], returns: i32 },
  umount2: { args: [P, i32], returns: i32 },
  syscall: { args: [i64, i64, i64, i64, i64, i64], returns: i64_fast },
  sendmsg: { args: [i32, P, i32], returns: i64_fast },
  recvmsg: { args: [i32, P, i32], returns: i64_fast },
  socketpair: { args: [i32, i32, i32, P], returns: i32 },
  pipe2: { args: [P, i32], returns: i32 },
  socket: { args: [i32, i32, i32], returns: i32 },
  connect: { args: [i32, P, u32], returns: i32 },
  bind: { args: [i32, P, u32], returns: i32 },
  recv: { args: [i32, P, u64, i32], returns: i64_fast },
  send: { args: [i32, P, u64, i32], returns: i64_fast },
  getsockopt: { args: [i32, i32, i32, P, P], returns: i32 },
  setsockopt: { args: [i32, i32, i32, P, u32], returns: i32 },
  setsid: { args: [], returns: i32 },
  signal: { args: [i32, u64], returns: u64 },
  sigprocmask: { args: [i32, P, P], returns: i32 },
  setrlimit: { args: [i32, P], returns: i32 },
  getpwuid_r: { args: [u32, P, P, u64, P], returns: i32 },
  lockf: { args: [i32, i32, i64], returns: i32 },
  flock: { args: [i32, i32], returns: i32 },
  isatty: { args: [i32], returns: i32 },
  lgetxattr: { args: [P, P, P, u64], returns: i64_fast },
  sysconf: { args: [i32], returns: i64_fast },
  uname: { args: [P], returns: i32 },
  poll: { args: [P, u64, i32], returns: i32 },
  kill: { args: [i32, i32], returns: i32 },
  alarm: { args: [u32], returns: u32 },
  ioctl: { args: [i32, u64, u64], returns: i32 },
  madvise: { args: [u64, u64, i32], returns: i32 },
  getgroups: { args: [i32, P], returns: i32 },
  setgroups: { args: [u64, P], returns: i32 },
  sigaction: { args: [i32, P, P], returns: i32 },
  name_to_handle_at: { args: [i32, P, P, P, i32], returns: i32 },
  readlink: { args: [P, P, u64], returns: i64_fast },
  listen: { args: [i32, i32], returns: i32 },
  accept4: { args: [i32, P, P, i32], returns: i32 },
  unlink: { args: [P], returns: i32 },
  mkdir: { args: [P, u32], returns: i32 },
  chmod: { args: [P, u32], returns: i32 },
  getpid: { args: [], returns: i32 },
  waitpid: { args: [i32, P, i32], returns: i32 },
  posix_spawn: { args: [P, P, P, P, P, P], returns: i32 },
  posix_spawn_file_actions_init: { args: [P], returns: i32 },
  posix_spawn_file_actions_destroy: { args: [P], returns: i32 },
  posix_spawn_file_actions_adddup2: { args: [P, i32, i32], returns: i32 },
  posix_spawn_file_actions_addclosefrom_np: { args: [P, i32], returns: i32 },
  posix_spawnattr_init: { args: [P], returns: i32 },
  posix_spawnattr_destroy: { args: [P], returns: i32 },
  posix_spawnattr_setflags: { args: [P, i32], returns: i32 },
  posix_spawnattr_setsigmask: { args: [P, P], returns: i32 },
  posix_spawnattr_setsigdefault: { args: [P, P], returns: i32 },
  sigfillset: { args: [P], returns: i32 },
  sigemptyset: { args: [P], returns: i32 },
  chroot: { args: [P], returns: i32 },
  execve: { args: [P, P, P], returns: i32 },
}).symbols;

// i64_fast returns a number when the value fits, which it always does here.
const NUM = (v: number | bigint): number => Number(v);

const errnoPtr = lib.__errno_location()!;
export const errno = (): number => read.i32(errnoPtr, 0);
export const strerror = (e: number): string => String(lib.strerror(e));

export const E = {
  EPERM: 1, ENOENT: 2, EINTR: 4, EIO: 5, EBADF: 9, EAGAIN: 11, ENOMEM: 12, EACCES: 13,
  EBUSY: 16, EEXIST: 17, ENODEV: 19, ENOTDIR: 20, EISDIR: 21, EINVAL: 22, EMFILE: 24, ENOTTY: 25,
  EPIPE: 32, ERANGE: 34, ENAMETOOLONG: 36, ENOSYS: 38, ELOOP: 40, ENOTSOCK: 88, EOPNOTSUPP: 95,
  ECONNABORTED: 103, ENXIO: 6, EXDEV: 18, ENOTCONN: 107, ETIMEDOUT: 110, ECONNREFUSED: 111, EWOULDBLOCK: 11, ENOPARAM: 519,
} as const;

// A failed call, carrying errno for the message.
export class SysError extends Error {
  constructor(readonly call: string, readonly errno: number) {
    super(`${call}: ${strerror(errno)}`);
  }
}

// C strings: NUL-terminated, allocated out of line (see bun-notes: small typed
// arrays can move when materialised, so pointers are taken right at the call).
export function cstr(s: string | Uint8Array): Buffer {
  const body = typeof s === "string" ? Buffer.from(s, "utf8") : Buffer.from(s);
  const b = Buffer.alloc(body.length + 1);
  body.copy(b);
  return b;
}

// Paths come from argv as strings; bytes that are not valid UTF-8 were already
// replaced by the runtime, so a path is what the caller can see in argv.
const P_ = (b: Buffer): Pointer => ptr(b);

function check(call: string, rc: number): number {
  if (rc < 0) throw new SysError(call, errno());
  return rc;
}

// ---- identity -------------------------------------------------------------

export const getuid = (): number => lib.getuid();
export const geteuid = (): number => lib.geteuid();
export const getgid = (): number => lib.getgid();
export const getegid = (): number => lib.getegid();
export const getauxval = (type: number): bigint => BigInt(lib.getauxval(type));
export const AT_SECURE = 23;

// Switch filesystem identity (per thread: main thread only).
export function setFsIds(uid: number, gid: number): { uid: number; gid: number } {
  const oldUid = lib.setfsuid(uid);
  const oldGid = lib.setfsgid(gid);
  return { uid: oldUid, gid: oldGid };
}
export const setreuid = (r: number, e: number): number => lib.setreuid(r, e);
export const setresuid = (r: number, e: number, s: number): number => lib.setresuid(r, e, s);
export const setresgid = (r: number, e: number, s: number): number => lib.setresgid(r, e, s);

// getpwuid_r: the service's request threads may ask at the same time.
export function userName(uid: number): string | undefined {
  const pwd = Buffer.alloc(64); // struct passwd (48 bytes on LP64)
  const result = Buffer.alloc(8);
  for (let size = 4096; size <= 1 << 20; size *= 4) {
    const buf = Buffer.alloc(size);
    const rc = lib.getpwuid_r(uid, ptr(pwd), ptr(buf), size, ptr(result));
    if (rc === E.ERANGE) continue;
    if (rc !== 0 || result.readBigUInt64LE(0) === 0n) return undefined;
    const namePtr = read.ptr(ptr(pwd), 0);
    if (!namePtr) return undefined;
    return String(new CString(namePtr as Pointer));
  }
  return undefined;
}

// ---- process --------------------------------------------------------------

export const clearenv = (): number => lib.clearenv();
export const umask = (m: number): number => lib.umask(m);
export const exit = (code: number): never => { lib._exit(code); throw new Error("unreachable"); };
export const setsid = (): number => lib.setsid();
export const SIG = { HUP: 1, INT: 2, QUIT: 3, USR1: 10, USR2: 12, PIPE: 13, ALRM: 14, TERM: 15, CHLD: 17, TSTP: 20, TTIN: 21, TTOU: 22, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27 } as const;
export const SIG_DFL = 0;
export const SIG_IGN = 1;
export const signal = (sig: number, handler: number): bigint => BigInt(lib.signal(sig, handler));

// Ignore a signal and return its previous disposition whole (struct sigaction),
// so that restoring it also restores a runtime's own SA_SIGINFO handler.
export function ignoreSignal(sig: number): Buffer {
  const old = Buffer.alloc(152);
  const ign = Buffer.alloc(152);
  ign.writeBigUInt64LE(BigInt(SIG_IGN), 0);
  lib.sigaction(sig, ptr(ign), ptr(old));
  return old;
}
export function restoreSignal(sig: number, old: Buffer): void {
  lib.sigaction(sig, ptr(old), null);
}

// The mask is inherited from the caller and is per thread; this clears the
// main thread's, which is the thread that spawns children.
export function unblockAllSignals(): void {
  const empty = Buffer.alloc(128); // sigset_t
  lib.sigprocmask(2 /* SIG_SETMASK */, ptr(empty), null);
}

export const RLIMIT = { FSIZE: 1, CORE: 4 } as const;
export function setRlimit(resource: number, soft: bigint, hard: bigint): number {
  const b = Buffer.alloc(16);
  b.writeBigUInt64LE(soft, 0);
  b.writeBigUInt64LE(hard, 8);
  return lib.setrlimit(resource, ptr(b));
}
export const RLIM_INFINITY = 0xffffffffffffffffn;

export const sysconf = (name: number): number => NUM(lib.sysconf(name));
export const SC_PAGESIZE = 30;
export const SC_OPEN_MAX = 4;

export function kernelRelease(): string {
  const b = Buffer.alloc(65 * 6);
  if (lib.uname(ptr(b)) !== 0) return "";
  const rel = b.subarray(65 * 2, 65 * 3);
  return rel.toString("latin1", 0, rel.indexOf(0));
}

export const kill = (pid: number, sig: number): number => lib.kill(pid, sig);
export const MADV_DONTNEED = 4;
export const madvise = (addr: bigint, len: bigint, advice: number): number => (lib.madvise(addr, len, advice) < 0 ? -errno() : 0);
export const isatty = (fd: number): boolean => lib.isatty(fd) === 1;
export const alarm = (seconds: number): number => lib.alarm(seconds);
export const ioctl = (fd: number, request: number, arg = 0): number => (lib.ioctl(fd, request, arg) < 0 ? -errno() : 0);
// For the ioctls whose result is the return value (a new fd, a type), or -errno.
export const ioctlValue = (fd: number, request: number): number => { const rc = lib.ioctl(fd, request, 0); return rc < 0 ? -errno() : rc; };

// ---- output ---------------------------------------------------------------

// Synchronous, unbuffered writes: messages must be out before _exit().
export function writeAll(fd: number, text: string): void {
  const b = Buffer.from(text, "utf8");
  let off = 0;
  while (off < b.length) {
    const n = NUM(lib.write(fd, ptr(b, off), b.length - off));
    if (n < 0 && errno() === E.EINTR) continue;
    if (n <= 0) return;
    off += n;
  }
}

// ---- files and paths ------------------------------------------------------

export const O = {
  RDONLY: 0, WRONLY: 1, RDWR: 2, CREAT: 0o100, NOCTTY: 0o400, NONBLOCK: 0o4000,
  DIRECTORY: 0o200000, NOFOLLOW: 0o400000, CLOEXEC: 0o2000000, PATH: 0o10000000,
} as const;
export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_EMPTY_PATH = 0x1000;
export const AT_STATX_DONT_SYNC = 0x4000;

export function open(path: string, flags: number, mode = 0): number {
  const p = cstr(path);
  return check(`open ${path}`, lib.open(P_(p), flags | O.CLOEXEC, mode));
}
// Returns -errno instead of throwing, for callers that branch on the error.
export function tryOpen(path: string, flags: number, mode = 0): number {
  const p = cstr(path);
  const fd = lib.open(P_(p), flags | O.CLOEXEC, mode);
  return fd < 0 ? -errno() : fd;
}
export function tryOpenat(dirfd: number, path: string, flags: number): number {
  const p = cstr(path);
  const fd = lib.openat(dirfd, P_(p), flags | O.CLOEXEC, 0);
  return fd < 0 ? -errno() : fd;
}
export const close = (fd: number): number => lib.close(fd);
export const dup2 = (a: number, b: number): number => lib.dup2(a, b);
export const F = { GETFD: 1, SETFD: 2, GETFL: 3, SETFL: 4 } as const;
export const fcntl = (fd: number, cmd: number, arg = 0): number => lib.fcntl(fd, cmd, arg);

export function readFd(fd: number, max: number): Buffer | number {
  const b = Buffer.alloc(max);
  const n = NUM(lib.read(fd, ptr(b), max));
  return n < 0 ? -errno() : b.subarray(0, n);
}

// Read a whole file with the current fsuid. Returns -errno on failure, -ENOMEM
// past `limit`. Callers that must never mistake a big file for an unreadable
// one (the mount table) pass no limit.
export function readFile(path: string, limit = Number.MAX_SAFE_INTEGER): Buffer | number {
  const fd = tryOpen(path, O.RDONLY);
  if (fd < 0) return fd;
  const parts: Buffer[] = [];
  let total = 0;
  try {
    for (;;) {
      const chunk = readFd(fd, 65536);
      if (typeof chunk === "number") {
        if (chunk === -E.EINTR) continue;
        return chunk;
      }
      if (chunk.length === 0) break;
      parts.push(chunk);
      total += chunk.length;
      if (total > limit) return -E.ENOMEM;
    }
  } finally {
    close(fd);
  }
  return Buffer.concat(parts);
}

export type Stat = {
  mode: number; uid: number; gid: number; ino: bigint; dev: bigint;
  rdevMajor: number; rdevMinor: number; mntId: bigint;
};

export const S = {
  IFMT: 0o170000, IFDIR: 0o040000, IFREG: 0o100000, IFLNK: 0o120000, IFCHR: 0o020000,
  IFSOCK: 0o140000, ISUID: 0o4000, ISGID: 0o2000, ISVTX: 0o1000,
} as const;
const STATX_BASIC = 0x7ff;

function statxAt(dirfd: number, path: string, flags: number, mask: number): Stat | number {
  const p = cstr(path);
  const b = Buffer.alloc(256);
  const rc = lib.statx(dirfd, P_(p), flags, mask, ptr(b));
  if (rc < 0) return -errno();
  return {
    uid: b.readUInt32LE(20), gid: b.readUInt32LE(24), mode: b.readUInt16LE(28),
    ino: b.readBigUInt64LE(32),
    rdevMajor: b.readUInt32LE(128), rdevMinor: b.readUInt32LE(132),
    dev: (BigInt(b.readUInt32LE(136)) << 32n) | BigInt(b.readUInt32LE(140)),
    mntId: b.readBigUInt64LE(144),
  };
}
export const lstat = (path: string) => statxAt(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC);
export const lstatAt = (dirfd: number, name: string) => statxAt(dirfd, name, AT_SYMLINK_NOFOLLOW, STATX_BASIC);
export const stat = (path: string) => statxAt(AT_FDCWD, path, 0, STATX_BASIC);
export const fstat = (fd: number) => statxAt(fd, "", AT_EMPTY_PATH, STATX_BASIC);
// The mount an fd sits on. The request mask is empty on purpose: FUSE then
// answers without asking its server (which may be dead) and without refusing a
// process that is not the mount's owner, and the VFS still reports the mount ID.
export function mountIdOf(fd: number): bigint | number {
  const st = statxAt(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, 0);
  return typeof st === "number" ? st : st.mntId;
}

// statfs f_flags (ST_NOSUID = 2, ST_RDONLY = 1 …) of the filesystem holding path.
export function mountFlags(path: string): number {
  const p = cstr(path);
  const b = Buffer.alloc(120);
  if (lib.statfs(P_(p), ptr(b)) < 0) return -errno();
  return Number(b.readBigUInt64LE(80));
}

export function statfsType(fd: number): bigint | number {
  const b = Buffer.alloc(120);
  if (lib.fstatfs(fd, ptr(b)) < 0) return -errno();
  return b.readBigUInt64LE(0);
}

export const CLONE_FS = 0x200;
export const CLONE_FILES = 0x400;
// For the service's request threads: a thread that unshares CLONE_FS and
// CLONE_FILES has its own cwd, root and umask, and its own fd table.
export function unshare(flags: number): number {
  return lib.unshare(flags) < 0 ? -errno() : 0;
}

export function chdir(path: string): number {
  const p = cstr(path);
  return lib.chdir(P_(p)) < 0 ? -errno() : 0;
}
export const fchdir = (fd: number): number => (lib.fchdir(fd) < 0 ? -errno() : 0);

export function getcwd(): string | number {
  const b = Buffer.alloc(4097);
  const r = lib.getcwd(ptr(b), b.length);
  if (!r) return -errno();
  return b.toString("utf8", 0, b.indexOf(0));
}

export function realpath(path: string): string | number {
  const p = cstr(path);
  const b = Buffer.alloc(4097);
  const r = lib.realpath(P_(p), ptr(b));
  if (!r) return -errno();
  return b.toString("utf8", 0, b.indexOf(0));
}

export function access(path: string, mode: number): number {
  const p = cstr(path);
  return lib.access(P_(p), mode) < 0 ? -errno() : 0;
}
export const W_OK = 2;
// faccessat(AT_EACCESS): judged by this thread's fsuid, fsgid, groups and
// effective capabilities, not by the real ids (which are root's for the whole
// run of the privileged helper).
export function accessAsCurrent(path: string, mode: number): number {
  const p = cstr(path);
  return lib.faccessat(AT_FDCWD, P_(p), mode, 0x200 /* AT_EACCESS */) < 0 ? -errno() : 0;
}

export function hasFileCapabilities(path: string): boolean {
  const p = cstr(path);
  const n = cstr("security.capability");
  const rc = NUM(lib.lgetxattr(P_(p), P_(n), null, 0));
  return rc >= 0;
}

export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;
export function flock(fd: number, op: number): number {
  for (;;) {
    const rc = lib.flock(fd, op);
    if (rc < 0 && errno() === E.EINTR) continue;
    return rc < 0 ? -errno() : 0;
  }
}

export function readlink(path: string): string | number {
  const p = cstr(path);
  const b = Buffer.alloc(4097);
  const n = NUM(lib.readlink(P_(p), ptr(b), b.length));
  if (n < 0) return -errno();
  if (n >= b.length) return -E.ENAMETOOLONG;
  return b.toString("utf8", 0, n);
}

export function lockf(fd: number, lock: boolean): number {
  return lib.lockf(fd, lock ? 1 /* F_LOCK */ : 0 /* F_ULOCK */, 0) < 0 ? -errno() : 0;
}

// ---- mounting -------------------------------------------------------------

export function mount(source: string, target: string, type: string, flags: number, data: string): number {
  const s = cstr(source), t = cstr(target), ty = cstr(type), d = cstr(data);
  return lib.mount(P_(s), P_(t), P_(ty), flags, P_(d)) < 0 ? -errno() : 0;
}
export function umount2(target: string, flags: number): number {
  const t = cstr(target);
  return lib.umount2(P_(t), flags) < 0 ? -errno() : 0;
}
export const MNT_DETACH = 2;
export const UMOUNT_NOFOLLOW = 8;

// Syscalls without a glibc wrapper (numbers shared by x86_64 and arm64), and
// the per-thread credential calls whose glibc wrappers would act on every
// thread (nptl setxid broadcast) or do not exist.
const SYS = {
  move_mount: 429, fsopen: 430, fsconfig: 431, fsmount: 432, close_range: 436, openat2: 437,
  statmount: 457, listmount: 458, pidfd_open: 434, pidfd_send_signal: 424,
  ...(process.arch === "arm64"
    ? { setgroups: 159, capget: 90, capset: 91, fanotify_init: 262, fanotify_mark: 263, gettid: 178, memfd_create: 279 }
    : { setgroups: 116, capget: 125, capset: 126, fanotify_init: 300, fanotify_mark: 301, gettid: 186, memfd_create: 319 }),
} as const;
export const FSCONFIG = { SET_FLAG: 0, SET_STRING: 1, CMD_CREATE: 6 } as const;

const rcOrErrno = (rc: number): number => (rc < 0 ? -errno() : rc);

// The path of one of this thread's fds. A service request thread has a fd
// table of its own (CLONE_FILES), which /proc/self (the main thread's) does
// not show; everywhere else the two are the same table, and /proc/self is
// what the set-uid path (and an AppArmor profile written for it) has always used.
const onMainThread = NUM(lib.syscall(SYS.gettid, 0, 0, 0, 0, 0)) === lib.getpid();
export const fdPath = (fd: number): string => (onMainThread ? `/proc/self/fd/${fd}` : `/proc/thread-self/fd/${fd}`);

export function fsopen(fsname: string): number {
  const n = cstr(fsname);
  return rcOrErrno(NUM(lib.syscall(SYS.fsopen, Number(ptr(n)), 1 /* FSOPEN_CLOEXEC */, 0, 0, 0)));
}
export function fsconfig(fsfd: number, cmd: number, key?: string, value?: string): number {
  const k = key === undefined ? undefined : cstr(key);
  const v = value === undefined ? undefined : cstr(value);
  return rcOrErrno(NUM(lib.syscall(SYS.fsconfig, fsfd, cmd, k ? Number(ptr(k)) : 0, v ? Number(ptr(v)) : 0, 0)));
}
export function fsmount(fsfd: number, attrs: number): number {
  return rcOrErrno(NUM(lib.syscall(SYS.fsmount, fsfd, 1 /* FSMOUNT_CLOEXEC */, attrs, 0, 0)));
}
// Attach a detached mount onto the inode an fd refers to (never a path).
export function moveMountToFd(mntfd: number, targetfd: number): number {
  const empty = cstr("");
  const e = Number(ptr(empty));
  return rcOrErrno(NUM(lib.syscall(SYS.move_mount, mntfd, e, targetfd, e, 0x4 | 0x40)));
}
export function closeRange(first: number, last: number, flags = 0): number {
  return rcOrErrno(NUM(lib.syscall(SYS.close_range, first, last, flags, 0, 0)));
}
export const CLOSE_RANGE_CLOEXEC = 4;

// Kernel messages queued on an fs context after a failed fsconfig ("e ...").
export function fsContextMessages(fsfd: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < 8; i++) {
    const b = readFd(fsfd, 1024);
    if (typeof b === "number" || b.length === 0) break;
    out.push(b.toString("utf8").replace(/\n$/, ""));
  }
  return out;
}

// ---- sockets ---------------------------------------------------------------

export const SOL_SOCKET = 1;
export const SO = { TYPE: 3, DOMAIN: 39, RCVTIMEO: 20 } as const;
export const SOCK = { STREAM: 1, DGRAM: 2, SEQPACKET: 5 } as const;
export const MSG_NOSIGNAL = 0x4000;

export function getSockOptInt(fd: number, level: number, name: number): number {
  const v = Buffer.alloc(4);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(4);
  if (lib.getsockopt(fd, level, name, ptr(v), ptr(len)) < 0) return -errno();
  return v.readInt32LE(0);
}

export function setRecvTimeout(fd: number, seconds: number): number {
  const tv = Buffer.alloc(16);
  tv.writeBigInt64LE(BigInt(seconds), 0);
  return lib.setsockopt(fd, SOL_SOCKET, SO.RCVTIMEO, ptr(tv), 16) < 0 ? -errno() : 0;
}

// One sendmsg carrying one data byte and one fd (SCM_RIGHTS), as libfuse expects.
// struct msghdr (56 bytes) with one iovec (16 bytes) over `data` and a control
// buffer. The returned buffers must stay referenced until the call returns.
function msghdr(data: Buffer, control: Buffer): { msg: Buffer; iov: Buffer } {
  const iov = Buffer.alloc(16);
  const msg = Buffer.alloc(56);
  iov.writeBigUInt64LE(BigInt(Number(ptr(data))), 0);
  iov.writeBigUInt64LE(BigInt(data.length), 8);
  msg.writeBigUInt64LE(BigInt(Number(ptr(iov))), 16);
  msg.writeBigUInt64LE(1n, 24);
  if (control.length > 0) msg.writeBigUInt64LE(BigInt(Number(ptr(control))), 32);
  msg.writeBigUInt64LE(BigInt(control.length), 40);
  return { msg, iov };
}

export function sendFd(sock: number, fd: number, byte = 0): number {
  const data = Buffer.alloc(1, byte);
  const control = Buffer.alloc(24); // CMSG_SPACE(sizeof(int))
  control.writeBigUInt64LE(20n, 0); // CMSG_LEN(sizeof(int))
  control.writeInt32LE(SOL_SOCKET, 8);
  control.writeInt32LE(1 /* SCM_RIGHTS */, 12);
  control.writeInt32LE(fd, 16);
  const { msg, iov } = msghdr(data, control);
  for (;;) {
    const n = NUM(lib.sendmsg(sock, ptr(msg), MSG_NOSIGNAL));
    if (n < 0 && errno() === E.EINTR) continue;
    void iov;
    return n < 0 ? -errno() : n;
  }
}

export const AF_UNIX = 1;
export const SOCK_CLOEXEC = 0o2000000;
export const MSG_CMSG_CLOEXEC = 0x40000000;

export function socketpair(type: number): [number, number] | number {
  const fds = Buffer.alloc(8);
  if (lib.socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, ptr(fds)) < 0) return -errno();
  return [fds.readInt32LE(0), fds.readInt32LE(4)];
}

// struct sockaddr_un for a filesystem path (at most 107 bytes).
function sockaddrUn(path: string): Buffer | undefined {
  const p = Buffer.from(path, "utf8");
  if (p.length > 107) return undefined;
  const sa = Buffer.alloc(110);
  sa.writeUInt16LE(AF_UNIX, 0);
  p.copy(sa, 2);
  return sa;
}

// A connected AF_UNIX datagram socket (close-on-exec), or -errno.
export function connectDatagram(path: string): number {
  const sa = sockaddrUn(path);
  if (!sa) return -E.EINVAL;
  const fd = lib.socket(AF_UNIX, SOCK.DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno();
  if (lib.connect(fd, ptr(sa), sa.length) < 0) { const e = errno(); close(fd); return -e; }
  return fd;
}

export function bindDatagram(path: string): number {
  const sa = sockaddrUn(path);
  if (!sa) return -E.EINVAL;
  const fd = lib.socket(AF_UNIX, SOCK.DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno();
  if (lib.bind(fd, ptr(sa), sa.length) < 0) { const e = errno(); close(fd); return -e; }
  return fd;
}

export function pipe(): [number, number] | number {
  const fds = Buffer.alloc(8);
  if (lib.pipe2(ptr(fds), O.CLOEXEC) < 0) return -errno();
  return [fds.readInt32LE(0), fds.readInt32LE(4)];
}

// Receive one message of up to `max` bytes and at most one SCM_RIGHTS fd
// (opened close-on-exec). Extra fds in the message are closed.
export function recvFd(sock: number, max = 1): { data: Buffer; fd: number } | number {
  const data = Buffer.alloc(max);
  const control = Buffer.alloc(64);
  const { msg, iov } = msghdr(data, control);
  let n: number;
  for (;;) {
    n = NUM(lib.recvmsg(sock, ptr(msg), MSG_CMSG_CLOEXEC));
    if (n < 0 && errno() === E.EINTR) continue;
    break;
  }
  if (n < 0) return -errno();
  void iov;
  let fd = -1;
  const controllen = Number(msg.readBigUInt64LE(40));
  for (let off = 0; off + 16 <= controllen;) {
    const len = Number(control.readBigUInt64LE(off));
    if (len < 16) break;
    if (control.readInt32LE(off + 8) === SOL_SOCKET && control.readInt32LE(off + 12) === 1) {
      for (let p = off + 16; p + 4 <= off + len; p += 4) {
        const got = control.readInt32LE(p);
        if (fd < 0) fd = got; else close(got);
      }
    }
    off += (len + 7) & ~7;
  }
  return { data: data.subarray(0, n), fd };
}

export function recvBytes(sock: number, max: number, flags = 0): Buffer | number {
  const b = Buffer.alloc(max);
  const n = NUM(lib.recv(sock, ptr(b), max, flags));
  return n < 0 ? -errno() : b.subarray(0, n);
}

export function sendBytes(sock: number, data: Uint8Array, flags = 0): number {
  const b = Buffer.from(data);
  for (;;) {
    const n = NUM(lib.send(sock, ptr(b), b.length, MSG_NOSIGNAL | flags));
    if (n < 0 && errno() === E.EINTR) continue;
    return n < 0 ? -errno() : n;
  }
}

export const POLL = { IN: 1, ERR: 8, HUP: 0x10, RDHUP: 0x2000 } as const;
// poll() on a single fd; returns revents, 0 on timeout, -errno on error.
export function pollOne(fd: number, events: number, timeoutMs: number): number {
  const b = Buffer.alloc(8);
  b.writeInt32LE(fd, 0);
  b.writeInt16LE(events, 4);
  const rc = lib.poll(ptr(b), 1, timeoutMs);
  if (rc < 0) return -errno();
  return rc === 0 ? 0 : b.readInt16LE(6);
}

// ---- per-thread credentials --------------------------------------------------

export function getgroups(): number[] | number {
  const n = lib.getgroups(0, null);
  if (n < 0) return -errno();
  const b = Buffer.alloc(Math.max(4, n * 4));
  const m = lib.getgroups(n, ptr(b));
  if (m < 0) return -errno();
  return Array.from({ length: m }, (_, i) => b.readUInt32LE(i * 4));
}

// glibc's setgroups (every thread): for a fresh child only.
export function setgroups(groups: readonly number[]): number {
  const b = Buffer.alloc(Math.max(4, groups.length * 4));
  groups.forEach((g, i) => b.writeUInt32LE(g, i * 4));
  return lib.setgroups(groups.length, ptr(b)) < 0 ? -errno() : 0;
}

// The raw setgroups syscall: this thread only (glibc's wrapper broadcasts).
export function setgroupsThisThread(groups: readonly number[]): number {
  const b = Buffer.alloc(Math.max(4, groups.length * 4));
  groups.forEach((g, i) => b.writeUInt32LE(g, i * 4));
  return rcOrErrno(NUM(lib.syscall(SYS.setgroups, groups.length, Number(ptr(b)), 0, 0, 0)));
}

// Capability sets of this thread as two 32-bit words each (version 3 ABI).
export type CapSets = { effective: bigint; permitted: bigint; inheritable: bigint };
const CAP_V3 = 0x20080522;
function capHeader(): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt32LE(CAP_V3, 0);
  h.writeInt32LE(0, 4); // 0: the calling thread
  return h;
}
export function capget(): CapSets | number {
  const h = capHeader();
  const d = Buffer.alloc(24);
  const rc = NUM(lib.syscall(SYS.capget, Number(ptr(h)), Number(ptr(d)), 0, 0, 0));
  if (rc < 0) return -errno();
  const word = (off: number) => BigInt(d.readUInt32LE(off)) | (BigInt(d.readUInt32LE(off + 12)) << 32n);
  return { effective: word(0), permitted: word(4), inheritable: word(8) };
}
export function capset(c: CapSets): number {
  const h = capHeader();
  const d = Buffer.alloc(24);
  const put = (off: number, v: bigint) => {
    d.writeUInt32LE(Number(v & 0xffffffffn), off);
    d.writeUInt32LE(Number((v >> 32n) & 0xffffffffn), off + 12);
  };
  put(0, c.effective); put(4, c.permitted); put(8, c.inheritable);
  return rcOrErrno(NUM(lib.syscall(SYS.capset, Number(ptr(h)), Number(ptr(d)), 0, 0, 0)));
}
export const CAP = { CHOWN: 0, DAC_OVERRIDE: 1, DAC_READ_SEARCH: 2, FOWNER: 3, KILL: 5, SETGID: 6, SETUID: 7, SYS_PTRACE: 19, SYS_ADMIN: 21 } as const;
export const capBit = (cap: number): bigint => 1n << BigInt(cap);

// ---- resolution without symlinks ----------------------------------------------

export const RESOLVE = { NO_XDEV: 0x01, NO_MAGICLINKS: 0x02, NO_SYMLINKS: 0x04, BENEATH: 0x08, IN_ROOT: 0x10 } as const;
// openat2(2): open with resolution rules (close-on-exec always). -errno on failure.
export function openat2(dirfd: number, path: string, flags: number, resolve: number, mode = 0): number {
  const p = cstr(path);
  const how = Buffer.alloc(24);
  how.writeBigUInt64LE(BigInt(flags | O.CLOEXEC), 0);
  how.writeBigUInt64LE(BigInt(mode), 8);
  how.writeBigUInt64LE(BigInt(resolve), 16);
  return rcOrErrno(NUM(lib.syscall(SYS.openat2, dirfd, Number(ptr(p)), Number(ptr(how)), 24, 0)));
}

// Sleep without a signal handler or a timer (poll on no fds).
export function sleepMs(ms: number): void {
  lib.poll(null, 0, ms);
}

// ---- mount identity --------------------------------------------------------------

// The unique (64-bit, never reused) ID of the mount a walk from dirfd to name
// ends on, without following a final symlink and without asking the
// filesystem anything: name_to_handle_at() with no room for a handle still
// reports the mount (AT_HANDLE_MNT_ID_UNIQUE, Linux 6.12). -errno otherwise
// (EINVAL: a kernel without unique IDs).
export function uniqueMountIdAt(dirfd: number, name: string): bigint | number {
  const p = cstr(name);
  const handle = Buffer.alloc(8); // handle_bytes = 0
  const id = Buffer.alloc(8);
  const flags = 0x001 /* AT_HANDLE_MNT_ID_UNIQUE */ | (name === "" ? AT_EMPTY_PATH : 0);
  const rc = lib.name_to_handle_at(dirfd, P_(p), ptr(handle), ptr(id), flags);
  if (rc < 0 && errno() !== 75 /* EOVERFLOW: expected, no room for the handle */) return -errno();
  const v = id.readBigUInt64LE(0);
  return v === 0n ? -E.EINVAL : v;
}

// statmount(2) (Linux 6.8): one mount, by unique ID (decoding:
// src/policy/statmount.ts). The strings come from the kernel unescaped;
// mnt_opts are the superblock's own options (user_id=…).
export type KernelMount = DecodedMount;
let statmountBuf = Buffer.alloc(16384);
export function statmount(id: bigint): KernelMount | number {
  const req = Buffer.alloc(24);
  req.writeUInt32LE(24, 0); // MNT_ID_REQ_SIZE_VER0
  req.writeBigUInt64LE(id, 8);
  req.writeBigUInt64LE(STATMOUNT_WANT, 16);
  for (;;) {
    const b = statmountBuf;
    const rc = NUM(lib.syscall(SYS.statmount, Number(ptr(req)), Number(ptr(b)), b.length, 0, 0, 0));
    if (rc < 0 && errno() === 75 /* EOVERFLOW */ && b.length < 1 << 24) { statmountBuf = Buffer.alloc(b.length * 4); continue; }
    if (rc < 0) return -errno();
    return decodeStatmount(b.subarray(0, Math.max(b.readUInt32LE(0), 512)));
  }
}

// ---- fanotify mount events ----------------------------------------------------------

// An fd that becomes readable when a mount of this mount namespace is
// detached (fanotify FAN_MNT_DETACH, Linux 6.15; needs CAP_SYS_ADMIN), or
// -errno. Its events are only a wake-up: the caller asks statmount() again.
export function mountDetachEvents(): number {
  const fd = rcOrErrno(NUM(lib.syscall(SYS.fanotify_init,
    0x4000 /* FAN_REPORT_MNT */ | 0x1 /* FAN_CLOEXEC */ | 0x2 /* FAN_NONBLOCK */, O.RDONLY | O.CLOEXEC, 0, 0, 0)));
  if (fd < 0) return fd;
  const ns = tryOpen("/proc/self/ns/mnt", O.RDONLY);
  if (ns < 0) { close(fd); return ns; }
  const rc = rcOrErrno(NUM(lib.syscall(SYS.fanotify_mark, fd, 0x1 /* FAN_MARK_ADD */ | 0x110 /* FAN_MARK_MNTNS */,
    0x02000000 /* FAN_MNT_DETACH */, ns, 0, 0)));
  close(ns);
  if (rc < 0) { close(fd); return rc; }
  return fd;
}

// poll() on several fds; returns each one's revents, or -errno (0s on timeout).
export function pollMany(fds: readonly number[], events: number, timeoutMs: number): number[] | number {
  const b = Buffer.alloc(8 * fds.length);
  fds.forEach((fd, i) => { b.writeInt32LE(fd, i * 8); b.writeInt16LE(events, i * 8 + 4); });
  const rc = lib.poll(ptr(b), fds.length, timeoutMs);
  if (rc < 0) return -errno();
  return fds.map((_, i) => b.readInt16LE(i * 8 + 6));
}

// ---- the service: listening sockets, peers, children -------------------------

export const SO_PEERCRED = 17;
export const SO_PEERGROUPS = 59;
export const SO_ACCEPTCONN = 30;
export const SOCK_NONBLOCK = 0o4000;
export const MSG_PEEK = 2;
export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const MSG_CTRUNC = 0x8;

// A listening AF_UNIX socket of `type` bound at `path` (close-on-exec,
// non-blocking), or -errno.
export function listenUnix(path: string, type: number, backlog: number): number {
  const sa = sockaddrUn(path);
  if (!sa) return -E.ENAMETOOLONG;
  const fd = lib.socket(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -errno();
  if (lib.bind(fd, ptr(sa), sa.length) < 0 || lib.listen(fd, backlog) < 0) { const e = errno(); close(fd); return -e; }
  return fd;
}

// connect() to an AF_UNIX socket of `type`; the fd (close-on-exec) or -errno.
// flags: SOCK_NONBLOCK, so that a listener with a full backlog is EAGAIN
// instead of a wait.
export function connectUnix(path: string, type: number, flags = 0): number {
  const sa = sockaddrUn(path);
  if (!sa) return -E.ENAMETOOLONG;
  const fd = lib.socket(AF_UNIX, type | SOCK_CLOEXEC | flags, 0);
  if (fd < 0) return -errno();
  if (lib.connect(fd, ptr(sa), sa.length) < 0) { const e = errno(); close(fd); return -e; }
  return fd;
}

export function listen(fd: number, backlog: number): number { return lib.listen(fd, backlog) < 0 ? -errno() : 0; }

export function accept(fd: number): number {
  const rc = lib.accept4(fd, null, null, SOCK_CLOEXEC | SOCK_NONBLOCK);
  return rc < 0 ? -errno() : rc;
}

export function unlink(path: string): number { return lib.unlink(ptr(cstr(path))) < 0 ? -errno() : 0; }
export function mkdir(path: string, mode: number): number { return lib.mkdir(ptr(cstr(path)), mode) < 0 ? -errno() : 0; }
export function chmod(path: string, mode: number): number { return lib.chmod(ptr(cstr(path)), mode) < 0 ? -errno() : 0; }
export const getpid = (): number => lib.getpid();

export type PeerCred = { pid: number; uid: number; gid: number };
export function peerCred(fd: number): PeerCred | number {
  const b = Buffer.alloc(12);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(12);
  if (lib.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, ptr(b), ptr(len)) < 0) return -errno();
  return { pid: b.readInt32LE(0), uid: b.readUInt32LE(4), gid: b.readUInt32LE(8) };
}

// The peer's supplementary groups as recorded at connect() (at most NGROUPS_MAX).
const peerGroupsBuf = Buffer.alloc(65536 * 4);
export function peerGroups(fd: number): number[] | number {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(peerGroupsBuf.length);
  if (lib.getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, ptr(peerGroupsBuf), ptr(len)) < 0) return -errno();
  const n = len.readUInt32LE(0) / 4;
  return Array.from({ length: n }, (_, i) => peerGroupsBuf.readUInt32LE(i * 4));
}

// The first queued message's bytes (up to max), without taking it or its fds
// off the queue; `truncated` when it is longer than max.
export function peekMessage(fd: number, max: number): { data: Buffer; truncated: boolean } | number {
  const data = Buffer.alloc(max);
  const control = Buffer.alloc(0);
  const { msg, iov } = msghdr(data, control);
  const n = NUM(lib.recvmsg(fd, ptr(msg), MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC));
  void iov;
  if (n < 0) return -errno();
  return { data: data.subarray(0, Math.min(n, max)), truncated: n > max };
}

// Take one message (up to max bytes) and up to maxFds SCM_RIGHTS fds, all
// close-on-exec. `truncated` when data or fds did not fit (the kernel drops
// fds that do not fit; they are never installed here).
export function recvMessageFds(sock: number, max: number, maxFds: number): { data: Buffer; fds: number[]; truncated: boolean } | number {
  const data = Buffer.alloc(max);
  const control = Buffer.alloc(16 + ((maxFds * 4 + 7) & ~7));
  const { msg, iov } = msghdr(data, control);
  let n: number;
  for (;;) {
    n = NUM(lib.recvmsg(sock, ptr(msg), MSG_CMSG_CLOEXEC | MSG_DONTWAIT));
    if (n < 0 && errno() === E.EINTR) continue;
    break;
  }
  void iov;
  if (n < 0) return -errno();
  const flags = msg.readInt32LE(48);
  const fds: number[] = [];
  const controllen = Number(msg.readBigUInt64LE(40));
  for (let off = 0; off + 16 <= controllen;) {
    const len = Number(control.readBigUInt64LE(off));
    if (len < 16) break;
    if (control.readInt32LE(off + 8) === SOL_SOCKET && control.readInt32LE(off + 12) === 1) {
      for (let p = off + 16; p + 4 <= off + len; p += 4) fds.push(control.readInt32LE(p));
    }
    off += (len + 7) & ~7;
  }
  return { data: data.subarray(0, n), fds, truncated: (flags & (MSG_TRUNC | MSG_CTRUNC)) !== 0 };
}

// sendmsg of `data` with `fds` attached (SCM_RIGHTS); bytes sent or -errno.
export function sendMessageFds(sock: number, data: Uint8Array, fds: readonly number[]): number {
  const body = Buffer.from(data.length ? data : new Uint8Array(1));
  const control = Buffer.alloc(fds.length ? 16 + ((fds.length * 4 + 7) & ~7) : 0);
  if (fds.length) {
    control.writeBigUInt64LE(BigInt(16 + fds.length * 4), 0);
    control.writeInt32LE(SOL_SOCKET, 8);
    control.writeInt32LE(1, 12);
    fds.forEach((fd, i) => control.writeInt32LE(fd, 16 + i * 4));
  }
  const { msg, iov } = msghdr(body, control);
  for (;;) {
    const n = NUM(lib.sendmsg(sock, ptr(msg), MSG_NOSIGNAL));
    if (n < 0 && errno() === E.EINTR) continue;
    void iov;
    return n < 0 ? -errno() : n;
  }
}

// The peer's pidfd (SO_PEERPIDFD, Linux 6.5+): the process that connected,
// whatever its pid number names by now. Close-on-exec; or -errno.
export function peerPidfd(fd: number): number {
  const b = Buffer.alloc(4);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(4);
  if (lib.getsockopt(fd, SOL_SOCKET, 77 /* SO_PEERPIDFD */, ptr(b), ptr(len)) < 0) return -errno();
  return b.readInt32LE(0);
}

// 0 while the pidfd's process lives (signal 0: nothing is sent), or -errno
// (ESRCH once it has exited).
export function pidfdAlive(pidfd: number): number {
  return rcOrErrno(NUM(lib.syscall(SYS.pidfd_send_signal, pidfd, 0, 0, 0, 0)));
}

// An anonymous memory file (close-on-exec, sealable), or -errno.
export function memfdCreate(name: string): number {
  const n = cstr(name);
  return rcOrErrno(NUM(lib.syscall(SYS.memfd_create, Number(ptr(n)), 0x1 /* MFD_CLOEXEC */ | 0x2 /* MFD_ALLOW_SEALING */, 0, 0, 0)));
}
// fcntl seals: SEAL | SHRINK | GROW | WRITE, i.e. the contents can never change.
export const SEALS_ALL = 0x1 | 0x2 | 0x4 | 0x8;
export const addSeals = (fd: number, seals: number): number => rcOrErrno(lib.fcntl(fd, 1033 /* F_ADD_SEALS */, seals));
export const getSeals = (fd: number): number => rcOrErrno(lib.fcntl(fd, 1034 /* F_GET_SEALS */, 0));
export const lseekStart = (fd: number): number => rcOrErrno(NUM(lib.syscall(process.arch === "arm64" ? 62 : 8 /* lseek */, fd, 0, 0 /* SEEK_SET */, 0, 0)));

export function chroot(path: string): number {
  return lib.chroot(ptr(cstr(path))) < 0 ? -errno() : 0;
}

// execve(2): replaces this process (every other thread goes with it). Only
// returns on failure, with -errno.
export function execve(path: string, argv: readonly string[], env: readonly string[]): number {
  const strs = [...argv, ...env].map((s) => cstr(s));
  const av = Buffer.alloc(8 * (argv.length + 1));
  argv.forEach((_, i) => av.writeBigUInt64LE(BigInt(Number(ptr(strs[i]!))), i * 8));
  const ev = Buffer.alloc(8 * (env.length + 1));
  env.forEach((_, i) => ev.writeBigUInt64LE(BigInt(Number(ptr(strs[argv.length + i]!))), i * 8));
  const p = cstr(path);
  lib.execve(ptr(p), ptr(av), ptr(ev));
  void strs;
  return -errno();
}

// A pidfd for a child (close-on-exec by definition), or -errno.
export function pidfdOpen(pid: number): number {
  return rcOrErrno(NUM(lib.syscall(SYS.pidfd_open, pid, 0, 0, 0, 0)));
}

// waitpid(pid, WNOHANG): undefined while it runs, else the exit code (signal
// deaths as 128 + signal), or -errno.
export function reap(pid: number): number | undefined {
  const st = Buffer.alloc(4);
  const rc = lib.waitpid(pid, ptr(st), 1 /* WNOHANG */);
  if (rc < 0) return -errno();
  if (rc === 0) return undefined;
  const s = st.readInt32LE(0);
  return (s & 0x7f) === 0 ? (s >> 8) & 0xff : 128 + (s & 0x7f);
}

// posix_spawn (safe in a multi-threaded process): `fds[i]` becomes the child's
// fd i, every other fd is closed (closefrom), every signal is default and
// unblocked, the environment is exactly `env` (empty by default). Sources are
// first duplicated above the targets so no dup2 overwrites a later source.
export function spawnWithFds(path: string, argv: readonly string[], fds: readonly number[], env: readonly string[] = []): number {
  const high = fds.map((fd) => fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, 64 + fds.length));
  try {
    if (high.some((fd) => fd < 0)) return -E.EBADF;
    const fa = Buffer.alloc(256);
    const attr = Buffer.alloc(1024);
    const sigs = Buffer.alloc(128);
    const empty = Buffer.alloc(128);
    lib.posix_spawn_file_actions_init(ptr(fa));
    lib.posix_spawnattr_init(ptr(attr));
    try {
      high.forEach((fd, i) => lib.posix_spawn_file_actions_adddup2(ptr(fa), fd, i));
      lib.posix_spawn_file_actions_addclosefrom_np(ptr(fa), fds.length);
      lib.sigfillset(ptr(sigs));
      lib.sigemptyset(ptr(empty));
      lib.posix_spawnattr_setsigdefault(ptr(attr), ptr(sigs));
      lib.posix_spawnattr_setsigmask(ptr(attr), ptr(empty));
      lib.posix_spawnattr_setflags(ptr(attr), 0x04 /* SETSIGDEF */ | 0x08 /* SETSIGMASK */);
      const strs = [...argv, ...env].map((s) => cstr(s));
      const av = Buffer.alloc(8 * (argv.length + 1));
      argv.forEach((_, i) => av.writeBigUInt64LE(BigInt(Number(ptr(strs[i]!))), i * 8));
      const ev = Buffer.alloc(8 * (env.length + 1));
      env.forEach((_, i) => ev.writeBigUInt64LE(BigInt(Number(ptr(strs[argv.length + i]!))), i * 8));
      const pid = Buffer.alloc(4);
      const p = cstr(path);
      const rc = lib.posix_spawn(ptr(pid), ptr(p), ptr(fa), ptr(attr), ptr(av), ptr(ev));
      void strs;
      return rc !== 0 ? -rc : pid.readInt32LE(0);
    } finally {
      lib.posix_spawn_file_actions_destroy(ptr(fa));
      lib.posix_spawnattr_destroy(ptr(attr));
    }
  } finally {
    for (const fd of high) if (fd >= 0) close(fd);
  }
}

// poll() on fds with their own events; revents each, or -errno.
export function pollEach(fds: readonly { fd: number; events: number }[], timeoutMs: number): number[] | number {
  const b = Buffer.alloc(8 * Math.max(1, fds.length));
  fds.forEach((f, i) => { b.writeInt32LE(f.fd, i * 8); b.writeInt16LE(f.events, i * 8 + 4); });
  const rc = lib.poll(ptr(b), fds.length, timeoutMs);
  if (rc < 0) return -errno();
  return fds.map((_, i) => b.readInt16LE(i * 8 + 6));
}
