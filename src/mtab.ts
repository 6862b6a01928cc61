// User-space mount table: `/bin/mount -f` / `/bin/umount --fake` record what we
// mounted in /run/mount/utab (where x- options and `user=` live). The children
// are started the way every fusermount CVE taught: absolute paths, an empty
// environment, cwd "/", `--no-canonicalize`, `--` before operands, real uid 0.
//
// libmount takes /run/mount/utab.lock, a file any user can open and flock(), so
// a child can be stalled by anyone. Each child therefore runs with a deadline
// and is killed past it; by then the mount has already been handed over (or
// removed), so a stalled record costs only the record, never a mount or an
// unmount. (Debian's 3.14 never writes these records at all.)

import * as c from "./sys/libc.ts";
import type { Ctx } from "./context.ts";

const MTAB = "/etc/mtab";
const UTAB = "/run/mount/utab";
export const CHILD_TIMEOUT_MS = 3000;

export type ChildResult = "ok" | "failed" | "timed out";

// libfuse master's rule: only when the table exists and the mountpoint would not
// hide it. Asked as root (the real uid is 0 for the whole run).
export function mtabNeedsUpdate(ctx: Ctx, mnt: string): boolean {
  if (mnt === "/" || mnt === "/etc") return false;
  const st = c.lstat(MTAB);
  if (st === -c.E.ENOENT) return false;
  return ctx.who.asRoot(() => c.access(MTAB, c.W_OK) !== -30 /* EROFS */ && c.access(UTAB, 0) === 0);
}

function runChild(ctx: Ctx, argv: string[]): ChildResult {
  return ctx.who.asRoot((): ChildResult => {
    try {
      const r = Bun.spawnSync(argv, {
        env: {}, cwd: "/", stdin: "ignore", stdout: ctx.say.outFd, stderr: ctx.say.errFd,
        timeout: CHILD_TIMEOUT_MS, killSignal: "SIGKILL",
      });
      if (r.exitedDueToTimeout) {
        ctx.say.warn(`${argv[0]} did not finish within ${CHILD_TIMEOUT_MS / 1000} seconds (is ${UTAB}.lock held?): stopped it`);
        return "timed out";
      }
      if (r.exitCode === null && r.signalCode === null) {
        ctx.say.warn(`failed to execute ${argv[0]}: ${c.strerror(c.E.ENOENT)}`);
        return "failed";
      }
      return r.exitCode === 0 ? "ok" : "failed";
    } catch (e) {
      ctx.say.warn(`failed to execute ${argv[0]}: ${(e as Error).message}`);
      return "failed";
    }
  });
}

export function addMountRecord(ctx: Ctx, source: string, mnt: string, type: string, record: string): ChildResult {
  return runChild(ctx, ["/bin/mount", "--no-canonicalize", "-i", "-f", "-t", type, "-o", record, "--", source, mnt]);
}

// Remove the record of mnt, if there is one: libmount's `umount --fake` of a
// path without a record fails, and most unmounts have none to remove (no
// utab, or a record that could not be written).
export function removeMountRecord(ctx: Ctx, mnt: string): ChildResult {
  if (!recordedTargets().includes(mnt)) return "ok";
  return runChild(ctx, ["/bin/umount", "--no-canonicalize", "-i", "--fake", "--", mnt]);
}

// Targets with a record in utab (libmount's format: space-separated KEY=value,
// octal escapes).
function recordedTargets(): string[] {
  const text = c.readFile(UTAB, 1 << 24);
  if (typeof text === "number") return [];
  const out: string[] = [];
  for (const line of text.toString("utf8").split("\n")) {
    const field = line.split(" ").find((f) => f.startsWith("TARGET="));
    if (field) out.push(field.slice(7).replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}
