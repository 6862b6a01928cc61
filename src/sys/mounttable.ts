// The kernel's mount table. Two ways to ask it:
//  - about one mount, by identity: the unique mount ID of whatever a walk from a
//    pinned directory ends on (name_to_handle_at) and statmount() of that ID:
//    constant cost whatever the size of the table, and no filesystem is asked
//    anything (a dead FUSE server cannot stall it);
//  - the whole /proc/self/mountinfo, read without a size cap (thousands of
//    mounts, names of 4 KiB with every byte escaped), where the kernel lacks
//    those calls, and for counting.
// A table we failed to read is never an empty one: a read failure is a Refusal.

import * as c from "./libc.ts";
import {
  parseMountinfo, countFuseMountsInText, fullFsType, topMountAt, ownedBy, isFuseType, ownsByOptions, type MountEntry,
} from "../policy/mountinfo.ts";
import { Refusal } from "../policy/refusal.ts";

export const MOUNTINFO = "/proc/self/mountinfo";

export function readMountTableText(): string {
  const text = c.readFile(MOUNTINFO);
  if (typeof text === "number") throw new Refusal(`failed to read ${MOUNTINFO}: ${c.strerror(-text)}`);
  return text.toString("utf8");
}

export function readMountTable(): MountEntry[] {
  return parseMountinfo(readMountTableText());
}

// What mount_max limits: fuse and fuse.* mounts of all users.
export function countFuseMountsNow(): number {
  return countFuseMountsInText(readMountTableText());
}

// The mount an fd sits on (the old, reusable ID mountinfo shows), without
// asking a FUSE server anything.
export function mountIdOfFd(fd: number): number | undefined {
  const id = c.mountIdOf(fd);
  return typeof id === "number" ? undefined : Number(id);
}

// The mount a walk from `dirFd` to `last` ends on (old ID), without following
// a final symlink.
export function mountIdAt(dirFd: number, last: string): number | undefined {
  const fd = c.tryOpenat(dirFd, last, c.O.PATH | c.O.NOFOLLOW);
  if (fd < 0) return undefined;
  const id = mountIdOfFd(fd);
  c.close(fd);
  return id;
}

// Who a mount is, as far as the helper cares.
export type MountIdentity = { unique?: bigint; old?: number };

export type KernelTop = { id: bigint; oldId: number; type: string; source: string; mountPoint: string; fsOptions: string };

// The kernel lacks unique mount IDs or statmount() (before 6.12 / 6.8).
export const UNSUPPORTED = "unsupported" as const;
// Known once for the kernel (the flag or the syscall is missing: EINVAL,
// ENOSYS); never from what one filesystem says (EOPNOTSUPP: no file handles
// there), which would change the answers for every later request a service
// thread serves.
let supported: boolean | undefined;

// The mount on top at `path` (reached as parentFd/last), or undefined when no
// mount has its mount point exactly there (the walk ends on the filesystem
// that holds `last`).
export function kernelTopMount(parentFd: number, last: string, path: string): KernelTop | undefined | typeof UNSUPPORTED {
  if (supported === false) return UNSUPPORTED;
  const id = c.uniqueMountIdAt(parentFd, last);
  if (id === -c.E.EINVAL || id === -c.E.ENOSYS) { supported = false; return UNSUPPORTED; }
  if (id === -c.E.EOPNOTSUPP) return UNSUPPORTED;
  if (typeof id === "number") return undefined;
  const info = kernelMount(id);
  if (info === UNSUPPORTED) return UNSUPPORTED;
  return info && info.mountPoint === path ? info : undefined;
}

export function kernelMount(id: bigint): KernelTop | undefined | typeof UNSUPPORTED {
  const m = c.statmount(id);
  if (m === -c.E.ENOSYS) { supported = false; return UNSUPPORTED; }
  if (typeof m === "number") return undefined; // ENOENT: that mount is gone
  supported = true;
  return { id: m.id, oldId: m.oldId, type: fullFsType(m.fsType, m.subtype), source: m.source, mountPoint: m.mountPoint, fsOptions: m.fsOptions };
}

// The identity of a mount whose root an fd is on.
export function identityOfFd(fd: number): MountIdentity {
  const unique = c.uniqueMountIdAt(fd, "");
  const old = mountIdOfFd(fd);
  return { ...(typeof unique === "bigint" ? { unique } : {}), ...(old !== undefined ? { old } : {}) };
}

// The mount on top at `path`, reached as dirFd/last, for the questions -u and
// the watchdog ask: from the kernel (unique ID) where it can, else from the
// table text (the table's ID), which is read before the path is touched (an
// automount trigger, say). The same shape either way.
export type TopMount = {
  readonly id: bigint | number;
  readonly type: string;
  // The caller's FUSE mount: `user_id=` from the kernel; the table also
  // knows libfuse's legacy `user=<name>` record.
  ownedBy(uid: number, userName: string | undefined): boolean;
  // The mount with this identity (any, when the identity is empty).
  is(identity: MountIdentity | undefined): boolean;
};

export function topMount(dirFd: number, last: string, path: string): TopMount | undefined {
  const k = kernelTopMount(dirFd, last, path);
  if (k === undefined) return undefined;
  if (k !== UNSUPPORTED) {
    return {
      id: k.id, type: k.type,
      ownedBy: (uid) => isFuseType(k.type) && ownsByOptions(k.fsOptions, uid),
      is: (identity) => identity?.unique === undefined || identity.unique === k.id,
    };
  }
  const e = topMountAt(readMountTable(), path);
  if (!e) return undefined;
  return {
    id: e.id, type: e.fsType,
    ownedBy: (uid, userName) => ownedBy(e, uid, userName),
    is: (identity) => identity?.old === undefined || identity.old === e.id,
  };
}

// Is `top` still the mount a walk from dirFd to last ends on? The re-check,
// from the verified parent, right before acting on it.
export function isStillTop(dirFd: number, last: string, path: string, top: TopMount): boolean {
  if (typeof top.id === "number") return mountIdAt(dirFd, last) === top.id;
  const now = kernelTopMount(dirFd, last, path);
  return now !== UNSUPPORTED && now?.id === top.id;
}
