// `fusermount3 --check [--json]`: what a user needs to know when a mount is
// refused, and nothing they could not learn anyway. This file gathers the facts
// (files, the kernel, a FUSE_INIT exchange); src/policy/checkdiag.ts turns them into
// findings, each one line that names its fix. Exit 0 when no problem is found
// (notes do not count), 1 otherwise.

import * as c from "./sys/libc.ts";
import type { Ctx } from "./context.ts";
import { isRootCaller, type Credentials, type Privileges } from "./sys/creds.ts";
import { readConfQuiet } from "./mount.ts";
import { readMountTable } from "./sys/mounttable.ts";
import { countFuseMounts, countsAgainstMountMax, isFuseType, ownsByOptions, type MountEntry } from "./policy/mountinfo.ts";
import { connectionIsDead } from "./autounmount.ts";
import { FUSE_CONF } from "./policy/fuseconf.ts";
import { Refusal } from "./policy/refusal.ts";
import { VERSION } from "./version.ts";
import { FUSE_DEV_IOC_SYNC_INIT } from "../protocol/wire.ts";
import { DEFAULT_SOCKET, encodeRequest, decodeReply } from "../protocol/service.ts";
import * as d from "./policy/checkdiag.ts";

type Report = {
  version: string;
  launcher: string;
  helper: string;
  privileged: boolean;
  noNewPrivs: boolean | null;
  kernel: string;
  fuseProtocol: string | null;
  syncInit: d.SyncInitFacts["ioctl"];
  syncInitEndToEnd: { result: d.SyncInitFacts["endToEnd"]; detail: string };
  device: { path: string; present: boolean; mode: string | null; usable: boolean };
  fuseConf: { mountMax: number; userAllowOther: boolean; ignoredLines: number[] };
  mounts: { yours: number; counted: number; mountMax: number; list: YourMount[] };
  launcherBuiltFor: string[] | null;
  mode: { use: d.Mode; service: d.ServiceFacts; launcherSetuid: boolean; setuidWorks: boolean };
  apparmor: {
    enabled: boolean | null; label: string | null; mode: string | null; confined: boolean;
    profile: string; profilePresent: boolean; localRules: d.LocalRules; attachIsThisLauncher: boolean;
  };
  installed: { paths: string[]; state: string; setuidRoot: boolean; thisLauncher: boolean; syncInitOption: boolean | null; helper: string[] }[];
  findings: d.Finding[];
  problems: string[];
  notes: string[];
};

type YourMount = { mountPoint: string; type: string; state: "alive" | "dead" | "not probed" };
// Probing starts a child per mount: enough for a person's list, bounded in
// number and in time (a server that does not answer costs its deadline).
const MOUNTS_PROBED = 32;
const PROBE_BUDGET_MS = 5000;

// The caller's FUSE mounts and whether their servers still answer, asked as
// the caller (the same probe as auto-unmount, once, with a short deadline).
function yourMounts(who: Privileges, table: MountEntry[]): YourMount[] {
  const caller = who.caller;
  const end = Date.now() + PROBE_BUDGET_MS;
  return table.filter((e) => isFuseType(e.fsType) && ownsByOptions(e.superOptions, caller.uid)).map((e, i) => ({
    mountPoint: e.mountPoint, type: e.fsType,
    state: i >= MOUNTS_PROBED || Date.now() >= end ? "not probed"
      : connectionIsDead(who, e.mountPoint, { probes: 1, timeoutMs: Math.min(1000, end - Date.now()) }) ? "dead" : "alive",
  }));
}

const ident = (s: c.Stat): string => `${s.dev}:${s.ino}`;
const statOrNull = (path: string): c.Stat | null => { const s = c.stat(path); return typeof s === "number" ? null : s; };

// Everything here runs lowered (the caller's credentials, src/sys/creds.ts),
// so the report holds nothing the caller could not read; only the FUSE
// superblock probes take CAP_SYS_ADMIN.

// A regular file's bytes, or -errno.
function readAsCaller(path: string, limit: number): Buffer | number {
  const st = c.stat(path);
  if (typeof st === "number") return st;
  if ((st.mode & c.S.IFMT) !== c.S.IFREG) return -c.E.EINVAL;
  return c.readFile(path, limit);
}
const text = (b: Buffer | number): string | null => (typeof b === "number" ? null : b.toString("utf8"));
const BINARY_LIMIT = 16 << 20;

// ---- the kernel's FUSE protocol and synchronous FUSE_INIT ---------------------

function fuseContext(caller: Credentials, fd: number): number {
  const fs = c.fsopen("fuse");
  if (fs < 0) return fs;
  for (const [k, v] of [["source", "fusermount3-check"], ["fd", String(fd)], ["rootmode", "40000"],
    ["user_id", String(caller.uid)], ["group_id", String(caller.gid)]] as const) {
    const rc = c.fsconfig(fs, c.FSCONFIG.SET_STRING, k, v);
    if (rc < 0) { c.close(fs); return rc; }
  }
  return fs;
}

// Without sync init: the FUSE_INIT the kernel queues for a superblock that is
// created and dropped without ever being mounted carries its protocol version.
function probeProtocol(caller: Credentials, fd: number): string | null {
  const fs = fuseContext(caller, fd);
  if (fs < 0) return null;
  try {
    if (c.fsconfig(fs, c.FSCONFIG.CMD_CREATE) < 0) return null;
    if (c.pollOne(fd, c.POLL.IN, 1000) <= 0) return null;
    const req = c.readFd(fd, (1 << 20) + 8192);
    const init = typeof req === "number" ? null : d.parseInitRequest(req);
    return init ? `${init.major}.${init.minor}` : null;
  } finally {
    c.close(fs);
  }
}

// With sync init armed, FSCONFIG_CMD_CREATE sends FUSE_INIT and waits for the
// answer, blocking this (the main) thread. A Worker thread answers it, as a FUSE
// server would: it reads the request from the fd and writes a minimal
// fuse_init_out (7.x, no feature flags) in one write; if that write is refused
// it answers with an error, which ends the kernel's wait as well. The state goes
// through shared memory: the main thread never runs its event loop here. The
// worker reads its own duplicate of the fd and closes it, so a number the main
// thread closes and reuses is never read by it.
// state: 0 starting, 1 ready, 2 answered, -1 given up by the main thread,
// other <0 -errno; then the request's major and minor.
const INIT_ANSWERER = `
import { dlopen, FFIType } from "bun:ffi";
const L = dlopen("libc.so.6", {
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64_fast },
  close: { args: [FFIType.i32], returns: FFIType.i32 },
}).symbols;
self.onmessage = (e) => {
  const { fd, shared, waitMs } = e.data;
  const st = new Int32Array(shared);
  const done = (v) => { L.close(fd); Atomics.store(st, 0, v); Atomics.notify(st, 0); self.close(); };
  if (Atomics.compareExchange(st, 0, 0, 1) !== 0) { L.close(fd); self.close(); return; }
  Atomics.notify(st, 0);
  const pfd = new Uint8Array(8); const pv = new DataView(pfd.buffer);
  pv.setInt32(0, fd, true); pv.setInt16(4, 1, true);
  if (L.poll(pfd, 1, waitMs) <= 0) return done(-110);
  const req = new Uint8Array((1 << 20) + 8192); const rv = new DataView(req.buffer);
  const n = Number(L.read(fd, req, req.length));
  if (n < 48 || rv.getUint32(4, true) !== 26) return done(-71);
  const unique = rv.getBigUint64(8, true);
  Atomics.store(st, 1, rv.getUint32(40, true)); Atomics.store(st, 2, rv.getUint32(44, true));
  const out = new Uint8Array(80); const o = new DataView(out.buffer);
  o.setUint32(0, 80, true); o.setInt32(4, 0, true); o.setBigUint64(8, unique, true);
  o.setUint32(16, 7, true); o.setUint32(20, Math.min(rv.getUint32(44, true), 31), true);
  o.setUint32(24, 65536, true); o.setUint32(40, 65536, true); o.setUint32(44, 1, true); o.setUint16(48, 16, true);
  if (Number(L.write(fd, out, 80)) === 80) return done(2);
  const err = new Uint8Array(16); const ev = new DataView(err.buffer);
  ev.setUint32(0, 16, true); ev.setInt32(4, -71, true); ev.setBigUint64(8, unique, true);
  L.write(fd, err, 16);
  done(-71);
};
`;
const INIT_WAIT_MS = 5000;
const PROBE_ALARM_SECONDS = 15; // last resort (SIGALRM is fatal): the answerer is bounded well below it

type EndToEnd = { result: d.SyncInitFacts["endToEnd"]; detail: string; protocol: string | null };

function probeSyncInit(caller: Credentials): EndToEnd {
  const skip = (detail: string): EndToEnd => ({ result: "not exercised", detail, protocol: null });
  const fail = (detail: string, protocol: string | null = null): EndToEnd => ({ result: "failed", detail, protocol });
  if (c.geteuid() !== 0) return skip("not running as root");
  const fd = c.tryOpen("/dev/fuse", c.O.RDWR);
  if (fd < 0) return fail(`open /dev/fuse: ${c.strerror(-fd)}`);
  let fs = -1;
  try {
    const armed = c.ioctl(fd, FUSE_DEV_IOC_SYNC_INIT);
    if (armed < 0) return fail(`FUSE_DEV_IOC_SYNC_INIT: ${c.strerror(-armed)}`);
    fs = fuseContext(caller, fd);
    if (fs < 0) return fail(`fsopen/fsconfig: ${c.strerror(-fs)}`);
    const shared = new SharedArrayBuffer(12);
    const st = new Int32Array(shared);
    const theirs = c.fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, 3);
    if (theirs < 0) return skip(`dup: ${c.strerror(c.errno())}`);
    try {
      const w = new Worker(URL.createObjectURL(new Blob([INIT_ANSWERER], { type: "application/javascript" })));
      w.postMessage({ fd: theirs, shared, waitMs: INIT_WAIT_MS });
    } catch (e) {
      c.close(theirs);
      return skip(`no thread to answer FUSE_INIT: ${e instanceof Error ? e.message : String(e)}`);
    }
    // Only block in CMD_CREATE once something is ready to answer; a worker
    // that starts after we gave up closes its fd and does nothing.
    Atomics.wait(st, 0, 0, 3000);
    if (Atomics.compareExchange(st, 0, 0, -1) === 0) return skip("the thread that answers FUSE_INIT did not start");
    c.alarm(PROBE_ALARM_SECONDS);
    const created = c.fsconfig(fs, c.FSCONFIG.CMD_CREATE);
    c.alarm(0);
    // The answerer's verdict, if not in yet (after a failed create there may be
    // no request to answer: do not wait out its poll).
    Atomics.wait(st, 0, 1, created < 0 ? 200 : INIT_WAIT_MS);
    const state = Atomics.load(st, 0);
    const protocol = state === 2 || Atomics.load(st, 1) !== 0 ? `${Atomics.load(st, 1)}.${Atomics.load(st, 2)}` : null;
    if (created < 0) {
      const why = c.fsContextMessages(fs).join("; ");
      return fail(`FSCONFIG_CMD_CREATE: ${c.strerror(-created)}${why ? ` (${why})` : ""}`, protocol);
    }
    if (state !== 2) return fail(state === -110 ? "no FUSE_INIT request arrived" : "the FUSE_INIT answer was refused", protocol);
    // The superblock exists; a detached mount of it is what --sync-init attaches.
    const mnt = c.fsmount(fs, 0x2 | 0x4 /* MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV */);
    if (mnt < 0) return fail(`fsmount: ${c.strerror(-mnt)}`, protocol);
    c.close(mnt); // never attached: closing it is its unmount
    return { result: "works", detail: "", protocol };
  } finally {
    if (fs >= 0) c.close(fs);
    c.close(fd);
  }
}

// ---- AppArmor, NoNewPrivileges, the installed fusermount3s ---------------------

function appArmorFacts(launcher: c.Stat | null): d.AppArmorFacts {
  const en = c.readFile(d.APPARMOR_ENABLED, 64);
  const enabled = typeof en === "number" ? null : d.parseYesNo(en.toString("latin1"));
  let label: d.AppArmorLabel | null = null;
  let labelErrno: number | null = null;
  for (const f of d.APPARMOR_LABEL_FILES) {
    const b = c.readFile(f, 4096);
    if (typeof b === "number") { labelErrno = -b; continue; }
    label = d.parseAppArmorLabel(b.toString("utf8"));
    if (label) { labelErrno = null; break; }
  }
  const profile = statOrNull(d.APPARMOR_PROFILE);
  const attach = statOrNull(d.APPARMOR_ATTACH_PATH);
  return {
    enabled, label, labelErrno,
    profilePresent: profile !== null && (profile.mode & c.S.IFMT) === c.S.IFREG,
    localRules: d.localRulesState(text(readAsCaller(d.APPARMOR_LOCAL, 1 << 20))),
    attachIsThisLauncher: attach !== null && launcher !== null && ident(attach) === ident(launcher),
  };
}

// The caller's: served, this process is the service's child, and the caller's
// launcher waits (alive) for the reply.
function noNewPrivs(peerPid: number | undefined): boolean | null {
  const s = c.readFile(peerPid === undefined ? "/proc/self/status" : `/proc/${peerPid}/status`, 1 << 16);
  return typeof s === "number" ? null : d.parseNoNewPrivs(s.toString("latin1"));
}

// ---- the service ----------------------------------------------------------------

const SERVICE_PROBE_MS = 2000;

// What the launcher would meet at the service's socket, found the way it
// meets it (connect as the caller), then a -V through it: harmless, and it
// needs a child of the service, so it shows the service works, not only
// that something listens. Bounded by SERVICE_PROBE_MS; never waits in connect().
function probeService(socket: string): d.ServiceFacts {
  const facts = (state: d.ServiceState, detail = "", version: string | null = null): d.ServiceFacts =>
    ({ socket, state, version, detail, served: false });
  const s = c.connectUnix(socket, c.SOCK.SEQPACKET, c.SOCK_NONBLOCK);
  if (s === -c.E.ENOENT) return facts("absent");
  if (s === -c.E.ECONNREFUSED) return facts("stale", c.strerror(-s));
  if (s === -c.E.EAGAIN) return facts("no-answer", "its queue of connections is full");
  if (s < 0) return facts("unreachable", c.strerror(-s));
  const out = c.pipe();
  const devnull = c.tryOpen("/dev/null", c.O.RDWR | c.O.CLOEXEC);
  const root = c.tryOpen("/", c.O.PATH | c.O.DIRECTORY | c.O.CLOEXEC);
  try {
    if (typeof out === "number" || devnull < 0 || root < 0) return facts("no-answer", "no fds for the request");
    const sent = c.sendMessageFds(s, encodeRequest(["fusermount3", "-V"]), [devnull, out[1], devnull, root]);
    c.close(out[1]);
    if (sent < 0) return facts("no-answer", `send: ${c.strerror(-sent)}`);
    const end = Date.now() + SERVICE_PROBE_MS;
    for (;;) {
      const left = end - Date.now();
      const ev = left > 0 ? c.pollOne(s, c.POLL.IN, left) : 0;
      if (ev === 0) return facts("no-answer", `no reply to -V within ${SERVICE_PROBE_MS} ms`);
      if (ev < 0) { if (ev === -c.E.EINTR) continue; return facts("no-answer", `poll: ${c.strerror(-ev)}`); }
      const r = c.recvBytes(s, 64, c.MSG_DONTWAIT);
      if (r === -c.E.EAGAIN || r === -c.E.EINTR) continue;
      if (typeof r === "number") return facts("no-answer", `recv: ${c.strerror(-r)}`);
      const reply = r.length ? decodeReply(r) : undefined;
      if (reply?.kind === "watching") continue;
      if (reply?.kind !== "status") return facts("no-answer", r.length ? "a reply that is not the service protocol's" : "it closed the connection");
      // Its child has exited: what it printed is in the pipe, or nothing is.
      const printed = c.pollOne(out[0], c.POLL.IN, 0) > 0 ? c.readFd(out[0], 256) : -c.E.EAGAIN;
      const version = typeof printed === "number" ? null : printed.toString("utf8").trim().split("\n")[0] || null;
      return reply.status === 0 ? facts("answers", "", version) : facts("no-answer", `-V ended with status ${reply.status}`);
    }
  } finally {
    c.close(s);
    if (typeof out !== "number") c.close(out[0]);
    if (devnull >= 0) c.close(devnull);
    if (root >= 0) c.close(root);
  }
}

// Paths read out of a binary are looked up as the caller, like its bytes.
function helpersPresent(paths: string[]): boolean {
  return paths.some((p) => statOrNull(p) !== null);
}

function installedHelpers(launcher: c.Stat | null): d.InstalledHelper[] {
  const groups = new Map<string, d.InstalledHelper>();
  for (const { path } of d.LIBFUSE_HELPER_PATHS) {
    const st = statOrNull(path);
    if (!st) continue;
    const key = ident(st);
    const seen = groups.get(key);
    if (seen) { seen.paths.push(path); continue; }
    const regular = (st.mode & c.S.IFMT) === c.S.IFREG;
    const bytes = regular ? readAsCaller(path, BINARY_LIMIT) : -c.E.EINVAL;
    const builtFor = typeof bytes === "number" ? [] : d.embeddedHelperPaths(bytes);
    groups.set(key, {
      paths: [path], mode: st.mode, uid: st.uid, regular, readable: typeof bytes !== "number",
      thisLauncher: launcher !== null && ident(launcher) === key,
      builtFor, builtForPresent: helpersPresent(builtFor),
      syncInit: typeof bytes !== "number" && d.knowsSyncInit(bytes),
    });
  }
  return [...groups.values()];
}

function launcherFacts(launcher: string, helper: string, prefix: string): d.LauncherFacts {
  const bytes = readAsCaller(launcher, BINARY_LIMIT);
  const builtFor = typeof bytes === "number" ? null : d.embeddedHelperPaths(bytes);
  const self = statOrNull(helper);
  const builtForThisHelper = builtFor !== null && builtFor.some((p) => {
    if (p === helper) return true;
    const s = statOrNull(p);
    return s !== null && self !== null && ident(s) === ident(self);
  });
  return { launcher, helper, prefix, builtFor, builtForThisHelper };
}

// ---- the report ----------------------------------------------------------------

export function check(ctx: Ctx, json: boolean): number {
  const caller = ctx.who.caller;
  const helper = process.execPath;
  const prefix = helper.split("/").slice(0, -3).join("/");
  const launcher = `${prefix}/bin/fusermount3`;
  const privileged = c.geteuid() === 0;
  const findings: d.Finding[] = [];
  const problem = (id: string, message: string) => findings.push({ id, severity: "problem", message });

  const device = "/dev/fuse";
  const st = c.stat(device);
  const present = typeof st !== "number" && (st.mode & c.S.IFMT) === c.S.IFCHR;
  const fd = present ? c.tryOpen(device, c.O.RDWR | c.O.NONBLOCK) : -c.E.ENOENT;
  if (!present) problem("device-missing", `${device} is missing: load the FUSE module (modprobe fuse)`);
  else if (fd < 0) problem("device-unusable", `you cannot open ${device} (${c.strerror(-fd)}): make it mode 0666 (chmod 0666 ${device})`);

  let ioctl: d.SyncInitFacts["ioctl"] = "unknown";
  let fuseProtocol: string | null = null;
  let e2e: EndToEnd = { result: "not exercised", detail: `${device} not usable`, protocol: null };
  if (fd >= 0) {
    const armed = c.ioctl(fd, FUSE_DEV_IOC_SYNC_INIT);
    ioctl = armed === 0 ? "supported" : armed === -c.E.ENOTTY ? "not supported" : "unknown";
    c.close(fd);
    if (ioctl === "supported") {
      e2e = ctx.who.withAdmin(() => probeSyncInit(caller));
      fuseProtocol = e2e.protocol;
    } else {
      e2e = { result: "not exercised", detail: "the kernel does not offer it", protocol: null };
    }
    if (fuseProtocol === null && privileged) {
      const probe = c.tryOpen(device, c.O.RDWR | c.O.NONBLOCK);
      if (probe >= 0) { fuseProtocol = ctx.who.withAdmin(() => probeProtocol(caller, probe)); c.close(probe); }
    }
  }
  const syncInit: d.SyncInitFacts = { ioctl, endToEnd: e2e.result, detail: e2e.detail };
  findings.push(...d.syncInitFindings(syncInit));

  const conf = readConfQuiet();
  for (const m of conf.messages) problem("fuse-conf", `${m}: fix or remove that line`);
  let table: MountEntry[] = [];
  try {
    table = readMountTable();
  } catch (e) {
    if (!(e instanceof Refusal)) throw e;
    problem("mount-table", `${e.message}: mount_max cannot be enforced and -u cannot find mounts until it can be read`);
  }
  const counted = countFuseMounts(table);
  const yours = table.filter((e) => countsAgainstMountMax(e) &&
    e.superOptions.split(",").includes(`user_id=${caller.uid}`)).length;
  const list = yourMounts(ctx.who, table);
  for (const y of list) {
    if (y.state === "dead") problem("dead-mount", `${y.mountPoint} is a dead FUSE mount of yours (its server is gone): remove it with fusermount3 -uz ${y.mountPoint} (or just mount there again)`);
  }
  if (!isRootCaller(caller) && conf.mountMax !== -1 && counted >= conf.mountMax) {
    problem("mount-max", `mount_max reached (${counted} FUSE mounts, mount_max = ${conf.mountMax}): unmount some or raise mount_max in ${FUSE_CONF}`);
  }

  const helperStat = statOrNull(helper);
  const launcherStat = statOrNull(launcher);
  const nnp = noNewPrivs(ctx.peerPid);
  const nosuid = launcherStat ? c.mountFlags(launcher) : 0;
  const launcherNosuid = nosuid >= 0 && (nosuid & 2 /* ST_NOSUID */) !== 0;
  // Served, the answer is this run; the socket is not asked again (from
  // the service's side it would only be asking itself).
  const service: d.ServiceFacts = ctx.peerPid !== undefined
    ? { socket: DEFAULT_SOCKET, state: "answers", version: `fusermount3 version: ${VERSION}`, detail: "", served: true }
    : probeService(DEFAULT_SOCKET);
  const modeFacts: d.ModeFacts = { service, launcher, launcherFile: launcherStat, noNewPrivs: nnp, launcherNosuid, callerIsRoot: isRootCaller(caller) };
  findings.push(...d.installFindings({
    helper, helperFile: helperStat, launcher, launcherFile: launcherStat, privileged,
    callerIsRoot: isRootCaller(caller), launcherNosuid, noNewPrivs: nnp, serviceAnswers: d.serviceAnswers(service),
  }));
  findings.push(...d.modeFindings(modeFacts));
  const lf = launcherStat ? launcherFacts(launcher, helper, prefix) : null;
  if (lf) findings.push(...d.launcherFindings(lf));
  const installed = installedHelpers(launcherStat);
  findings.push(...d.installedFindings(installed));
  const aa = appArmorFacts(launcherStat);
  findings.push(...d.appArmorFindings(aa));

  const report: Report = {
    version: VERSION, launcher, helper, privileged, noNewPrivs: nnp, kernel: c.kernelRelease(), fuseProtocol,
    syncInit: ioctl, syncInitEndToEnd: { result: e2e.result, detail: e2e.detail },
    device: { path: device, present, mode: present && typeof st !== "number" ? (st.mode & 0o7777).toString(8).padStart(4, "0") : null, usable: fd >= 0 },
    fuseConf: { mountMax: conf.mountMax, userAllowOther: conf.userAllowOther, ignoredLines: conf.ignoredLines },
    mounts: { yours, counted, mountMax: conf.mountMax, list },
    launcherBuiltFor: lf?.builtFor ?? null,
    mode: {
      use: d.modeOf(modeFacts), service,
      launcherSetuid: launcherStat !== null && d.isSetuidRoot({ ...launcherStat, regular: (launcherStat.mode & c.S.IFMT) === c.S.IFREG }),
      setuidWorks: d.setuidWorks(modeFacts),
    },
    apparmor: {
      enabled: aa.enabled, label: aa.label?.label ?? null, mode: aa.label?.mode ?? null, confined: aa.label?.confined ?? false,
      profile: d.APPARMOR_PROFILE, profilePresent: aa.profilePresent, localRules: aa.localRules, attachIsThisLauncher: aa.attachIsThisLauncher,
    },
    installed: installed.map((h) => ({
      paths: h.paths, state: d.describeInstalled(h), setuidRoot: d.isSetuidRoot(h), thisLauncher: h.thisLauncher,
      syncInitOption: h.thisLauncher ? true : h.readable && h.builtFor.length === 0 ? h.syncInit : null, helper: h.builtFor,
    })),
    findings,
    problems: findings.filter((f) => f.severity === "problem").map((f) => f.message),
    notes: findings.filter((f) => f.severity === "note").map((f) => f.message),
  };
  ctx.say.out(json ? JSON.stringify(report, null, 2) + "\n" : formatReport(ctx.say.progname, report, syncInit, d.describeMode(modeFacts)));
  return report.problems.length === 0 ? 0 : 1;
}

function formatReport(progname: string, r: Report, s: d.SyncInitFacts, modeLine: string): string {
  const aa = r.apparmor;
  const lines = [
    `fusermount3 ${r.version}: launcher ${r.launcher}, helper ${r.helper}${r.privileged ? "" : " (not running as root)"}`,
    `mode: ${modeLine}`,
    `kernel ${r.kernel}; FUSE protocol ${r.fuseProtocol ?? "unknown"}; synchronous FUSE_INIT ${d.describeSyncInit(s)}`,
    `${r.device.path}: ${r.device.present ? `mode ${r.device.mode}, ${r.device.usable ? "usable by you" : "not usable by you"}` : "missing"}`,
    `${FUSE_CONF}: mount_max = ${r.fuseConf.mountMax}, user_allow_other ${r.fuseConf.userAllowOther ? "set" : "not set"}` +
      (r.fuseConf.ignoredLines.length ? `, ignored lines ${r.fuseConf.ignoredLines.join(", ")}` : ""),
    `FUSE mounts: ${r.mounts.yours} yours, ${r.mounts.counted} counted against mount_max` +
      (r.mounts.list.length ? `; yours: ${r.mounts.list.map((y) => `${y.mountPoint} (${y.type}, ${y.state})`).join(", ")}` : ""),
    `AppArmor: ${aa.enabled === null ? "not in this kernel" : aa.enabled ? "enabled" : "disabled"}` +
      (aa.label ? `, ${aa.confined ? `confined by '${aa.label}' (${aa.mode})` : "unconfined"}` : "") +
      (aa.profilePresent ? `; ${aa.profile} present, local rules ${aa.localRules === "ours" ? "of fusermount3-ts" : aa.localRules}` : "") +
      `; NoNewPrivileges ${r.noNewPrivs === null ? "unknown" : r.noNewPrivs ? "set" : "not set"}`,
    `fusermount3 where FUSE programs look: ` + (r.installed.length
      ? r.installed.map((h) => `${h.paths.join(" = ")} (${h.state})`).join("; ")
      : `none of ${d.LIBFUSE_HELPER_PATHS.map((p) => p.path).join(", ")}`),
  ];
  for (const n of r.notes) lines.push(`${progname}: note: ${n}`);
  if (r.problems.length === 0) lines.push("no problems found");
  for (const p of r.problems) lines.push(`${progname}: ${p}`);
  return lines.join("\n") + "\n";
}
