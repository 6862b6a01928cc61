// One request of the service, in a fresh child process of our own binary
// (src/service.ts spawns it with an empty environment and exactly these fds):
//
//   0, 1, 2  /dev/null (replaced by the caller's own 0, 1, 2 from the request)
//   3        the caller's connection; its queued message is the request
//   4        a pipe to the service, for the watch notice only
//
// It takes the request off the connection, the caller's identity from the
// connection (SO_PEERCRED, SO_PEERGROUPS: never from the message), puts the
// caller's fds where the set-uid path has them, enters the caller's cwd, and
// runs the same main() as the set-uid path, which ends with _exit(status).
// The service waits for that exit and sends the status to the caller.

import * as c from "./sys/libc.ts";
import { main } from "./main.ts";
import { parseFdNumber } from "./policy/paths.ts";
import { parseRequest, launcherFilter, MAX_REQUEST_BYTES, BASE_FDS } from "../protocol/service.ts";

export const SERVICE_REQUEST_ARG = "--service-request";
const CONN = 3;
const NOTICE = 4;

export function serveOneRequest(): never {
  const fail = (why: string, stderr = -1): never => {
    if (stderr >= 0) c.writeAll(stderr, `fusermount3: ${why}\n`);
    return c.exit(1);
  };
  if (c.getuid() !== 0 || c.geteuid() !== 0) return fail("--service-request is for the service only", 2);
  c.fcntl(CONN, c.F.SETFD, 1);
  c.fcntl(NOTICE, c.F.SETFD, 1);
  const peer = c.peerCred(CONN);
  const groups = c.peerGroups(CONN);
  if (typeof peer === "number" || typeof groups === "number") return fail("no peer credentials");
  const got = c.recvMessageFds(CONN, MAX_REQUEST_BYTES + 1, BASE_FDS + 2);
  c.close(CONN);
  if (typeof got === "number") return fail("no request");
  const closeAll = () => { for (const fd of got.fds) c.close(fd); };
  const parsed = got.truncated ? { ok: false as const, error: "request too long or too many fds" } : parseRequest(got.data);
  const want = parsed.ok ? BASE_FDS + (parsed.request.commFdAttached ? 1 : 0) : -1;
  if (!parsed.ok || got.fds.length !== want) {
    const stderr = got.fds.length >= 3 ? got.fds[2]! : -1;
    const why = parsed.ok ? `malformed service request: ${got.fds.length} fds, expected ${want}` : `malformed service request: ${parsed.error}`;
    if (stderr >= 0) c.writeAll(stderr, `fusermount3: ${why}\n`);
    closeAll();
    return c.exit(1);
  }
  const req = parsed.request;
  const [in0, out1, err2, cwd, comm] = got.fds as [number, number, number, number, number | undefined];
  // The caller's 0, 1, 2 become ours (not close-on-exec: /bin/mount and
  // /bin/umount write to the caller's stderr, as on the set-uid path).
  for (const [from, to] of [[in0, 0], [out1, 1], [err2, 2]] as const) {
    if (c.dup2(from, to) !== to) return fail("cannot take the caller's standard fds");
  }
  for (const fd of new Set([in0, out1, err2])) if (fd > 2) c.close(fd);
  // The caller's cwd, for a relative mountpoint; main() goes to "/" once the
  // mountpoint is resolved. A cwd on the caller's own FUSE mount (without
  // allow_other) cannot be entered by root: the kernel lets only the mount's
  // owner in (fuse_allow_current_process compares real, effective and saved
  // uid). The set-uid helper never enters it (it inherits it, and realpath()
  // reads only its path), so neither must this: its path, from the kernel,
  // is what a relative mountpoint is resolved against then.
  let cwdPath: string | undefined;
  let cd = c.fchdir(cwd);
  if (cd === -c.E.EACCES) {
    const path = c.readlink(`/proc/self/fd/${cwd}`);
    if (typeof path === "string" && path.startsWith("/") && !path.endsWith(" (deleted)")) {
      cwdPath = path;
      cd = c.chdir("/");
    }
  }
  c.close(cwd);
  if (cd < 0) return fail(`cannot enter the caller's working directory: ${c.strerror(-cd)}`, 2);

  const env = launcherFilter(req.env);
  const commNumber = env._FUSE_COMMFD !== undefined ? parseFdNumber(env._FUSE_COMMFD) : undefined;
  if (comm !== undefined && commNumber === undefined) c.close(comm);
  const callerFd = (n: number): number | undefined => (comm !== undefined && n === commNumber ? comm : undefined);
  let told = false;
  const watching = () => {
    if (told) return;
    told = true;
    c.signal(c.SIG.PIPE, c.SIG_IGN); // a service gone meanwhile must not end the watch
    c.writeAll(NOTICE, "W");
    c.close(NOTICE);
  };
  const caller = { uid: peer.uid, gid: peer.gid, groups };
  const [argv0, ...args] = req.argv;
  return main(argv0 || undefined, args, { commFd: env._FUSE_COMMFD, device: env.FUSE_KERN_DEVICE, callerFd, cwd: cwdPath }, { caller, pid: peer.pid, watching });
}
