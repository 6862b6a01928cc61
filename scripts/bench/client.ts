// The benchmark's measuring client: ONE long-running Bun program, compiled with
// `bun build --compile` into the temporary prefix and run as the unprivileged
// user inside the benchmark's private mount namespace (scripts/bench.sh).
//
// It does what libfuse does for a mount (socketpair, _FUSE_COMMFD=3, spawn the
// helper, receive the /dev/fuse fd, wait for the helper to exit) and times each
// helper run itself with performance.now() around spawn -> fd -> exit, so the
// harness's own per-iteration work (directories, socketpairs, argv) is outside
// the measurement. Helpers of different kinds run interleaved (A B A B ...).
//
//   client '<ClientConfig json>'
//   client '{"agent":true,"timeoutMs":N}'   (a per-user agent of the service
//                                           phase's multi-user rounds: see agentMain)
//
// Talks to the controller (root) with JSON lines: requests on stdout, answers
// on stdin (see types.ts). Prints nothing else on stdout.

import { readFileSync, readSync, mkdirSync, writeSync } from "node:fs";
import { dlopen, FFIType, ptr } from "bun:ffi";
import * as c from "../../src/sys/libc.ts";
import { FUSE_DEV_IOC_SYNC_INIT, STATUS_SIZE, decodeStatus } from "../../protocol/wire.ts";
import { prepare, waitExit, drain, monotonicMs, type Exit } from "./spawn.ts";
import type {
  ClientConfig, ClientResult, ConcurrentRound, Failure, HelperSpec, MultiUserRound, Request, ScaleAnswer, ScalePoint, Series,
  ServiceMemGroup, ServiceResult, TreeMem, WatchdogSample,
} from "./types.ts";

const cfg = JSON.parse(process.argv[2] ?? "{}") as ClientConfig;
const OPTS = "rw,nosuid,nodev,fsname=bench,subtype=bench";
const phase = (name: string): boolean => !cfg.phases || cfg.phases.includes(name);

// ---- controller channel ----------------------------------------------------

function send(r: Request): void { writeSync(1, JSON.stringify(r) + "\n"); }
let inBuf = "";
function receiveLine(): string {
  const b = Buffer.alloc(65536);
  for (;;) {
    const i = inBuf.indexOf("\n");
    if (i >= 0) { const line = inBuf.slice(0, i); inBuf = inBuf.slice(i + 1); return line; }
    const n = readSync(0, b, 0, b.length, null);
    if (n <= 0) throw new Error("controller went away");
    inBuf += b.toString("utf8", 0, n);
  }
}
function ask<T>(r: Request): T { send(r); return JSON.parse(receiveLine()) as T; }
const progress = (msg: string): void => send({ type: "progress", msg });

// ---- one helper run ---------------------------------------------------------

type Run = {
  pid: number;
  t0: number;
  mine: number; // our end of the comm socket (-1 without one)
  errFd: number; // read end of the helper's stderr
};
type Done = { exit: Exit; exitMs: number; stderr: string };

// wrap: run the helper under another program (/usr/bin/time -f %M).
function start(path: string, args: string[], env: Record<string, string>, withSocket: boolean, wrap?: string[]): Run {
  let mine = -1, theirs = -1;
  if (withSocket) {
    const pair = c.socketpair(c.SOCK.STREAM);
    if (typeof pair === "number") throw new Error(`socketpair: ${c.strerror(-pair)}`);
    [mine, theirs] = pair;
  }
  const err = c.pipe();
  if (typeof err === "number") throw new Error(`pipe: ${c.strerror(-err)}`);
  const fds: Record<number, number> = { 2: err[1] };
  if (withSocket) fds[3] = theirs;
  const p = wrap
    ? prepare({ path: wrap[0]!, argv: [...wrap, path, ...args], env, fds })
    : prepare({ path, argv: ["fusermount3", ...args], env, fds });
  const t0 = performance.now();
  const pid = p.go();
  if (theirs >= 0) c.close(theirs);
  c.close(err[1]);
  return { pid, t0, mine, errFd: err[0] };
}

function finish(r: Run): Done {
  const exit = waitExit(r.pid, cfg.timeoutMs);
  const exitMs = performance.now() - r.t0;
  const stderr = drain(r.errFd);
  c.close(r.errFd);
  return { exit, exitMs, stderr };
}

// Wait for the fd message; returns the fd (-1: EOF or error) and when it came.
function receiveFd(r: Run, timeoutMs = cfg.timeoutMs): { fd: number; ms: number } {
  const ev = c.pollOne(r.mine, c.POLL.IN, timeoutMs);
  if (ev <= 0) return { fd: -1, ms: performance.now() - r.t0 };
  const got = c.recvFd(r.mine, 1);
  const ms = performance.now() - r.t0;
  if (typeof got === "number" || got.data.length !== 1) return { fd: -1, ms };
  return { fd: got.fd, ms };
}

const failure = (what: string, f: Done, extra = ""): Failure =>
  ({ what, code: f.exit.code, signal: f.exit.signal, stderr: `${extra} ${f.stderr}`.trim().slice(0, 500) });

const newSeries = (): Series => ({ samples: [], failures: [] });
const ENV_COMM = { _FUSE_COMMFD: "3" };

// /usr/bin/time -f %M prints the peak RSS (KiB) as the last line of stderr.
const timeKiB = (d: Done): number => {
  const last = d.stderr.trim().split("\n").pop() ?? "";
  return /^\d+$/.test(last) ? Number(last) : NaN;
};

// ---- mount table --------------------------------------------------------------

function fuseMounts(): { mountPoint: string; type: string }[] {
  const out: { mountPoint: string; type: string }[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (sep < 0) continue;
    const type = f[sep + 1] ?? "";
    if (!(type === "fuse" || type.startsWith("fuse.") || type === "fuseblk" || type.startsWith("fuseblk."))) continue;
    out.push({ mountPoint: (f[4] ?? "").replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))), type });
  }
  return out;
}
const fuseMountsBelow = (dir: string): string[] =>
  fuseMounts().map((m) => m.mountPoint).filter((p) => p === dir || p.startsWith(dir + "/"));
// What mount_max counts: fuse and fuse.* mounts of everyone in the namespace.
const countAllFuseMounts = (): number => fuseMounts().filter((m) => m.type === "fuse" || m.type.startsWith("fuse.")).length;

function mkdirp(p: string): string { mkdirSync(p, { recursive: true, mode: 0o755 }); return p; }

// Untimed `-u` (cleanup); returns true when the helper said 0.
function unmountUntimed(h: HelperSpec, mnt: string): boolean {
  return finish(start(h.launcher, ["-u", mnt], {}, false)).exit.code === 0;
}

// ---- classic mount and unmount ----------------------------------------------------

type Mounted = { run: Run; fd: number; fdMs: number; done: Done };

function classicMount(h: HelperSpec, mnt: string, extraOpts = "", wrap?: string[]): Mounted {
  const run = start(h.launcher, ["-o", OPTS + extraOpts, "--", mnt], ENV_COMM, true, wrap);
  const { fd, ms } = receiveFd(run);
  const done = finish(run);
  return { run, fd, fdMs: ms, done };
}

function release(m: Mounted): void {
  if (m.fd >= 0) c.close(m.fd);
  c.close(m.run.mine);
}

type CycleSeries = { mount: Record<string, Series>; unmount: Record<string, Series>; cycle: Record<string, Series> };

function classicCycle(h: HelperSpec, mnt: string, scenario: string, record: boolean): void {
  cycleInto(res.classic[scenario]!, h, mnt, ["-u"], record);
}

// One classic mount and the unmount that follows it (unmountArgs before the
// mountpoint: `-u` for the classic phases, `-u -z --` as libfuse's
// fuse_kern_unmount for the scale phase), each timed; recorded into sc.
function cycleInto(sc: CycleSeries, h: HelperSpec, mnt: string, unmountArgs: readonly string[], record: boolean, round?: number): void {
  const mounts = sc.mount[h.name]!, unmounts = sc.unmount[h.name]!, cycles = sc.cycle[h.name]!;
  const tag = round === undefined ? {} : { round };
  const m = classicMount(h, mnt);
  if (m.fd < 0 || m.done.exit.code !== 0) {
    if (record) mounts.failures.push(failure("mount", m.done));
    release(m);
    if (fuseMountsBelow(mnt).length > 0) unmountUntimed(h, mnt);
    return;
  }
  // The server (us) keeps the fd and the socket while it is unmounted, as a
  // live FUSE server would.
  const ud = finish(start(h.launcher, [...unmountArgs, mnt], {}, false));
  release(m);
  if (ud.exit.code !== 0) {
    if (record) unmounts.failures.push(failure("unmount", ud));
    unmountUntimed(h, mnt);
    return;
  }
  if (!record) return;
  mounts.samples.push({ fdMs: m.fdMs, exitMs: m.done.exitMs, cpuMs: m.done.exit.cpuMs, ...tag });
  unmounts.samples.push({ exitMs: ud.exitMs, cpuMs: ud.exit.cpuMs, ...tag });
  cycles.samples.push({ exitMs: m.done.exitMs + ud.exitMs, cpuMs: m.done.exit.cpuMs + ud.exit.cpuMs, ...tag });
}

// ---- sync-init mount ---------------------------------------------------------------

const io = dlopen("libc.so.6", {
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
}).symbols;
const initBuf = Buffer.alloc((1 << 20) + 4096);
const initReply = Buffer.alloc(16 + 64);

type SyncInit = { fdMs: number; status: number | "eof"; statusMs: number; done: Done; problem: string };

// What test/tools/syncpeer.ts does with init "answer": arm the fd, send
// proceed, answer FUSE_INIT (sent from inside the helper's mount call), read the
// int32 status, wait for the exit; then unmount (untimed).
function syncInitMount(h: HelperSpec, mnt: string, wrap?: string[]): SyncInit {
  const run = start(h.launcher, ["--sync-init", "-o", OPTS, "--", mnt], ENV_COMM, true, wrap);
  const { fd, ms: fdMs } = receiveFd(run);
  let status: number | "eof" = "eof";
  let statusMs = 0;
  let problem = "";
  if (fd >= 0) {
    const armed = c.ioctl(fd, FUSE_DEV_IOC_SYNC_INIT);
    if (armed !== 0) problem = `ioctl(FUSE_DEV_IOC_SYNC_INIT): ${c.strerror(-armed)}`;
    c.sendBytes(run.mine, new Uint8Array([0]));
    if (armed === 0 && c.pollOne(fd, c.POLL.IN, cfg.timeoutMs) > 0) {
      const n = Number(io.read(fd, ptr(initBuf), initBuf.length));
      if (n >= 40) {
        initReply.fill(0);
        initReply.writeUInt32LE(initReply.length, 0);
        initReply.writeBigUInt64LE(initBuf.readBigUInt64LE(8), 8); // unique
        initReply.writeUInt32LE(7, 16); // major
        initReply.writeUInt32LE(31, 20); // minor
        initReply.writeUInt32LE(4096, 24); // max_readahead
        initReply.writeUInt32LE(4096, 40); // max_write
        initReply.writeUInt32LE(1, 44); // time_gran
        initReply.writeUInt16LE(1, 48); // max_pages
        io.write(fd, ptr(initReply), initReply.length); // one write: a FUSE reply arrives whole
      } else {
        problem = `reading FUSE_INIT: ${n}`;
      }
    }
    const buf: number[] = [];
    while (buf.length < STATUS_SIZE) {
      if (c.pollOne(run.mine, c.POLL.IN, cfg.timeoutMs) <= 0) break;
      const r = c.recvBytes(run.mine, STATUS_SIZE - buf.length);
      if (typeof r === "number" || r.length === 0) break;
      buf.push(...r);
    }
    statusMs = performance.now() - run.t0;
    if (buf.length === STATUS_SIZE) status = decodeStatus(new Uint8Array(buf));
  }
  const done = finish(run);
  if (fd >= 0) c.close(fd);
  c.close(run.mine);
  if (fuseMountsBelow(mnt).length > 0 && !unmountUntimed(h, mnt)) throw new Error(`could not unmount ${mnt} after a sync-init mount`);
  return { fdMs, status, statusMs, done, problem };
}

function syncInitCycle(h: HelperSpec, mnt: string, record: boolean): void {
  const s = syncInitMount(h, mnt);
  if (!record) return;
  const series = res.syncInit[h.name]!;
  if (s.status !== 0 || s.done.exit.code !== 0) series.failures.push(failure("sync-init mount", s.done, `${s.problem} status=${s.status}`));
  else series.samples.push({ fdMs: s.fdMs, statusMs: s.statusMs, exitMs: s.done.exitMs, cpuMs: s.done.exit.cpuMs });
}

// ---- -V ---------------------------------------------------------------------------

type VKind = { name: string; path: string; args: string[] };

function versionRun(k: VKind, record: boolean, wrap?: string[]): Done {
  const d = finish(start(k.path, k.args, {}, false, wrap));
  if (!record) return d;
  const series = res.version[k.name]!;
  if (d.exit.code !== 0) series.failures.push(failure("-V", d));
  else series.samples.push({ exitMs: d.exitMs, cpuMs: d.exit.cpuMs });
  return d;
}

function versionOutput(k: VKind): string {
  const out = c.pipe();
  if (typeof out === "number") throw new Error("pipe");
  const pid = prepare({ path: k.path, argv: ["fusermount3", ...k.args], env: {}, fds: { 1: out[1] } }).go();
  c.close(out[1]);
  const text = drain(out[0]);
  c.close(out[0]);
  waitExit(pid, cfg.timeoutMs);
  return text.trim();
}

// ---- concurrency ------------------------------------------------------------------

function concurrentRound(h: HelperSpec, dir: string, count: number): ConcurrentRound {
  const mnts = Array.from({ length: count }, (_, i) => mkdirp(`${dir}/${i}`));
  // Everything allocated first; then every helper is started back to back.
  const pairs = mnts.map(() => {
    const pair = c.socketpair(c.SOCK.STREAM);
    const err = c.pipe();
    if (typeof pair === "number" || typeof err === "number") throw new Error("socketpair/pipe");
    return { mine: pair[0], theirs: pair[1], errR: err[0], errW: err[1] };
  });
  const preps = mnts.map((m, i) => prepare({
    path: h.launcher, argv: ["fusermount3", "-o", OPTS, "--", m], env: ENV_COMM,
    fds: { 2: pairs[i]!.errW, 3: pairs[i]!.theirs },
  }));
  const t0 = performance.now();
  const pids = preps.map((p) => p.go());
  for (const p of pairs) { c.close(p.theirs); c.close(p.errW); }
  const exits = pids.map((pid) => waitExit(pid, cfg.timeoutMs * 3));
  const wallMs = performance.now() - t0;
  const errors: Record<string, number> = {};
  const held: number[] = [];
  let mounted = 0;
  pairs.forEach((p, i) => {
    const stderr = drain(p.errR).trim();
    c.close(p.errR);
    let fd = -1;
    if (c.pollOne(p.mine, c.POLL.IN, 0) > 0) {
      const got = c.recvFd(p.mine, 1);
      if (typeof got !== "number" && got.data.length === 1) fd = got.fd;
    }
    if (fd >= 0) held.push(fd);
    if (fd >= 0 && exits[i]!.code === 0) mounted++;
    else {
      const key = (stderr.split("\n")[0] ?? "").replace(/\/[^ :]*\/\d+/g, "<mnt>") || `exit ${exits[i]!.code}`;
      errors[key] = (errors[key] ?? 0) + 1;
    }
  });
  // Unmount every mount concurrently (while the "server" still holds the fds).
  const present = new Set(fuseMountsBelow(dir));
  const upreps = mnts.filter((m) => present.has(m)).map((m) => prepare({ path: h.launcher, argv: ["fusermount3", "-u", m], env: {} }));
  const u0 = performance.now();
  const upids = upreps.map((p) => p.go());
  for (const pid of upids) waitExit(pid, cfg.timeoutMs * 3);
  const unmountWallMs = performance.now() - u0;
  const left = fuseMountsBelow(dir);
  for (const fd of held) c.close(fd);
  for (const p of pairs) c.close(p.mine);
  for (const m of left) unmountUntimed(h, m);
  return { helper: h.name, count, mounted, wallMs, unmountWallMs, leftAfterUnmount: left.length, errors };
}

// ---- watchdog RSS -----------------------------------------------------------------

function watchdogRss(helpers: HelperSpec[]): Record<string, WatchdogSample[]> {
  const ws: { h: HelperSpec; mnt: string; m: Mounted | { run: Run; fd: number } }[] = [];
  for (let i = 0; i < cfg.watchdog.perHelper; i++) {
    for (const h of helpers) {
      const mnt = mkdirp(`${cfg.dir}/watch-${h.name}-${i}`);
      const run = start(h.launcher, ["-o", OPTS + ",auto_unmount", "--", mnt], ENV_COMM, true);
      ws.push({ h, mnt, m: { run, fd: receiveFd(run).fd } });
    }
  }
  Bun.sleepSync(cfg.watchdog.waitMs);
  const statuses = ask<Record<string, Record<string, number> | null>>({ type: "procstatus", pids: ws.map((w) => w.m.run.pid) });
  const out: Record<string, WatchdogSample[]> = {};
  // The server goes away: close the fd and the socket; the watchdog decides.
  for (const w of ws) { if (w.m.fd >= 0) c.close(w.m.fd); c.close(w.m.run.mine); }
  for (const w of ws) {
    const d = finish(w.m.run);
    const still = fuseMountsBelow(w.mnt).length > 0;
    if (still) unmountUntimed(w.h, w.mnt);
    const st = statuses[String(w.m.run.pid)];
    (out[w.h.name] ??= []).push({
      pid: w.m.run.pid, mounted: w.m.fd >= 0, alive: st != null, status: st ?? {},
      autoUnmounted: w.m.fd >= 0 ? !still : null, exitCode: d.exit.code,
    });
  }
  return out;
}

// ---- per-user agent (the service phase's multi-user rounds) -------------------------

// The controller (root) starts one agent per user (setpriv --reuid), as this
// same binary, and drives it with JSON lines on stdin; it answers on stdout:
//   {"cmd":"prepare","launcher":P,"dirs":[...]} -> {"ready":true}   (everything allocated)
//   {"cmd":"go","at":T} -> {"t0","t1","mounted","errors","cpuMs"} (at T: spawn all back to back, reap all)
//   {"cmd":"unmount"} -> {"t0","t1","left"}              (`-u` all at once, then release)
//   {"cmd":"exit"}
// Times are CLOCK_MONOTONIC in ms (spawn.ts), comparable across the agents.
const hrMs = monotonicMs;
function agentMain(): never {
  const reply = (x: unknown): void => { writeSync(1, JSON.stringify(x) + "\n"); };
  type Slot = { mnt: string; mine: number; theirs: number; errR: number; errW: number; fd: number };
  let launcher = "", slots: Slot[] = [], preps: ReturnType<typeof prepare>[] = [];
  const release = (): void => {
    for (const sl of slots) { if (sl.fd >= 0) c.close(sl.fd); c.close(sl.mine); }
    slots = [];
  };
  for (;;) {
    let cmd: { cmd: string; launcher?: string; dirs?: string[]; at?: number };
    try { cmd = JSON.parse(receiveLine()) as typeof cmd; } catch { break; }
    try {
      if (cmd.cmd === "prepare") {
        release();
        launcher = cmd.launcher!;
        slots = cmd.dirs!.map((d) => {
          const pair = c.socketpair(c.SOCK.STREAM);
          const err = c.pipe();
          if (typeof pair === "number" || typeof err === "number") throw new Error("socketpair/pipe");
          return { mnt: mkdirp(d), mine: pair[0], theirs: pair[1], errR: err[0], errW: err[1], fd: -1 };
        });
        preps = slots.map((sl) => prepare({
          path: launcher, argv: ["fusermount3", "-o", OPTS, "--", sl.mnt], env: ENV_COMM, fds: { 2: sl.errW, 3: sl.theirs },
        }));
        reply({ ready: true });
      } else if (cmd.cmd === "go") {
        // Every agent waits for the same moment, so that all start together
        // rather than in the order their "go" arrived.
        const at = cmd.at ?? 0, wait = at - hrMs();
        if (wait > 2) Bun.sleepSync(wait - 2);
        while (hrMs() < at) { /* the last 2 ms */ }
        const t0 = hrMs();
        const pids = preps.map((p) => p.go());
        for (const sl of slots) { c.close(sl.theirs); c.close(sl.errW); }
        const exits = pids.map((pid) => waitExit(pid, cfg.timeoutMs * 3));
        const t1 = hrMs();
        const errors: Record<string, number> = {};
        let mounted = 0;
        slots.forEach((sl, i) => {
          const stderr = drain(sl.errR).trim();
          c.close(sl.errR);
          if (c.pollOne(sl.mine, c.POLL.IN, 0) > 0) {
            const got = c.recvFd(sl.mine, 1);
            if (typeof got !== "number" && got.data.length === 1) sl.fd = got.fd;
          }
          if (sl.fd >= 0 && exits[i]!.code === 0) mounted++;
          else {
            const key = (stderr.split("\n")[0] ?? "").replace(/\/[^ :]*\/[^ :/]+-\d+/g, "<mnt>") || `exit ${exits[i]!.code}`;
            errors[key] = (errors[key] ?? 0) + 1;
          }
        });
        reply({ t0, t1, mounted, errors, cpuMs: exits.reduce((n, x) => n + x.cpuMs, 0) });
      } else if (cmd.cmd === "unmount") {
        const mine = new Set(slots.map((sl) => sl.mnt));
        const present = fuseMounts().map((m) => m.mountPoint).filter((p) => mine.has(p));
        const upreps = present.map((m) => prepare({ path: launcher, argv: ["fusermount3", "-u", m], env: {} }));
        const t0 = hrMs();
        const upids = upreps.map((p) => p.go());
        for (const pid of upids) waitExit(pid, cfg.timeoutMs * 3);
        const t1 = hrMs();
        const left = fuseMounts().map((m) => m.mountPoint).filter((p) => mine.has(p));
        release();
        for (const m of left) finish(start(launcher, ["-u", m], {}, false));
        reply({ t0, t1, left: left.length });
      } else if (cmd.cmd === "exit") break;
      else reply({ error: `unknown command ${cmd.cmd}` });
    } catch (e) { reply({ error: String(e) }); }
  }
  release();
  return c.exit(0);
}
if (cfg.agent) agentMain();

// ---- main ---------------------------------------------------------------------------

const T0 = performance.now();
const helpers = cfg.helpers;
const res: ClientResult = {
  startedAt: new Date().toISOString(), durationMs: 0, existingFuseMounts: countAllFuseMounts(),
  helpers: helpers.map((h) => h.name), classic: {}, utabScenario: false, syncInit: {}, version: {}, versionOutput: {},
  rss: {}, rssCalibration: { trueRuMaxrssKiB: [], trueTimeKiB: [] }, watchdog: {}, concurrent: [], mountMax: null, scale: null, service: null,
};
const gc = (): void => { Bun.gc(true); };
// Interleaving A B C, B C A, C A B, ...: every kind runs in every position
// equally often, so no kind always follows the same one.
const rotated = <T>(xs: readonly T[], i: number): T[] => xs.map((_, j) => xs[(i + j) % xs.length]!);
const syncHelpers = helpers.filter((h) => h.syncInit);
const vKinds: VKind[] = [];
for (const h of helpers) {
  vKinds.push({ name: h.name, path: h.launcher, args: ["-V"] });
  if (h.bunHelper) vKinds.push({ name: `${h.name}-helper-direct`, path: h.bunHelper, args: ["-V"] });
}
for (const f of cfg.floors) vKinds.push({ name: f.name, path: f.path, args: [] });
vKinds.push(...(cfg.extraVersion ?? []));

// 1. classic mount + unmount, interleaved; without and with a utab.
function classicPhase(scenario: string): void {
  const mnts = Object.fromEntries(helpers.map((h) => [h.name, mkdirp(`${cfg.dir}/classic-${h.name}`)]));
  const sc: ClientResult["classic"][string] = { mount: {}, unmount: {}, cycle: {} };
  res.classic[scenario] = sc;
  for (const h of helpers) { sc.mount[h.name] = newSeries(); sc.unmount[h.name] = newSeries(); sc.cycle[h.name] = newSeries(); }
  for (let i = 0; i < cfg.warmup; i++) for (const h of helpers) classicCycle(h, mnts[h.name]!, scenario, false);
  progress(`classic mount/unmount [${scenario}]: ${cfg.n.mount} x ${helpers.map((h) => h.name).join(" ")}`);
  for (let i = 0; i < cfg.n.mount; i++) {
    for (const h of rotated(helpers, i)) classicCycle(h, mnts[h.name]!, scenario, true);
    if (i % 50 === 49) { gc(); progress(`  ${i + 1}/${cfg.n.mount}`); }
  }
}
if (phase("classic")) classicPhase("no-utab");
if (phase("classic-utab") && cfg.utab) {
  ask<string>({ type: "utab", present: true });
  try { classicPhase("utab"); } finally { ask<string>({ type: "utab", present: false }); }
  res.utabScenario = true;
}

// 2. sync-init mounts (helpers that have --sync-init), interleaved.
if (phase("syncinit")) {
  const mnts = Object.fromEntries(syncHelpers.map((h) => [h.name, mkdirp(`${cfg.dir}/sync-${h.name}`)]));
  for (const h of syncHelpers) res.syncInit[h.name] = newSeries();
  for (let i = 0; i < cfg.warmup; i++) for (const h of syncHelpers) syncInitCycle(h, mnts[h.name]!, false);
  progress(`sync-init mount: ${cfg.n.syncInit} x ${syncHelpers.map((h) => h.name).join(" ")}`);
  for (let i = 0; i < cfg.n.syncInit; i++) {
    for (const h of rotated(syncHelpers, i)) syncInitCycle(h, mnts[h.name]!, true);
    if (i % 50 === 49) { gc(); progress(`  ${i + 1}/${cfg.n.syncInit}`); }
  }
}

// The helpers' versions, for the report's machine line, whatever the phases.
for (const k of vKinds.filter((x) => helpers.some((h) => h.name === x.name))) res.versionOutput[k.name] = versionOutput(k);

// 3. -V start-up, interleaved with the empty compiled Bun programs.
if (phase("version")) {
  for (const k of vKinds) { res.version[k.name] = newSeries(); res.versionOutput[k.name] ??= versionOutput(k); }
  for (let i = 0; i < cfg.warmup; i++) for (const k of vKinds) versionRun(k, false);
  progress(`-V: ${cfg.n.version} x ${vKinds.map((k) => k.name).join(" ")}`);
  for (let i = 0; i < cfg.n.version; i++) {
    for (const k of rotated(vKinds, i)) versionRun(k, true);
    if (i % 100 === 99) gc();
  }
}

// 4. peak RSS of whole runs, through /usr/bin/time -f %M (a small parent: see
//    spawn.ts for why wait4's ru_maxrss from this client would be wrong).
if (cfg.rss && phase("rss")) {
  const wrap = [cfg.rss.time, "-f", "%M"];
  progress(`peak RSS via ${cfg.rss.time} -f %M: ${cfg.rss.runs} runs of each kind`);
  const put = (what: string, who: string, v: number): void => { ((res.rss[what] ??= {})[who] ??= []).push(v); };
  const mnt = mkdirp(`${cfg.dir}/rss`);
  for (let i = 0; i < cfg.rss.runs; i++) {
    for (const h of helpers) {
      const m = classicMount(h, mnt, "", wrap);
      release(m);
      if (fuseMountsBelow(mnt).length > 0) unmountUntimed(h, mnt);
      if (m.done.exit.code === 0) put("classic mount", h.name, timeKiB(m.done));
      const u = classicMount(h, mnt);
      const ud = finish(start(h.launcher, ["-u", mnt], {}, false, wrap));
      release(u);
      if (ud.exit.code === 0) put("unmount -u", h.name, timeKiB(ud));
      else unmountUntimed(h, mnt);
      if (h.syncInit) {
        const s = syncInitMount(h, mnt, wrap);
        if (s.status === 0 && s.done.exit.code === 0) put("sync-init mount", h.name, timeKiB(s.done));
      }
    }
    for (const k of vKinds) {
      const d = versionRun(k, false, wrap);
      if (d.exit.code === 0) put("-V", k.name, timeKiB(d));
    }
    // Calibration: a tiny program, through time and directly.
    const t = finish(start("/bin/true", [], {}, false, wrap));
    res.rssCalibration.trueTimeKiB.push(timeKiB(t));
    res.rssCalibration.trueRuMaxrssKiB.push(finish(start("/bin/true", [], {}, false)).exit.maxRssKiB);
  }
}

// 5. the auto-unmount watchdog's memory, 10 s after mounting.
if (phase("watchdog")) {
  progress(`auto-unmount watchdog RSS after ${cfg.watchdog.waitMs / 1000} s (${cfg.watchdog.perHelper} per helper, in parallel)`);
  res.watchdog = watchdogRss(helpers);
}

// 6. concurrent mounts by one user.
const conc = helpers.filter((h) => h.inConcurrency);
if (phase("concurrent")) {
  progress(`${cfg.concurrent.count} concurrent mounts: ${cfg.concurrent.rounds} rounds x ${conc.map((h) => h.name).join(" ")}`);
  for (let r = 0; r < cfg.concurrent.rounds; r++) {
    for (const h of conc) { res.concurrent.push(concurrentRound(h, mkdirp(`${cfg.dir}/conc-${h.name}`), cfg.concurrent.count)); gc(); }
  }
}

// 7. the same with mount_max below the count.
if (phase("mountmax") && cfg.mountMax.rounds > 0) {
  ask<string>({ type: "fuseconf", mountMax: cfg.mountMax.value });
  const existing = countAllFuseMounts();
  progress(`mount_max = ${cfg.mountMax.value} (${existing} fuse mounts already in the namespace): ${cfg.mountMax.rounds} rounds`);
  const mm = { value: cfg.mountMax.value, existingFuseMounts: existing, expected: Math.max(0, cfg.mountMax.value - existing), rounds: [] as ConcurrentRound[] };
  try {
    for (let r = 0; r < cfg.mountMax.rounds; r++) {
      for (const h of conc) { mm.rounds.push(concurrentRound(h, mkdirp(`${cfg.dir}/max-${h.name}`), cfg.concurrent.count)); gc(); }
    }
  } finally {
    ask<string>({ type: "fuseconf", mountMax: null });
  }
  res.mountMax = mm;
}

// 8. the service mode: the controller starts `fusermount3-bun --service` as
//    root on a private /run/fusermount3 (tmpfs), and stops it after the phase.
//    While it runs, every launcher of ours asks it first, the set-uid one too;
//    Debian's C helper never does. Classic cycles through the service,
//    interleaved with C; --sync-init through it (ours only: C has none); 100
//    mounts at once from several users, through it and with C; the memory of
//    100 auto-unmount watches: the service's tree and C's watchdogs at the same
//    moment, then, the service stopped, our set-uid watchdogs.
if (phase("service") && cfg.service) {
  const sv = cfg.service;
  const s0 = performance.now();
  const kinds: HelperSpec[] = [
    { name: "svc", launcher: sv.launcher, syncInit: true, inConcurrency: true },
    { name: "svc-setuid", launcher: sv.setuidLauncher, syncInit: true, inConcurrency: false },
    helpers.find((h) => h.name === "c")!,
  ];
  const svc = kinds[0]!, cHelper = kinds[2]!;
  const ours = helpers.find((h) => h.name === "ours")!;
  const sr: ServiceResult = {
    launcher: sv.launcher, setuidLauncher: sv.setuidLauncher, helper: sv.helper, kinds: kinds.map((k) => k.name),
    classic: { mount: {}, unmount: {}, cycle: {} }, syncInit: newSeries(),
    multiUser: { users: sv.users, perUser: sv.perUser, rounds: [] }, memory: null, serviceStarts: 0, serviceLog: "", durationMs: 0,
  };
  res.service = sr;
  for (const k of kinds) { sr.classic.mount[k.name] = newSeries(); sr.classic.unmount[k.name] = newSeries(); sr.classic.cycle[k.name] = newSeries(); }
  let running = false;
  const startService = (): void => {
    const a = ask<{ pid: number } | { error: string }>({ type: "service", action: "start" });
    if ("error" in a) throw new Error(`starting the service: ${a.error}`);
    running = true; sr.serviceStarts++;
    progress(`service: started (pid ${a.pid})`);
  };
  const stopService = (): void => {
    running = false;
    const a = ask<{ log: string; leftDescendants: number } | { error: string }>({ type: "service", action: "stop" });
    if ("error" in a) throw new Error(`stopping the service: ${a.error}`);
    sr.serviceLog = (sr.serviceLog + a.log).slice(-4000);
    if (a.leftDescendants > 0) progress(`service: warning: ${a.leftDescendants} descendants were still running when it stopped (killed)`);
  };
  // Hold `count` auto-unmount mounts through h, one after the other, each held
  // by us as a live server would (fd and comm socket open).
  type Held = { h: HelperSpec; mnt: string; run: Run; fd: number };
  const holdWatches = (h: HelperSpec, tag: string): Held[] => {
    const out: Held[] = [];
    for (let i = 0; i < sv.memCount; i++) {
      const mnt = mkdirp(`${cfg.dir}/svcmem-${tag}-${i}`);
      const run = start(h.launcher, ["-o", OPTS + ",auto_unmount", "--", mnt], ENV_COMM, true);
      out.push({ h, mnt, run, fd: receiveFd(run).fd });
    }
    return out;
  };
  // The server goes away: every watch is left to do its job; what is still
  // mounted then is unmounted with an untimed -u.
  const releaseWatches = (ws: Held[], count: number, mem: TreeMem): ServiceMemGroup => {
    for (const w of ws) { if (w.fd >= 0) c.close(w.fd); c.close(w.run.mine); }
    for (const w of ws) finish(w.run);
    let autoUnmounted = 0, leftMounted = 0;
    for (const w of ws) {
      if (w.fd < 0) continue;
      if (fuseMountsBelow(w.mnt).length === 0) { autoUnmounted++; continue; }
      unmountUntimed(w.h, w.mnt);
      if (fuseMountsBelow(w.mnt).length > 0) leftMounted++;
    }
    return { count, mounted: ws.filter((w) => w.fd >= 0).length, mem, autoUnmounted, leftMounted };
  };
  try {
    startService();
    // 8a. classic cycle: the non-set-uid launcher and our set-uid one (both
    //     through the service) and C, interleaved in rotating order.
    const mnts = Object.fromEntries(kinds.map((k) => [k.name, mkdirp(`${cfg.dir}/svc-classic-${k.name}`)]));
    for (let i = 0; i < cfg.warmup; i++) for (const k of kinds) cycleInto(sr.classic, k, mnts[k.name]!, ["-u"], false);
    progress(`service: classic mount/unmount: ${cfg.n.mount} x ${kinds.map((k) => k.name).join(" ")}`);
    for (let i = 0; i < cfg.n.mount; i++) {
      for (const k of rotated(kinds, i)) cycleInto(sr.classic, k, mnts[k.name]!, ["-u"], true);
      if (i % 50 === 49) gc();
    }
    // 8b. --sync-init through the service (C has none).
    const smnt = mkdirp(`${cfg.dir}/svc-sync`);
    for (let i = 0; i < cfg.warmup; i++) syncInitMount(svc, smnt);
    progress(`service: sync-init mount: ${cfg.n.syncInit} x svc`);
    for (let i = 0; i < cfg.n.syncInit; i++) {
      const x = syncInitMount(svc, smnt);
      if (x.status !== 0 || x.done.exit.code !== 0) sr.syncInit.failures.push(failure("sync-init mount", x.done, `${x.problem} status=${x.status}`));
      else sr.syncInit.samples.push({ fdMs: x.fdMs, statusMs: x.statusMs, exitMs: x.done.exitMs, cpuMs: x.done.exit.cpuMs });
      if (i % 50 === 49) gc();
    }
    // 8c. mounts at once from several users (one agent each, run by the controller).
    const mu = [svc, cHelper];
    progress(`service: ${sv.users.length * sv.perUser} mounts at once from ${sv.users.length} users: ${sv.rounds} rounds x ${mu.map((h) => h.name).join(" ")}`);
    for (let r = 0; r < sv.rounds; r++) {
      for (const h of rotated(mu, r)) {
        const a = ask<MultiUserRound | { error: string }>({ type: "multiuser", helper: h.name, launcher: h.launcher, perUser: sv.perUser });
        if ("error" in a) throw new Error(`multi-user round: ${a.error}`);
        sr.multiUser.rounds.push(a);
        progress(`  round ${r + 1} ${h.name}: ${a.mounted}/${a.count} mounted, wall ${a.wallMs.toFixed(0)} ms, -u ${a.unmountWallMs.toFixed(0)} ms, ${a.leftAfterUnmount} left`);
        gc();
      }
    }
    // 8d. memory: the service's watches and C's watchdogs, measured together.
    const memWait = sv.memWaitMs;
    progress(`service: memory of ${sv.memCount} auto-unmount mounts: through the service and with C (measured ${memWait / 1000} s after the last)`);
    const groups: Record<string, ServiceMemGroup> = {};
    const wSvc = holdWatches(svc, "svc");
    const wC = holdWatches(cHelper, "c");
    Bun.sleepSync(memWait);
    const mem1 = ask<Record<string, TreeMem>>({ type: "treemem", service: true, groups: { "svc-launchers": wSvc.map((w) => w.run.pid), c: wC.map((w) => w.run.pid) } });
    groups["svc-service"] = releaseWatches(wSvc, sv.memCount, mem1["service"]!);
    groups["svc-service-self"] = { ...groups["svc-service"], mem: mem1["service-self"]! };
    groups["svc-launchers"] = { ...groups["svc-service"], mem: mem1["svc-launchers"]! };
    groups["c"] = releaseWatches(wC, sv.memCount, mem1["c"]!);
    stopService();
    // Our set-uid watchdogs, with no service to ask.
    progress(`service: stopped; memory of ${sv.memCount} auto-unmount mounts with our set-uid helper (no service)`);
    const wOurs = holdWatches(ours, "ours");
    Bun.sleepSync(memWait);
    const mem2 = ask<Record<string, TreeMem>>({ type: "treemem", groups: { "ours-setuid": wOurs.map((w) => w.run.pid) } });
    groups["ours-setuid"] = releaseWatches(wOurs, sv.memCount, mem2["ours-setuid"]!);
    sr.memory = { count: sv.memCount, waitMs: memWait, groups };
  } catch (e) {
    sr.error = String(e);
    progress(`service: stopped early: ${sr.error}`);
  } finally {
    if (running) { try { stopService(); } catch (e) { progress(String(e)); } }
  }
  const left = fuseMountsBelow(cfg.dir);
  if (left.length > 0) { progress(`service: ${left.length} mounts left; unmounting them set-uid`); for (const m of left) unmountUntimed(ours, m); }
  sr.durationMs = performance.now() - s0;
  progress(`service: done in ${(sr.durationMs / 1000).toFixed(0)} s`);
}

// 9. the classic cycle against the size of the mount table: at each size the
//    controller (root) brings the namespace's extra bind mounts to that number;
//    per round, both utab scenarios in rotating order, each with the helpers
//    interleaved in rotating order. Last, so no other phase sees the mounts.
if (phase("scale")) {
  const sc = cfg.scale;
  const s0 = performance.now();
  const unmountArgs = ["-u", "-z", "--"];
  const scenarios = cfg.utab ? ["no-utab", "utab"] : ["no-utab"];
  const mnts = Object.fromEntries(helpers.map((h) => [h.name, mkdirp(`${cfg.dir}/scale-${h.name}`)]));
  const tableMounts = (): number => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.length > 0).length;
  const scaleTo = (count: number): { count: number; ms: number } => {
    const a = ask<ScaleAnswer>({ type: "scale", count });
    if ("error" in a) throw new Error(`scale set-up: ${a.error}`);
    return a;
  };
  const points: ScalePoint[] = [];
  let teardownMs = 0, leftAfterTeardown = 0;
  try {
    for (const size of sc.sizes) {
      const setup = scaleTo(size);
      const point: ScalePoint = { extraMounts: setup.count, tableMounts: tableMounts(), setupMs: setup.ms, scenarios: {} };
      points.push(point);
      for (const scenario of scenarios) {
        const g: CycleSeries = { mount: {}, unmount: {}, cycle: {} };
        for (const h of helpers) { g.mount[h.name] = newSeries(); g.unmount[h.name] = newSeries(); g.cycle[h.name] = newSeries(); }
        point.scenarios[scenario] = g;
      }
      progress(`scale: ${size} extra mounts (${point.tableMounts} in the table, set up in ${(setup.ms / 1000).toFixed(2)} s): ` +
        `${sc.rounds} rounds x ${scenarios.join(" ")} x ${sc.cycles} cycles x ${helpers.map((h) => h.name).join(" ")}`);
      for (let r = 0; r < sc.rounds; r++) {
        for (const scenario of rotated(scenarios, r)) {
          if (cfg.utab) ask<string>({ type: "utab", present: scenario === "utab" });
          const g = point.scenarios[scenario]!;
          for (let i = 0; i < sc.warmup; i++) for (const h of rotated(helpers, i)) cycleInto(g, h, mnts[h.name]!, unmountArgs, false);
          for (let i = 0; i < sc.cycles; i++) for (const h of rotated(helpers, i + r)) cycleInto(g, h, mnts[h.name]!, unmountArgs, true, r);
          gc();
        }
      }
    }
  } finally {
    if (cfg.utab) ask<string>({ type: "utab", present: false });
    teardownMs = scaleTo(0).ms;
    // Against the table before the first size's extra mounts.
    const p0 = points[0];
    leftAfterTeardown = p0 ? Math.max(0, tableMounts() - (p0.tableMounts - p0.extraMounts)) : 0;
  }
  res.scale = { unmountArgs, cycles: sc.cycles, rounds: sc.rounds, warmup: sc.warmup, points, teardownMs, leftAfterTeardown, durationMs: performance.now() - s0 };
  progress(`scale: done in ${(res.scale.durationMs / 1000).toFixed(0)} s (extra mounts removed in ${(teardownMs / 1000).toFixed(2)} s)`);
}

const left = fuseMountsBelow(cfg.dir);
if (left.length > 0) progress(`warning: fuse mounts left below ${cfg.dir}: ${left.join(" ")}`);
res.durationMs = performance.now() - T0;
send({ type: "result", result: res });
c.exit(0);
