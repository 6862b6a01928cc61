// The auto-unmount watchdog: stays alive beside the FUSE server and, when the
// server's end of the comm socket closes, unmounts the filesystem if and only if
// it is still mounted, is the one we are watching, and its connection is dead.
//
// The liveness probe must run with all of the caller's ids: FUSE refuses every
// other process unless allow_other was given (so a probe as root sees EACCES
// and, in libfuse 3.14, auto_unmount never fires for plain users), and a probe as
// root would open whatever the caller put at the path. Bun cannot fork, so the
// probe is a child process of our own binary that first drops to its real ids.

import * as c from "./sys/libc.ts";
import { caller, dropPrivs, restorePrivs } from "./sys/process.ts";
import { isFuseType, topMountAt } from "./mountinfo.ts";
import { chdirToParent, mountIdAt, readMountTable, unmount } from "./unmount.ts";
import { auditBegin, auditEnd } from "./audit.ts";

export const PROBE_ARG = "--enotconn-probe-as-caller";

// Close what the caller left open (pipes kept open by a watchdog broke
// clients), but not the runtime's own event-loop descriptors.
function closeInheritedFds(keep: number): void {
  // Loaded here, not at the top: importing node:fs costs every run ~0.7 ms.
  const { readdirSync, readlinkSync } = require("node:fs") as typeof import("node:fs");
  let names: string[] = [];
  try { names = readdirSync("/proc/self/fd"); } catch { /* nothing to close */ }
  for (const name of names) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd <= 2 || fd === keep) continue;
    let target = "";
    try { target = readlinkSync(`/proc/self/fd/${name}`); } catch { continue; }
    if (target.startsWith("anon_inode:")) continue;
    c.close(fd);
  }
  const devnull = c.tryOpen("/dev/null", c.O.RDWR);
  if (devnull < 0) {
    c.writeAll(2, "fusermount: cannot open /dev/null\n");
    c.exit(1);
  }
  for (const fd of [0, 1, 2]) c.dup2(devnull, fd);
  if (devnull > 2) c.close(devnull);
}

// Only SIGKILL and SIGSTOP may end or pause the watchdog. Masks are per thread
// in Bun, so dispositions are set instead of a blocked mask.
function ignoreSignals(): void {
  for (const sig of [c.SIG.HUP, c.SIG.INT, c.SIG.QUIT, c.SIG.USR1, c.SIG.USR2, c.SIG.PIPE,
    c.SIG.ALRM, c.SIG.TERM, c.SIG.TSTP, c.SIG.TTIN, c.SIG.TTOU, c.SIG.XCPU, c.SIG.XFSZ,
    c.SIG.VTALRM, c.SIG.PROF]) {
    c.signal(sig, c.SIG_IGN);
  }
}

// The watchdog sleeps for the filesystem's lifetime. What it touched of the
// runtime's executable while starting (tens of MiB of text and bytecode) stays
// resident and is counted in its RSS; drop this process's mappings of those
// pages (they stay in the page cache for everyone else and fault back in if the
// watchdog ever wakes). Only read-only file mappings with no private (COW)
// page are touched, so nothing but clean file pages can be dropped.
function trimResidentFileMappings(): void {
  Bun.gc(true);
  const text = c.readFile("/proc/self/smaps");
  if (typeof text === "number") return;
  let current: { start: bigint; end: bigint; ok: boolean } | undefined;
  const flush = (): void => {
    if (current?.ok) c.madvise(current.start, current.end - current.start, c.MADV_DONTNEED);
    current = undefined;
  };
  for (const line of text.toString("latin1").split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      flush();
      const perms = head[3]!, inode = head[4]!, path = head[5]!;
      current = { start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), ok: inode !== "0" && path.startsWith("/") && !perms.includes("w") };
      continue;
    }
    const anon = /^Anonymous:\s+(\d+) kB/.exec(line);
    if (anon && current && anon[1] !== "0") current.ok = false;
    if (/^Locked:\s+[1-9]/.test(line) && current) current.ok = false;
  }
  flush();
}

function waitForEof(commFd: number): void {
  c.setRecvTimeout(commFd, 0);
  for (;;) {
    const r = c.recvBytes(commFd, 16);
    if (typeof r === "number") {
      if (r === -c.E.EINTR) continue;
      return;
    }
    if (r.length === 0) return;
  }
}

// Is the filesystem at `mnt` dead? Asked by a child running as the caller.
function connectionIsDead(mnt: string): boolean {
  try {
    const r = Bun.spawnSync([process.execPath, PROBE_ARG, mnt], {
      env: {}, cwd: "/", stdin: "ignore", stdout: "ignore", stderr: "ignore",
    });
    return r.exitCode === 0;
  } catch {
    return false;
  }
}

function shouldAutoUnmount(mnt: string, type: string | undefined, mountId: number | undefined): boolean {
  dropPrivs();
  try {
    const last = chdirToParent(mnt);
    if (last === undefined) return false;
    // The table check comes first so that nothing at the path is touched (an
    // automount trigger, say) unless a FUSE mount is really there.
    const top = topMountAt(readMountTable(), mnt);
    if (!top || !isFuseType(top.fsType)) return false;
    if (mountId !== undefined && top.id !== mountId) return false;
    if (type !== undefined && top.fsType !== type) return false;
    if (mountIdAt(last) !== top.id) return false;
  } finally {
    restorePrivs();
    c.chdir("/");
  }
  return connectionIsDead(mnt);
}

export function watchdog(commFd: number, mnt: string, type: string | undefined, mountId: number | undefined): never {
  if (commFd <= 2) return c.exit(1);
  closeInheritedFds(commFd);
  c.setsid();
  c.chdir("/");
  ignoreSignals();
  trimResidentFileMappings();
  waitForEof(commFd);
  if (!shouldAutoUnmount(mnt, type, mountId)) return c.exit(0);
  auditBegin({ action: "auto-unmount", mountpoint: mnt, ...(type !== undefined ? { fstype: type } : {}) });
  const code = unmount(mnt, { quiet: true, lazy: true, mountId });
  auditEnd(code === 0 ? "ok" : "failed");
  return c.exit(code);
}

// After a successful mount with auto_unmount: watch exactly that mount.
export function watchAttached(commFd: number, mnt: string, attached: { mntFd: number; mountId?: number; type: string }): never {
  if (attached.mntFd >= 0) c.close(attached.mntFd);
  return watchdog(commFd, mnt, attached.type, attached.mountId);
}

// The probe child: become the caller completely (real, effective and saved
// ids, taken from our own real ids, never from argv), then try to open the path.
// Exit 0 means "the connection is dead". Harmless when anyone runs it directly:
// it can do nothing its caller could not.
export function probeMain(args: readonly string[]): never {
  const mnt = args[1];
  if (args.length !== 2 || mnt === undefined || !mnt.startsWith("/")) return c.exit(2);
  if (c.setresgid(caller.gid, caller.gid, caller.gid) !== 0) return c.exit(2);
  if (c.setresuid(caller.uid, caller.uid, caller.uid) !== 0) return c.exit(2);
  if (c.geteuid() !== caller.uid || c.getegid() !== caller.gid) return c.exit(2);
  const fd = c.tryOpen(mnt, c.O.RDONLY | c.O.NONBLOCK | c.O.NOCTTY | c.O.NOFOLLOW);
  if (fd >= 0) c.close(fd);
  return c.exit(fd === -c.E.ENOTCONN ? 0 : 1);
}
