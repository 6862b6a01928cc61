// Unmounting (`-u`): ownership from the kernel's mount table, then umount2 of the
// final component relative to the verified parent directory, never following a
// symlink, with the caller's fsuid.

import * as c from "./sys/libc.ts";
import { caller, warn, dropPrivs, restorePrivs } from "./sys/process.ts";
import { parseMountinfo, topMountAt, ownedBy, type MountEntry } from "./mountinfo.ts";
import { splitParent } from "./paths.ts";
import { mtabNeedsUpdate, removeMountRecord } from "./mtab.ts";

const MTAB = "/etc/mtab";

// chdir to the parent and make sure it is still the directory the path named
// (libfuse's chdir_to_parent). Returns the final component, or undefined after
// printing why not.
export function chdirToParent(mnt: string): string | undefined {
  const split = splitParent(mnt);
  if (!split) { warn(`internal error: invalid abs path: <${mnt}>`); return undefined; }
  const rc = c.chdir(split.parent);
  if (rc < 0) { warn(`failed to chdir to ${split.parent}: ${c.strerror(-rc)}`); return undefined; }
  const cwd = c.getcwd();
  if (typeof cwd === "number") { warn(`failed to obtain current directory: ${c.strerror(-cwd)}`); return undefined; }
  if (cwd !== split.parent) { warn(`mountpoint moved (${split.parent} -> ${cwd})`); return undefined; }
  return split.last;
}

export function readMountTable(): MountEntry[] {
  const text = c.readFile("/proc/self/mountinfo");
  return typeof text === "number" ? [] : parseMountinfo(text.toString("utf8"));
}

// The mount a path walk from the current directory to `last` ends on, without
// following a final symlink and without asking the FUSE server anything.
export function mountIdAt(last: string): number | undefined {
  const fd = c.tryOpenat(c.AT_FDCWD, last, c.O.PATH | c.O.NOFOLLOW);
  if (fd < 0) return undefined;
  const id = c.mountIdOf(fd);
  c.close(fd);
  return typeof id === "number" ? undefined : Number(id);
}

function lockMtab(): number {
  const st = c.lstat(MTAB);
  if (typeof st !== "number" && (st.mode & c.S.IFMT) === c.S.IFLNK) return -1;
  const fd = c.tryOpen(`${MTAB}.fuselock`, c.O.RDWR | c.O.CREAT, 0o600);
  if (fd < 0) { warn(`unable to open fuse lock file: ${c.strerror(-fd)}`); return -1; }
  const rc = c.lockf(fd, true);
  if (rc < 0) warn(`error getting lock: ${c.strerror(-rc)}`);
  return fd;
}

function unlockMtab(fd: number): void {
  if (fd < 0) return;
  const rc = c.lockf(fd, false);
  if (rc < 0) warn(`error releasing lock: ${c.strerror(-rc)}`);
  c.close(fd);
}

export type UnmountOptions = {
  quiet: boolean;
  lazy: boolean;
  // The watchdog passes the mount it made: only that mount may be removed.
  mountId?: number;
  // false when undoing a mount whose table record was never written.
  record?: boolean;
};

// Returns the exit code.
export function unmount(mnt: string, o: UnmountOptions): number {
  const flags = o.lazy ? c.MNT_DETACH : 0;
  if (c.geteuid() !== 0) {
    // Not installed set-uid: the kernel decides (root in a user namespace, …).
    const rc = c.umount2(mnt, flags);
    if (rc < 0 && !o.quiet) warn(`failed to unmount ${mnt}: ${c.strerror(-rc)}`);
    return rc < 0 ? 1 : 0;
  }

  const lock = lockMtab();
  try {
    let user: string | undefined;
    if (!caller.isRoot) {
      user = c.userName(caller.uid);
      if (user === undefined) { warn("could not determine username"); return 1; }
    }
    // The mount on top of the path must be the caller's (or, for the watchdog,
    // the one it made): the top one, not the first table entry, so that nobody
    // removes a mount stacked on theirs. Checked by path first (libfuse's
    // order and messages), then again, race-free, from the verified parent.
    const checking = !caller.isRoot || o.mountId !== undefined;
    const permitted = (top: MountEntry | undefined): top is MountEntry =>
      top !== undefined && (caller.isRoot || ownedBy(top, caller.uid, user)) &&
      (o.mountId === undefined || o.mountId === top.id);
    const notFound = () => { if (!o.quiet) warn(`entry for ${mnt} not found in ${MTAB}`); return 1; };
    const top = topMountAt(readMountTable(), mnt);
    if (checking && !permitted(top)) return notFound();
    dropPrivs();
    let rc: number;
    try {
      const last = chdirToParent(mnt);
      if (last === undefined) return 1;
      if (checking && mountIdAt(last) !== top!.id) return notFound();
      rc = c.umount2(last, flags | c.UMOUNT_NOFOLLOW);
    } finally {
      restorePrivs();
    }
    if (rc < 0) {
      if (!o.quiet) warn(`failed to unmount ${mnt}: ${c.strerror(-rc)}`);
      return 1;
    }
    c.chdir("/");
    if (o.record !== false && mtabNeedsUpdate(mnt) && !removeMountRecord(mnt)) return 1;
    return 0;
  } finally {
    c.chdir("/");
    unlockMtab(lock);
  }
}
