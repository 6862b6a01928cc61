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
import type { Ctx } from "./context.ts";
import { isFuseType } from "./policy/mountinfo.ts";
import { kernelMount, topMount, isStillTop, UNSUPPORTED, type MountIdentity } from "./sys/mounttable.ts";
import { resolveMountpoint, chdirToParent, type Mountpoint } from "./resolve.ts";
import { unmount } from "./unmount.ts";
import { Refusal } from "./policy/refusal.ts";
import type { Privileges } from "./sys/creds.ts";
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

// How often the watch looks whether its mount still exists where the kernel
// cannot tell it (no fanotify mount events): a manual unmount ends the watch
// within this long.
const GONE_CHECK_MS = 1000;

// Sleep until the server's end of the comm socket closes (EOF) or the watched
// mount is gone (unmounted by hand, by anyone). Mount events come from
// fanotify (FAN_MNT_DETACH, Linux 6.15) where the kernel has them, else from a
// statmount() once a second; an event only wakes us, statmount() decides.
function waitForEofOrGone(ctx: Ctx, commFd: number, identity: MountIdentity): "eof" | "gone" {
  c.setRecvTimeout(commFd, 0);
  const watching = identity.unique !== undefined;
  const events = watching ? ctx.who.withAdmin(() => c.mountDetachEvents()) : -1;
  const gone = () => identity.unique !== undefined && kernelMount(identity.unique) === undefined;
  for (;;) {
    const fds = events >= 0 ? [commFd, events] : [commFd];
    const ready = c.pollMany(fds, c.POLL.IN, events >= 0 || !watching ? -1 : GONE_CHECK_MS);
    if (typeof ready === "number") {
      if (ready === -c.E.EINTR) continue;
      return "eof";
    }
    if (ready[0]) {
      const r = c.recvBytes(commFd, 16, 0x40 /* MSG_DONTWAIT */);
      if (typeof r === "number" ? r !== -c.E.EINTR && r !== -c.E.EAGAIN : r.length === 0) return "eof";
    }
    if (events >= 0 && ready[1]) {
      for (;;) { const b = c.readFd(events, 4096); if (typeof b === "number" || b.length === 0) break; } // drain
    }
    if (gone()) return "gone";
  }
}

// Is the filesystem at `mnt` dead? Asked by a child running as the caller.
// A server killed with a request in flight can leave the first opens failing
// with ECONNABORTED while the abort completes, or not yet failing at all; so a
// live answer is asked again a few times before it is believed. A probe that
// does not finish means a server holds the filesystem and is not answering:
// alive, and not worth asking again.
const PROBES = 4;
const PROBE_INTERVAL_MS = 250;
const PROBE_TIMEOUT_MS = 5000;
// The child is started, and killed past its deadline, as root: a lowered
// thread has no CAP_KILL for a process that has become the caller.
export function connectionIsDead(who: Privileges, mnt: string, o: { probes?: number; timeoutMs?: number } = {}): boolean {
  const caller = who.caller;
  for (let i = 0; i < (o.probes ?? PROBES); i++) {
    if (i > 0) c.sleepMs(PROBE_INTERVAL_MS);
    try {
      const r = who.asRoot(() => Bun.spawnSync([process.execPath, PROBE_ARG, String(caller.uid), String(caller.gid), mnt], {
        env: {}, cwd: "/", stdin: "ignore", stdout: "ignore", stderr: "ignore", timeout: o.timeoutMs ?? PROBE_TIMEOUT_MS, killSignal: "SIGKILL",
      }));
      if (r.exitedDueToTimeout) return false;
      if (r.exitCode === 0) return true;
      if (r.exitCode !== 1) return false; // the probe could not become the caller
    } catch {
      return false;
    }
  }
  return false;
}

// Everything is decided as the caller (lowered), on a fresh walk of the path
// without links: the watchdog may have slept for days. The mount must be the
// one we made (by unique ID where the kernel has them, else by the table's
// ID), a FUSE mount, of our type, on top at the path, and dead.
function shouldAutoUnmount(who: Privileges, m: Mountpoint, type: string | undefined, identity: MountIdentity): boolean {
  try {
    const at = chdirToParent(m);
    if ("error" in at) return false;
    const top = topMount(c.AT_FDCWD, at.last, m.path);
    if (!top || !isFuseType(top.type) || !top.is(identity)) return false;
    if (type !== undefined && top.type !== type) return false;
    if (!isStillTop(c.AT_FDCWD, at.last, m.path, top)) return false;
  } catch (e) {
    if (e instanceof Refusal) return false; // the table could not be read: never guess
    throw e;
  } finally {
    c.chdir("/");
  }
  return connectionIsDead(who, m.path);
}

// The watch follows its mount: after EOF it asks the kernel where the mount
// it made is now (moved by `mount --move`, or its parent renamed), and acts
// on that mount only; it ends as soon as that mount is gone.
export function watchdog(ctx: Ctx, commFd: number, mnt: string, type: string | undefined, identity: MountIdentity): never {
  if (commFd <= 2) return c.exit(1);
  ctx.watching?.();
  closeInheritedFds(commFd);
  c.setsid();
  c.chdir("/");
  ignoreSignals();
  trimResidentFileMappings();
  if (waitForEofOrGone(ctx, commFd, identity) === "gone") return c.exit(0);
  return c.exit(afterEof(ctx, mnt, type, identity));
}

// The server's end of the comm socket has closed: unmount the watched mount
// if it is still there, ours, on top and dead. The exit status.
export function afterEof(ctx: Ctx, mnt: string, type: string | undefined, identity: MountIdentity): number {
  let path = mnt;
  if (identity.unique !== undefined) {
    const now = kernelMount(identity.unique);
    if (now === undefined) return 0; // already unmounted
    if (now !== UNSUPPORTED) path = now.mountPoint;
  }
  let m: Mountpoint;
  try {
    m = resolveMountpoint(path);
  } catch {
    return 0; // the path is gone or now leads through a link: not ours to touch
  }
  if (!shouldAutoUnmount(ctx.who, m, type, identity)) return 0;
  ctx.audit.begin({ action: "auto-unmount", mountpoint: m.path, ...(type !== undefined ? { fstype: type } : {}) });
  let done: ReturnType<typeof unmount>;
  try {
    done = unmount(ctx, m, { quiet: true, lazy: true, identity });
  } catch (e) {
    done = { code: 1, reason: e instanceof Refusal ? e.message : String(e) }; // nothing was removed
  }
  if (done.code === 0) ctx.audit.end("ok");
  else ctx.audit.end("failed", done.reason);
  return done.code;
}

// After a successful mount with auto_unmount: watch exactly that mount. The
// watch must hold nothing inside it (a plain umount would then be EBUSY).
// Served by the service, the watch goes to the service itself where it can
// take it (a small record there instead of a process); otherwise this
// process becomes the watchdog.
export function watchAttached(ctx: Ctx, commFd: number, mnt: string, attached: { mountFd: number; identity: MountIdentity; type: string }): number {
  if (attached.mountFd >= 0) c.close(attached.mountFd);
  const unique = attached.identity.unique;
  if (ctx.handOverWatch && unique !== undefined) {
    ctx.watching?.();
    if (ctx.handOverWatch(commFd, { unique, mountpoint: mnt, type: attached.type })) return 0;
  }
  return watchdog(ctx, commFd, mnt, attached.type, attached.identity);
}

// The probe child: become the caller completely (real, effective and saved
// ids), then try to open the path. Exit 0 means "the connection is dead"
// (ENOTCONN, or ECONNABORTED while the kernel aborts it). The ids in argv are
// believed only when our real uid is 0: the watchdog runs with real uid 0, a
// user who runs this mode through the launcher does not (their real uid is
// theirs), so it can do nothing its caller could not.
export function probeMain(args: readonly string[]): never {
  const [, uidText, gidText, mnt] = args;
  if (args.length !== 4 || mnt === undefined || !mnt.startsWith("/")) return c.exit(2);
  const fromArgv = c.getuid() === 0;
  const uid = fromArgv ? Number(uidText) : c.getuid();
  const gid = fromArgv ? Number(gidText) : c.getgid();
  if (!Number.isInteger(uid) || !Number.isInteger(gid) || uid < 0 || gid < 0) return c.exit(2);
  if (c.setgroups([]) !== 0 && c.geteuid() === 0) return c.exit(2);
  if (c.setresgid(gid, gid, gid) !== 0) return c.exit(2);
  if (c.setresuid(uid, uid, uid) !== 0) return c.exit(2);
  if (c.getuid() !== uid || c.geteuid() !== uid || c.getegid() !== gid) return c.exit(2);
  const fd = c.tryOpen(mnt, c.O.RDONLY | c.O.NONBLOCK | c.O.NOCTTY | c.O.NOFOLLOW);
  if (fd >= 0) c.close(fd);
  return c.exit(fd === -c.E.ENOTCONN || fd === -c.E.ECONNABORTED ? 0 : 1);
}
