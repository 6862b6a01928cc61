// The differential fuzzer's driver: one long-running Bun program (compiled into
// $FM_TEST_PREFIX/tools/fuzz by test/run.sh and test/fuzz/fuzz.sh). Run as root:
//
//   fuzz --seed N --cases M [--start I] [--workers W] [--only I | --case JSON] [--json]
//        [--report FILE] [--ours PATH] [--c PATH] [--user NAME] [--other NAME] [--show K]
//   fuzz --help
//
// The coordinator starts W workers, each in its own private mount namespace
// (`unshare -m --propagation private`). A worker mounts a private tmpfs over
// /tmp and builds the same fixture tree there (fixtures.ts), binds its own
// 0666 /dev/fuse node and, per case, one of a few /etc/fuse.conf files; so
// workers never see each other's mounts, every case starts from the same state
// and nothing is left on the machine when the namespace goes. For each case
// (gen.ts) it runs the reference C helper and ours, each spawned directly as the
// unprivileged user (uid/gid set by the spawn, supplementary groups cleared),
// argv0 "fusermount3", cwd the user's directory, the comm socket (a socketpair
// made here) as fd 3. It receives the fd (for --sync-init it then sends
// proceed and reads the status), records exit status, stdout, stderr, whether an fd came,
// and the normalised mount table (mount options, type, source, super options of
// every mount that appeared), then detaches whatever appeared with umount2 in
// this process (no subprocess). Divergences go through oracle.ts.
//
// Exit status: 0 when there is no unexplained divergence and no crash.

import { readFileSync, writeFileSync, mkdirSync, chmodSync, chownSync, symlinkSync, appendFileSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { availableParallelism } from "node:os";
import { Command, InvalidArgumentError } from "commander";
import * as c from "../../src/sys/libc.ts";
import { decodeStatus, STATUS_SIZE } from "../../protocol/wire.ts";
import { generateCase, type FuzzCase } from "./gen.ts";
import { BASE, FZ, H, FIXTURES, CONFS, type ConfId, type Owner } from "./fixtures.ts";
import { plan, judge, crashOf, sameOutcome, type Outcome, type Plan } from "./oracle.ts";

const C_DEFAULT = "/usr/bin/fusermount3";
const UTAB = "/run/mount/utab";

type Config = {
  seed: number; start: number; cases: number; workers: number; only?: number;
  adhoc?: Partial<FuzzCase> & { args: string[] }; // --case JSON
  ours: string; c: string; uid: number; gid: number; otherUid: number; otherGid: number;
};

type Finding = {
  kind: "unexplained" | "crash" | "error";
  seed: number; index: number; shape?: string; args?: string[]; commFd?: boolean; conf?: ConfId; utab?: boolean;
  pre?: FuzzCase["pre"]; why: string; c?: Outcome; ours?: Outcome; cEq?: Outcome; cArgs?: string[]; cCommFd?: boolean;
};

type Summary = {
  cases: number; agree: number; explained: number; byId: Record<string, number>;
  unexplained: number; crashes: number; errors: number; byShape: Record<string, number>;
  fdC: number; fdOurs: number; // cases in which the helper handed over an fd (mounted)
};

const say = (o: unknown): void => c.writeAll(1, JSON.stringify(o) + "\n");
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ================================================================= worker

const MS_BIND = 4096;

type MountLine = { id: number; mountPoint: string; line: string };
function readMounts(): MountLine[] {
  const out: MountLine[] = [];
  for (const raw of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = raw.split(" ");
    const sep = f.indexOf("-", 6);
    if (sep < 0 || f.length < sep + 4) continue;
    const mp = f[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ id: Number(f[0]), mountPoint: mp, line: `${f[4]} ${f[5]} - ${f[sep + 1]} ${f[sep + 2]} ${f[sep + 3]}` });
  }
  return out;
}

class Worker {
  private baseline = new Set<number>();
  private conf: ConfId | undefined;
  private confMountId: number | undefined;

  constructor(private readonly cfg: Config) {}

  private must(what: string, rc: number): void {
    if (rc < 0) throw new Error(`${what}: ${c.strerror(-rc)}`);
  }

  setup(): void {
    // FUSE mounts copied from the parent namespace would count against mount_max.
    for (const m of readMounts().reverse()) if (/ - fuse(blk)?(\.| )/.test(m.line)) c.umount2(m.mountPoint, c.MNT_DETACH);
    this.must(`tmpfs on ${BASE}`, c.mount("fuzz", BASE, "tmpfs", 0, "mode=1777"));
    const { uid, gid, otherUid, otherGid } = this.cfg;
    mkdirSync(FZ, { mode: 0o755 });
    mkdirSync(H, { mode: 0o755 });
    chownSync(H, uid, gid);
    const own = (o: Owner | undefined): [number, number] => (o === "root" ? [0, 0] : o === "other" ? [otherUid, otherGid] : [uid, gid]);
    const modes: Array<[string, number]> = [];
    for (const f of FIXTURES) {
      const p = `${H}/${f.path}`;
      const [u, g] = own(f.owner);
      switch (f.kind) {
        case "dir": mkdirSync(p, { mode: 0o755 }); break;
        case "file": writeFileSync(p, "x"); break;
        case "symlink": symlinkSync(f.target!, p); break;
        case "fifo": if (spawnSync("mkfifo", [p]).status !== 0) throw new Error(`mkfifo ${p}`); break;
        case "ramfs": case "tmpfs":
          mkdirSync(p, { mode: 0o755 });
          this.must(`${f.kind} on ${p}`, c.mount(f.kind, p, f.kind, 0, "mode=0755"));
          break;
      }
      if (f.kind !== "symlink") {
        chownSync(p, u, g);
        modes.push([p, f.mode ?? (f.kind === "file" ? 0o644 : 0o755)]);
      } else {
        spawnSync("chown", ["-h", `${u}:${g}`, p]);
      }
    }
    for (const [p, m] of modes.reverse()) chmodSync(p, m);
    // Our own /dev/fuse node, usable by the user whatever the machine's mode is.
    const dev = `${FZ}/.fuse`;
    if (spawnSync("mknod", ["-m", "666", dev, "c", "10", "229"]).status !== 0) throw new Error("mknod");
    this.must("bind /dev/fuse", c.mount(dev, "/dev/fuse", "", MS_BIND, ""));
    // A private /run/mount: whether utab exists is part of the case, and the
    // machine's table never sees these mounts.
    mkdirSync("/run/mount", { recursive: true, mode: 0o755 });
    this.must("tmpfs on /run/mount", c.mount("fuzz", "/run/mount", "tmpfs", 0, "mode=0755"));
    writeFileSync(`${FZ}/.stackfile`, "root");
    for (const [id, text] of Object.entries(CONFS)) { writeFileSync(`${FZ}/.conf-${id}`, text); chmodSync(`${FZ}/.conf-${id}`, 0o644); }
    this.baseline = new Set(readMounts().map((m) => m.id));
  }

  private useConf(id: ConfId): void {
    if (this.conf === id) return;
    if (this.confMountId !== undefined) {
      this.must("unbind fuse.conf", c.umount2("/etc/fuse.conf", 0));
      this.baseline.delete(this.confMountId);
    }
    this.must("bind fuse.conf", c.mount(`${FZ}/.conf-${id}`, "/etc/fuse.conf", "", MS_BIND, ""));
    const top = readMounts().filter((m) => m.mountPoint === "/etc/fuse.conf").sort((a, b) => b.id - a.id)[0];
    if (!top) throw new Error("fuse.conf bind not in mountinfo");
    this.confMountId = top.id;
    this.baseline.add(top.id);
    this.conf = id;
  }

  private snapshot(): string[] {
    return readMounts().filter((m) => !this.baseline.has(m.id)).map((m) => m.line).sort();
  }

  // Detach everything that appeared since setup, newest first.
  private cleanup(): void {
    for (let pass = 0; pass < 10; pass++) {
      const left = readMounts().filter((m) => !this.baseline.has(m.id)).sort((a, b) => b.id - a.id);
      if (left.length === 0) return;
      for (const m of left) c.umount2(m.mountPoint, c.MNT_DETACH);
    }
    throw new Error(`cannot clean up mounts: ${this.snapshot().join(" | ")}`);
  }

  // One helper run from a clean state: the case's setup mount, the helper,
  // the mount table, then everything detached again.
  private async run(helper: string, args: string[], commFd: boolean, pre: FuzzCase["pre"], utab: boolean, sync: boolean, closeAtOnce: boolean): Promise<Outcome> {
    this.cleanup();
    rmSync(UTAB, { force: true });
    if (pre) {
      const who: [number, number] = pre.owner === "other" ? [this.cfg.otherUid, this.cfg.otherGid] : [this.cfg.uid, this.cfg.gid];
      const r = await this.spawnHelper(this.cfg.c, ["-o", pre.opts, "--", pre.path], true, false, false, who);
      if (r.code !== 0 || !r.gotFd) {
        this.cleanup();
        throw new Error(`setup mount on ${JSON.stringify(pre.path)} failed: ${r.stderr}`);
      }
      // Root's mount on top: a tmpfs over a directory, a root-owned file bound over a file.
      if (pre.stacked) {
        const dir = FIXTURES.find((f) => `${H}/${f.path}` === pre.path)?.kind !== "file";
        this.must(`stack over ${pre.path}`, dir ? c.mount("none", pre.path, "tmpfs", 0, "mode=0755") : c.mount(`${FZ}/.stackfile`, pre.path, "", MS_BIND, ""));
      }
    }
    const preMounts = pre ? this.snapshot() : [];
    if (utab) writeFileSync(UTAB, "");
    const o = await this.spawnHelper(helper, args, commFd, sync, closeAtOnce);
    o.preMounts = preMounts;
    o.mounts = this.snapshot();
    this.cleanup();
    rmSync(UTAB, { force: true });
    return o;
  }

  // Spawn a helper as the user with the comm socket as fd 3 and talk to it
  // like a FUSE library. `sync`: the --sync-init exchange after the fd
  // (proceed, then read the status); `closeAtOnce`: a client that is gone
  // already (--auto-unmount waits for the socket to close).
  private async spawnHelper(helper: string, args: string[], commFd: boolean, sync: boolean, closeAtOnce: boolean,
    who: [number, number] = [this.cfg.uid, this.cfg.gid]): Promise<Outcome> {
    const pair = c.socketpair(c.SOCK.STREAM);
    if (typeof pair === "number") throw new Error(`socketpair: ${c.strerror(-pair)}`);
    const [mine, theirs] = pair;
    const proc = Bun.spawn([helper, ...args], {
      argv0: "fusermount3", cwd: H, env: commFd ? { _FUSE_COMMFD: "3" } : {},
      uid: who[0], gid: who[1], stdio: ["ignore", "pipe", "pipe", theirs],
    });
    c.close(theirs);
    const outP = new Response(proc.stdout).text();
    const errP = new Response(proc.stderr).text();
    let exited = false;
    const exitP = proc.exited.then(() => { exited = true; });
    let sockOpen = true;
    const closeSock = () => { if (sockOpen) { c.close(mine); sockOpen = false; } };
    if (closeAtOnce) closeSock();
    let gotFd = false;
    let syncStatus: number | "eof" | undefined;
    let fuseFd = -1;
    let phase = "fd" as "fd" | "status";
    const status: number[] = [];
    const t0 = Date.now();
    let timedOut = false;
    const finishSync = () => { if (fuseFd >= 0) { c.close(fuseFd); fuseFd = -1; } closeSock(); };
    const step = (): void => {
      if (!sockOpen) return;
      if (phase === "fd") {
        if (c.pollOne(mine, c.POLL.IN, 0) <= 0) return;
        const r = c.recvFd(mine, 1);
        if (typeof r === "number" || r.data.length === 0 || r.fd < 0) { closeSock(); return; }
        gotFd = true;
        fuseFd = r.fd;
        if (!sync) { finishSync(); return; }
        // Proceed at once. FUSE_DEV_IOC_SYNC_INIT is deliberately not armed:
        // an armed fd blocks every poll()/read() on it until a mount attaches
        // it (never, when the helper refuses), and unarmed the kernel does not
        // wait for FUSE_INIT inside FSCONFIG_CMD_CREATE, so nobody has to
        // answer it. The helper's fsopen/fsconfig/fsmount/move_mount path and
        // its status are exercised all the same.
        c.sendBytes(mine, new Uint8Array([0]));
        phase = "status";
        return;
      }
      if (c.pollOne(mine, c.POLL.IN | c.POLL.HUP, 0) > 0) {
        const b = c.recvBytes(mine, STATUS_SIZE - status.length);
        if (typeof b === "number" || b.length === 0) { syncStatus = "eof"; finishSync(); return; }
        status.push(...b);
        if (status.length === STATUS_SIZE) { syncStatus = decodeStatus(new Uint8Array(status)); finishSync(); }
      }
    };
    for (;;) {
      step();
      if (exited) break;
      const waited = Date.now() - t0;
      if (waited > 8000) { timedOut = true; proc.kill(9); await exitP; break; }
      // A client that never gets anything closes its end after 3 s (a helper
      // waiting for it would otherwise wait forever).
      if (waited > 3000 && phase === "fd") closeSock();
      await Promise.race([exitP, sleep(waited < 50 ? 1 : 5)]);
    }
    step(); // an fd queued just before the exit
    if (phase === "status" && syncStatus === undefined) syncStatus = "eof";
    finishSync();
    const [stdout, stderr] = await Promise.all([outP, errP]);
    const o: Outcome = {
      code: proc.exitCode, signal: proc.signalCode ? String(proc.signalCode) : null, stdout: this.norm(stdout), stderr: this.norm(stderr),
      gotFd, mounts: [], preMounts: [],
    };
    if (timedOut) o.timedOut = true;
    if (syncStatus !== undefined) o.syncStatus = syncStatus;
    return o;
  }

  private norm(s: string): string {
    const helpers = [this.cfg.ours, this.cfg.c, this.cfg.ours.replace(/\/bin\/fusermount3$/, "/lib/fusermount3/fusermount3-bun")];
    for (const p of helpers.sort((a, b) => b.length - a.length)) s = s.split(p).join("<helper>");
    return s;
  }

  async runCase(fc: FuzzCase): Promise<{ verdict: "agree" | "explained" | "unexplained" | "crash"; ids?: string[]; finding?: Finding; detail: Record<string, unknown> }> {
    this.useConf(fc.conf);
    const pl: Plan = plan(fc.args, fc.commFd, fc.pre);
    const closeAtOnce = pl.parse.autoUnmount && pl.parse.end === "run";
    const cOut = await this.run(this.cfg.c, fc.args, fc.commFd, fc.pre, fc.utab, false, closeAtOnce);
    const ours = await this.run(this.cfg.ours, fc.args, fc.commFd, fc.pre, fc.utab, pl.syncInit && pl.parse.end === "run", closeAtOnce);
    const base = { seed: fc.seed, index: fc.index, shape: fc.shape, args: fc.args, commFd: fc.commFd, conf: fc.conf, utab: fc.utab, ...(fc.pre ? { pre: fc.pre } : {}) };
    const crash = crashOf(ours, cOut);
    if (crash) return { verdict: "crash", finding: { kind: "crash", ...base, why: crash, c: cOut, ours }, detail: { c: cOut, ours } };
    if (sameOutcome(cOut, ours)) return { verdict: "agree", detail: { c: cOut, ours } };
    // dead-mount-recovery: ours detached the user's own dead mount (one note
    // line) and went on; it must then behave exactly as C does where that
    // mount was never made.
    const note = fc.pre ? `fusermount3: note: detached your dead FUSE filesystem at ${fc.pre.path} (its server is gone) before mounting\n` : "";
    if (fc.pre && fc.pre.owner !== "other" && !fc.pre.stacked && ours.stderr.includes(note)) {
      const bare = { ...ours, stderr: ours.stderr.replace(note, ""), preMounts: [] };
      const cBare = await this.run(this.cfg.c, fc.args, fc.commFd, undefined, fc.utab, false, closeAtOnce);
      const cEqBare = pl.changed && !pl.untranslatable ? await this.run(this.cfg.c, pl.cArgs, pl.cCommFd, undefined, fc.utab, false, false) : undefined;
      const plBare = plan(fc.args, fc.commFd, undefined);
      const vb = sameOutcome(cBare, bare) ? { kind: "agree" as const } : judge(plBare, cBare, bare, cEqBare);
      const detail = { c: cOut, ours, cBare, ...(cEqBare ? { cEqBare } : {}) };
      if (vb.kind !== "unexplained") return { verdict: "explained", ids: ["dead-mount-recovery", ...(vb.kind === "explained" ? vb.ids : [])], detail };
      return {
        verdict: "unexplained", detail,
        finding: { kind: "unexplained", ...base, why: `after detaching the dead mount, not as C without it: ${vb.why}`, c: cBare, ours },
      };
    }
    let cEq: Outcome | undefined;
    if (pl.changed && !pl.untranslatable) cEq = await this.run(this.cfg.c, pl.cArgs, pl.cCommFd, fc.pre, fc.utab, false, false);
    const v = judge(pl, cOut, ours, cEq);
    const detail = { c: cOut, ours, ...(cEq ? { cEq, cArgs: pl.cArgs } : {}) };
    if (v.kind === "explained") return { verdict: "explained", ids: v.ids, detail };
    if (v.kind === "agree") return { verdict: "agree", detail };
    return {
      verdict: "unexplained", detail,
      finding: { kind: "unexplained", ...base, why: v.why, c: cOut, ours, ...(cEq ? { cEq, cArgs: pl.cArgs, cCommFd: pl.cCommFd } : {}) },
    };
  }
}

async function workerMain(cfg: Config, k: number): Promise<void> {
  const w = new Worker(cfg);
  w.setup();
  const sum: Summary = { cases: 0, agree: 0, explained: 0, byId: {}, unexplained: 0, crashes: 0, errors: 0, byShape: {}, fdC: 0, fdOurs: 0 };
  const env = { uid: cfg.uid, gid: cfg.gid };
  const indices: number[] = [];
  if (cfg.only !== undefined) { if (k === 0) indices.push(cfg.only); } else {
    for (let i = cfg.start + k; i < cfg.start + cfg.cases; i += cfg.workers) indices.push(i);
  }
  for (const index of indices) {
    const fc = cfg.adhoc ? { seed: cfg.seed, index, shape: "ad-hoc", commFd: true, conf: "plain" as ConfId, utab: false, ...cfg.adhoc } : generateCase(cfg.seed, index, env);
    sum.cases++;
    sum.byShape[fc.shape] = (sum.byShape[fc.shape] ?? 0) + 1;
    try {
      const r = await w.runCase(fc);
      if (cfg.only !== undefined) say({ t: "detail", case: fc, verdict: r.verdict, ids: r.ids, ...r.detail, ...(r.finding ? { why: r.finding.why } : {}) });
      if ((r.detail.c as Outcome | undefined)?.gotFd) sum.fdC++;
      if ((r.detail.ours as Outcome | undefined)?.gotFd) sum.fdOurs++;
      if (r.verdict === "agree") sum.agree++;
      else if (r.verdict === "explained") { sum.explained++; for (const id of r.ids ?? []) sum.byId[id] = (sum.byId[id] ?? 0) + 1; } else if (r.verdict === "crash") { sum.crashes++; say({ t: "finding", finding: r.finding }); } else { sum.unexplained++; say({ t: "finding", finding: r.finding }); }
    } catch (e) {
      sum.errors++;
      const finding: Finding = { kind: "error", seed: fc.seed, index, shape: fc.shape, args: fc.args, commFd: fc.commFd, conf: fc.conf, utab: fc.utab, ...(fc.pre ? { pre: fc.pre } : {}), why: String((e as Error).stack ?? e) };
      say({ t: "finding", finding });
      if (/cannot clean up/.test(String(e))) break;
    }
    if (sum.cases % 100 === 0) say({ t: "progress", done: sum.cases });
  }
  say({ t: "summary", summary: sum });
}

// ============================================================ coordinator

function userIds(name: string): [number, number] | undefined {
  for (const line of readFileSync("/etc/passwd", "utf8").split("\n")) {
    const f = line.split(":");
    if (f[0] === name && f.length >= 4) return [Number(f[2]), Number(f[3])];
  }
  return undefined;
}

type Options = {
  seed: number; cases: number; start: number; workers?: number; only?: number; case?: string; json?: boolean;
  report?: string; show: number; ours?: string; c?: string; user: string; other: string;
};

const count = (v: string): number => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("It must be a non-negative integer.");
  return n;
};

// The command line (commander; the __worker mode below is internal).
function parseOptions(argv: string[]): Options {
  return new Command("fuzz")
    .description("Run cases start..start+M-1 of seed N through the C helper and ours as the user and compare " +
      "them (see test/fuzz/run.ts). Needs root. Exit status: 0 when there is no unexplained " +
      "divergence and no crash, 1 otherwise, 2 for a usage or set-up error.")
    .option("--seed <N>", "generator seed", count, 1)
    .option("--cases <M>", "number of cases", count, 1000)
    .option("--start <I>", "index of the first case", count, 0)
    .option("--workers <W>", "parallel workers (default: the number of CPUs, at most 8)", count)
    .option("--only <I>", "run case I alone and print both outcomes", count)
    .option("--case <JSON>", 'run one hand-written case, JSON {"args": [...], "commFd"?, "conf"?, "utab"?, "pre"?}')
    .option("--json", "print the summary as one JSON line (for the corpus test)")
    .option("--report <FILE>", "append every finding as a JSON line to FILE")
    .option("--show <K>", "print at most K findings in full", count, 20)
    .option("--ours <PATH>", "our launcher (default: $FM_TEST_PREFIX/bin/fusermount3)")
    .option("--c <PATH>", `the reference C helper (default: ${C_DEFAULT})`)
    .option("--user <NAME>", "the unprivileged user who runs both helpers", "fmtest")
    .option("--other <NAME>", "the other user who owns some fixtures", "fmtest2")
    .showHelpAfterError("(fuzz --help shows the usage)")
    .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2))
    .parse(argv, { from: "user" })
    .opts<Options>();
}

// For reading only: long runs of a repeated unit shown as «unit×count».
const abbr = (s: string): string => s.replace(/((.{1,24}?)\2{7,})/gsu, (all, _r: string, unit: string) => `«${unit}×${all.length / unit.length}»`);

function fmtOutcome(o: Outcome | undefined): string {
  if (!o) return "-";
  return abbr(JSON.stringify({ code: o.code, signal: o.signal, stdout: o.stdout, stderr: o.stderr, gotFd: o.gotFd, mounts: o.mounts, ...(o.preMounts.length ? { preMounts: o.preMounts } : {}), ...(o.syncStatus !== undefined ? { syncStatus: o.syncStatus } : {}) }));
}

async function coordinator(a: Options): Promise<number> {
  if (process.getuid?.() !== 0) { console.error("fuzz: must run as root (it makes private mount namespaces)"); return 2; }
  const prefix = process.env.FM_TEST_PREFIX ?? "";
  const ours = a.ours ?? (prefix ? `${prefix}/bin/fusermount3` : "");
  if (!ours) { console.error("fuzz: give --ours PATH or set FM_TEST_PREFIX"); return 2; }
  const ids = userIds(a.user);
  if (!ids) { console.error(`fuzz: no user ${a.user}`); return 2; }
  const other = userIds(a.other) ?? [65534, 65534];
  const cfg: Config = {
    seed: a.seed, start: a.start, cases: a.cases, workers: Math.max(1, a.workers ?? Math.min(8, availableParallelism())),
    ours, c: a.c ?? C_DEFAULT, uid: ids[0], gid: ids[1], otherUid: other[0], otherGid: other[1],
    ...(a.only !== undefined ? { only: a.only } : {}),
  };
  if (a.case !== undefined) { cfg.adhoc = JSON.parse(a.case) as Config["adhoc"]; cfg.only = 0; }
  if (cfg.only !== undefined) cfg.workers = 1;
  const show = a.show;
  const report = a.report;
  const self = Bun.main.startsWith("/$bunfs/") ? [process.execPath] : [process.execPath, Bun.main];

  const t0 = performance.now();
  const total: Summary = { cases: 0, agree: 0, explained: 0, byId: {}, unexplained: 0, crashes: 0, errors: 0, byShape: {}, fdC: 0, fdOurs: 0 };
  const findings: Finding[] = [];
  const progress: number[] = new Array<number>(cfg.workers).fill(0);
  let lastTick = Date.now();
  const expected = cfg.only !== undefined ? 1 : cfg.cases;
  const gotSummary: boolean[] = new Array<boolean>(cfg.workers).fill(false);

  const runWorker = async (k: number): Promise<void> => {
    const p = Bun.spawn(["unshare", "-m", "--propagation", "private", "--", ...self, "__worker", JSON.stringify(cfg), String(k)], {
      stdio: ["ignore", "pipe", "inherit"], cwd: "/", env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" },
    });
    let buf = "";
    const dec = new TextDecoder();
    for await (const chunk of p.stdout) {
      buf += dec.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const m = JSON.parse(line) as { t: string; done?: number; finding?: Finding; summary?: Summary } & Record<string, unknown>;
        if (m.t === "progress") progress[k] = m.done!;
        else if (m.t === "finding") { findings.push(m.finding!); if (report) appendFileSync(report, JSON.stringify(m.finding) + "\n"); } else if (m.t === "detail") console.log(JSON.stringify(m, null, 2));
        else if (m.t === "summary") {
          gotSummary[k] = true;
          const s = m.summary!;
          total.cases += s.cases; total.agree += s.agree; total.explained += s.explained; total.unexplained += s.unexplained;
          total.crashes += s.crashes; total.errors += s.errors; total.fdC += s.fdC; total.fdOurs += s.fdOurs;
          for (const [id, n] of Object.entries(s.byId)) total.byId[id] = (total.byId[id] ?? 0) + n;
          for (const [id, n] of Object.entries(s.byShape)) total.byShape[id] = (total.byShape[id] ?? 0) + n;
        }
        if (!a.json && Date.now() - lastTick > 15000) {
          lastTick = Date.now();
          const done = progress.reduce((x, y) => x + y, 0);
          const el = (performance.now() - t0) / 1000;
          c.writeAll(2, `fuzz: ${done}/${expected} cases, ${(done / el).toFixed(1)}/s, ${findings.length} findings, ${el.toFixed(0)} s\n`);
        }
      }
    }
    const code = await p.exited;
    if (!gotSummary[k]) {
      total.errors++;
      findings.push({ kind: "error", seed: cfg.seed, index: -1, why: `worker ${k} exited with ${code} before its summary` });
    }
  };
  await Promise.all(Array.from({ length: cfg.workers }, (_, k) => runWorker(k)));
  const seconds = (performance.now() - t0) / 1000;
  const rate = total.cases / seconds;
  const failed = total.unexplained + total.crashes + total.errors;

  if (a.json) {
    console.log(JSON.stringify({ seed: cfg.seed, start: cfg.start, ...total, seconds, rate, findings: findings.slice(0, show) }));
  } else {
    const lines: string[] = [];
    lines.push(cfg.only !== undefined ? `fuzz: seed ${cfg.seed}, case ${cfg.only}`
      : `fuzz: seed ${cfg.seed}, cases ${cfg.start}..${cfg.start + cfg.cases - 1}, ${cfg.workers} worker(s)`);
    lines.push(`  cases:                    ${total.cases}`);
    lines.push(`  agreements:               ${total.agree}`);
    lines.push(`  explained differences:    ${total.explained}`);
    for (const [id, n] of Object.entries(total.byId).sort((x, y) => y[1] - x[1])) lines.push(`    ${id.padEnd(26)}${n}`);
    lines.push(`  unexplained divergences:  ${total.unexplained}`);
    lines.push(`  crashes:                  ${total.crashes}`);
    if (total.errors) lines.push(`  driver errors:            ${total.errors}`);
    lines.push(`  fd handed over (mounted): C ${total.fdC}, ours ${total.fdOurs}`);
    lines.push(`  shapes:                   ${Object.entries(total.byShape).map(([k, n]) => `${k} ${n}`).join(", ")}`);
    lines.push(`  duration ${seconds.toFixed(1)} s, ${rate.toFixed(1)} cases/s`);
    for (const f of findings.slice(0, show)) {
      lines.push("");
      lines.push(`${f.kind.toUpperCase()} seed ${f.seed} index ${f.index} (${f.shape ?? "?"}): ${f.why}`);
      lines.push(`  reproduce: npm run fuzz -- --seed ${f.seed} --only ${f.index}`);
      if (f.args) lines.push(`  argv: ${abbr(JSON.stringify(f.args))}  _FUSE_COMMFD: ${f.commFd ? "3" : "unset"}  fuse.conf: ${f.conf}  utab: ${f.utab ? "yes" : "no"}${f.pre ? `  pre-mounted: ${JSON.stringify(f.pre)}` : ""}`);
      if (f.c) lines.push(`  C:    ${fmtOutcome(f.c)}`);
      if (f.ours) lines.push(`  ours: ${fmtOutcome(f.ours)}`);
      if (f.cEq) lines.push(`  C on the 3.14-equivalent argv ${abbr(JSON.stringify(f.cArgs))}${f.cCommFd !== f.commFd ? ` (_FUSE_COMMFD ${f.cCommFd ? "3" : "unset"})` : ""}: ${fmtOutcome(f.cEq)}`);
    }
    if (findings.length > show) lines.push(`\n(${findings.length - show} more findings not shown; use --report FILE)`);
    if (findings.some((f) => f.args?.some((a) => a !== abbr(a)))) lines.push("(«unit×N»: N repetitions, for reading; --only prints the exact case)");
    console.log(lines.join("\n"));
  }
  return failed > 0 ? 1 : 0;
}

// ================================================================== main

const argv = Bun.argv.slice(2);
if (argv[0] === "__worker") {
  const cfg = JSON.parse(argv[1]!) as Config;
  await workerMain(cfg, Number(argv[2]));
  c.exit(0);
} else {
  const opts = parseOptions(argv);
  let code: number;
  try { code = await coordinator(opts); } catch (e) { console.error(`fuzz: ${(e as Error).message}`); code = 2; }
  process.exit(code);
}
