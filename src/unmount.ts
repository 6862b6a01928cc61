// Unmounting (`-u`): ownership from the kernel's mount table (read whole; a
// table we cannot read is a refusal, never "not found"), then umount2 of the
// final component relative to the pinned parent, never following a symlink, as
// the caller with CAP_SYS_ADMIN only.

import * as c from "./sys/libc.ts";
import type { Ctx } from "./context.ts";
import { isRootCaller } from "./sys/creds.ts";
import { topMount, isStillTop, type MountIdentity } from "./sys/mounttable.ts";
import { chdirToParent, type Mountpoint } from "./resolve.ts";
import { mtabNeedsUpdate, removeMountRecord } from "./mtab.ts";

const MTAB = "/etc/mtab";

function lockMtab(ctx: Ctx): number {
  const st = c.lstat(MTAB);
  if (typeof st !== "number" && (st.mode & c.S.IFMT) === c.S.IFLNK) return -1;
  return ctx.who.asRoot(() => {
    const fd = c.tryOpen(`${MTAB}.fuselock`, c.O.RDWR | c.O.CREAT | c.O.NOFOLLOW, 0o600);
    if (fd < 0) { ctx.say.warn(`unable to open fuse lock file: ${c.strerror(-fd)}`); return -1; }
    const rc = c.lockf(fd, true);
    if (rc < 0) ctx.say.warn(`error getting lock: ${c.strerror(-rc)}`);
    return fd;
  });
}

function unlockMtab(ctx: Ctx, fd: number): void {
  if (fd < 0) return;
  const rc = c.lockf(fd, false);
  if (rc < 0) ctx.say.warn(`error releasing lock: ${c.strerror(-rc)}`);
  c.close(fd);
}

export type UnmountOptions = {
  quiet: boolean;
  lazy: boolean;
  // The watchdog passes the mount it made: only that mount may be removed.
  identity?: MountIdentity;
};

// The exit code, and the line that explains a failure (for the audit trail).
export type UnmountResult = { code: 0 } | { code: 1; reason: string };

// Messages are libfuse's; quiet (-q) suppresses them, not the result.
export function unmount(ctx: Ctx, m: Mountpoint, o: UnmountOptions): UnmountResult {
  const fail = (reason: string): UnmountResult => { if (!o.quiet) ctx.say.warn(reason); return { code: 1, reason }; };
  const mnt = m.path;
  const flags = o.lazy ? c.MNT_DETACH : 0;
  if (!ctx.who.privileged) {
    // Not installed set-uid: the kernel decides (root in a user namespace, …).
    const rc = c.umount2(mnt, flags);
    return rc < 0 ? fail(`failed to unmount ${mnt}: ${c.strerror(-rc)}`) : { code: 0 };
  }

  const root = isRootCaller(ctx.who.caller);
  let user: string | undefined;
  if (!root) {
    user = ctx.audit.callerName();
    if (user === undefined) return fail("could not determine username");
  }
  const lock = lockMtab(ctx);
  try {
    // The mount on top of the path must be the caller's (or, for the watchdog,
    // the one it made): the top one, not the first table entry, so that nobody
    // removes a mount stacked on theirs (src/sys/mounttable.ts topMount: the
    // kernel's word where it has the calls, constant cost whatever the table's
    // size). Checked first (libfuse's order and messages), then again from the
    // verified parent right before the unmount.
    const checking = !root || o.identity !== undefined;
    const notFound = () => fail(`entry for ${mnt} not found in ${MTAB}`);
    const top = m.parentFd < 0 ? undefined : topMount(m.parentFd, m.last, mnt);
    const ok = top !== undefined && (root || top.ownedBy(ctx.who.caller.uid, user)) && top.is(o.identity);
    if (checking && !ok) return notFound();
    const at = chdirToParent(m);
    if ("error" in at) return fail(at.error);
    if (checking && !isStillTop(c.AT_FDCWD, m.last, mnt, top!)) return notFound();
    const rc = ctx.who.withAdmin(() => c.umount2(m.last, flags | c.UMOUNT_NOFOLLOW));
    c.chdir("/");
    if (rc < 0) return fail(`failed to unmount ${mnt}: ${c.strerror(-rc)}`);
    // The unmount is done. A record (if there is one: a mount may have been
    // made without, see handover.ts) that /bin/umount refuses to remove fails
    // the run, as in libfuse; one it cannot remove in time (libmount's lock
    // held by someone) is reported and left, never waited for.
    if (mtabNeedsUpdate(ctx, mnt) && removeMountRecord(ctx, mnt) === "failed") {
      return { code: 1, reason: `failed to remove the mount table record of ${mnt}` };
    }
    return { code: 0 };
  } finally {
    c.chdir("/");
    unlockMtab(ctx, lock);
  }
}
