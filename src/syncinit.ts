// `--sync-init`: the fd goes out before the mount, so that the server can answer
// FUSE_INIT while the kernel creates the superblock and a failed INIT fails the
// mount. Sequence on the comm socket: fd (1 byte + SCM_RIGHTS) → proceed (1 byte
// from the client) → status (int32, 0 or -errno). Unlike libfuse master:
//  - every check, options included, happens before the fd is sent, so a refusal
//    is plain EOF for the client and never a status sent after a failed check;
//  - the mount goes onto the pinned inode; the path is never resolved again;
//  - a failure never reports 0; every exit after the fd went out sends a status
//    first (unless the client is gone);
//  - the proceed wait uses poll(), so no receive timeout is left for the watchdog;
//  - the FUSE_INIT wait inside CMD_CREATE is bounded (src/sys/initwatch.ts).

import * as c from "./sys/libc.ts";
import { die, warn } from "./sys/process.ts";
import { prepareMount, attachMount, attachFailure, recordMount, handOver, undoMount } from "./mount.ts";
import { watchAttached } from "./autounmount.ts";
import { auditEnd, auditUpdate } from "./audit.ts";
import { encodeStatus, statusFromErrno, PROCEED_TIMEOUT_SECONDS } from "../protocol/wire.ts";

function sendStatus(commFd: number, status: number): void {
  const n = c.sendBytes(commFd, encodeStatus(status));
  if (n !== 4) warn(`failed to send mount status: ${c.strerror(n < 0 ? -n : c.E.EIO)}`);
}

function waitForProceed(commFd: number): void {
  for (;;) {
    const ev = c.pollOne(commFd, c.POLL.IN, PROCEED_TIMEOUT_SECONDS * 1000);
    if (ev === -c.E.EINTR) continue;
    if (ev === 0) die(`timed out after ${PROCEED_TIMEOUT_SECONDS} seconds waiting for signal`);
    if (ev < 0) die(`error receiving signal: ${c.strerror(-ev)}`);
    const r = c.recvBytes(commFd, 1, 0x40 /* MSG_DONTWAIT */);
    if (r === -c.E.EINTR || r === -c.E.EAGAIN) continue;
    if (typeof r === "number") die(`error receiving signal: ${c.strerror(-r)}`);
    if (r.length === 0) die("connection closed while waiting for signal");
    return;
  }
}

export function mountSyncInit(commFd: number, mnt: string, opts: string, device: string | undefined): never {
  const prepared = prepareMount(mnt, opts, device);
  c.chdir("/");
  const notSent = handOver(commFd, prepared);
  if (notSent) {
    auditEnd("failed", notSent);
    return c.exit(1);
  }
  waitForProceed(commFd);

  // mount_max is checked again, under the mount lock, when the mount is
  // attached: other mounts may have been made while we waited for proceed.
  const attached = attachMount(prepared, commFd);
  c.chdir("/");
  if (!attached.ok) {
    warn(attachFailure(prepared, attached));
    sendStatus(commFd, statusFromErrno(attached.errno));
    auditEnd("failed");
    return c.exit(1);
  }
  if (recordMount(prepared, attached) === "failed") {
    undoMount(prepared, attached, false);
    sendStatus(commFd, -c.E.EIO);
    auditEnd("failed", "mount table update failed");
    return c.exit(1);
  }
  sendStatus(commFd, 0);
  auditUpdate({ fstype: attached.type, source: attached.source });
  auditEnd("ok");
  c.close(prepared.fuseFd);
  c.close(prepared.pinFd);
  if (!prepared.request.autoUnmount) return c.exit(0);
  return watchAttached(commFd, mnt, attached);
}
