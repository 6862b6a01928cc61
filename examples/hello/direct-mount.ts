// Development entry point, run as root: mounts the hello fs on argv[2] with the
// new mount API (no fusermount3 involved) and serves it until it is unmounted.
//
//   bun examples/hello/direct-mount.ts /some/empty/dir
//
// Prints {"ready":true} on stdout once FUSE_INIT has been answered; exits 0
// when the mount goes away (umount, or SIGINT/SIGTERM, which detach it).

import {
  tryOpen, close, fsopen, fsconfig, fsmount, moveMountToFd, fsContextMessages, umount2,
  getuid, getgid, strerror, writeAll, O, FSCONFIG, MNT_DETACH,
} from "../../src/sys/libc.ts";
import { serve } from "./fuse.ts";
import { HelloFs } from "./hellofs.ts";

const MOUNT_ATTR_NOSUID = 0x2;
const MOUNT_ATTR_NODEV = 0x4;

function die(what: string, negErrno: number, fsfd = -1): never {
  const extra = fsfd >= 0 ? fsContextMessages(fsfd) : [];
  process.stderr.write(`direct-mount: ${what}: ${strerror(-negErrno)}${extra.length ? ` (${extra.join("; ")})` : ""}\n`);
  process.exit(1);
}

const target = process.argv[2];
if (!target) {
  process.stderr.write("usage: bun examples/hello/direct-mount.ts MOUNTPOINT\n");
  process.exit(2);
}

const fuseFd = tryOpen("/dev/fuse", O.RDWR);
if (fuseFd < 0) die("open /dev/fuse", fuseFd);

const fsfd = fsopen("fuse");
if (fsfd < 0) die("fsopen fuse", fsfd);
const params: Array<[string, string]> = [
  ["source", "hello"],
  ["fd", String(fuseFd)],
  ["rootmode", "40000"],
  ["user_id", String(getuid())],
  ["group_id", String(getgid())],
];
for (const [k, v] of params) {
  const rc = fsconfig(fsfd, FSCONFIG.SET_STRING, k, v);
  if (rc < 0) die(`fsconfig ${k}=${v}`, rc, fsfd);
}
// Queues FUSE_INIT on the device; it is answered once serve() runs below.
const created = fsconfig(fsfd, FSCONFIG.CMD_CREATE);
if (created < 0) die("fsconfig CMD_CREATE", created, fsfd);
const mntfd = fsmount(fsfd, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
if (mntfd < 0) die("fsmount", mntfd, fsfd);
close(fsfd);

// An O_PATH fd pins the directory we were given, so the mount lands on it
// even if the path is swapped meanwhile.
const targetFd = tryOpen(target, O.PATH | O.DIRECTORY);
if (targetFd < 0) die(`open ${target}`, targetFd);
const moved = moveMountToFd(mntfd, targetFd);
if (moved < 0) die(`move_mount onto ${target}`, moved);
close(targetFd);
close(mntfd);

const session = serve(fuseFd, new HelloFs());

// Detach on a signal: the superblock goes away as soon as nothing uses it,
// which ends the device read with ENODEV and so the session.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    const rc = umount2(target, MNT_DETACH);
    if (rc < 0) {
      process.stderr.write(`direct-mount: umount ${target}: ${strerror(-rc)}\n`);
      process.exit(1);
    }
  });
}

session.initialized.then(
  () => writeAll(1, `${JSON.stringify({ ready: true })}\n`),
  (err: unknown) => process.stderr.write(`direct-mount: ${String(err)}\n`),
);

session.closed.then(
  () => { close(fuseFd); process.exit(0); },
  (err: unknown) => { process.stderr.write(`direct-mount: ${String(err)}\n`); process.exit(1); },
);
