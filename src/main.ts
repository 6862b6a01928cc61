// The helper's control flow, in libfuse's order: parse, resolve the mountpoint
// as the caller, then unmount, watch, or check → mount → hand over the fd.

import * as c from "./sys/libc.ts";
import { die, dieWithHint, setProgname, getProgname, asCaller } from "./sys/process.ts";
import { parseArgv, checkOperands, usage } from "./argv.ts";
import { splitForResolution, joinResolved, parseFdNumber } from "./paths.ts";
import { prepareMount, attachWithMount2, attachFailure, recordMount, handOver, undoMount } from "./mount.ts";
import { unmount } from "./unmount.ts";
import { watchdog, watchAttached, probeMain, PROBE_ARG } from "./autounmount.ts";
import { VERSION } from "./version.ts";
import { mountSyncInit } from "./syncinit.ts";
import { auditBegin, auditUpdate, auditEnd } from "./audit.ts";
import { check } from "./check.ts";

export type Env = { commFd?: string; device?: string };

function resolveMountpoint(arg: string): string {
  if (arg === "") die("invalid mountpoint ''");
  const { toResolve, last } = splitForResolution(arg);
  const parent = asCaller(() => c.realpath(toResolve));
  if (typeof parent === "number") die(`bad mount point ${arg}: ${c.strerror(-parent)}`);
  if (c.chdir("/") < 0) die("failed to chdir to '/'");
  return joinResolved(parent, last);
}

function commSocket(p: { commFd?: string }, env: Env): number {
  const text = p.commFd ?? env.commFd;
  if (text === undefined) die("old style mounting not supported");
  const fd = parseFdNumber(text);
  if (fd === undefined) die(`invalid _FUSE_COMMFD: ${text}`);
  const st = fd >= 0 && fd <= 0x7fffffff ? c.fstat(fd) : -c.E.EBADF;
  if (typeof st === "number") die(`fstat of comm fd ${fd} failed: ${c.strerror(-st)}`);
  if ((st.mode & c.S.IFMT) !== c.S.IFSOCK) die(`file descriptor ${fd} is not a socket, can't send fuse fd`);
  // Children (/bin/mount, the probe) must not inherit the caller's socket.
  c.fcntl(fd, c.F.SETFD, 1);
  return fd;
}

// Classic protocol: mount, record, send the fd, exit (or watch).
function mountClassic(commFd: number, mnt: string, opts: string, env: Env): never {
  const prepared = prepareMount(mnt, opts, env.device);
  const attached = attachWithMount2(prepared);
  c.chdir("/");
  if (!attached.ok) {
    if (attached.errno === c.E.EPERM && !attached.tooMany && c.geteuid() !== 0) {
      dieWithHint(attachFailure(prepared, attached),
        "fusermount3 is not running as root: its launcher must be set-uid root on a filesystem not mounted nosuid (see fusermount3 --check)");
    }
    die(attachFailure(prepared, attached));
  }
  const record = recordMount(prepared, attached);
  if (record === "failed") {
    undoMount(prepared, attached, false);
    auditEnd("failed", "mount table update failed");
    return c.exit(1);
  }
  const notSent = handOver(commFd, prepared);
  if (notSent) {
    // The fd never reached the server: nobody will serve this mount.
    undoMount(prepared, attached, record === "recorded");
    auditEnd("failed", notSent);
    return c.exit(1);
  }
  auditUpdate({ fstype: attached.type, source: attached.source });
  auditEnd("ok");
  c.close(prepared.fuseFd);
  if (prepared.pinFd >= 0) c.close(prepared.pinFd);
  if (!prepared.request.autoUnmount) return c.exit(0);
  return watchAttached(commFd, mnt, attached);
}

export function main(argv0: string | undefined, args: readonly string[], env: Env): never {
  if (args[0] === PROBE_ARG) return probeMain(args);
  setProgname(argv0 ?? "fusermount");
  // The runtime has already decoded argv as UTF-8, replacing bytes it could
  // not decode with U+FFFD: such a path would name a different file than the
  // caller's. Refuse instead of acting on something else.
  if (args.some((a) => a.includes("\uFFFD"))) die("arguments must be valid UTF-8 (a path or option contains other bytes)");
  const p = parseArgv(args);
  if (p.action === "help") { c.writeAll(1, usage(getProgname())); return c.exit(1); }
  if (p.action === "version") { c.writeAll(1, `fusermount3 version: ${VERSION}\n`); return c.exit(0); }
  if (p.action === "error") die(p.error!);
  if (p.check) {
    if (p.operands.length > 0) die("--check takes no mountpoint");
    return c.exit(check(p.json));
  }
  if (p.json) die("--json goes with --check");
  const operandError = checkOperands(p);
  if (operandError) die(operandError);

  const action = p.autoUnmount ? "auto-unmount" : p.unmount ? "unmount" : "mount";
  auditBegin({ action, mountpoint: p.operands[0]!, ...(action === "mount" ? { options: p.options } : {}) });
  const mnt = resolveMountpoint(p.operands[0]!);
  auditUpdate({ mountpoint: mnt });
  c.umask(0o033);
  if (p.unmount && !p.autoUnmount) {
    const code = unmount(mnt, { quiet: p.quiet, lazy: p.lazy });
    auditEnd(code === 0 ? "ok" : "failed");
    return c.exit(code);
  }

  const commFd = commSocket(p, env);
  if (p.autoUnmount) return watchdog(commFd, mnt, undefined, undefined);
  if (p.syncInit) return mountSyncInit(commFd, mnt, p.options, env.device);
  return mountClassic(commFd, mnt, p.options, env);
}

