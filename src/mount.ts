// Mounting: every check first (device, fuse.conf, mount_max, options,
// mountpoint), then one attach onto the pinned mountpoint. Used by the classic
// protocol (mount, then send the fd) and by --sync-init (send the fd, wait for
// proceed, then mount), which is why checking and attaching are separate steps.

import * as c from "./sys/libc.ts";
import { caller, die, dieWithHint, warn, warnFuse, dropPrivs, restorePrivs } from "./sys/process.ts";
import { parseFuseConf, FUSE_CONF, CONF_OPEN_SOFT_ERRNOS, type FuseConf } from "./fuseconf.ts";
import { parseMountinfo, countFuseMounts, topMountAt } from "./mountinfo.ts";
import {
  splitXOptions, applyOptionPolicy, checkXOptions, kernelData, kernelParams, fsType, fsSource,
  legacySubtypeFallback, mountAttributes, superblockFlags, mountRecord, type MountRequest,
} from "./options.ts";
import { ALLOWED_MOUNTPOINT_FS, fsMagicHex } from "./paths.ts";
import { watchInit } from "./sys/initwatch.ts";
import { unmount } from "./unmount.ts";
import { removeMountRecord, mtabNeedsUpdate, addMountRecord } from "./mtab.ts";
import { INIT_TIMEOUT_SECONDS } from "../protocol/wire.ts";

const DEFAULT_DEVICE = "/dev/fuse";
const MOUNT_LOCK = "/run/fusermount3.lock";

export type Prepared = {
  mnt: string; // resolved absolute path, for messages and the mount table
  device: string;
  fuseFd: number;
  pinFd: number; // the checked mountpoint inode; the mount goes onto it
  rootmode: number;
  request: MountRequest;
  xOptions: string;
  mountMax: number; // from fuse.conf; -1 = unlimited (and root is never limited)
};

// FUSE_KERN_DEVICE, validated as libfuse master does, but looked at with the
// caller's fsuid so that it reveals nothing the caller could not see.
function deviceName(envDevice: string | undefined): string {
  if (envDevice === undefined) return DEFAULT_DEVICE;
  if (!envDevice.startsWith("/dev/")) {
    warnFuse(`invalid device name from FUSE_KERN_DEVICE: ${envDevice} (must start with /dev/)`);
    return DEFAULT_DEVICE;
  }
  const st = c.stat(envDevice);
  if (typeof st !== "number" && (st.mode & c.S.IFMT) !== c.S.IFCHR) {
    warnFuse(`invalid device from FUSE_KERN_DEVICE: ${envDevice} (not a character device)`);
    return DEFAULT_DEVICE;
  }
  return envDevice;
}

function openDevice(dev: string): number {
  const fd = c.tryOpen(dev, c.O.RDWR);
  if (fd === -c.E.ENODEV || fd === -c.E.ENOENT) {
    dieWithHint(`fuse device ${dev} not found. Kernel module not loaded?`, "load it with 'modprobe fuse' (as root)");
  }
  if (fd < 0) die(`failed to open ${dev}: ${c.strerror(-fd)}`);
  return fd;
}

// /etc/fuse.conf as libfuse reads it. Returns the settings, or why reading
// failed: "open" errors other than ENOENT and the soft ones, or a read error.
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

export function readConf(): FuseConf {
  const { conf, fatal, openError } = loadConf();
  if (openError) {
    warn(openError);
    if (fatal === openError) return c.exit(1);
  }
  for (const m of conf.messages) warn(m);
  if (fatal) die(fatal);
  return conf;
}

// For --check: every complaint becomes a message, nothing exits.
export function readConfQuiet(): FuseConf {
  const { conf, fatal, openError } = loadConf();
  if (openError) conf.messages.unshift(openError);
  if (fatal && fatal !== openError) conf.messages.push(fatal);
  return conf;
}

export function countUserVisibleFuseMounts(): number {
  const text = c.readFile("/proc/self/mountinfo");
  if (typeof text === "number") {
    warn(`failed to open /proc/self/mountinfo: ${c.strerror(-text)}`);
    return -1; // libfuse: a count error never blocks the mount
  }
  return countFuseMounts(parseMountinfo(text.toString("utf8")));
}

const TOO_MANY = `too many FUSE filesystems mounted; mount_max=N can be set in ${FUSE_CONF}`;

// Count and mount as one step. Counting and then mounting lets concurrent
// helpers all see room for one more; under this lock (a root-only file in
// /run, flock()ed, so no user can hold it) the count a helper sees includes
// every mount made before it. Returns false when the limit is reached.
// Nothing caller-controlled happens while the lock is held: the classic mount
// and the sync-init CMD_CREATE-bounded attach.
function withinMountMax<T>(p: Prepared, attach: () => T): { ok: true; value: T } | { ok: false } {
  if (caller.isRoot || p.mountMax === -1) return { ok: true, value: attach() };
  const fd = c.tryOpen(MOUNT_LOCK, c.O.RDWR | c.O.CREAT | c.O.NOFOLLOW | c.O.NOCTTY, 0o600);
  if (fd >= 0) c.flock(fd, c.LOCK_EX);
  try {
    const count = countUserVisibleFuseMounts();
    if (count >= p.mountMax) return { ok: false };
    return { ok: true, value: attach() };
  } finally {
    if (fd >= 0) c.close(fd); // releases the lock
  }
}

// libfuse's check_perm, done as the caller. Returns the pinned inode and its type.
function checkMountpoint(mnt: string): { pinFd: number; rootmode: number } {
  const st = c.lstat(mnt);
  if (typeof st === "number") die(`failed to access mountpoint ${mnt}: ${c.strerror(-st)}`);

  if (caller.isRoot) {
    const pin = c.tryOpen(mnt, c.O.PATH);
    if (pin < 0) die(`failed to pin mountpoint ${mnt}: ${c.strerror(-pin)}`);
    const pst = c.fstat(pin);
    if (typeof pst === "number") die(`failed to pin mountpoint ${mnt}: ${c.strerror(-pst)}`);
    return { pinFd: pin, rootmode: pst.mode & c.S.IFMT };
  }

  let pinFd: number;
  let rootmode: number;
  const type = st.mode & c.S.IFMT;
  if (type === c.S.IFDIR) {
    // From here on the mountpoint is ".", the inode we are in: renaming or
    // replacing path components no longer changes what we check or mount on.
    const rc = c.chdir(mnt);
    if (rc < 0) die(`failed to chdir to mountpoint: ${c.strerror(-rc)}`);
    const here = c.lstat(".");
    if (typeof here === "number") die(`failed to access mountpoint ${mnt}: ${c.strerror(-here)}`);
    const useYourOwn = "mount on a directory you own and can write to (for example mkdir ~/mnt)";
    if ((here.mode & c.S.ISVTX) && here.uid !== caller.uid) dieWithHint(`mountpoint ${mnt} not owned by user`, useYourOwn);
    if (c.access(".", c.W_OK) < 0) dieWithHint(`user has no write access to mountpoint ${mnt}`, useYourOwn);
    pinFd = c.tryOpen(".", c.O.PATH | c.O.DIRECTORY);
    if (pinFd < 0) die(`failed to pin mountpoint ${mnt}: ${c.strerror(-pinFd)}`);
    const pst = c.fstat(pinFd);
    if (typeof pst === "number" || pst.ino !== here.ino || pst.dev !== here.dev) {
      die(`failed to pin mountpoint ${mnt}: ${c.strerror(c.E.ENOENT)}`);
    }
    rootmode = c.S.IFDIR;
  } else if (type === c.S.IFREG) {
    pinFd = c.tryOpen(mnt, c.O.WRONLY | c.O.NOFOLLOW | c.O.NOCTTY | c.O.NONBLOCK);
    if (pinFd < 0) die(`failed to open ${mnt}: ${c.strerror(-pinFd)}`);
    const pst = c.fstat(pinFd);
    if (typeof pst === "number" || (pst.mode & c.S.IFMT) !== c.S.IFREG) die(`mountpoint ${mnt} is no longer a regular file`);
    rootmode = c.S.IFREG;
  } else {
    return die(`mountpoint ${mnt} is not a directory or a regular file`);
  }

  const magic = c.statfsType(pinFd);
  if (typeof magic === "number") die(`failed to access mountpoint ${mnt}: ${c.strerror(-magic)}`);
  if (!ALLOWED_MOUNTPOINT_FS.has(magic)) die(`mounting over filesystem type ${fsMagicHex(magic)} is forbidden`);
  return { pinFd, rootmode };
}

// All checks, in libfuse's order. Dies (exit 1) with nothing mounted and, for
// --sync-init, nothing sent, when any of them fails.
export function prepareMount(mnt: string, opts: string, envDevice: string | undefined): Prepared {
  dropPrivs();
  const device = deviceName(envDevice);
  const fuseFd = openDevice(device);
  const conf = readConf();
  if (!caller.isRoot && conf.mountMax !== -1) {
    const count = countUserVisibleFuseMounts();
    if (count >= conf.mountMax) {
      dieWithHint(TOO_MANY, `${count} FUSE filesystems are mounted and mount_max is ${conf.mountMax}: unmount some, or raise mount_max in ${FUSE_CONF} (as root)`);
    }
  }
  const { regular, x } = splitXOptions(opts);
  const { pinFd, rootmode } = checkMountpoint(mnt);
  restorePrivs();

  const policy = applyOptionPolicy(regular, {
    isRoot: caller.isRoot, userAllowOther: conf.userAllowOther, confPath: FUSE_CONF,
  });
  for (const w of policy.warnings) warn(w);
  if (!policy.ok && policy.error.includes("'user_allow_other'")) {
    dieWithHint(policy.error, `to allow it, an administrator adds the line 'user_allow_other' to ${FUSE_CONF}`);
  }
  if (!policy.ok) die(policy.error);
  const xRefusal = checkXOptions(x);
  if (xRefusal) die(xRefusal);

  // Refuse rather than let the kernel cut group_id=1000 down to group_id=1.
  // libfuse checks again for its retry without group_id; the output matches it.
  const max = c.sysconf(c.SC_PAGESIZE) - 1;
  const data = kernelData(policy.request, { fd: fuseFd, rootmode, uid: caller.uid, gid: caller.gid });
  if (data.length > max) {
    warn("mount options too long");
    if (data.length - `,group_id=${caller.gid}`.length > max) warn("mount options too long");
    die(`mount failed: ${c.strerror(c.E.EINVAL)}`);
  }
  if (!caller.isRoot && c.userName(caller.uid) === undefined) die("could not determine username");
  return { mnt, device, fuseFd, pinFd, rootmode, request: policy.request, xOptions: x, mountMax: conf.mountMax };
}

// mntFd: the new API's mount fd (-1 after mount(2)); mountId: the kernel's ID
// of the new mount when known.
export type Attached =
  | { ok: true; mntFd: number; mountId?: number; type: string; source: string }
  | { ok: false; errno: number; tooMany?: boolean };

// The new mount API: the superblock is configured on an fs context, then the
// mount is attached to the pinned inode by fd (never by path). With
// `watchCommFd`, the FUSE_INIT wait inside CMD_CREATE is bounded (sync init).
export function attachMount(p: Prepared, watchCommFd?: number): Attached {
  const req = p.request;
  const identity = { fd: p.fuseFd, rootmode: p.rootmode, uid: caller.uid, gid: caller.gid };
  const fsfd = c.fsopen(req.blkdev ? "fuseblk" : "fuse");
  if (fsfd === -c.E.ENOSYS) return attachWithMount2(p);
  if (fsfd < 0) return { ok: false, errno: -fsfd };
  try {
    let type = fsType(req);
    let source = fsSource(req, p.device);
    if (req.subtype !== undefined) {
      const rc = c.fsconfig(fsfd, c.FSCONFIG.SET_STRING, "subtype", req.subtype);
      if (rc === -c.E.ENOPARAM || rc === -c.E.EINVAL || rc === -c.E.EOPNOTSUPP) {
        ({ type, source } = legacySubtypeFallback(req));
      } else if (rc < 0) {
        return { ok: false, errno: -rc };
      }
    }
    const steps: Array<[string, string | undefined]> = [["source", source]];
    for (const f of superblockFlags(req.flags)) steps.push([f, undefined]);
    steps.push(...kernelParams(req, identity));
    for (const [key, value] of steps) {
      const rc = value === undefined
        ? c.fsconfig(fsfd, c.FSCONFIG.SET_FLAG, key)
        : c.fsconfig(fsfd, c.FSCONFIG.SET_STRING, key, value);
      if (rc < 0) return { ok: false, errno: -rc };
    }
    const watch = watchCommFd === undefined ? undefined : watchInit(watchCommFd, INIT_TIMEOUT_SECONDS);
    const created = c.fsconfig(fsfd, c.FSCONFIG.CMD_CREATE);
    watch?.done();
    if (created < 0) return { ok: false, errno: -created };
    // Only attaching counts against mount_max, so only this part is locked;
    // the FUSE_INIT exchange above may take as long as the server likes.
    const locked = withinMountMax(p, (): Attached => {
      const mntFd = c.fsmount(fsfd, mountAttributes(req.flags));
      if (mntFd < 0) return { ok: false, errno: -mntFd };
      const moved = c.moveMountToFd(mntFd, p.pinFd);
      if (moved < 0) { c.close(mntFd); return { ok: false, errno: -moved }; }
      const id = c.mountIdOf(mntFd);
      return { ok: true, mntFd, mountId: typeof id === "bigint" ? Number(id) : undefined, type, source };
    });
    return locked.ok ? locked.value : { ok: false, errno: c.E.EPERM, tooMany: true };
  } finally {
    c.close(fsfd);
  }
}

// The classic protocol mounts with mount(2), as libfuse does: its option data
// may be a page long (fsconfig() values stop at 255 bytes) and the kernel judges
// it the same way. The target is the checked inode: "." when we are inside the
// directory, else its /proc/self/fd link. Also used where fsopen() is missing.
export function attachWithMount2(p: Prepared): Attached {
  const locked = withinMountMax(p, () => mount2(p));
  return locked.ok ? locked.value : { ok: false, errno: c.E.EPERM, tooMany: true };
}

function mount2(p: Prepared): Attached {
  const req = p.request;
  const identity = { fd: p.fuseFd, rootmode: p.rootmode, uid: caller.uid, gid: caller.gid };
  const target = !caller.isRoot && p.rootmode === c.S.IFDIR ? "." : `/proc/self/fd/${p.pinFd}`;
  let type = fsType(req);
  let source = fsSource(req, p.device);
  let rc = c.mount(source, target, type, req.flags, kernelData(req, identity));
  if (rc === -c.E.ENODEV && req.subtype !== undefined) {
    ({ type, source } = legacySubtypeFallback(req));
    rc = c.mount(source, target, type, req.flags, kernelData(req, identity));
  }
  if (rc < 0) return { ok: false, errno: -rc };
  // The pin has done its job; its fd may be needed to read the mount table
  // when the caller left us almost none (RLIMIT_NOFILE).
  c.close(p.pinFd);
  p.pinFd = -1;
  return { ok: true, mntFd: -1, mountId: newMountId(p.mnt, type), type, source };
}

// mount(2) gives no handle on the new mount; it is the top one at the path,
// ours if it is FUSE of this type for this user. Only its ID is kept, to tell it
// apart later from whatever else may be mounted there.
function newMountId(mnt: string, type: string): number | undefined {
  const text = c.readFile("/proc/self/mountinfo");
  if (typeof text === "number") return undefined;
  const top = topMountAt(parseMountinfo(text.toString("utf8")), mnt);
  const ours = top && top.fsType === type && top.superOptions.split(",").includes(`user_id=${caller.uid}`);
  return ours ? top.id : undefined;
}

// The one line that says why attaching failed, in libfuse's words.
export function attachFailure(p: Prepared, a: { errno: number; tooMany?: boolean }): string {
  if (a.tooMany) return TOO_MANY;
  if (p.request.blkdev && a.errno === c.E.ENODEV && fuseblkMissing()) return "'fuseblk' support missing";
  return `mount failed: ${c.strerror(a.errno)}`;
}

// Record the mount in the user-space table when there is one (libfuse master's
// rule). "failed" leaves the mount for the caller to undo.
export function recordMount(p: Prepared, a: { type: string; source: string }): "none" | "recorded" | "failed" {
  if (!mtabNeedsUpdate(p.mnt)) return "none";
  const user = caller.isRoot ? undefined : c.userName(caller.uid);
  return addMountRecord(a.source, p.mnt, a.type, mountRecord(p.request, user, p.xOptions)) ? "recorded" : "failed";
}

// Send the /dev/fuse fd (one byte + SCM_RIGHTS). On failure prints libfuse's
// perror line and returns it.
export function handOver(commFd: number, p: Prepared): string | undefined {
  const sent = c.sendFd(commFd, p.fuseFd);
  if (sent === 1) return undefined;
  const why = `sending file descriptor: ${c.strerror(sent < 0 ? -sent : c.E.EIO)}`;
  c.writeAll(2, `${why}\n`);
  return why;
}

function fuseblkMissing(): boolean {
  const f = c.readFile("/proc/filesystems");
  return typeof f !== "number" && !f.toString("latin1").includes("fuseblk\n");
}

// Undo a mount nobody will serve: through its own mount fd (exactly that mount,
// whatever the path now points to), else with the checked unmount, which
// removes it only if the mount on top of the path is still the one we made;
// and its mount-table record, if one was written. Our own fds go first: a
// caller may have left us almost none, and the cleanup must not fail for that.
export function undoMount(p: Prepared, a: { mntFd: number; mountId?: number; type: string }, recorded: boolean): void {
  for (const fd of [p.fuseFd, p.pinFd]) if (fd >= 0) c.close(fd);
  p.fuseFd = p.pinFd = -1;
  if (a.mntFd >= 0) {
    const rc = c.umount2(`/proc/self/fd/${a.mntFd}`, c.MNT_DETACH);
    if (rc < 0 && rc !== -c.E.EINVAL) warnFuse(`cleanup umount failed: ${c.strerror(-rc)}`);
    if (recorded) removeMountRecord(p.mnt);
    return;
  }
  const id = a.mountId ?? newMountId(p.mnt, a.type);
  if (id !== undefined) unmount(p.mnt, { quiet: true, lazy: true, mountId: id, record: recorded });
}
