// Process control for the benchmark client, straight from libc: posix_spawn,
// pidfd_open + poll for a bounded wait, and wait4, whose struct rusage gives the
// child's peak RSS (ru_maxrss) and CPU time without any extra process.
//
// Everything is synchronous, so the time between spawn and exit is not stretched
// by an event loop, and the same code drives every helper that is compared.
// x86_64 / arm64 glibc (LP64) only, like src/sys/libc.ts.

import { dlopen, FFIType, ptr, read } from "bun:ffi";

const { i32, i64, i64_fast, ptr: P } = FFIType;

const lib = dlopen("libc.so.6", {
  posix_spawn: { args: [P, P, P, P, P, P], returns: i32 },
  posix_spawn_file_actions_init: { args: [P], returns: i32 },
  posix_spawn_file_actions_destroy: { args: [P], returns: i32 },
  posix_spawn_file_actions_adddup2: { args: [P, i32, i32], returns: i32 },
  posix_spawn_file_actions_addclosefrom_np: { args: [P, i32], returns: i32 },
  wait4: { args: [i32, P, i32, P], returns: i32 },
  syscall: { args: [i64, i64, i64, i64, i64, i64], returns: i64_fast },
  poll: { args: [P, i64, i32], returns: i32 },
  kill: { args: [i32, i32], returns: i32 },
  close: { args: [i32], returns: i32 },
  read: { args: [i32, P, i64], returns: i64_fast },
  open: { args: [P, i32, i32], returns: i32 },
  clock_gettime: { args: [i32, P], returns: i32 },
  __errno_location: { args: [], returns: P },
}).symbols;

const SYS_pidfd_open = 434;
const O_RDWR = 2;
const O_CLOEXEC = 0o2000000;
const EINTR = 4;

const errnoPtr = lib.__errno_location()!;
const errnoView = (): number => read.i32(errnoPtr, 0);

function cstr(s: string): Buffer {
  const b = Buffer.alloc(Buffer.byteLength(s) + 1);
  b.write(s, 0, "utf8");
  return b;
}

// A NULL-terminated char*[]; the returned array keeps the strings alive.
function cstrArray(items: readonly string[]): { array: Buffer; keep: Buffer[] } {
  const keep = items.map(cstr);
  const array = Buffer.alloc(8 * (items.length + 1));
  keep.forEach((b, i) => array.writeBigUInt64LE(BigInt(ptr(b)), 8 * i));
  return { array, keep };
}

let devNull = -1;
export function devNullFd(): number {
  if (devNull < 0) {
    const p = cstr("/dev/null");
    devNull = lib.open(ptr(p), O_RDWR | O_CLOEXEC, 0);
    if (devNull < 0) throw new Error(`open /dev/null: errno ${errnoView()}`);
  }
  return devNull;
}

export type SpawnSpec = {
  path: string;
  argv: readonly string[]; // argv[0] included
  env: Readonly<Record<string, string>>;
  // Child fd -> parent fd (stdin/stdout/stderr default to /dev/null).
  fds?: Readonly<Record<number, number>>;
};

// A prepared spawn: all allocation happens here, before the clock starts.
export type Prepared = { go(): number };

export function prepare(spec: SpawnSpec): Prepared {
  const argv = cstrArray(spec.argv);
  const env = cstrArray(Object.entries(spec.env).map(([k, v]) => `${k}=${v}`));
  const path = cstr(spec.path);
  const fa = Buffer.alloc(128); // posix_spawn_file_actions_t is 80 bytes on glibc LP64
  const pidBuf = Buffer.alloc(4);
  if (lib.posix_spawn_file_actions_init(ptr(fa)) !== 0) throw new Error("posix_spawn_file_actions_init");
  const map: Record<number, number> = { 0: devNullFd(), 1: devNullFd(), 2: devNullFd(), ...(spec.fds ?? {}) };
  let top = 2;
  for (const [child, parent] of Object.entries(map)) {
    // Parent fds are close-on-exec; dup2 onto a different number clears that
    // for the child's copy. (All parent fds here are > 2 and != their target.)
    if (lib.posix_spawn_file_actions_adddup2(ptr(fa), parent, Number(child)) !== 0) throw new Error("adddup2");
    top = Math.max(top, Number(child));
  }
  // Nothing else of the client's leaks into the helper.
  if (lib.posix_spawn_file_actions_addclosefrom_np(ptr(fa), top + 1) !== 0) throw new Error("addclosefrom_np");
  const faPtr = ptr(fa), pathPtr = ptr(path), argvPtr = ptr(argv.array), envPtr = ptr(env.array), pidPtr = ptr(pidBuf);
  let used = false;
  return {
    go(): number {
      if (used) throw new Error("prepared spawn used twice");
      used = true;
      const rc = lib.posix_spawn(pidPtr, pathPtr, faPtr, null, argvPtr, envPtr);
      // keep references alive until the call returned
      void argv.keep; void env.keep; void fa; void path;
      lib.posix_spawn_file_actions_destroy(faPtr);
      if (rc !== 0) throw new Error(`posix_spawn ${spec.path}: errno ${rc}`);
      return pidBuf.readInt32LE(0);
    },
  };
}

export type Exit = {
  pid: number;
  code: number | null; // exit status, or null when killed by a signal
  signal: number | null;
  timedOut: boolean;
  // ru_maxrss. NOT the helper's own peak when the parent is large: posix_spawn
  // (vfork) and fork children carry the parent's memory until execve, and the
  // kernel folds that mm's high-water mark into the child's maxrss at exec.
  // Peak RSS is therefore measured through /usr/bin/time (a small parent).
  maxRssKiB: number;
  cpuMs: number; // user + system CPU time
  minflt: number;
};

// Wait for one child, at most timeoutMs (then SIGKILL). pidfd_open is done
// here rather than at spawn: the child cannot be reaped by anyone else, so its
// pid stays valid until our wait4.
const rusage = Buffer.alloc(144);
const wstatus = Buffer.alloc(4);
const pfd = Buffer.alloc(8);
export function waitExit(pid: number, timeoutMs: number): Exit {
  let timedOut = false;
  const pidfd = Number(lib.syscall(SYS_pidfd_open, pid, 0, 0, 0, 0, 0));
  if (pidfd >= 0) {
    pfd.writeInt32LE(pidfd, 0);
    pfd.writeInt16LE(1 /* POLLIN */, 4);
    pfd.writeInt16LE(0, 6);
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const left = Math.max(0, Math.ceil(deadline - performance.now()));
      const rc = lib.poll(ptr(pfd), 1, left);
      if (rc > 0) break;
      if (rc < 0 && errnoView() === EINTR) continue;
      timedOut = true;
      lib.kill(pid, 9);
      break;
    }
    lib.close(pidfd);
  }
  for (;;) {
    const r = lib.wait4(pid, ptr(wstatus), 0, ptr(rusage));
    if (r < 0 && errnoView() === EINTR) continue;
    if (r < 0) throw new Error(`wait4 ${pid}: errno ${errnoView()}`);
    break;
  }
  const st = wstatus.readInt32LE(0);
  const sig = st & 0x7f;
  const tv = (off: number): number => Number(rusage.readBigInt64LE(off)) * 1000 + Number(rusage.readBigInt64LE(off + 8)) / 1000;
  return {
    pid,
    code: sig === 0 ? (st >> 8) & 0xff : null,
    signal: sig === 0 ? null : sig,
    timedOut,
    maxRssKiB: Number(rusage.readBigInt64LE(32)),
    cpuMs: tv(0) + tv(16),
    minflt: Number(rusage.readBigInt64LE(64)),
  };
}

// Everything a pipe holds once its writers are gone (small outputs only).
const readBuf = Buffer.alloc(65536);
export function drain(fd: number): string {
  let out = "";
  for (;;) {
    const n = Number(lib.read(fd, ptr(readBuf), readBuf.length));
    if (n < 0 && errnoView() === EINTR) continue;
    if (n <= 0) break;
    out += readBuf.toString("utf8", 0, n);
    if (out.length > 1 << 20) break;
  }
  return out;
}

export const kill = (pid: number, sig: number): number => lib.kill(pid, sig);

// CLOCK_MONOTONIC in ms: one clock for every process of the machine (Bun's
// process.hrtime and performance.now() count from the process's own start).
const tsBuf = new BigInt64Array(2);
export function monotonicMs(): number {
  lib.clock_gettime(1 /* CLOCK_MONOTONIC */, ptr(tsBuf));
  return Number(tsBuf[0]) * 1000 + Number(tsBuf[1]) / 1e6;
}
