// One request of the service: taken off the caller's connection, then run in a
// fresh child process of our own binary (serveOneRequest) or in one of the
// service's request threads (serveInThread, src/serviceworker.ts).
//
// The child (src/service.ts spawns it with an empty environment and exactly these fds):
//
//   0, 1, 2  /dev/null (replaced by the caller's own 0, 1, 2 from the request)
//   3        the caller's connection; its queued message is the request
//   4        a pipe to the service, for the watch notice only
//
// It takes the request off the connection, the caller's identity from the
// connection (SO_PEERCRED, SO_PEERGROUPS: never from the message), puts the
// caller's fds where the set-uid path has them, enters the caller's cwd, and
// runs the same main() as the set-uid path, which ends with _exit(status).
// The service waits for that exit and sends the status to the caller. A caller
// in another mount namespace or root is served there instead: this process
// becomes the request in the caller's namespace (src/servicens.ts), under the
// same pid, and ends the same way.

import * as c from "./sys/libc.ts";
import { main, serve, type Env } from "./main.ts";
import { parseFdNumber } from "./policy/paths.ts";
import { parseRequest, launcherFilter, encodeStatusReply, MAX_REQUEST_BYTES, BASE_FDS, type ServiceRequest } from "../protocol/service.ts";
import type { Credentials } from "./sys/creds.ts";
import { serveWhereTheCallerIs, callerIsHere, takeHandover, enterCwd } from "./servicens.ts";
import { handOver, newRecord, findRecord, parseRecord, recordCaller, WATCH_DIR_ARG } from "./servicewatch.ts";
import { afterEof } from "./autounmount.ts";
import { Privileges } from "./sys/creds.ts";
import { Reporter } from "./sys/report.ts";
import { AuditTrail } from "./audit.ts";

export const SERVICE_REQUEST_ARG = "--service-request";
export const SERVICE_UNWATCH_ARG = "--service-unwatch";
const CONN = 3;
const NOTICE = 4;

// Reply with the exit status and close. A socket closed with unread messages
// resets the peer before it reads our reply: drop what is queued first
// (without a control buffer, so any fds in it are released by the kernel,
// never installed here).
export function replyAndClose(conn: number, status: number): void {
  c.sendBytes(conn, encodeStatusReply(status), c.MSG_DONTWAIT);
  for (let i = 0; i < 8; i++) {
    const r = c.recvBytes(conn, 1, c.MSG_DONTWAIT | c.MSG_TRUNC);
    if (typeof r === "number" || r.length === 0) break;
  }
  c.close(conn);
}

type Received = {
  caller: Credentials;
  pid: number;
  pidfd: number; // SO_PEERPIDFD of the connecting process, or -errno (< Linux 6.5)
  request: ServiceRequest;
  stdio: [number, number, number];
  cwd: number;
  comm: number | undefined; // closed (and undefined) once nothing names it
};

// The request and the caller's fds off the connection, the caller's identity
// from the connection itself (never from the message). On a malformed request:
// one line on the caller's stderr when there is one, every fd closed.
function receive(conn: number): Received | undefined {
  const peer = c.peerCred(conn);
  const groups = c.peerGroups(conn);
  if (typeof peer === "number" || typeof groups === "number") return undefined;
  const pidfd = c.peerPidfd(conn);
  const got = c.recvMessageFds(conn, MAX_REQUEST_BYTES + 1, BASE_FDS + 2);
  if (typeof got === "number") { if (pidfd >= 0) c.close(pidfd); return undefined; }
  const parsed = got.truncated ? { ok: false as const, error: "request too long or too many fds" } : parseRequest(got.data);
  const want = parsed.ok ? BASE_FDS + (parsed.request.commFdAttached ? 1 : 0) : -1;
  if (!parsed.ok || got.fds.length !== want) {
    const stderr = got.fds.length >= 3 ? got.fds[2]! : -1;
    const why = parsed.ok ? `malformed service request: ${got.fds.length} fds, expected ${want}` : `malformed service request: ${parsed.error}`;
    if (stderr >= 0) c.writeAll(stderr, `fusermount3: ${why}\n`);
    for (const fd of got.fds) c.close(fd);
    if (pidfd >= 0) c.close(pidfd);
    return undefined;
  }
  const [in0, out1, err2, cwd, comm] = got.fds as [number, number, number, number, number | undefined];
  return { caller: { uid: peer.uid, gid: peer.gid, groups }, pid: peer.pid, pidfd, request: parsed.request, stdio: [in0, out1, err2], cwd, comm };
}

// The variables as the launcher would pass them, and the caller's comm fd
// under the number _FUSE_COMMFD names (a comm fd nothing names is closed).
// elsewhere: why this caller's namespace cannot be served (main refuses it).
function environment(request: ServiceRequest, r: { comm: number | undefined }, elsewhere?: string): Env {
  const env = launcherFilter(request.env);
  const commNumber = env._FUSE_COMMFD !== undefined ? parseFdNumber(env._FUSE_COMMFD) : undefined;
  if (r.comm !== undefined && commNumber === undefined) { c.close(r.comm); r.comm = undefined; }
  const comm = r.comm;
  const callerFd = (n: number): number | undefined => (comm !== undefined && n === commNumber ? comm : undefined);
  return { commFd: env._FUSE_COMMFD, device: env.FUSE_KERN_DEVICE, callerFd, ...(elsewhere !== undefined ? { elsewhere } : {}) };
}

export function serveOneRequest(): never {
  const fail = (why: string, stderr = -1): never => {
    if (stderr >= 0) c.writeAll(stderr, `fusermount3: ${why}\n`);
    return c.exit(1);
  };
  if (c.getuid() !== 0 || c.geteuid() !== 0) return fail("--service-request is for the service only", 2);
  const dirArg = process.argv.slice(3).find((a) => a.startsWith(WATCH_DIR_ARG));
  const watchDir = dirArg?.slice(WATCH_DIR_ARG.length);
  c.fcntl(CONN, c.F.SETFD, 1);
  c.fcntl(NOTICE, c.F.SETFD, 1);
  const r = receive(CONN);
  c.close(CONN);
  if (!r) return c.exit(1);
  // The caller's 0, 1, 2 become ours (not close-on-exec: /bin/mount and
  // /bin/umount write to the caller's stderr, as on the set-uid path).
  r.stdio.forEach((from, to) => { if (c.dup2(from, to) !== to) fail("cannot take the caller's standard fds"); });
  for (const fd of new Set(r.stdio)) if (fd > 2) c.close(fd);
  const elsewhere = serveWhereTheCallerIs({
    argv0: r.request.argv[0] || "fusermount", request: r.request, caller: r.caller, pid: r.pid, pidfd: r.pidfd, cwd: r.cwd, comm: r.comm, notice: NOTICE,
  });
  if (r.pidfd >= 0) c.close(r.pidfd);
  const { cd, cwdPath } = enterCwd(r.cwd);
  if (cd < 0) return fail(`cannot enter the caller's working directory: ${c.strerror(-cd)}`, 2);
  if (r.request.resume) return resume(r, watchDir, elsewhere);
  return runForCaller(r.request, r.caller, r.pid, r, NOTICE, { elsewhere, watchDir, cwdPath });
}

// FLAG_RESUME: the launcher of a watch the service held before it went away.
// Its record says whose watch it was and which comm socket; only that caller
// with that very socket gets it back.
function resume(r: Received, watchDir: string | undefined, elsewhere: string | undefined): never {
  const argv0 = r.request.argv[0] || "fusermount";
  const rec = elsewhere === undefined && watchDir !== undefined && r.comm !== undefined ? findRecord(watchDir, r.caller, r.comm) : undefined;
  if (!rec || r.comm === undefined) {
    c.writeAll(2, `${argv0}: the service holds no watch of yours on this comm socket to resume\n`);
    return c.exit(1);
  }
  c.writeAll(NOTICE, "W");
  return c.exit(handOver(NOTICE, r.comm, rec) ? 0 : 1);
}

// `--service-unwatch RECORD`: the server of a watch the service held is gone;
// what the watchdog does after EOF, for the record's caller. Root only (the
// service starts it; the record is the service's own).
export function unwatch(args: readonly string[]): never {
  if (c.getuid() !== 0 || c.geteuid() !== 0) { c.writeAll(2, "fusermount3: --service-unwatch is for the service only\n"); return c.exit(2); }
  const rec = args.length === 1 ? parseRecord(args[0]!) : undefined;
  if (!rec) return c.exit(2);
  const caller = recordCaller(rec);
  const who = Privileges.forPeer(caller);
  const ctx = { who, say: new Reporter("fusermount3"), audit: new AuditTrail(caller, undefined, rec.pid) };
  try {
    who.start();
    return c.exit(afterEof(ctx, rec.mountpoint, rec.type, { unique: BigInt(rec.unique) }));
  } catch (e) {
    c.writeAll(2, `fusermount3 service: unwatch of ${rec.mountpoint}: ${e instanceof Error ? e.message : String(e)}\n`);
    return c.exit(1);
  }
}

// `--service-request-entered`: the same request, in the caller's mount
// namespace, exec'd by nsenter from serveWhereTheCallerIs().
export function serveEnteredRequest(): never {
  const e = takeHandover();
  return runForCaller(e.request, e.caller, e.pid, { comm: e.comm }, e.notice, { elsewhere: e.elsewhere, cwdPath: e.cwdPath });
}

// The common ending of a request child: the caller's comm fd and the watch
// notice, then main(). With watchDir (a caller in the service's own
// namespace), an auto-unmount watch goes to the service (src/servicewatch.ts).
function runForCaller(req: ServiceRequest, caller: Credentials, pid: number, r: { comm: number | undefined }, notice: number,
  { elsewhere, watchDir, cwdPath }: { elsewhere?: string | undefined; watchDir?: string | undefined; cwdPath?: string | undefined }): never {
  const env = { ...environment(req, r, elsewhere), ...(cwdPath !== undefined ? { cwd: cwdPath } : {}) };
  let told = false;
  c.signal(c.SIG.PIPE, c.SIG_IGN); // a service gone meanwhile must not end the request or its watch
  const watching = () => {
    if (told) return;
    told = true;
    c.writeAll(notice, "W");
  };
  const handOverWatch = watchDir === undefined ? undefined : (commFd: number, w: { unique: bigint; mountpoint: string; type: string }) => {
    const rec = newRecord(caller, pid, commFd, w);
    return rec !== undefined && handOver(notice, commFd, rec);
  };
  const [argv0, ...args] = req.argv;
  return main(argv0 || undefined, args, env, { caller, pid, watching, ...(handOverWatch ? { handOverWatch } : {}) });
}

// In a request thread: the same request, the caller's fds kept where they
// arrived (this thread's own fd table), the status returned after every fd
// of the request is closed. The thread's cwd is its own (CLONE_FS). The
// service sent it here because the caller looked local; the kernel's answer
// through the pidfd decides.
export function serveInThread(conn: number): number {
  const r = receive(conn);
  if (!r) return 1;
  const here = callerIsHere(r.pid, r.pidfd);
  if (r.pidfd >= 0) c.close(r.pidfd);
  const entered = here === true ? enterCwd(r.cwd) : (c.close(r.cwd), { cd: 0 });
  const cd = entered.cd;
  let status = 1;
  if (here !== true) c.writeAll(r.stdio[2], `fusermount3: ${here === false ? "your mount namespace or root changed while the request waited: run it again" : here}\n`);
  else if (cd < 0) c.writeAll(r.stdio[2], `fusermount3: cannot enter the caller's working directory: ${c.strerror(-cd)}\n`);
  else {
    const [argv0, ...args] = r.request.argv;
    const env = { ...environment(r.request, r), ...(entered.cwdPath !== undefined ? { cwd: entered.cwdPath } : {}) };
    const watching = () => { throw new Error("an auto-unmount watch cannot be served in a service thread"); };
    status = serve(argv0 || undefined, args, env, {
      caller: r.caller, pid: r.pid, watching, errFd: r.stdio[2], outFd: r.stdio[1], inThread: true,
    });
  }
  for (const fd of new Set([...r.stdio, ...(r.comm !== undefined ? [r.comm] : [])])) c.close(fd);
  return status;
}
