// The two ways the /dev/fuse fd reaches the FUSE server, side by side, with one
// shared ending.
//
//   classic      prepare → attach (mount(2)) → send fd → finish
//   --sync-init  prepare → send fd → wait for proceed → attach (new mount API,
//                FUSE_INIT answered by the server meanwhile) → status → finish
//
// finish: audit, record the mount in the user-space table (bounded, after the
// server already has its fd: a stalled record never costs a mount), then the
// exit status, or become the auto-unmount watchdog.
//
// Unlike libfuse master, with --sync-init: every check, options included,
// happens before the fd is sent, so a refusal is plain EOF for the client; the
// mount goes onto the pinned inode; a failure never reports status 0 and every
// failure after the fd went out sends a status first; the proceed wait uses
// poll(), so no receive timeout is left for the watchdog; the FUSE_INIT wait
// inside CMD_CREATE is bounded (src/sys/initwatch.ts).

import * as c from "./sys/libc.ts";
import type { Ctx } from "./context.ts";
import { Refusal } from "./policy/refusal.ts";
import {
  prepareMount, attachWithMount2, attachWithNewApi, undoMount, closePrepared, mountedPathNow,
  type Prepared, type Attached,
} from "./mount.ts";
import { mtabNeedsUpdate, addMountRecord, removeMountRecord } from "./mtab.ts";
import { watchAttached } from "./autounmount.ts";
import type { Mountpoint } from "./resolve.ts";
import { encodeStatus, statusFromErrno, PROCEED_TIMEOUT_SECONDS } from "../protocol/wire.ts";

export type MountRequestArgs = { commFd: number; mountpoint: Mountpoint; options: string; device: string | undefined };

// Send the /dev/fuse fd (one byte + SCM_RIGHTS). libfuse's perror line on failure.
function sendFuseFd(commFd: number, p: Prepared): string | undefined {
  const sent = c.sendFd(commFd, p.fuseFd);
  if (sent === 1) return undefined;
  return `sending file descriptor: ${c.strerror(sent < 0 ? -sent : c.E.EIO)}`;
}

export function mountClassic(ctx: Ctx, r: MountRequestArgs): number {
  const p = prepareMount(ctx, r.mountpoint, r.options, r.device, false);
  if (p.plan.autoUnmount && ctx.inThread) {
    closePrepared(p);
    throw new Error("auto_unmount cannot be served in a service thread");
  }
  const attached = attachWithMount2(ctx, p);
  c.chdir("/");
  const notSent = sendFuseFd(r.commFd, p);
  if (notSent) {
    // The fd never reached the server: nobody will serve this mount.
    undoMount(ctx, p, attached);
    throw new Refusal(notSent, { prefix: "none", outcome: "failed" });
  }
  return finish(ctx, r, p, attached);
}

function sendStatus(ctx: Ctx, commFd: number, status: number): void {
  const n = c.sendBytes(commFd, encodeStatus(status));
  if (n !== 4) ctx.say.warn(`failed to send mount status: ${c.strerror(n < 0 ? -n : c.E.EIO)}`);
}

function waitForProceed(commFd: number): void {
  for (;;) {
    const ev = c.pollOne(commFd, c.POLL.IN, PROCEED_TIMEOUT_SECONDS * 1000);
    if (ev === -c.E.EINTR) continue;
    if (ev === 0) throw new Refusal(`timed out after ${PROCEED_TIMEOUT_SECONDS} seconds waiting for signal`, { outcome: "failed" });
    if (ev < 0) throw new Refusal(`error receiving signal: ${c.strerror(-ev)}`, { outcome: "failed" });
    const r = c.recvBytes(commFd, 1, 0x40 /* MSG_DONTWAIT */);
    if (r === -c.E.EINTR || r === -c.E.EAGAIN) continue;
    if (typeof r === "number") throw new Refusal(`error receiving signal: ${c.strerror(-r)}`, { outcome: "failed" });
    if (r.length === 0) throw new Refusal("connection closed while waiting for signal", { outcome: "failed" });
    return;
  }
}

export function mountSyncInit(ctx: Ctx, r: MountRequestArgs): number {
  const p = prepareMount(ctx, r.mountpoint, r.options, r.device, true);
  c.chdir("/");
  const notSent = sendFuseFd(r.commFd, p);
  if (notSent) throw new Refusal(notSent, { prefix: "none", outcome: "failed" });
  waitForProceed(r.commFd);
  let attached: Attached;
  try {
    // mount_max is checked again, under the mount lock, when the mount is
    // attached: other mounts may have been made while we waited for proceed.
    attached = attachWithNewApi(ctx, p, r.commFd);
  } catch (e) {
    // Refusals that are not kernel errors (mount_max, the lock's deadline) report EPERM.
    const errno = e instanceof Refusal && e.detail.errno !== undefined ? e.detail.errno : c.E.EPERM;
    sendStatus(ctx, r.commFd, statusFromErrno(errno));
    throw e;
  } finally {
    c.chdir("/");
  }
  sendStatus(ctx, r.commFd, 0);
  return finish(ctx, r, p, attached);
}

// The shared ending. The server has its fd and the mount is attached.
function finish(ctx: Ctx, r: MountRequestArgs, p: Prepared, a: Attached): number {
  ctx.audit.update({ fstype: a.type, source: a.source });
  ctx.audit.end("ok");
  // Our fds go first: a caller may have left us almost none, and /bin/mount
  // needs some to start.
  closePrepared(p);
  recordMount(ctx, p, a);
  const autoUnmount = p.plan.autoUnmount;
  if (!autoUnmount) {
    if (a.mountFd >= 0) c.close(a.mountFd);
    return 0;
  }
  return watchAttached(ctx, r.commFd, r.mountpoint.path, a);
}

// Record the mount in the user-space table when there is one (libfuse master's
// rule), under the path the kernel gives for the new mount now, and only if that
// is the path we checked: a record for another path would lend our user= and
// x- options to whatever is mounted there (libmount merges by path). A stale
// record for the path goes first, for the same reason. The caller cannot stop
// us between check and write (real uid 0 for the whole run), each child has a
// deadline, and if the mount moved meanwhile the record is taken back.
function recordMount(ctx: Ctx, p: Prepared, a: Attached): void {
  const mnt = p.mountpoint.path;
  if (!mtabNeedsUpdate(ctx, mnt)) return;
  ctx.who.asRoot(() => {
    if (mountedPathNow(a) !== mnt) {
      ctx.say.warn(`not recording ${mnt} in the mount table: the mount is no longer there`);
      return;
    }
    removeMountRecord(ctx, mnt);
    const result = addMountRecord(ctx, a.source, mnt, a.type, p.plan.record);
    if (result !== "ok") {
      ctx.say.warn(`mount of ${mnt} is not recorded in the mount table (x- and user= options will not show)`);
      return;
    }
    if (mountedPathNow(a) !== mnt) removeMountRecord(ctx, mnt);
  });
}
