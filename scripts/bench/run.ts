// Benchmark controller, run by scripts/bench.sh as root inside a private mount
// namespace. It starts the measuring client (client.ts, compiled into the
// prefix) ONCE as the unprivileged user, serves its few root-only requests
// (bind a fuse.conf with mount_max, read /proc/PID/status of the set-uid
// watchdog, bring the namespace's extra mounts for the scale phase to a given
// number; for the service phase: start and stop `fusermount3-bun --service` on
// a private /run/fusermount3, drive the per-user agents of its multi-user
// rounds, sum the memory of process trees), then prints the table and writes
// results.json and RESULTS.md.
//
// A run of some phases only (--phases) is merged into the results.json already
// in --out: the phases it did not run are carried over from there, and
// RESULTS.md says which run measured what (--no-merge: write this run alone).
//
//   bun scripts/bench/run.ts --prefix DIR --user NAME [--out DIR] [--variant NAME]... [--quick]
//        [-n N] [--rss-runs N] [--dir SCRATCH]
//        [--phases classic,classic-utab,syncinit,version,rss,watchdog,concurrent,mountmax,service,scale]
//        [--service-users LIST] [--service-watches N]
//        [--scale-sizes 0,1000,10000] [--scale-cycles N] [--scale-rounds N] [--no-merge]
//        [--extra-v NAME=PATH]...   (more -V start-up kinds, for diagnostics)
//   bun scripts/bench/run.ts --from-json FILE [--out DIR]     (re-render only)
//   bun scripts/bench/run.ts --help
//   bun scripts/bench/run.ts --merge FILE [--phases LIST] [--out DIR]
//        (merge the phases a saved run measured into --out's results.json)

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join, resolve, dirname } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Command, InvalidArgumentError } from "commander";
import { render, summarize, mergeResults, PHASES, type Machine, type SavedResults } from "./report.ts";
import type { ClientConfig, ClientResult, HelperSpec, MultiUserRound, Request, ScaleAnswer, TreeMem } from "./types.ts";
import * as libc from "../../src/sys/libc.ts";
import { monotonicMs } from "./spawn.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const count = (v: string): number => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isSafeInteger(n) || n < 0) throw new InvalidArgumentError("It must be a non-negative integer.");
  return n;
};
const collect = (v: string, all: string[] | undefined): string[] => [...(all ?? []), v];
type Options = {
  prefix?: string; user: string; out?: string; variant?: string[]; quick?: boolean; n?: number; rssRuns?: number;
  dir?: string; phases?: string; extraV?: string[]; fromJson?: string;
  scaleSizes?: string; scaleCycles?: number; scaleRounds?: number; merge?: boolean | string;
  serviceUsers?: string; serviceWatches?: number;
};
const o = new Command("bench")
  .description("The benchmark controller, run by scripts/bench.sh (npm run bench) as root inside a private mount namespace.")
  .option("--prefix <DIR>", "where scripts/bench.sh installed both helpers, the client and the floors")
  .option("--user <NAME>", "the unprivileged user who runs the helpers", "fmtest")
  .option("--out <DIR>", "where results.json and RESULTS.md go (default: bench/)")
  .option("--variant <NAME>", "also measure the helper installed in PREFIX/variants/NAME (repeatable)", collect)
  .option("--quick", "N=20 and one round of each concurrency test (a smoke run)")
  .option("-n <N>", "iterations per latency measurement and kind (default: 300, 20 with --quick)", count)
  .option("--rss-runs <N>", "runs per kind for peak RSS (default: 30, 5 with --quick)", count)
  .option("--dir <SCRATCH>", "scratch directory for the mountpoints (default: a new /tmp/fm-bench-*)")
  .option("--phases <LIST>", "only these, comma-separated: classic,classic-utab,syncinit,version,rss,watchdog,concurrent,mountmax,service,scale")
  .option("--service-users <LIST>", "the service phase's users, each mounting at once (default: fmbench0,…,fmbench9; they must exist)")
  .option("--service-watches <N>", "auto-unmount mounts per group in the service phase's memory measurement (default: 100, 20 with --quick)", count)
  .option("--scale-sizes <LIST>", "extra mounts for the scale phase (default: 0,1000,10000)")
  .option("--scale-cycles <N>", "cycles per round, kind and size in the scale phase (default: 40, 5 with --quick)", count)
  .option("--scale-rounds <N>", "rounds of the scale phase (default: 3, 1 with --quick)", count)
  .option("--merge <FILE>", "merge the phases a saved run measured into --out's results.json")
  .option("--no-merge", "with --phases: do not keep the other phases' samples from the existing results.json")
  .option("--extra-v <NAME=PATH>", "also time PATH -V with the start-up kinds (repeatable; diagnostics)", collect)
  .option("--from-json <FILE>", "only re-render RESULTS.md and the table from a results.json")
  .showHelpAfterError("(bun scripts/bench/run.ts --help shows the usage)")
  .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2))
  .parse()
  .opts<Options>();
const quick = o.quick === true;
const outDir = resolve(o.out ?? join(ROOT, "bench"));
const log = (msg: string): void => { process.stderr.write(`bench: ${msg}\n`); };

function sh(cmd: string, a: string[]): string {
  const r = spawnSync(cmd, a, { encoding: "utf8" });
  return (r.stdout ?? "").trim();
}

const loadavg = (): string => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
let loadStart = "", loadEnd = "";
function machine(cHelper: string, ours: string): Machine {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const os = /PRETTY_NAME="([^"]*)"/.exec(existsSync("/etc/os-release") ? readFileSync("/etc/os-release", "utf8") : "")?.[1] ?? "";
  return {
    kernel: release(),
    nproc: Number(sh("nproc", [])) || cpus().length,
    cpu: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown",
    memMiB: Math.round(totalmem() / 1048576),
    os,
    bun: sh(join(ROOT, "node_modules/.bin/bun"), ["--revision"]) || Bun.version,
    cHelper, oursVersion: ours, date: new Date().toISOString(),
    ...(loadStart ? { loadavg: { start: loadStart, end: loadEnd } } : {}),
    ...(process.env.BENCH_COMMAND ? { command: process.env.BENCH_COMMAND } : {}),
    ...(commit ? { commit } : {}),
  };
}

// The checkout measured (the helpers are installed from it by bench.sh).
function gitCommit(): string {
  const head = sh("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"]);
  if (!head) return "";
  return head + (sh("git", ["-C", ROOT, "status", "--porcelain", "--untracked-files=no"]) ? "-dirty" : "");
}
const commit = gitCommit();

type CfgInfo = Parameters<typeof render>[3];
type Saved = SavedResults<ClientResult>;

function writeOutputs(result: ClientResult, m: Machine, cfgInfo: CfgInfo, config: unknown): void {
  const s = summarize(result);
  const text = render(result, s, m, cfgInfo);
  process.stdout.write("\n" + text + "\n");
  mkdirSync(outDir, { recursive: true });
  // Summary readable; raw samples compact, rounded to the microsecond.
  const round = (_k: string, v: unknown): unknown => (typeof v === "number" && !Number.isInteger(v) ? Math.round(v * 1000) / 1000 : v);
  writeFileSync(join(outDir, "results.json"), [
    "{",
    `"machine": ${JSON.stringify(m, round, 1)},`,
    `"config": ${JSON.stringify(config, round)},`,
    `"summary": ${JSON.stringify(s, round, 1)},`,
    `"raw": ${JSON.stringify(result, round)}`,
    "}",
  ].join("\n") + "\n");
  const md = [
    "# fusermount3 benchmark: latest results",
    "",
    "Generated by `npm run bench` (`scripts/bench.sh`; raw samples in `results.json` next to this file).",
    "Our helper and Debian's C `/usr/bin/fusermount3`, both installed set-uid root, driven",
    "interleaved (A B A B …) as the unprivileged user `fmtest` by one long-running compiled Bun",
    "client that does what libfuse does (socketpair, `_FUSE_COMMFD=3`, spawn, receive the fd, wait",
    "for exit) and times every helper run itself (`performance.now()` around posix_spawn → fd → wait4).",
    "Peak RSS of whole runs is `/usr/bin/time -f %M` (separate runs, see below); the watchdog's memory is",
    "`VmRSS` from `/proc/PID/status` 10 s after mounting. Everything runs inside",
    "`unshare -m --propagation private`. See `PROPOSALS.md` for the optimisation proposals.",
    "",
    "Method notes:",
    "- Kinds are interleaved in rotating order (A B, B A, …) so that none always runs first; N per kind and scenario is in the last line.",
    "- `[no-utab]` / `[utab]`: the run puts a private tmpfs on `/run/mount` (the machine's utab is neither read nor written) and",
    "  measures the classic mount without and with an empty `utab`; with one, ours records and removes the mount with",
    "  `/bin/mount -f` / `/bin/umount --fake` as libfuse master does, Debian's 3.14 helper does not.",
    "- Peak RSS is not taken from the timed runs: a child spawned by the (large) Bun client inherits the client's RSS high-water",
    "  mark through vfork/fork + exec (see the `/bin/true` row), so it comes from separate runs under `/usr/bin/time -f %M`.",
    "- `launcher+empty-exit` is the `_exit` floor behind a set-uid launcher built from `src/launcher/fusermount3.c`: twice that is",
    "  the least a mount+unmount cycle can cost with a set-uid launcher and a Bun helper (\"design floor\" in the targets).",
    "- The machine may be shared: the load average around the run is recorded below the tables; ratios of interleaved kinds",
    "  are more robust to load than absolute times.",
    "- `Scale`: the classic cycle (mount + `-u -z`, as libfuse unmounts) with 0, 1,000 and 10,000 extra bind mounts in the",
    "  namespace's mount table, with and without a utab; the method note is under its tables.",
    "- `Service mode`: `fusermount3-bun --service` started as root on a private tmpfs at `/run/fusermount3` inside the namespace, stopped",
    "  by PID after the phase (every other phase runs without it: our set-uid launcher asks a running service first). Our launcher",
    "  without the set-uid bit (and the set-uid one) through the service, interleaved with C set-uid; 100 mounts at once from 10 users;",
    "  the memory of 100 auto-unmount watches; the method notes are under its tables.",
    "- A run of some phases only (`--phases`) is merged into the previous results: the phases it did not run keep their",
    "  samples from the previous `results.json`, and the last lines say which run measured which phases.",
    "",
    `Machine: \`uname -r\` ${m.kernel}; nproc ${m.nproc}; CPU ${m.cpu}; ${m.memMiB} MiB RAM; ${m.os}; Bun ${m.bun}` +
      (m.phaseRuns ? " (the latest run; this report merges runs, each listed with its kernel at the end)." : "."),
    "",
    "## Targets (ours)",
    "",
    "| target | goal | measured | met |",
    "|---|---|---|---|",
    ...s.targets.map((t) => `| ${t.name} | ${t.goal} | ${t.value} | ${t.met ? "met" : "**missed**"} |`),
    "",
    "## Tables",
    "",
    text,
    "",
  ].join("\n");
  writeFileSync(join(outDir, "RESULTS.md"), md);
  log(`wrote ${join(outDir, "results.json")} and ${join(outDir, "RESULTS.md")}`);
}

// ---- re-render only ----------------------------------------------------------------
const fromJson = o.fromJson;
if (fromJson) {
  const j = JSON.parse(readFileSync(fromJson, "utf8")) as Saved;
  writeOutputs(j.raw, j.machine, j.config.cfgInfo, j.config);
  process.exit(0);
}

// ---- merge a saved run of some phases into --out's results.json --------------------
const mergeJson = typeof o.merge === "string" ? o.merge : undefined;
if (mergeJson) {
  const j = JSON.parse(readFileSync(mergeJson, "utf8")) as Saved;
  const ran = o.phases?.split(",") ?? (j.config["phases"] as string[] | undefined);
  if (!ran) { log(`--merge: ${mergeJson} ran every phase; say which to take with --phases`); process.exit(2); }
  const prev = JSON.parse(readFileSync(join(outDir, "results.json"), "utf8")) as Saved;
  const { phaseRuns: _ignored, ...m } = j.machine;
  const merged = mergeResults(j.raw, m, j.config.cfgInfo, ran, prev);
  if ("error" in merged) { log(`--merge: ${merged.error}`); process.exit(1); }
  writeOutputs(j.raw, merged.machine, merged.cfgInfo, { ...j.config, cfgInfo: merged.cfgInfo });
  process.exit(0);
}

// ---- measure -----------------------------------------------------------------------
const prefix = o.prefix;
const userName = o.user;
if (!prefix || process.getuid?.() !== 0) { log("needs root and --prefix (run it through scripts/bench.sh)"); process.exit(2); }
const uid = Number(sh("id", ["-u", userName])), gid = Number(sh("id", ["-g", userName]));

const helpers: HelperSpec[] = [
  { name: "ours", launcher: `${prefix}/bin/fusermount3`, bunHelper: `${prefix}/lib/fusermount3/fusermount3-bun`, syncInit: true, inConcurrency: true },
  { name: "c", launcher: "/usr/bin/fusermount3", syncInit: false, inConcurrency: true },
  ...(o.variant ?? []).map((v): HelperSpec => ({
    name: v, launcher: `${prefix}/variants/${v}/bin/fusermount3`, bunHelper: `${prefix}/variants/${v}/lib/fusermount3/fusermount3-bun`,
    syncInit: true, inConcurrency: true,
  })),
];
const N = o.n ?? (quick ? 20 : 300);
const dir = realpathSync(o.dir ?? mkdtempSync("/tmp/fm-bench-"));
chmodSync(dir, 0o755);
chownSync(dir, uid, gid);
const config: ClientConfig = {
  helpers,
  floors: [
    { name: "empty-exit", path: `${prefix}/bench/empty-exit` },
    { name: "empty", path: `${prefix}/bench/empty` },
    { name: "launcher+empty-exit", path: `${prefix}/bench/launcher-empty-exit` },
  ],
  dir,
  n: { mount: N, syncInit: N, version: N },
  warmup: quick ? 2 : 5,
  concurrent: { count: 100, rounds: quick ? 1 : 3 },
  mountMax: { value: 50, rounds: quick ? 1 : 3 },
  watchdog: { waitMs: 10000, perHelper: 3 },
  rss: existsSync("/usr/bin/time") ? { time: "/usr/bin/time", runs: o.rssRuns ?? (quick ? 5 : 30) } : null,
  timeoutMs: 20000,
  utab: false,
  scale: {
    sizes: [...new Set((o.scaleSizes ?? "0,1000,10000").split(",").map(Number))].sort((a, b) => a - b),
    cycles: o.scaleCycles ?? (quick ? 5 : 40),
    rounds: o.scaleRounds ?? (quick ? 1 : 3),
    warmup: quick ? 1 : 2,
  },
  ...(o.phases ? { phases: o.phases.split(",") } : {}),
  service: {
    launcher: `${prefix}/bench/fusermount3-nosuid`, setuidLauncher: `${prefix}/bin/fusermount3`, helper: `${prefix}/lib/fusermount3/fusermount3-bun`,
    users: (o.serviceUsers ?? Array.from({ length: 10 }, (_, i) => `fmbench${i}`).join(",")).split(",").filter((x) => x.length > 0),
    perUser: 10, rounds: quick ? 1 : 3, memCount: o.serviceWatches ?? (quick ? 20 : 100), memWaitMs: quick ? 3000 : 10000,
  },
  extraVersion: (o.extraV ?? []).map((x) => ({ name: x.split("=")[0]!, path: x.slice(x.indexOf("=") + 1), args: ["-V"] })),
};
// A private, empty /run/mount for the run: the machine's utab (which may hold
// other programs' records) is neither read nor written, and the classic
// mount is measured both without a utab and with an empty one.
if (existsSync("/run/mount") && spawnSync("mount", ["-t", "tmpfs", "-o", "mode=755,size=4m", "bench-run-mount", "/run/mount"]).status === 0) {
  config.utab = true;
} else {
  log("no /run/mount to put a private tmpfs on: the utab scenario is skipped and the machine's /run/mount is used as it is");
}
function utab(present: boolean): void {
  for (const f of ["/run/mount/utab", "/run/mount/utab.lock"]) rmSync(f, { force: true });
  if (present) writeFileSync("/run/mount/utab", "", { mode: 0o644 });
}
for (const p of config.phases ?? []) if (!PHASES.includes(p)) { log(`unknown phase '${p}' (known: ${PHASES.join(",")})`); process.exit(2); }
if (!config.scale.sizes.every((x) => Number.isInteger(x) && x >= 0 && x <= 50000) || !(config.scale.cycles >= 1) || !(config.scale.rounds >= 1)) {
  log("--scale-sizes: comma-separated integers 0..50000; --scale-cycles and --scale-rounds: at least 1"); process.exit(2);
}
if (!existsSync("/etc/fuse.conf")) { config.mountMax.rounds = 0; log("no /etc/fuse.conf to bind a mount_max over: the mount_max rounds are skipped"); }
if (!config.rss) log("/usr/bin/time not found (apt-get install time): peak RSS is not measured");
if (!config.phases || config.phases.includes("service")) {
  const missing = config.service!.users.filter((u) => spawnSync("id", ["-u", u]).status !== 0);
  if (missing.length > 0 || !existsSync(config.service!.launcher) || config.service!.users.length === 0) {
    log(`the service phase is skipped: ${missing.length > 0 ? `no user ${missing.join(", ")} (scripts/bench.sh creates them)` : `no ${config.service!.launcher} or no users`}`);
    config.service = null;
  }
}
const cfgInfo: CfgInfo = {
  n: {
    "classic mount+unmount, per scenario": N, "sync-init": N, "-V": N, "scale, per size and scenario": config.scale.cycles * config.scale.rounds,
    "service: classic and sync-init, per kind": N,
  },
  concurrent: config.concurrent.count, mountMax: config.mountMax.value, watchMs: config.watchdog.waitMs,
};

// The scale phase's extra mounts: bind mounts of one small root-owned
// directory onto empty directories below the scratch directory, made and
// removed with mount(2) / umount2(2) in a loop (no process per mount). They
// live in this private namespace only and die with it.
const scaleRoot = join(dir, "scale-extra");
const MS_BIND = 4096;
let scaleCount = 0;
function scaleTo(count: number): ScaleAnswer {
  const t0 = performance.now();
  const src = join(scaleRoot, "src");
  if (count > 0 && !existsSync(src)) {
    mkdirSync(src, { recursive: true, mode: 0o755 });
    writeFileSync(join(src, "file"), "bench\n", { mode: 0o644 });
    mkdirSync(join(scaleRoot, "t"), { mode: 0o755 });
  }
  while (scaleCount < count) {
    const target = join(scaleRoot, "t", String(scaleCount));
    mkdirSync(target, { recursive: true, mode: 0o755 });
    const rc = libc.mount(src, target, "", MS_BIND, "");
    if (rc < 0) return { error: `bind mount ${scaleCount + 1} of ${count} on ${target}: ${libc.strerror(-rc)}` };
    scaleCount++;
  }
  while (scaleCount > count) {
    const target = join(scaleRoot, "t", String(scaleCount - 1));
    const rc = libc.umount2(target, libc.MNT_DETACH);
    if (rc < 0) return { error: `unmounting ${target}: ${libc.strerror(-rc)}` };
    scaleCount--;
  }
  return { count: scaleCount, ms: performance.now() - t0 };
}

// The mount_max fuse.conf: the machine's file plus the limit, bound over
// /etc/fuse.conf inside this namespace only.
const confFile = join(prefix, "bench", "fuse.conf.mount_max");
let confBound = false;
function fuseconf(mountMax: number | null): void {
  if (confBound) { spawnSync("umount", ["/etc/fuse.conf"]); confBound = false; }
  if (mountMax === null) return;
  const base = existsSync("/etc/fuse.conf") ? readFileSync("/etc/fuse.conf", "utf8").replace(/^\s*mount_max\b.*$/gm, "") : "";
  writeFileSync(confFile, `${base}\nmount_max = ${mountMax}\n`, { mode: 0o644 });
  chmodSync(confFile, 0o644);
  const r = spawnSync("mount", ["--bind", confFile, "/etc/fuse.conf"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`binding fuse.conf: ${r.stderr}`);
  confBound = true;
}

function procStatus(pids: number[]): Record<string, Record<string, number> | null> {
  const out: Record<string, Record<string, number> | null> = {};
  for (const pid of pids) {
    try {
      const text = readFileSync(`/proc/${pid}/status`, "utf8");
      if (/^State:\s*Z/m.test(text)) { out[pid] = null; continue; }
      const v: Record<string, number> = {};
      for (const k of ["VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem", "Threads", "VmSize"]) {
        const m = new RegExp(`^${k}:\\s*(\\d+)`, "m").exec(text);
        if (m) v[k] = Number(m[1]);
      }
      out[pid] = v;
    } catch { out[pid] = null; }
  }
  return out;
}

// ---- the service phase ----------------------------------------------------------------

// A private /run/fusermount3 (tmpfs) in this namespace: the service listens
// there, and the machine's directory (and any service on it) is never seen
// nor touched. Where the machine has no such directory, /run is first covered
// by an overlay (upper on a tmpfs) so that it can be made without writing to
// the machine's /run; the private /run/mount is then mounted again on top.
const RUN_FM3 = "/run/fusermount3";
const runMounts: string[] = []; // to unmount, in reverse order
const runDirs: string[] = []; // to remove afterwards
let runFm3 = false;
function mountOrThrow(args: string[]): void {
  const r = spawnSync("mount", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`mount ${args.join(" ")}: ${(r.stderr ?? "").trim()}`);
  runMounts.push(args[args.length - 1]!);
}
function privateRunFm3(): void {
  if (runFm3) return;
  if (!existsSync(RUN_FM3)) {
    const ov = mkdtempSync("/tmp/fm-bench-run-");
    runDirs.push(ov);
    mountOrThrow(["-t", "tmpfs", "-o", "mode=700,size=4m", "bench-run-overlay", ov]);
    mkdirSync(`${ov}/upper`); mkdirSync(`${ov}/work`);
    mountOrThrow(["-t", "overlay", "-o", `lowerdir=/run,upperdir=${ov}/upper,workdir=${ov}/work`, "bench-run", "/run"]);
    if (config.utab) mountOrThrow(["-t", "tmpfs", "-o", "mode=755,size=4m", "bench-run-mount", "/run/mount"]);
    mkdirSync(RUN_FM3, { mode: 0o755 });
  }
  mountOrThrow(["-t", "tmpfs", "-o", "mode=755,size=1m", "bench-run-fusermount3", RUN_FM3]);
  runFm3 = true;
}
function undoRun(): void {
  for (const m of runMounts.reverse()) spawnSync("umount", ["-l", m]);
  runMounts.length = 0;
  for (const d of runDirs) rmSync(d, { recursive: true, force: true });
}

// Every process and its parent, from /proc/PID/stat.
function processTable(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    let st: string;
    try { st = readFileSync(`/proc/${e}/stat`, "utf8"); } catch { continue; }
    const ppid = Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[1]);
    (children.get(ppid) ?? children.set(ppid, []).get(ppid)!).push(Number(e));
  }
  return children;
}
function descendants(pid: number, table = processTable()): number[] {
  const out: number[] = [];
  const todo = [...(table.get(pid) ?? [])];
  while (todo.length > 0) { const p = todo.pop()!; out.push(p); todo.push(...(table.get(p) ?? [])); }
  return out;
}
// Sums over the roots and (with `tree`) every descendant: VmRSS etc. from
// /proc/PID/status, Pss from /proc/PID/smaps_rollup.
function treeMem(roots: number[], tree = true): TreeMem {
  const table = processTable();
  const m: TreeMem = { roots: roots.length, alive: 0, processes: 0, vmRssKiB: 0, pssKiB: 0, rssAnonKiB: 0, rssFileKiB: 0, rssShmemKiB: 0, threads: 0 };
  const seen = new Set<number>();
  const one = (pid: number): boolean => {
    if (seen.has(pid)) return false;
    seen.add(pid);
    let text: string;
    try { text = readFileSync(`/proc/${pid}/status`, "utf8"); } catch { return false; }
    if (/^State:\s*[ZX]/m.test(text)) return false;
    const v = (k: string): number => Number(new RegExp(`^${k}:\\s*(\\d+)`, "m").exec(text)?.[1] ?? 0);
    m.processes++;
    m.vmRssKiB += v("VmRSS"); m.rssAnonKiB += v("RssAnon"); m.rssFileKiB += v("RssFile"); m.rssShmemKiB += v("RssShmem"); m.threads += v("Threads");
    try {
      const pss = /^Pss:\s*(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
      if (pss && m.pssKiB !== null) m.pssKiB += Number(pss[1]); else m.pssKiB = null;
    } catch { m.pssKiB = null; }
    return true;
  };
  for (const r of roots) {
    if (one(r)) m.alive++;
    if (tree) for (const d of descendants(r, table)) one(d);
  }
  return m;
}

type Service = { proc: ChildProcess; pid: number; log: string; exited: boolean; exit: Promise<void> };
let service: Service | null = null;
const sleep = (ms: number): Promise<void> => new Promise((res) => setTimeout(res, ms));
async function serviceStart(): Promise<{ pid: number } | { error: string }> {
  if (service) return { error: "the service already runs" };
  privateRunFm3();
  const proc = spawn(config.service!.helper, ["--service"], { env: {}, cwd: "/", stdio: ["ignore", "ignore", "pipe"] });
  const s: Service = { proc, pid: proc.pid ?? -1, log: "", exited: false, exit: Promise.resolve() };
  s.exit = new Promise((res) => proc.on("exit", () => { s.exited = true; res(); }));
  proc.stderr!.on("data", (d: Buffer) => { s.log += d.toString(); });
  service = s;
  const t = Date.now();
  while (!s.log.includes("listening") && !s.exited && Date.now() - t < 10000) await sleep(10);
  if (!s.log.includes("listening")) {
    const stop = await serviceStop();
    return { error: `it did not start: ${"log" in stop ? stop.log.trim() : ""}` };
  }
  return { pid: s.pid };
}
// By PID: SIGTERM, SIGKILL after 5 s; what it left running (expected:
// nothing, every watch was released first) is killed by PID too.
async function serviceStop(): Promise<{ log: string; leftDescendants: number } | { error: string }> {
  const s = service;
  service = null;
  if (!s) return { error: "no service runs" };
  const left = s.exited ? [] : descendants(s.pid);
  if (!s.exited) process.kill(s.pid, "SIGTERM");
  await Promise.race([s.exit, sleep(5000)]);
  if (!s.exited) { process.kill(s.pid, "SIGKILL"); await s.exit; }
  for (const p of left) { try { process.kill(p, "SIGKILL"); } catch { /* gone */ } }
  // Its socket stays behind: without it the launcher's connect() fails as
  // before the phase (ENOENT, not ECONNREFUSED).
  rmSync(`${RUN_FM3}/service.sock`, { force: true });
  return { log: s.log, leftDescendants: left.length };
}

// The multi-user rounds' agents: the compiled client in agent mode, one per
// user, started once (setpriv --reuid, not no-new-privs: C's set-uid works).
type Agent = { user: string; base: string; proc: ChildProcess; lines: string[]; wake: (() => void) | null; closed: boolean };
let agents: Agent[] | null = null;
function startAgents(): Agent[] {
  return config.service!.users.map((user) => {
    const u = Number(sh("id", ["-u", user])), g = Number(sh("id", ["-g", user]));
    const base = join(dir, `mu-${user}`);
    mkdirSync(base, { mode: 0o755 });
    chownSync(base, u, g);
    const proc = spawn("setpriv", [`--reuid=${u}`, `--regid=${g}`, "--clear-groups", "--", `${prefix}/bench/client`, JSON.stringify({ agent: true, timeoutMs: config.timeoutMs })], {
      cwd: "/", env: { PATH: "/usr/bin:/bin", HOME: "/" }, stdio: ["pipe", "pipe", "inherit"],
    });
    const a: Agent = { user, base, proc, lines: [], wake: null, closed: false };
    createInterface({ input: proc.stdout! }).on("line", (l) => { a.lines.push(l); a.wake?.(); }).on("close", () => { a.closed = true; a.wake?.(); });
    return a;
  });
}
async function agentAsk(a: Agent, cmd: unknown, timeoutMs = config.timeoutMs * 4): Promise<Record<string, unknown>> {
  a.proc.stdin!.write(JSON.stringify(cmd) + "\n");
  const t = Date.now();
  while (a.lines.length === 0) {
    if (a.closed) throw new Error(`agent ${a.user} ended`);
    if (Date.now() - t > timeoutMs) throw new Error(`agent ${a.user}: no answer in ${timeoutMs} ms`);
    await new Promise<void>((res) => { a.wake = res; setTimeout(res, 100); });
    a.wake = null;
  }
  const x = JSON.parse(a.lines.shift()!) as Record<string, unknown>;
  if (typeof x["error"] === "string") throw new Error(`agent ${a.user}: ${x["error"]}`);
  return x;
}
function stopAgents(): void {
  for (const a of agents ?? []) {
    if (!a.closed) a.proc.stdin!.end(JSON.stringify({ cmd: "exit" }) + "\n");
    const pid = a.proc.pid;
    setTimeout(() => { if (pid && a.proc.exitCode === null && a.proc.signalCode === null) { try { process.kill(pid, "SIGKILL"); } catch { /* gone */ } } }, 2000).unref();
  }
  agents = null;
}
const fuseMountsUnder = (prefixDir: string): number =>
  readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => {
    const f = l.split(" ");
    const t = f[f.indexOf("-", 6) + 1] ?? "";
    return (f[4] ?? "").startsWith(prefixDir) && (t === "fuse" || t.startsWith("fuse."));
  }).length;
async function multiUser(helper: string, launcher: string, perUser: number): Promise<MultiUserRound> {
  agents ??= startAgents();
  const all = agents;
  await Promise.all(all.map((a) => agentAsk(a, { cmd: "prepare", launcher, dirs: Array.from({ length: perUser }, (_, i) => `${a.base}/${helper}-${i}`) })));
  // Every agent starts its share at the same moment (CLOCK_MONOTONIC, 50 ms from now).
  const at = monotonicMs() + 50;
  const mounts = await Promise.all(all.map((a) => agentAsk(a, { cmd: "go", at })));
  const unmounts = await Promise.all(all.map((a) => agentAsk(a, { cmd: "unmount" })));
  const num = (x: Record<string, unknown>, k: string): number => Number(x[k]);
  const errors: Record<string, number> = {};
  for (const m of mounts) for (const [k, n] of Object.entries(m["errors"] as Record<string, number>)) errors[k] = (errors[k] ?? 0) + n;
  const t0 = Math.min(...mounts.map((m) => num(m, "t0"))), t1 = Math.max(...mounts.map((m) => num(m, "t1")));
  const u0 = Math.min(...unmounts.map((m) => num(m, "t0"))), u1 = Math.max(...unmounts.map((m) => num(m, "t1")));
  const leftByAgents = unmounts.reduce((n, m) => n + num(m, "left"), 0);
  return {
    helper, users: all.length, perUser, count: all.length * perUser,
    mounted: mounts.reduce((n, m) => n + num(m, "mounted"), 0),
    wallMs: t1 - t0, startSkewMs: Math.max(...mounts.map((m) => num(m, "t0"))) - t0,
    perUserWallMs: mounts.map((m) => num(m, "t1") - num(m, "t0")),
    helperCpuMs: mounts.reduce((n, m) => n + num(m, "cpuMs"), 0),
    unmountWallMs: u1 - u0,
    // What the agents saw left before their own untimed -u, or what is still there now.
    leftAfterUnmount: Math.max(leftByAgents, fuseMountsUnder(join(dir, "mu-"))),
    errors,
  };
}

async function cleanup(): Promise<void> {
  stopAgents();
  if (service) await serviceStop();
  if (confBound) fuseconf(null);
  if (scaleCount > 0) { const r = scaleTo(0); if ("error" in r) log(`removing the scale phase's mounts: ${r.error}`); }
  for (let i = 0; i < 5; i++) {
    const left = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4]).filter((p): p is string => !!p && p.startsWith(dir + "/"));
    if (left.length === 0) break;
    for (const p of [...new Set(left)].sort().reverse()) spawnSync("umount", ["-l", p]);
  }
  rmSync(dir, { recursive: true, force: true });
  undoRun();
}

// A launcher of ours that finds a service at /run/fusermount3 uses it, set-uid
// or not: an empty private tmpfs there keeps any service of the machine out of
// every phase. (Where the directory is missing, there can be none; the service
// phase then makes its own.)
if (existsSync(RUN_FM3)) {
  try { privateRunFm3(); } catch (e) { log(`a private ${RUN_FM3}: ${String(e)}`); process.exit(1); }
}
log(`helpers: ${helpers.map((h) => `${h.name}=${h.launcher}`).join(" ")}; N=${N}; user ${userName}`);
loadStart = loadavg();
const child = spawn("setpriv", [`--reuid=${uid}`, `--regid=${gid}`, "--clear-groups", "--", `${prefix}/bench/client`, JSON.stringify(config)], {
  cwd: "/", env: { PATH: "/usr/bin:/bin", HOME: "/" }, stdio: ["pipe", "pipe", "inherit"],
});
let result: ClientResult | undefined;
const rl = createInterface({ input: child.stdout! });
const t0 = Date.now();
// One request at a time, in order (some are answered asynchronously).
let queue = Promise.resolve();
rl.on("line", (line) => { queue = queue.then(() => handle(line)); });
async function handle(line: string): Promise<void> {
  let req: Request;
  try { req = JSON.parse(line) as Request; } catch { log(`client: ${line}`); return; }
  let answer: unknown = "ok";
  try {
    switch (req.type) {
      case "progress": log(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${req.msg}`); return;
      case "fuseconf": fuseconf(req.mountMax); break;
      case "utab": utab(req.present); break;
      case "scale": answer = scaleTo(req.count); break;
      case "procstatus": answer = procStatus(req.pids); break;
      case "service": answer = req.action === "start" ? await serviceStart() : await serviceStop(); break;
      case "multiuser": answer = await multiUser(req.helper, req.launcher, req.perUser); break;
      case "treemem": {
        const out: Record<string, TreeMem> = {};
        for (const [k, pids] of Object.entries(req.groups)) out[k] = treeMem(pids);
        if (req.service) {
          out["service"] = service ? treeMem([service.pid]) : treeMem([]);
          out["service-self"] = service ? treeMem([service.pid], false) : treeMem([]);
        }
        answer = out;
        break;
      }
      case "result": result = req.result; return;
    }
  } catch (e) { answer = { error: String(e) }; }
  child.stdin!.write(JSON.stringify(answer) + "\n");
}
const code: number = await new Promise((res) => child.on("exit", (c) => res(c ?? 1)));
await queue;
loadEnd = loadavg();
await cleanup();
if (!result) { log(`the client failed (exit ${code})`); process.exit(1); }
let m = machine(result.versionOutput["c"] ?? "", result.versionOutput["ours"] ?? "");
let info = cfgInfo;
const previous = join(outDir, "results.json");
if (config.phases && o.merge !== false && existsSync(previous)) {
  try {
    const merged = mergeResults(result, m, cfgInfo, config.phases, JSON.parse(readFileSync(previous, "utf8")) as Saved);
    if ("error" in merged) log(`not merging with ${previous}: ${merged.error}`);
    else {
      ({ machine: m, cfgInfo: info } = merged);
      log(`merged with ${previous}: phases other than ${config.phases.join(",")} are carried over from it`);
    }
  } catch (e) { log(`not merging with ${previous}: ${String(e)}`); }
}
writeOutputs(result, m, info, { ...config, cfgInfo: info });
