// Mounting: every check first (device, fuse.conf, mount_max, options,
// mountpoint) as the caller, the mount plan decided from them, then one attach
// onto the pinned mountpoint fd. Used by both fd hand-over protocols
// (src/handover.ts), which is why preparing and attaching are separate steps.

import * as c from "./sys/libc.ts";
import type { Ctx } from "./context.ts";
import { isRootCaller } from "./sys/creds.ts";
import { parseFuseConf, FUSE_CONF, CONF_OPEN_SOFT_ERRNOS, type FuseConf } from "./policy/fuseconf.ts";
import { isFuseType, ownsByOptions } from "./policy/mountinfo.ts";
import { splitXOptions, applyOptionPolicy, checkXOptions } from "./policy/options.ts";
import { planMount, dataTooLong, type MountPlan } from "./policy/plan.ts";
import { ALLOWED_MOUNTPOINT_FS, fsMagicHex } from "./policy/paths.ts";
import { Refusal, refuse } from "./policy/refusal.ts";
import { countFuseMountsNow, identityOfFd, kernelTopMount, UNSUPPORTED, type MountIdentity } from "./sys/mounttable.ts";
import { NO_LINKS, type Mountpoint } from "./resolve.ts";
import { connectionIsDead } from "./autounmount.ts";
import { mtabNeedsUpdate, removeMountRecord } from "./mtab.ts";
import { watchInit } from "./sys/initwatch.ts";
import { INIT_TIMEOUT_SECONDS } from "../protocol/wire.ts";

const DEFAULT_DEVICE = "/dev/fuse";
const FUSE_MAJOR = 10;
const FUSE_MINOR = 229;
export const MOUNT_LOCK = "/run/fusermount3.lock";
// How long a helper waits for another helper's count-and-attach. Every holder
// is root with real uid 0 (so its caller cannot stop it) and does nothing
// caller-controlled while holding it, so this is only reached when something
// is badly wrong; then refusing is better than waiting forever.
export const MOUNT_LOCK_TIMEOUT_MS = 10_000;

export type Prepared = {
  mountpoint: Mountpoint;
  device: string;
  fuseFd: number;
  pinFd: number; // the checked mountpoint inode; the mount goes onto it
  plan: MountPlan;
  mountMax: number; // from fuse.conf; -1 = unlimited (and root is never limited)
  fsFd: number; // --sync-init: the new mount API's context, opened before the fd goes out
};

// ---- the FUSE device ----------------------------------------------------------

const isFuseDevice = (st: c.Stat): boolean =>
  (st.mode & c.S.IFMT) === c.S.IFCHR && st.rdevMajor === FUSE_MAJOR && st.rdevMinor === FUSE_MINOR;

// FUSE_KERN_DEVICE as libfuse master validates it, and stricter: the path is
// walked once, as the caller, without following any symlink, the inode must be
// the FUSE character device, and that same inode is what gets opened. No fd to
// anything else ever leaves the helper.
function chooseDevice(ctx: Ctx, envDevice: string | undefined): { device: string; pathFd: number } {
  if (envDevice !== undefined && !envDevice.startsWith("/dev/")) {
    ctx.say.fuse(`invalid device name from FUSE_KERN_DEVICE: ${envDevice} (must start with /dev/)`);
    envDevice = undefined;
  }
  if (envDevice !== undefined) {
    const fd = c.openat2(c.AT_FDCWD, envDevice, c.O.PATH, NO_LINKS);
    if (fd >= 0) {
      const st = c.fstat(fd);
      if (typeof st !== "number" && isFuseDevice(st)) return { device: envDevice, pathFd: fd };
      c.close(fd);
      if (typeof st !== "number" && (st.mode & c.S.IFMT) === c.S.IFCHR) {
        refuse(`invalid device from FUSE_KERN_DEVICE: ${envDevice} (not a FUSE device)`);
      }
      ctx.say.fuse(`invalid device from FUSE_KERN_DEVICE: ${envDevice} (not a character device)`);
    } else if (fd === -c.E.ELOOP || fd === -c.E.EXDEV) {
      ctx.say.fuse(`invalid device from FUSE_KERN_DEVICE: ${envDevice} (a symbolic link)`);
    } else {
      return { device: envDevice, pathFd: fd }; // open fails below with libfuse's message
    }
  }
  return { device: DEFAULT_DEVICE, pathFd: c.openat2(c.AT_FDCWD, DEFAULT_DEVICE, c.O.PATH, NO_LINKS) };
}

function openDevice(ctx: Ctx, envDevice: string | undefined): { device: string; fuseFd: number } {
  const { device, pathFd } = chooseDevice(ctx, envDevice);
  const notFound = () => new Refusal(`fuse device ${device} not found. Kernel module not loaded?`, { hint: "load it with 'modprobe fuse' (as root)" });
  if (pathFd === -c.E.ENOENT || pathFd === -c.E.ENODEV) throw notFound();
  if (pathFd < 0) refuse(`failed to open ${device}: ${c.strerror(-pathFd)}`);
  const pst = c.fstat(pathFd);
  // (A FUSE_KERN_DEVICE was proven the FUSE device before this point, so no
  // device the caller named is ever opened otherwise; /dev/fuse is root's.)
  if (typeof pst === "number" || (pst.mode & c.S.IFMT) !== c.S.IFCHR) {
    c.close(pathFd);
    refuse(`failed to open ${device}: not a character device`);
  }
  // Reopen exactly the inode that was looked at (our own fd's link, which is
  // the only magic link a lowered process may follow here).
  const fd = c.tryOpen(c.fdPath(pathFd), c.O.RDWR | c.O.NOCTTY);
  c.close(pathFd);
  if (fd === -c.E.ENODEV || fd === -c.E.ENOENT || fd === -c.E.ENXIO) throw notFound();
  if (fd < 0) refuse(`failed to open ${device}: ${c.strerror(-fd)}`);
  const st = c.fstat(fd);
  if (typeof st === "number" || !isFuseDevice(st) || st.ino !== pst.ino || st.dev !== pst.dev) {
    c.close(fd);
    refuse(`failed to open ${device}: not the FUSE device (character device ${FUSE_MAJOR}:${FUSE_MINOR})`);
  }
  return { device, fuseFd: fd };
}

// ---- fuse.conf ------------------------------------------------------------------

// /etc/fuse.conf as libfuse reads it (as the caller). Returns the settings, or
// why reading failed: open errors other than ENOENT and the soft ones, or a
// read error.
function loadConf(): { conf: FuseConf; fatal?: string; openError?: string } {
  const fd = c.tryOpen(FUSE_CONF, c.O.RDONLY);
  if (fd < 0) {
    const conf = parseFuseConf(new Uint8Array(0));
    if (fd === -c.E.ENOENT) return { conf };
    const openError = `failed to open ${FUSE_CONF}: ${c.strerror(-fd)}`;
    return CONF_OPEN_SOFT_ERRNOS.has(-fd) ? { conf, openError } : { conf, openError, fatal: openError };
  }
  const parts: Buffer[] = [];
  let failed = false;
  for (let total = 0; total < 1 << 20;) {
    const chunk = c.readFd(fd, 65536);
    if (typeof chunk === "number") {
      if (chunk === -c.E.EINTR) continue;
      failed = true;
      break;
    }
    if (chunk.length === 0) break;
    parts.push(chunk);
    total += chunk.length;
  }
  c.close(fd);
  const conf = parseFuseConf(Buffer.concat(parts));
  return failed ? { conf, fatal: `reading ${FUSE_CONF}: read failed` } : { conf };
}

export function readConf(ctx: Ctx): FuseConf {
  const { conf, fatal, openError } = loadConf();
  if (openError !== undefined && fatal === openError) refuse(openError);
  if (openError !== undefined) ctx.say.warn(openError);
  for (const m of conf.messages) ctx.say.warn(m);
  if (fatal !== undefined) refuse(fatal);
  return conf;
}

// For --check: every complaint becomes a message, nothing is refused.
export function readConfQuiet(): FuseConf {
  const { conf, fatal, openError } = loadConf();
  if (openError) conf.messages.unshift(openError);
  if (fatal && fatal !== openError) conf.messages.push(fatal);
  return conf;
}

// ---- mount_max --------------------------------------------------------------------

const TOO_MANY = `too many FUSE filesystems mounted; mount_max=N can be set in ${FUSE_CONF}`;
const tooManyHint = (count: number, max: number) =>
  `${count} FUSE filesystems are mounted and mount_max is ${max}: unmount some, or raise mount_max in ${FUSE_CONF} (as root)`;

function tooMany(count: number, max: number, outcome: "refused" | "failed" = "refused"): Refusal {
  return new Refusal(TOO_MANY, { hint: tooManyHint(count, max), outcome });
}

// The lock file must be ours alone: a file anyone could open would let them
// flock() it and stall every user's mount.
function openMountLock(): number {
  const fd = c.tryOpen(MOUNT_LOCK, c.O.RDWR | c.O.CREAT | c.O.NOFOLLOW | c.O.NOCTTY, 0o600);
  if (fd < 0) refuse(`failed to open ${MOUNT_LOCK}: ${c.strerror(-fd)}`);
  const st = c.fstat(fd);
  if (typeof st === "number" || (st.mode & c.S.IFMT) !== c.S.IFREG || st.uid !== 0 || (st.mode & 0o7777) !== 0o600) {
    c.close(fd);
    refuse(`${MOUNT_LOCK} must be a regular file owned by root with mode 0600: remove it (as root)`);
  }
  return fd;
}

function takeLock(fd: number): boolean {
  const deadline = Date.now() + MOUNT_LOCK_TIMEOUT_MS;
  for (let wait = 1; ; wait = Math.min(wait * 2, 50)) {
    const rc = c.flock(fd, c.LOCK_EX | c.LOCK_NB);
    if (rc === 0) return true;
    if (rc !== -c.E.EWOULDBLOCK) refuse(`failed to lock ${MOUNT_LOCK}: ${c.strerror(-rc)}`);
    if (Date.now() >= deadline) return false;
    c.sleepMs(wait);
  }
}

// Count and attach as one step. Counting and then mounting lets concurrent
// helpers all see room for one more; under this lock the count a helper sees
// includes every mount made before it. The lock is taken with a deadline;
// nothing caller-controlled
// happens inside: mount(2) of an unserved fd, or fsmount + move_mount. The
// caller cannot stop us meanwhile: the whole run has real uid 0 (creds.ts).
function withinMountMax<T>(ctx: Ctx, p: Prepared, attach: () => T): T {
  if (isRootCaller(ctx.who.caller) || p.mountMax === -1) return attach();
  return ctx.who.asRoot(() => {
    const fd = openMountLock();
    try {
      if (!takeLock(fd)) {
        throw new Refusal(`timed out after ${MOUNT_LOCK_TIMEOUT_MS / 1000} seconds waiting for ${MOUNT_LOCK}`, { outcome: "failed" });
      }
      const count = countFuseMountsNow();
      if (count >= p.mountMax) throw tooMany(count, p.mountMax, "failed");
      return attach();
    } finally {
      c.close(fd); // releases the lock
    }
  });
}

// ---- the mountpoint ----------------------------------------------------------------

const USE_YOUR_OWN = "mount on a directory you own and can write to (for example mkdir ~/mnt)";

// libfuse's check_perm, done as the caller on the pinned parent. Returns the
// pinned inode (the mount goes onto it) and its type.
// opened.pinFd: the pin as soon as it is open, for the caller to close on a refusal.
function checkMountpoint(ctx: Ctx, m: Mountpoint, opened: { pinFd: number }): { pinFd: number; rootmode: number } {
  const mnt = m.path;
  const st = m.parentFd < 0 ? m.parentFd : c.lstatAt(m.parentFd, m.last);
  if (typeof st === "number") refuse(`failed to access mountpoint ${mnt}: ${c.strerror(-st)}`);

  if (isRootCaller(ctx.who.caller)) {
    const pin = c.tryOpenat(m.parentFd, m.last, c.O.PATH);
    if (pin < 0) refuse(`failed to pin mountpoint ${mnt}: ${c.strerror(-pin)}`);
    opened.pinFd = pin;
    const pst = c.fstat(pin);
    if (typeof pst === "number") refuse(`failed to pin mountpoint ${mnt}: ${c.strerror(-pst)}`);
    return { pinFd: pin, rootmode: pst.mode & c.S.IFMT };
  }

  let pinFd: number;
  let rootmode: number;
  const type = st.mode & c.S.IFMT;
  if (type === c.S.IFDIR) {
    pinFd = c.openat2(m.parentFd, m.last, c.O.PATH | c.O.DIRECTORY | c.O.NOFOLLOW, NO_LINKS);
    if (pinFd < 0) refuse(`failed to pin mountpoint ${mnt}: ${c.strerror(-pinFd)}`);
    opened.pinFd = pinFd;
    const here = c.fstat(pinFd);
    if (typeof here === "number" || here.ino !== st.ino || here.dev !== st.dev) {
      refuse(`failed to pin mountpoint ${mnt}: ${c.strerror(c.E.ENOENT)}`);
    }
    // Inside the directory, as libfuse is: the search permission is checked on
    // the way in; write permission is judged by our (lowered) credentials,
    // which are exactly the caller's.
    const rc = c.fchdir(pinFd);
    if (rc < 0) refuse(`failed to chdir to mountpoint: ${c.strerror(-rc)}`);
    if ((here.mode & c.S.ISVTX) && here.uid !== ctx.who.caller.uid) {
      throw new Refusal(`mountpoint ${mnt} not owned by user`, { hint: USE_YOUR_OWN });
    }
    if (c.accessAsCurrent(".", c.W_OK) < 0) throw new Refusal(`user has no write access to mountpoint ${mnt}`, { hint: USE_YOUR_OWN });
    c.chdir("/");
    rootmode = c.S.IFDIR;
  } else if (type === c.S.IFREG) {
    pinFd = c.openat2(m.parentFd, m.last, c.O.WRONLY | c.O.NOFOLLOW | c.O.NOCTTY | c.O.NONBLOCK, NO_LINKS);
    if (pinFd < 0) refuse(`failed to open ${mnt}: ${c.strerror(-pinFd)}`);
    opened.pinFd = pinFd;
    const pst = c.fstat(pinFd);
    if (typeof pst === "number" || (pst.mode & c.S.IFMT) !== c.S.IFREG) refuse(`mountpoint ${mnt} is no longer a regular file`);
    rootmode = c.S.IFREG;
  } else {
    return refuse(`mountpoint ${mnt} is not a directory or a regular file`);
  }

  const magic = c.statfsType(pinFd);
  if (typeof magic === "number") refuse(`failed to access mountpoint ${mnt}: ${c.strerror(-magic)}`);
  if (!ALLOWED_MOUNTPOINT_FS.has(magic)) refuse(`mounting over filesystem type ${fsMagicHex(magic)} is forbidden`);
  return { pinFd, rootmode };
}

// ---- the caller's own dead mount -----------------------------------------------------

// A FUSE mount of the caller's whose server is gone makes every new mount
// there fail ("Transport endpoint is not connected") until they run
// `fusermount3 -uz`. When exactly that sits on top of the target (the
// kernel's word for owner and type, the probe's, run as the caller, for
// dead), detach it first, as -uz would, and say so. It grants nothing the
// caller could not do with -uz; anything else at the target is left alone.
function recoverDeadMount(ctx: Ctx, m: Mountpoint): void {
  if (m.parentFd < 0) return;
  const top = kernelTopMount(m.parentFd, m.last, m.path);
  if (top === UNSUPPORTED || top === undefined) return;
  if (!isFuseType(top.type) || !ownsByOptions(top.fsOptions, ctx.who.caller.uid)) return;
  if (!connectionIsDead(ctx.who, m.path, { probes: 1 })) return;
  const rc = c.fchdir(m.parentFd);
  // Detach exactly the mount that was judged: still the top one at the path.
  const still = rc === 0 ? kernelTopMount(c.AT_FDCWD, m.last, m.path) : undefined;
  const detached = still !== UNSUPPORTED && still?.id === top.id
    ? ctx.who.withAdmin(() => c.umount2(m.last, c.MNT_DETACH | c.UMOUNT_NOFOLLOW))
    : -c.E.EBUSY;
  c.chdir("/");
  if (detached !== 0) return;
  ctx.say.warn(`note: detached your dead FUSE filesystem at ${m.path} (its server is gone) before mounting`);
  // Its record goes with it, whether or not the new mount then succeeds.
  if (mtabNeedsUpdate(ctx, m.path)) removeMountRecord(ctx, m.path);
}

// ---- prepare: all checks, in libfuse's order --------------------------------------

// Throws a Refusal with nothing mounted and, for --sync-init, nothing sent.
export function prepareMount(ctx: Ctx, m: Mountpoint, opts: string, envDevice: string | undefined, syncInit: boolean): Prepared {
  const { device, fuseFd } = openDevice(ctx, envDevice);
  const opened = { pinFd: -1, fsFd: -1 };
  try {
    return checkAndPlan(ctx, m, opts, device, fuseFd, syncInit, opened);
  } catch (e) {
    // What a refused request opened goes with it (the service's threads serve
    // the next request in this same process).
    for (const fd of [fuseFd, opened.pinFd, opened.fsFd]) if (fd >= 0) c.close(fd);
    throw e;
  }
}

function checkAndPlan(ctx: Ctx, m: Mountpoint, opts: string, device: string, fuseFd: number, syncInit: boolean,
  opened: { pinFd: number; fsFd: number }): Prepared {
  const who = ctx.who.caller;
  const root = isRootCaller(who);
  const conf = readConf(ctx);
  if (!root && conf.mountMax !== -1) {
    const count = countFuseMountsNow();
    if (count >= conf.mountMax) throw tooMany(count, conf.mountMax);
  }
  const { regular, x } = splitXOptions(opts);
  // Decided now (pure), reported after the mountpoint checks as libfuse does;
  // a dead mount is only cleared for a request that will not be refused.
  const policy = applyOptionPolicy(regular, { isRoot: root, userAllowOther: conf.userAllowOther, confPath: FUSE_CONF });
  const xRefusal = checkXOptions(x);
  if (policy.ok && !xRefusal) recoverDeadMount(ctx, m);
  const { pinFd, rootmode } = checkMountpoint(ctx, m, opened);

  for (const w of policy.warnings) ctx.say.warn(w);
  if (!policy.ok && policy.needsUserAllowOther) {
    throw new Refusal(policy.error, { hint: `to allow it, an administrator adds the line 'user_allow_other' to ${FUSE_CONF}` });
  }
  if (!policy.ok) refuse(policy.error);
  if (xRefusal) refuse(xRefusal);

  const userName = root ? undefined : ctx.audit.callerName();
  const plan = planMount({ request: policy.request, fuseFd, rootmode, uid: who.uid, gid: who.gid, device, userName, xOptions: x });
  const long = dataTooLong(plan, who.gid, c.sysconf(c.SC_PAGESIZE));
  if (long.tooLong) {
    ctx.say.warn("mount options too long");
    if (long.twice) ctx.say.warn("mount options too long");
    refuse(`mount failed: ${c.strerror(c.E.EINVAL)}`);
  }
  if (!root && userName === undefined) refuse("could not determine username");

  // --sync-init needs the new mount API: mount(2) onto an armed fd would wait
  // for FUSE_INIT with no way to bound it. Known before the fd goes out.
  let fsFd = -1;
  if (syncInit) {
    fsFd = ctx.who.withAdmin(() => c.fsopen(plan.blkdev ? "fuseblk" : "fuse"));
    opened.fsFd = fsFd;
    if (fsFd === -c.E.ENOSYS) {
      refuse("--sync-init needs the kernel's new mount API (fsopen), which is not available here: mount without --sync-init");
    }
    if (fsFd < 0) refuse(`mount failed: ${c.strerror(-fsFd)}`);
  }
  return { mountpoint: m, device, fuseFd, pinFd, plan, mountMax: conf.mountMax, fsFd };
}

// ---- attach --------------------------------------------------------------------------

// mountFd: an fd of the new mount's root (fsmount's fd, or an O_PATH fd after
// mount(2)), through which exactly this mount can be found or undone.
export type Attached = { mountFd: number; identity: MountIdentity; type: string; source: string };

function attachError(p: Prepared, errno: number): Refusal {
  if (p.plan.blkdev && errno === c.E.ENODEV && fuseblkMissing()) return new Refusal("'fuseblk' support missing", { outcome: "failed", errno });
  return new Refusal(`mount failed: ${c.strerror(errno)}`, { outcome: "failed", errno });
}

// The mount's root, reached from the pinned parent without following links.
function openMountRoot(p: Prepared): number {
  return c.openat2(p.mountpoint.parentFd, p.mountpoint.last, c.O.PATH | c.O.NOFOLLOW, NO_LINKS);
}

// The classic protocol mounts with mount(2), as libfuse does: its option data
// may be a page long (fsconfig() values stop at 255 bytes) and the kernel judges
// it the same way. The target is always the checked inode's own fd link.
export function attachWithMount2(ctx: Ctx, p: Prepared): Attached {
  const plan = p.plan;
  const target = c.fdPath(p.pinFd);
  return withinMountMax(ctx, p, () => {
    let { type, source } = plan;
    let rc = ctx.who.withAdmin(() => c.mount(source, target, type, plan.flags, plan.data));
    if (rc === -c.E.ENODEV && plan.hasSubtype) {
      ({ type, source } = plan.legacy);
      rc = ctx.who.withAdmin(() => c.mount(source, target, type, plan.flags, plan.data));
    }
    if (rc < 0) {
      if (rc === -c.E.EPERM && !ctx.who.privileged) {
        throw new Refusal(`mount failed: ${c.strerror(-rc)}`, {
          outcome: "failed", errno: -rc,
          hint: "fusermount3 is not running as root: its launcher must be set-uid root on a filesystem not mounted nosuid (see fusermount3 --check)",
        });
      }
      throw attachError(p, -rc);
    }
    // The pin has done its job; its fd may be needed to find the new mount when
    // the caller left us almost none (RLIMIT_NOFILE).
    c.close(p.pinFd);
    p.pinFd = -1;
    const mountFd = openMountRoot(p);
    return { mountFd, identity: mountFd >= 0 ? identityOfFd(mountFd) : {}, type, source };
  });
}

// The new mount API: the superblock is configured on the fs context opened in
// prepareMount, created with the FUSE_INIT wait inside CMD_CREATE bounded
// (sync init), then attached to the pinned inode by fd.
export function attachWithNewApi(ctx: Ctx, p: Prepared, watchCommFd: number): Attached {
  const plan = p.plan;
  const fsfd = p.fsFd;
  let { type, source } = plan;
  const config = (key: string, value?: string): number => ctx.who.withAdmin(() => value === undefined
    ? c.fsconfig(fsfd, c.FSCONFIG.SET_FLAG, key)
    : c.fsconfig(fsfd, c.FSCONFIG.SET_STRING, key, value));
  if (plan.subtype !== undefined) {
    const rc = config("subtype", plan.subtype);
    if (rc === -c.E.ENOPARAM || rc === -c.E.EINVAL || rc === -c.E.EOPNOTSUPP) ({ type, source } = plan.legacy);
    else if (rc < 0) throw attachError(p, -rc);
  }
  const steps: Array<[string, string | undefined]> = [["source", source]];
  for (const f of plan.superblockFlags) steps.push([f, undefined]);
  steps.push(...plan.params);
  for (const [key, value] of steps) {
    const rc = config(key, value);
    if (rc < 0) throw attachError(p, -rc);
  }
  const watch = watchInit(watchCommFd, INIT_TIMEOUT_SECONDS);
  const created = ctx.who.withAdmin(() => c.fsconfig(fsfd, c.FSCONFIG.CMD_CREATE));
  watch.done();
  if (created < 0) throw attachError(p, -created);
  // Only attaching counts against mount_max, so only this part is locked;
  // the FUSE_INIT exchange above may take as long as the server likes.
  return withinMountMax(ctx, p, () => {
    const mountFd = ctx.who.withAdmin(() => c.fsmount(fsfd, plan.attributes));
    if (mountFd < 0) throw attachError(p, -mountFd);
    const moved = ctx.who.withAdmin(() => c.moveMountToFd(mountFd, p.pinFd));
    if (moved < 0) { c.close(mountFd); throw attachError(p, -moved); }
    return { mountFd, identity: identityOfFd(mountFd), type, source };
  });
}

function fuseblkMissing(): boolean {
  const f = c.readFile("/proc/filesystems");
  return typeof f !== "number" && !f.toString("latin1").includes("fuseblk\n");
}

// Where the mount is now, from the kernel (the path of its root in our
// namespace), or undefined when that cannot be told.
export function mountedPathNow(a: Attached): string | undefined {
  if (a.mountFd < 0) return undefined;
  const p = c.readlink(c.fdPath(a.mountFd));
  return typeof p === "number" ? undefined : p;
}

// Undo a mount nobody will serve: through its own root fd, exactly that mount,
// whatever the path now names. Our fds go first: a caller may have left us
// almost none, and the cleanup must not fail for that.
export function undoMount(ctx: Ctx, p: Prepared, a: Attached): void {
  for (const fd of [p.fuseFd, p.pinFd, p.fsFd]) if (fd >= 0) c.close(fd);
  p.fuseFd = p.pinFd = p.fsFd = -1;
  if (a.mountFd < 0) {
    ctx.say.fuse("cleanup umount failed: the new mount could not be found again; unmount it with fusermount3 -u");
    return;
  }
  const rc = ctx.who.withAdmin(() => c.umount2(c.fdPath(a.mountFd), c.MNT_DETACH));
  if (rc < 0 && rc !== -c.E.EINVAL) ctx.say.fuse(`cleanup umount failed: ${c.strerror(-rc)}`);
  c.close(a.mountFd);
  a.mountFd = -1;
}

export function closePrepared(p: Prepared): void {
  for (const fd of [p.fuseFd, p.pinFd, p.fsFd, p.mountpoint.parentFd]) if (fd >= 0) c.close(fd);
  p.fuseFd = p.pinFd = p.fsFd = p.mountpoint.parentFd = -1;
}
