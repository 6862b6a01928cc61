// User-space mount table: `/bin/mount -f` / `/bin/umount --fake` record what we
// mounted in /run/mount/utab (where x- options and `user=` live). The children
// are started the way every fusermount CVE taught: absolute paths, an empty
// environment, cwd "/", `--no-canonicalize`, `--` before operands, real uid 0.

import * as c from "./sys/libc.ts";
import { warn } from "./sys/process.ts";

const MTAB = "/etc/mtab";
const UTAB = "/run/mount/utab";

// libfuse master's rule: only when the table exists and the mountpoint would not
// hide it.
export function mtabNeedsUpdate(mnt: string): boolean {
  if (mnt === "/" || mnt === "/etc") return false;
  const st = c.lstat(MTAB);
  if (typeof st === "number") { if (st === -c.E.ENOENT) return false; }
  // access() answers for the real uid, so ask as real root.
  const ruid = c.getuid();
  if (ruid !== 0 && c.setreuid(0, -1 >>> 0) !== 0) return false;
  const rofs = c.access(MTAB, c.W_OK) === -30; /* EROFS */
  if (ruid !== 0 && c.setreuid(ruid, -1 >>> 0) !== 0) {
    warn(`Failed to set real uid: ${c.strerror(c.errno())}`);
    c.exit(1);
  }
  return !rofs && c.access(UTAB, 0) === 0;
}

function runAsRealRoot(argv: string[]): boolean {
  const ruid = c.getuid();
  // util-linux treats a non-zero real uid as a restricted user call.
  if (ruid !== 0 && c.setreuid(0, -1 >>> 0) !== 0) {
    warn(`failed to execute ${argv[0]}: ${c.strerror(c.errno())}`);
    return false;
  }
  try {
    const r = Bun.spawnSync(argv, { env: {}, cwd: "/", stdin: "ignore", stdout: "inherit", stderr: "inherit" });
    if (r.exitCode === null && r.signalCode === null) {
      warn(`failed to execute ${argv[0]}: ${c.strerror(c.E.ENOENT)}`);
      return false;
    }
    return r.exitCode === 0;
  } catch (e) {
    warn(`failed to execute ${argv[0]}: ${(e as Error).message}`);
    return false;
  } finally {
    // Staying real-root would make every later check wrong: abort like libfuse.
    if (ruid !== 0 && c.setreuid(ruid, -1 >>> 0) !== 0) {
      warn(`Failed to set real uid for cmd ${argv[0]}: ${c.strerror(c.errno())}`);
      c.exit(1);
    }
  }
}

export function addMountRecord(source: string, mnt: string, type: string, record: string): boolean {
  return runAsRealRoot(["/bin/mount", "--no-canonicalize", "-i", "-f", "-t", type, "-o", record, "--", source, mnt]);
}

export function removeMountRecord(mnt: string): boolean {
  return runAsRealRoot(["/bin/umount", "--no-canonicalize", "-i", "--fake", "--", mnt]);
}
