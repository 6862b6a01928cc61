// The helper's control flow, in libfuse's order: parse, resolve the mountpoint
// as the caller, then unmount, watch, or check → mount → hand over the fd.
// Every refusal is a value (src/policy/refusal.ts) caught here, once: printed,
// recorded in the audit trail, exit 1.

import * as c from "./sys/libc.ts";
import { Privileges, CredentialError, isRootCaller, type Credentials } from "./sys/creds.ts";
import { Reporter } from "./sys/report.ts";
import { AuditTrail } from "./audit.ts";
import type { Ctx } from "./context.ts";
import { parseArgv, checkOperands, usage } from "./policy/argv.ts";
import { parseFdNumber } from "./policy/paths.ts";
import { Refusal, refuse } from "./policy/refusal.ts";
import { resolveMountpoint, type Mountpoint } from "./resolve.ts";
import { mountClassic, mountSyncInit } from "./handover.ts";
import { unmount } from "./unmount.ts";
import { watchdog, probeMain, PROBE_ARG } from "./autounmount.ts";
import { VERSION } from "./version.ts";

// callerFd: served by the service, the caller's fds are not ours; it maps a
// caller's fd number to the fd that carries it here (undefined: not passed);
// elsewhere: why the caller's mount namespace or root cannot be served
// (src/servicens.ts), refused here so that it is reported and audited as
// every refusal is; cwd: the caller's working directory as a path, when this
// process could not enter it (src/servicerequest.ts): a relative mountpoint is
// resolved against it, as the set-uid path's realpath() resolves one against
// getcwd().
export type Env = { commFd?: string; device?: string; callerFd?: (n: number) => number | undefined; elsewhere?: string; cwd?: string };

// The comm socket must be one the fd can travel over: an AF_UNIX stream or
// seqpacket socket (go-fuse uses seqpacket). On anything else SCM_RIGHTS is
// silently dropped and a mount would be left with nobody to serve it.
function commSocket(p: { commFd?: string }, env: Env): number {
  const text = p.commFd ?? env.commFd;
  if (text === undefined) refuse("old style mounting not supported");
  const fd = parseFdNumber(text);
  if (fd === undefined) refuse(`invalid _FUSE_COMMFD: ${text}`);
  const local = fd >= 0 && fd <= 0x7fffffff ? (env.callerFd ? env.callerFd(fd) : fd) : undefined;
  const st = local !== undefined ? c.fstat(local) : -c.E.EBADF;
  if (typeof st === "number") refuse(`fstat of comm fd ${fd} failed: ${c.strerror(-st)}`);
  if ((st.mode & c.S.IFMT) !== c.S.IFSOCK) refuse(`file descriptor ${fd} is not a socket, can't send fuse fd`);
  const domain = c.getSockOptInt(local!, c.SOL_SOCKET, c.SO.DOMAIN);
  const type = c.getSockOptInt(local!, c.SOL_SOCKET, c.SO.TYPE);
  if (domain !== c.AF_UNIX || (type !== c.SOCK.STREAM && type !== c.SOCK.SEQPACKET)) {
    refuse(`file descriptor ${fd} is not a Unix stream or seqpacket socket, can't send fuse fd`);
  }
  // Children (/bin/mount, the probe) must not inherit the caller's socket.
  c.fcntl(local!, c.F.SETFD, 1);
  return local!;
}

// A request the service's routing (src/policy/serviceroute.ts) should have
// given a process of its own: stop before anything is mounted.
function notInThread(ctx: Ctx, what: string): void {
  if (ctx.inThread) throw new Error(`${what} cannot be served in a service thread`);
}

function run(ctx: Ctx, p: ReturnType<typeof parseArgv>, env: Env): number {
  if (p.action === "error") refuse(p.error!);
  if (p.check || p.syncInit || p.autoUnmount) notInThread(ctx, p.check ? "--check" : p.syncInit ? "--sync-init" : "--auto-unmount");
  if (p.check) {
    if (p.operands.length > 0) refuse("--check takes no mountpoint");
    // Loaded only here: --check is large, and every other run would pay for it.
    const { check } = require("./check.ts") as typeof import("./check.ts");
    return check(ctx, p.json);
  }
  if (p.json) refuse("--json goes with --check");
  const operandError = checkOperands(p);
  if (operandError) refuse(operandError);

  const action = p.autoUnmount ? "auto-unmount" : p.unmount ? "unmount" : "mount";
  ctx.audit.begin({ action, mountpoint: p.operands[0]!, ...(action === "mount" ? { options: p.options } : {}) });
  if (env.elsewhere !== undefined) refuse(env.elsewhere);
  const mountpoint = resolveMountpoint(p.operands[0]!, env.cwd);
  try {
    return act(ctx, p, env, mountpoint);
  } finally {
    // A pinned directory must not outlive the request (the service's threads
    // serve the next one in this process): it could keep the caller's mount busy.
    if (mountpoint.parentFd >= 0) c.close(mountpoint.parentFd);
    mountpoint.parentFd = -1;
  }
}

function act(ctx: Ctx, p: ReturnType<typeof parseArgv>, env: Env, mountpoint: Mountpoint): number {
  c.chdir("/");
  ctx.audit.update({ mountpoint: mountpoint.path });
  if (p.unmount && !p.autoUnmount) {
    const done = unmount(ctx, mountpoint, { quiet: p.quiet, lazy: p.lazy });
    if (done.code === 0) ctx.audit.end("ok");
    else ctx.audit.end("failed", done.reason);
    return done.code;
  }

  const commFd = commSocket(p, env);
  if (p.autoUnmount) {
    // A watchdog without a mount is for a library that mounted by itself,
    // which takes root; for anyone else it would only be a root process that
    // waits as long as they like, as many times as they like.
    if (ctx.who.privileged && !isRootCaller(ctx.who.caller)) {
      refuse("--auto-unmount without mounting is only for root (libfuse uses it after mounting directly)");
    }
    c.close(mountpoint.parentFd);
    mountpoint.parentFd = -1;
    return watchdog(ctx, commFd, mountpoint.path, undefined, {});
  }
  const request = { commFd, mountpoint, options: p.options, device: env.device };
  return p.syncInit ? mountSyncInit(ctx, request) : mountClassic(ctx, request);
}

// A request the service runs for a peer (src/servicerequest.ts, or in one of
// the service's own threads, src/serviceworker.ts): who asks (from
// SO_PEERCRED/SO_PEERGROUPS), where the caller's stdout and stderr are here,
// and the watch notice.
export type Served = {
  caller: Credentials; pid: number; watching: () => void; errFd?: number; outFd?: number; inThread?: boolean;
  handOverWatch?: Ctx["handOverWatch"];
};

export function main(argv0: string | undefined, args: readonly string[], env: Env, served?: Served): never {
  if (!served && args[0] === PROBE_ARG) return probeMain(args);
  return c.exit(serve(argv0, args, env, served));
}

// One request, start to end: its exit status. The same code for the set-uid
// path, the service's per-request child and the service's threads; nothing it
// does outlives it but the mount (or, for an auto-unmount watch, the watch).
export function serve(argv0: string | undefined, args: readonly string[], env: Env, served?: Served): number {
  const caller = served ? served.caller : Privileges.callerOfThisProcess();
  const say = new Reporter(argv0 || "fusermount", served?.errFd ?? 2, served?.outFd ?? 1);
  const who = served ? Privileges.forPeer(caller) : new Privileges(caller);
  const audit = new AuditTrail(caller, undefined, served ? served.pid : process.pid);
  const ctx: Ctx = served
    ? { who, say, audit, watching: served.watching, inThread: served.inThread, peerPid: served.pid, handOverWatch: served.handOverWatch }
    : { who, say, audit };
  try {
    // The runtime has already decoded argv as UTF-8, replacing bytes it could
    // not decode with U+FFFD: such a path would name a different file than the
    // caller's. Refuse instead of acting on something else.
    if (args.some((a) => a.includes("\uFFFD"))) refuse("arguments must be valid UTF-8 (a path or option contains other bytes)");
    // Parsing is pure; -h and -V touch nothing and need no privilege state.
    const p = parseArgv(args);
    if (p.action === "help") { say.out(usage(say.progname)); return 1; }
    if (p.action === "version") { say.out(`fusermount3 version: ${VERSION}\n`); return 0; }
    who.start();
    return run(ctx, p, env);
  } catch (e) {
    if (e instanceof Refusal) {
      if (e.detail.prefix === "fuse") say.fuse(e.message);
      else if (e.detail.prefix === "none") say.line(e.message);
      else say.warn(e.message);
      if (e.detail.hint !== undefined) say.hint(e.detail.hint);
      ctx.audit.end(e.detail.outcome ?? "refused", e.message);
      return 1;
    }
    // A bug must still end in one line and exit 1, never a stack trace.
    const what = e instanceof CredentialError ? e.message : `internal error: ${e instanceof Error ? e.message : String(e)}`;
    say.warn(what);
    ctx.audit.end("failed", what);
    return 1;
  }
}
