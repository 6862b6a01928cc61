// `fusermount3-bun --service`: one long-running root process that serves the
// launcher's requests over an AF_UNIX SOCK_SEQPACKET socket (protocol/README.md,
// "The service protocol").
//
// The loop is one synchronous poll() over the listening socket, connections
// waiting for their request, and running requests. It never blocks on
// anything a caller controls:
//   - it never reads, stats, writes or closes a fd the caller sent: it only
//     PEEKS at the request's bytes (the fds stay queued on the connection), and
//     the per-request child takes message and fds off the connection itself
//     (a close() of a file on the caller's own FUSE mount can wait for its
//     server's FLUSH answer for ever: that may only ever stall the caller's own
//     child);
//   - a connection has REQUEST_DEADLINE_MS to deliver its request, and each uid
//     has a bounded number of waiting connections and running requests;
//   - a request that ends when it is done (classic mount, -u, -V, refusals:
//     src/policy/serviceroute.ts) from a caller in our own mount namespace and
//     root runs in one of a few request threads that are started once and
//     reused (src/serviceworker.ts: own cwd and fd table, per-thread
//     credentials, a verified reset after each request), so it pays no process
//     start; the thread replies to the caller itself;
//   - every other request (--sync-init, auto-unmount watches, --check, other
//     namespaces), and one that found no thread free within THREAD_QUEUE_MS,
//     runs in a fresh child of this binary (spawned with an empty environment
//     and exactly the fds it needs; everything here is close-on-exec); its
//     exit status is the reply.

import * as c from "./sys/libc.ts";
import {
  parseRequest, encodeStatusReply, NOTICE_WATCHING, MAX_REQUEST_BYTES, REQUEST_DEADLINE_MS, DEFAULT_SOCKET,
} from "../protocol/service.ts";
import { SERVICE_REQUEST_ARG, SERVICE_UNWATCH_ARG, replyAndClose } from "./servicerequest.ts";
import { parseRecord, prepareDir, saveRecord, dropRecord, sweepRecords, WATCH_DIR_ARG, type WatchRecord } from "./servicewatch.ts";
import { kernelMount } from "./sys/mounttable.ts";
import { runsInThread } from "./policy/serviceroute.ts";
import { readdirSync } from "node:fs";

export const SERVICE_ARG = "--service";
const MAX_WAITING_PER_UID = 16;
const MAX_WAITING = 1024;
const MAX_RUNNING_PER_UID = 32; // not counting requests that became auto-unmount watches
const BACKLOG = 128;
const MAX_THREADS = 8;
const THREAD_START_MS = 5000;
// One uid's requests hold at most this many threads at once: a user whose
// requests stall (a mountpoint under a FUSE mount of their own that never
// answers) cannot take them all.
const MAX_THREADS_PER_UID = MAX_THREADS / 2;
// A request meant for a thread waits this long at most for one to be free
// (a thread serves a classic mount in about a millisecond; a process of its
// own costs the runtime's start, tens of milliseconds of CPU, which on a busy
// machine slows every thread down). After that it gets a process: other
// users' requests, however slow, delay it no longer.
const THREAD_QUEUE_MS = 250;
// Threads beyond the first end after this long without a request: each holds
// a runtime heap of its own.
const THREAD_IDLE_MS = 5000;

// In the compiled binary an extra entry point is named by its path from the
// build's root (scripts/build.sh lists it); from source, next to this file.
const WORKER_ENTRY = import.meta.url.startsWith("file:///$bunfs/") ? "./src/serviceworker.ts" : new URL("./serviceworker.ts", import.meta.url).href;

type Waiting = { conn: number; uid: number; pid: number; deadline: number };
type Thread = { ctl: number; worker: Worker; uid?: number; idleSince: number }; // uid: busy with a request of that uid
type Queued = { conn: number; uid: number; since: number }; // a request for a thread (parsed, its caller local)
// watching: the request went on as a watch (its child became the watchdog, or
// handed the watch over: handedOver, then the watch owns the connection).
type Running = { conn: number; uid: number; pid: number; pidfd: number; notice: number; watching: boolean; handedOver: boolean; started: number };
// A watch held here (src/servicewatch.ts); conn is -1 once the launcher is gone.
type Watch = { comm: number; conn: number; rec: WatchRecord; unwatch?: { pid: number; pidfd: number } };
const GONE_CHECK_MS = 1000;

const log = (msg: string) => c.writeAll(2, `fusermount3 service: ${msg}\n`);

// The socket the service listens on: systemd's (LISTEN_FDS=1, fd 3), or its
// own at `path` (directory root 0755, socket 0666).
function openListener(path: string, activated: number | undefined): number {
  if (activated !== undefined) {
    const type = c.getSockOptInt(activated, c.SOL_SOCKET, c.SO.TYPE);
    const domain = c.getSockOptInt(activated, c.SOL_SOCKET, c.SO.DOMAIN);
    const listening = c.getSockOptInt(activated, c.SOL_SOCKET, c.SO_ACCEPTCONN);
    if (domain !== c.AF_UNIX || type !== c.SOCK.SEQPACKET || listening !== 1) {
      throw new Error("the socket passed by systemd (fd 3) is not a listening AF_UNIX SOCK_SEQPACKET socket (ListenSequentialPacket=)");
    }
    c.fcntl(activated, c.F.SETFD, 1);
    c.fcntl(activated, c.F.SETFL, c.fcntl(activated, c.F.GETFL) | 0o4000 /* O_NONBLOCK */);
    return activated;
  }
  if (!path.startsWith("/")) throw new Error(`--socket must be an absolute path: ${path}`);
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  const mk = c.mkdir(dir, 0o755);
  if (mk < 0 && mk !== -c.E.EEXIST) throw new Error(`cannot create ${dir}: ${c.strerror(-mk)}`);
  const st = c.lstat(dir);
  if (typeof st === "number" || (st.mode & c.S.IFMT) !== c.S.IFDIR || st.uid !== 0) {
    throw new Error(`${dir} must be a directory owned by root`);
  }
  if (mk === 0 || (st.mode & 0o022) !== 0) c.chmod(dir, 0o755);
  const old = c.lstat(path);
  if (typeof old !== "number") {
    if ((old.mode & c.S.IFMT) !== c.S.IFSOCK) throw new Error(`${path} exists and is not a socket`);
    const probe = c.connectUnix(path, c.SOCK.SEQPACKET);
    if (probe >= 0) { c.close(probe); throw new Error(`another service answers at ${path}`); }
    c.unlink(path);
  }
  const fd = c.listenUnix(path, c.SOCK.SEQPACKET, BACKLOG);
  if (fd < 0) throw new Error(`cannot listen at ${path}: ${c.strerror(-fd)}`);
  if (c.chmod(path, 0o666) < 0) throw new Error(`cannot chmod ${path}: ${c.strerror(c.errno())}`);
  return fd;
}

export function serviceMain(args: readonly string[], activated: number | undefined): never {
  if (c.getuid() !== 0 || c.geteuid() !== 0) {
    log("--service runs as root only (started by root or by systemd)");
    return c.exit(1);
  }
  let path = DEFAULT_SOCKET;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--socket" && args[i + 1] !== undefined) path = args[++i]!;
    else if (args[i]!.startsWith("--socket=")) path = args[i]!.slice(9);
    else { log(`unknown argument ${args[i]}`); return c.exit(1); }
  }
  let listener: number;
  try {
    listener = openListener(path, activated);
  } catch (e) {
    log((e as Error).message);
    return c.exit(1);
  }
  c.setRlimit(7 /* RLIMIT_NOFILE */, 65536n, 65536n);
  c.signal(c.SIG.PIPE, c.SIG_IGN);
  const devnull = c.open("/dev/null", c.O.RDWR | c.O.CLOEXEC);
  const self = process.execPath;
  log(`listening on ${activated !== undefined ? "the socket systemd passed" : path} (pid ${process.pid})`);
  const caps = c.capget();
  if (typeof caps === "number" || (caps.effective & c.capBit(c.CAP.SYS_PTRACE)) === 0n) {
    log("no CAP_SYS_PTRACE: where a caller is cannot be seen, so every request takes a process of its own and callers in another mount namespace are refused (add it to CapabilityBoundingSet=)");
  }

  const waiting = new Map<number, Waiting>(); // by connection fd
  const running = new Map<number, Running>(); // by pidfd
  const notices = new Map<number, Running>(); // by notice socket fd
  const watches = new Map<number, Watch>(); // by comm fd
  const unwatching = new Map<number, Watch>(); // by pidfd of its --service-unwatch child
  const watchDir = `${(activated !== undefined ? DEFAULT_SOCKET : path).replace(/\/[^/]*$/, "")}/watches`;
  const isGone = (unique: bigint) => kernelMount(unique) === undefined;
  try {
    prepareDir(watchDir);
    sweepRecords(watchDir, isGone, () => false);
  } catch (e) {
    log(`cannot use ${watchDir}: ${(e as Error).message}`);
  }
  // One wake-up for every watched mount that goes (Linux 6.15), else a check
  // once a second while there are watches.
  const detachEvents = c.mountDetachEvents();
  const count = <T extends { uid: number }>(m: Map<number, T>, uid: number, pred: (v: T) => boolean = () => true) => {
    let n = 0;
    for (const v of m.values()) if (v.uid === uid && pred(v)) n++;
    return n;
  };
  let acceptPausedUntil = 0;

  // Request threads, started on demand up to MAX_THREADS. Starting one blocks
  // this loop until the thread has unshared its fd table (at most
  // THREAD_START_MS, once per thread): the list of our fds it must close in
  // its copy is only exact if we open none meanwhile. With all of them busy a
  // request waits for one (THREAD_QUEUE_MS at most, then it gets a process);
  // an idle one beyond the first ends after THREAD_IDLE_MS.
  const threads = new Map<number, Thread>(); // by control socket
  let threadsFailed = false;
  const ownNamespace = c.readlink("/proc/self/ns/mnt");
  const startThread = (): Thread | undefined => {
    const pair = c.socketpair(c.SOCK.SEQPACKET);
    if (typeof pair === "number") return undefined;
    const service = readdirSync("/proc/self/fd").map(Number).filter((n) => Number.isInteger(n));
    let worker: Worker;
    try {
      worker = new Worker(WORKER_ENTRY, { workerData: { ctl: pair[1], service } } as WorkerOptions);
    } catch (e) {
      c.close(pair[0]); c.close(pair[1]);
      log(`cannot start a request thread: ${(e as Error).message}; requests run in processes`);
      threadsFailed = true;
      return undefined;
    }
    const ready = c.pollOne(pair[0], c.POLL.IN, THREAD_START_MS) > 0 ? c.recvBytes(pair[0], 1, c.MSG_DONTWAIT) : -c.E.ETIMEDOUT;
    c.close(pair[1]);
    if (typeof ready === "number" || ready.toString("latin1") !== "R") {
      c.close(pair[0]);
      worker.terminate();
      log(`a request thread did not start (${typeof ready === "number" ? c.strerror(-ready) : JSON.stringify(ready.toString("latin1"))}); requests run in processes`);
      threadsFailed = true;
      return undefined;
    }
    const t: Thread = { ctl: pair[0], worker, idleSince: Date.now() };
    threads.set(t.ctl, t);
    return t;
  };
  const idleThread = (): Thread | undefined => {
    for (const t of threads.values()) if (t.uid === undefined) return t;
    return threadsFailed || threads.size >= MAX_THREADS ? undefined : startThread();
  };
  // Our mount namespace and root, as far as the connection's pid tells: only
  // then can a thread of ours attach there. (The request's own fds decide in
  // the end; this only picks where it runs.)
  const callerIsLocal = (pid: number): boolean =>
    pid > 0 && typeof ownNamespace === "string" && c.readlink(`/proc/${pid}/ns/mnt`) === ownNamespace && c.readlink(`/proc/${pid}/root`) === "/";
  const endThread = (t: Thread) => {
    threads.delete(t.ctl);
    c.close(t.ctl); // EOF: the thread ends by itself
    t.worker.unref();
  };
  // Requests waiting for a thread, oldest first.
  const queued: Queued[] = [];
  const threadsOf = (uid: number) => {
    let n = 0;
    for (const t of threads.values()) if (t.uid === uid) n++;
    return n;
  };
  const toThread = (t: Thread, q: { conn: number; uid: number }): boolean => {
    if (c.sendFd(t.ctl, q.conn, 0x51 /* "Q" */) !== 1) return false;
    t.uid = q.uid;
    c.close(q.conn); // the thread has its own copy, in its own table
    return true;
  };
  const threadNotice = (t: Thread) => {
    const b = c.recvBytes(t.ctl, 1, c.MSG_DONTWAIT);
    if (b === -c.E.EAGAIN || b === -c.E.EINTR) return;
    if (typeof b !== "number" && b.toString("latin1") === "D") {
      t.uid = undefined;
      t.idleSince = Date.now();
      const i = queued.findIndex((q) => threadsOf(q.uid) < MAX_THREADS_PER_UID);
      if (i < 0) return;
      const q = queued.splice(i, 1)[0]!;
      if (!toThread(t, q)) inProcess(q);
      return;
    }
    // "X" (not fit to go on) or gone: its request, if any, ends with it.
    endThread(t);
  };

  const accept = (now: number) => {
    for (let i = 0; i < 64; i++) {
      const conn = c.accept(listener);
      if (conn === -c.E.EAGAIN || conn === -c.E.EINTR || conn === -c.E.ECONNABORTED) return;
      if (conn < 0) { acceptPausedUntil = now + 100; log(`accept: ${c.strerror(-conn)}`); return; } // EMFILE and the like
      const peer = c.peerCred(conn);
      if (typeof peer === "number" || waiting.size >= MAX_WAITING || count(waiting, peer.uid) >= MAX_WAITING_PER_UID) {
        replyAndClose(conn, 1);
        continue;
      }
      const w: Waiting = { conn, uid: peer.uid, pid: peer.pid, deadline: now + REQUEST_DEADLINE_MS };
      waiting.set(conn, w);
      // The launcher sends its request right after connect(): usually it is
      // here already, and a poll round for it would only add latency.
      start(w, now);
    }
  };

  const start = (w: Waiting, now: number) => {
    waiting.delete(w.conn);
    const peek = c.peekMessage(w.conn, MAX_REQUEST_BYTES + 1);
    if (peek === -c.E.EAGAIN) { waiting.set(w.conn, w); return; }
    if (typeof peek === "number" || peek.data.length === 0) { c.close(w.conn); return; } // gone, or EOF
    // Reject what is not a request without a child; what is, the child parses again.
    const parsed = peek.truncated ? undefined : parseRequest(peek.data);
    if (!parsed || !parsed.ok) { replyAndClose(w.conn, 1); return; }
    const inThreads = threadsOf(w.uid);
    let busy = count(running, w.uid, (r) => !r.watching) + inThreads;
    for (const q of queued) if (q.uid === w.uid) busy++;
    if (busy >= MAX_RUNNING_PER_UID) { replyAndClose(w.conn, 1); return; }
    if (!parsed.request.resume && runsInThread(parsed.request.argv.slice(1)) && callerIsLocal(w.pid)) {
      const t = inThreads < MAX_THREADS_PER_UID ? idleThread() : undefined;
      if (t && toThread(t, w)) return;
      if (!t && threads.size > 0) { queued.push({ conn: w.conn, uid: w.uid, since: now }); return; }
    }
    inProcess(w);
  };

  // A request in a process of its own: what threads do not serve, or when
  // none is free in time.
  const inProcess = (w: { conn: number; uid: number }) => {
    const now = Date.now();
    const pipe = c.socketpair(c.SOCK.SEQPACKET);
    if (typeof pipe === "number") { replyAndClose(w.conn, 1); return; }
    const pid = c.spawnWithFds(self, ["fusermount3-bun", SERVICE_REQUEST_ARG, `${WATCH_DIR_ARG}${watchDir}`], [devnull, devnull, devnull, w.conn, pipe[1]]);
    c.close(pipe[1]);
    const pidfd = pid > 0 ? c.pidfdOpen(pid) : -1;
    if (pid <= 0 || pidfd < 0) {
      log(`cannot start a request: ${c.strerror(pid <= 0 ? -pid : -pidfd)}`);
      c.close(pipe[0]);
      replyAndClose(w.conn, 1);
      return;
    }
    const r: Running = { conn: w.conn, uid: w.uid, pid, pidfd, notice: pipe[0], watching: false, handedOver: false, started: now };
    running.set(pidfd, r);
    notices.set(pipe[0], r);
  };

  const finish = (r: Running) => {
    const status = c.reap(r.pid);
    if (status === undefined) return; // not yet (spurious wake-up)
    running.delete(r.pidfd);
    c.close(r.pidfd);
    if (notices.delete(r.notice)) c.close(r.notice);
    if (!r.handedOver) replyAndClose(r.conn, status < 0 ? 1 : status);
  };

  // From a request child: "W" (the request goes on as a watch), or "H" + a
  // watch record with the comm fd (the watch is ours from now on: "A").
  const notice = (fd: number) => {
    const r = notices.get(fd)!;
    const m = c.recvFd(fd, 16384);
    if (typeof m === "number") {
      if (m !== -c.E.EINTR && m !== -c.E.EAGAIN) { notices.delete(fd); c.close(fd); }
      return;
    }
    if (m.data.length === 0) { notices.delete(fd); c.close(fd); if (m.fd >= 0) c.close(m.fd); return; }
    const kind = String.fromCharCode(m.data[0]!);
    if (kind === "W" && !r.watching) {
      r.watching = true;
      c.sendBytes(r.conn, Buffer.from(NOTICE_WATCHING, "latin1"), c.MSG_DONTWAIT);
    }
    if (kind !== "H") { if (m.fd >= 0) c.close(m.fd); return; }
    const rec = parseRecord(m.data.subarray(1).toString("utf8"));
    const held = rec !== undefined && [...watches.values()].some((w) => w.rec.unique === rec.unique);
    if (!rec || m.fd < 0 || held || r.handedOver || rec.uid !== r.uid) { if (m.fd >= 0) c.close(m.fd); return; } // no "A": the child keeps it
    try {
      saveRecord(watchDir, rec);
    } catch (e) {
      log(`cannot record the watch of ${rec.mountpoint}: ${(e as Error).message}`);
      c.close(m.fd);
      return;
    }
    const w: Watch = { comm: m.fd, conn: r.conn, rec };
    watches.set(m.fd, w);
    r.handedOver = true;
    c.sendBytes(fd, Buffer.from("A"), c.MSG_DONTWAIT);
    // A resumed watch's mount may have gone while no service ran: no event will say so.
    if (isGone(BigInt(rec.unique))) endWatch(w, 0);
  };

  const endWatch = (w: Watch, status: number) => {
    watches.delete(w.comm);
    c.close(w.comm);
    if (w.conn >= 0) replyAndClose(w.conn, status);
    dropRecord(watchDir, w.rec.unique);
  };
  // The server's end closed (EOF) or sent something (read and ignored).
  const commReady = (w: Watch) => {
    const b = c.recvBytes(w.comm, 16, c.MSG_DONTWAIT);
    if (typeof b === "number" ? b === -c.E.EINTR || b === -c.E.EAGAIN : b.length > 0) return;
    watches.delete(w.comm);
    c.close(w.comm);
    const pid = c.spawnWithFds(self, ["fusermount3-bun", SERVICE_UNWATCH_ARG, JSON.stringify(w.rec)], [devnull, devnull, devnull]);
    const pidfd = pid > 0 ? c.pidfdOpen(pid) : -1;
    if (pid <= 0 || pidfd < 0) {
      log(`cannot start the unmount of ${w.rec.mountpoint}: ${c.strerror(pid <= 0 ? -pid : -pidfd)}`);
      if (w.conn >= 0) replyAndClose(w.conn, 1);
      return; // the record stays: a later service finds the mount dead and gone or not
    }
    w.unwatch = { pid, pidfd };
    unwatching.set(pidfd, w);
  };
  const unwatched = (w: Watch) => {
    const status = c.reap(w.unwatch!.pid);
    if (status === undefined) return;
    unwatching.delete(w.unwatch!.pidfd);
    c.close(w.unwatch!.pidfd);
    if (w.conn >= 0) replyAndClose(w.conn, status < 0 ? 1 : status);
    dropRecord(watchDir, w.rec.unique);
  };
  // The launcher went away: the watch goes on without anyone to tell.
  const launcherGone = (w: Watch) => { c.close(w.conn); w.conn = -1; };
  const checkGone = () => {
    for (const w of [...watches.values()]) if (isGone(BigInt(w.rec.unique))) endWatch(w, 0);
  };
  const detached = () => {
    for (;;) { const b = c.readFd(detachEvents, 4096); if (typeof b === "number" || b.length === 0) break; }
    checkGone();
  };
  let lastGoneCheck = Date.now();

  for (;;) {
    const now = Date.now();
    for (const w of [...waiting.values()]) {
      if (w.deadline <= now) { waiting.delete(w.conn); replyAndClose(w.conn, 1); }
    }
    // The poll wakes at the earliest of these moments (every one of them is
    // still ahead: what was due has been done above or below).
    let wakeAt = Infinity;
    const wakeBy = (at: number) => { wakeAt = Math.min(wakeAt, at); };
    while (queued.length > 0 && queued[0]!.since + THREAD_QUEUE_MS <= now) inProcess(queued.shift()!);
    for (const t of [...threads.values()]) {
      if (t.uid !== undefined || threads.size <= 1) continue;
      if (t.idleSince + THREAD_IDLE_MS <= now) endThread(t);
      else wakeBy(t.idleSince + THREAD_IDLE_MS);
    }
    const entries: { fd: number; events: number; on: () => void }[] = [];
    if (now >= acceptPausedUntil) entries.push({ fd: listener, events: c.POLL.IN, on: () => accept(Date.now()) });
    for (const w of waiting.values()) entries.push({ fd: w.conn, events: c.POLL.IN, on: () => start(w, Date.now()) });
    for (const r of running.values()) entries.push({ fd: r.pidfd, events: c.POLL.IN, on: () => finish(r) });
    for (const fd of notices.keys()) entries.push({ fd, events: c.POLL.IN, on: () => notice(fd) });
    for (const t of threads.values()) entries.push({ fd: t.ctl, events: c.POLL.IN, on: () => threadNotice(t) });
    for (const w of watches.values()) {
      entries.push({ fd: w.comm, events: c.POLL.IN, on: () => commReady(w) });
      if (w.conn >= 0) entries.push({ fd: w.conn, events: c.POLL.IN, on: () => launcherGone(w) });
    }
    for (const w of unwatching.values()) entries.push({ fd: w.unwatch!.pidfd, events: c.POLL.IN, on: () => unwatched(w) });
    if (detachEvents >= 0) entries.push({ fd: detachEvents, events: c.POLL.IN, on: detached });
    if (detachEvents < 0 && watches.size > 0) {
      if (now - lastGoneCheck >= GONE_CHECK_MS) { lastGoneCheck = now; checkGone(); }
      wakeBy(lastGoneCheck + GONE_CHECK_MS);
    }
    for (const w of waiting.values()) wakeBy(w.deadline);
    if (queued.length > 0) wakeBy(queued[0]!.since + THREAD_QUEUE_MS);
    if (now < acceptPausedUntil) wakeBy(acceptPausedUntil);
    const ready = c.pollEach(entries, wakeAt === Infinity ? -1 : Math.max(0, wakeAt - now));
    if (typeof ready === "number") {
      if (ready !== -c.E.EINTR) { log(`poll: ${c.strerror(-ready)}`); c.sleepMs(10); }
      continue;
    }
    for (let i = 0; i < entries.length; i++) {
      if (ready[i] === 0) continue;
      try {
        entries[i]!.on();
      } catch (e) {
        // A bug handling one connection must never end the service.
        log(`internal error: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  }
}
