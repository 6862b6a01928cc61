// One of the service's request threads (src/service.ts starts a few and
// reuses them, so that a request pays no process start). Each serves one
// request at a time, synchronously, with the same code as the set-uid path
// (src/servicerequest.ts serveInThread → main.ts serve).
//
// What makes a thread fit to serve request after request:
//   - its own cwd, root and umask (CLONE_FS) and its own fd table
//     (CLONE_FILES), unshared first thing: a request's fchdir and its fds are
//     this thread's alone, and the service's connections are not in its table;
//   - credentials are per thread (fsuid/fsgid, the raw setgroups syscall,
//     capset): the request lowers and raises only this thread;
//   - after every request, a verified reset: root's fsuid/fsgid, groups and
//     capabilities, cwd "/", umask 033, and exactly the fds the thread had
//     before (any other one is a request's and is closed: a leaked fd of a
//     directory would keep the caller's mount busy, a leaked lock fd would hold
//     the lock). A thread that cannot be reset says so and ends.
// A thread the runtime starts while a request thread is lowered (a JIT
// compiler, a GC helper) is born with that request's fsuid and no effective
// capabilities and keeps them. It runs none of our code and opens no file, and
// its real and saved uids are 0, so its caller cannot signal or trace it. No
// code of ours changes process-wide ids (no glibc set*id: its broadcast would
// fail on such a thread and abort the service).
//
// Control socket (fd `ctl`, SOCK_SEQPACKET to the service's main thread):
//   thread → service  "R" ready (after the unshare), "D" done with a request,
//                     "X" not fit to go on (then the thread ends)
//   service → thread  "Q" + SCM_RIGHTS the caller's connection; EOF: end.
// The thread resets itself, then replies to the caller and closes the connection.

import { workerData } from "node:worker_threads";
import { readdirSync } from "node:fs";
import * as c from "./sys/libc.ts";
import { Privileges } from "./sys/creds.ts";
import { serveInThread, replyAndClose } from "./servicerequest.ts";

const ctl = (workerData as { ctl: number; service: number[] }).ctl;
const serviceFds = new Set((workerData as { ctl: number; service: number[] }).service);
const UMASK = 0o033;

const log = (msg: string) => c.writeAll(2, `fusermount3 service: request thread: ${msg}\n`);

function ownFds(): number[] {
  return readdirSync("/proc/thread-self/fd").map(Number).filter((n) => Number.isInteger(n));
}

// The fds this thread keeps between requests; any other one found after a
// request is the request's. Only files, directories, sockets, pipes and
// devices are closed: an anonymous inode (eventfd, epoll) that appeared is the
// runtime's own and is left alone.
function closeLeftovers(baseline: Set<number>): string[] {
  const closed: string[] = [];
  for (const fd of ownFds()) {
    if (baseline.has(fd)) continue;
    const target = c.readlink(`/proc/thread-self/fd/${fd}`);
    if (typeof target === "number" || target.startsWith("anon_inode:")) continue;
    c.close(fd);
    closed.push(target);
  }
  return closed;
}

// The groups this thread started with (the service's own).
const startGroups = (() => { const g = c.getgroups(); return typeof g === "number" ? [] : g; })();

function reset(baseline: Set<number>): string | undefined {
  try {
    Privileges.resetThread(startGroups);
  } catch (e) {
    return (e as Error).message;
  }
  if (c.chdir("/") < 0) return "cannot return to /";
  const cwd = c.readlink("/proc/thread-self/cwd");
  if (cwd !== "/") return `cwd is ${String(cwd)}, not /`;
  const mask = c.umask(UMASK);
  if (mask !== UMASK) log(`a request changed the umask to ${mask.toString(8)}`);
  const left = closeLeftovers(baseline);
  if (left.length > 0) log(`closed what a request left open: ${left.join(", ")}`);
  return undefined;
}

function start(): void {
  if (c.unshare(c.CLONE_FS | c.CLONE_FILES) < 0) {
    log(`unshare: ${c.strerror(c.errno())}`);
    c.sendBytes(ctl, Buffer.from("X"));
    return;
  }
  // The copy of the table holds the service's own fds as they were when this
  // thread was started (the main thread waits for "R" meanwhile): not ours.
  for (const fd of serviceFds) if (fd > 2 && fd !== ctl) c.close(fd);
  c.umask(UMASK);
  const problem = reset(new Set(ownFds()));
  if (problem) { log(problem); c.sendBytes(ctl, Buffer.from("X")); return; }
  const baseline = new Set(ownFds());
  c.sendBytes(ctl, Buffer.from("R"));
  for (;;) {
    const msg = c.recvFd(ctl, 1);
    if (typeof msg === "number") {
      if (msg === -c.E.EINTR) continue;
      return;
    }
    if (msg.data.length === 0) return; // the service is gone or let us go
    if (msg.fd < 0) continue;
    const conn = msg.fd;
    c.fcntl(conn, c.F.SETFD, 1);
    let status = 1;
    try {
      status = serveInThread(conn);
    } catch (e) {
      // serve() already turns every error into one line and 1; this is for a
      // bug in the request plumbing itself.
      log(`internal error: ${e instanceof Error ? e.message : String(e)}`);
    }
    // Reset first, reply after: when the caller has its answer, nothing of its
    // request is left in the service (no fd of its mountpoint or /dev/fuse,
    // no lowered credentials) for its next request or anyone to run into.
    const problem = reset(new Set([...baseline, conn]));
    replyAndClose(conn, status);
    if (problem) { log(`${problem}; this thread stops serving`); c.sendBytes(ctl, Buffer.from("X")); return; }
    c.sendBytes(ctl, Buffer.from("D"));
  }
}

start();
