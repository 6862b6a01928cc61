// Statistics, the printed table and bench/RESULTS.md, from the client's raw
// samples. Pure: no I/O.

import type { ClientResult, ConcurrentRound, MultiUserRound, RunSample, Series, ServiceMemGroup } from "./types.ts";

// Every phase, in the order the client runs them (--phases).
export const PHASES = ["classic", "classic-utab", "syncinit", "version", "rss", "watchdog", "concurrent", "mountmax", "service", "scale"];

export type RunInfo = { date: string; command?: string; loadavg?: { start: string; end: string }; kernel?: string; commit?: string };

export type Machine = {
  kernel: string; nproc: number; cpu: string; memMiB: number; os: string;
  bun: string; cHelper: string; oursVersion: string; date: string;
  loadavg?: { start: string; end: string }; // /proc/loadavg around the measuring client (other load skews absolute numbers)
  command?: string;
  commit?: string; // `git rev-parse --short HEAD` of the checkout measured, "-dirty" with uncommitted changes
  // Set when a run of some phases was merged into an earlier results.json:
  // which run measured each phase.
  phaseRuns?: Record<string, RunInfo>;
};

export type Stat = { n: number; median: number; p90: number; mean: number; min: number; max: number };

export function stat(xs: readonly number[]): Stat | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  // nearest-rank percentiles
  const q = (p: number): number => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
  return { n: s.length, median: q(0.5), p90: q(0.9), mean: s.reduce((a, b) => a + b, 0) / s.length, min: s[0]!, max: s[s.length - 1]! };
}

const field = (series: Series | undefined, f: keyof RunSample): number[] =>
  (series?.samples ?? []).map((x) => x[f]).filter((v): v is number => typeof v === "number" && Number.isFinite(v));

export type Summary = {
  helpers: string[];
  latency: Record<string, Record<string, Stat | null>>; // measurement -> helper/kind -> stat (ms)
  rssKiB: Record<string, Record<string, Stat | null>>; // measurement -> helper/kind -> /usr/bin/time %M
  cpuMs: Record<string, Record<string, Stat | null>>;
  failures: Record<string, Record<string, number>>;
  rssCalibration: { trueTimeKiB: Stat | null; trueRuMaxrssKiB: Stat | null };
  watchdog: Record<string, { vmRssKiB: Stat | null; rssAnonKiB: Stat | null; rssFileKiB: Stat | null; vmHwmKiB: Stat | null; threads: Stat | null; alive: number; autoUnmounted: number; samples: number }>;
  concurrent: Record<string, { wallMs: Stat | null; unmountWallMs: Stat | null; rounds: ConcurrentRound[] }>;
  mountMax: { value: number; existing: number; expected: number; perHelper: Record<string, number[]>; exact: Record<string, boolean> } | null;
  scale: ScaleSummary | null;
  service: ServiceSummary | null;
  targets: Target[];
};

// The service phase. Its latencies are in Summary.latency under "service: …"
// (kinds "svc", "svc-setuid", "c"; sync-init "svc" only).
export type ServiceSummary = {
  launcher: string; setuidLauncher: string; helper: string; kinds: string[];
  multiUser: Record<string, { wallMs: Stat | null; unmountWallMs: Stat | null; rounds: MultiUserRound[] }>;
  users: string[]; perUser: number;
  memory: { count: number; waitMs: number; groups: Record<string, ServiceMemGroup> } | null;
  serviceStarts: number; serviceLog: string; durationMs: number; error?: string;
};
export const SERVICE_KEYS = {
  mountExit: "service: classic mount (spawn→exit)", mountFd: "service: classic mount (spawn→fd)",
  unmount: "service: unmount -u (spawn→exit)", cycle: "service: mount cycle (mount+unmount)",
  syncFd: "service: sync-init mount (spawn→fd)", syncStatus: "service: sync-init mount (spawn→status)", syncExit: "service: sync-init mount (spawn→exit)",
} as const;

// One table size and utab scenario of the scale phase. Slopes are the added
// median (ms) per 1,000 extra mounts against the smallest size measured.
export type ScaleRow = {
  extraMounts: number; tableMounts: number; scenario: string;
  cycle: Record<string, Stat | null>; unmount: Record<string, Stat | null>; mount: Record<string, Stat | null>;
  cycleSlope: Record<string, number | null>; unmountSlope: Record<string, number | null>;
  cycleRoundMedians: Record<string, number[]>; unmountRoundMedians: Record<string, number[]>;
  failures: Record<string, number>;
};
export type ScaleSummary = {
  unmountArgs: string[]; cycles: number; rounds: number; warmup: number;
  setup: { extraMounts: number; tableMounts: number; setupMs: number }[];
  teardownMs: number; leftAfterTeardown: number; durationMs: number;
  rows: ScaleRow[];
};

function summarizeScale(res: ClientResult): ScaleSummary | null {
  const sc = res.scale;
  if (!sc || sc.points.length === 0) return null;
  const rows: ScaleRow[] = [];
  const base = [...sc.points].sort((a, b) => a.extraMounts - b.extraMounts)[0]!;
  const byRound = (series: Series | undefined): number[] => {
    const out: number[] = [];
    for (let r = 0; r < sc.rounds; r++) {
      const st = stat((series?.samples ?? []).filter((x) => x.round === r).map((x) => x.exitMs));
      if (st) out.push(st.median);
    }
    return out;
  };
  for (const p of sc.points) {
    for (const [scenario, g] of Object.entries(p.scenarios)) {
      const b = base.scenarios[scenario];
      const row: ScaleRow = {
        extraMounts: p.extraMounts, tableMounts: p.tableMounts, scenario,
        cycle: {}, unmount: {}, mount: {}, cycleSlope: {}, unmountSlope: {}, cycleRoundMedians: {}, unmountRoundMedians: {}, failures: {},
      };
      for (const h of res.helpers) {
        row.cycle[h] = stat(field(g.cycle[h], "exitMs"));
        row.unmount[h] = stat(field(g.unmount[h], "exitMs"));
        row.mount[h] = stat(field(g.mount[h], "exitMs"));
        row.cycleRoundMedians[h] = byRound(g.cycle[h]);
        row.unmountRoundMedians[h] = byRound(g.unmount[h]);
        row.failures[h] = (g.mount[h]?.failures.length ?? 0) + (g.unmount[h]?.failures.length ?? 0);
        const slope = (k: "cycle" | "unmount"): number | null => {
          const here = row[k][h]?.median, there = b ? stat(field(b[k][h], "exitMs"))?.median : undefined;
          return p === base || here === undefined || there === undefined ? null : (here - there) / ((p.extraMounts - base.extraMounts) / 1000);
        };
        row.cycleSlope[h] = slope("cycle");
        row.unmountSlope[h] = slope("unmount");
      }
      rows.push(row);
    }
  }
  return {
    unmountArgs: sc.unmountArgs, cycles: sc.cycles, rounds: sc.rounds, warmup: sc.warmup,
    setup: sc.points.map((p) => ({ extraMounts: p.extraMounts, tableMounts: p.tableMounts, setupMs: p.setupMs })),
    teardownMs: sc.teardownMs, leftAfterTeardown: sc.leftAfterTeardown, durationMs: sc.durationMs, rows,
  };
}

export type Target = { name: string; goal: string; value: string; met: boolean };

const r = (x: number | undefined | null, d = 2): string => (x === undefined || x === null || !Number.isFinite(x) ? "–" : x.toFixed(d));
const ratio = (a: Stat | null | undefined, b: Stat | null | undefined, k: "median" | "p90" = "median"): number | null =>
  a && b && b[k] > 0 ? a[k] / b[k] : null;
const mib = (kib: number | null | undefined): string => (kib === null || kib === undefined ? "–" : (kib / 1024).toFixed(1));

export function summarize(res: ClientResult): Summary {
  const helpers = res.helpers;
  const latency: Summary["latency"] = {}, rssKiB: Summary["rssKiB"] = {}, cpuMs: Summary["cpuMs"] = {}, failures: Summary["failures"] = {};
  const add = (name: string, group: Record<string, Series>, f: keyof RunSample = "exitMs"): void => {
    latency[name] = {}; cpuMs[name] = {}; failures[name] = {};
    for (const [k, s] of Object.entries(group)) {
      latency[name]![k] = stat(field(s, f));
      cpuMs[name]![k] = stat(field(s, "cpuMs"));
      failures[name]![k] = s.failures.length;
    }
  };
  for (const [sc, g] of Object.entries(res.classic)) {
    add(`classic mount (spawn→exit) [${sc}]`, g.mount);
    add(`classic mount (spawn→fd) [${sc}]`, g.mount, "fdMs");
    add(`unmount -u (spawn→exit) [${sc}]`, g.unmount);
    add(`mount cycle (mount+unmount) [${sc}]`, g.cycle);
  }
  add("sync-init mount (spawn→exit)", res.syncInit);
  add("sync-init mount (spawn→fd)", res.syncInit, "fdMs");
  add("sync-init mount (spawn→status)", res.syncInit, "statusMs");
  add("-V (spawn→exit)", res.version);
  let service: ServiceSummary | null = null;
  const sv = res.service;
  if (sv) {
    add(SERVICE_KEYS.mountExit, sv.classic.mount);
    add(SERVICE_KEYS.mountFd, sv.classic.mount, "fdMs");
    add(SERVICE_KEYS.unmount, sv.classic.unmount);
    add(SERVICE_KEYS.cycle, sv.classic.cycle);
    add(SERVICE_KEYS.syncFd, { svc: sv.syncInit }, "fdMs");
    add(SERVICE_KEYS.syncStatus, { svc: sv.syncInit }, "statusMs");
    add(SERVICE_KEYS.syncExit, { svc: sv.syncInit });
    const multiUser: ServiceSummary["multiUser"] = {};
    for (const round of sv.multiUser.rounds) (multiUser[round.helper] ??= { wallMs: null, unmountWallMs: null, rounds: [] }).rounds.push(round);
    for (const e of Object.values(multiUser)) { e.wallMs = stat(e.rounds.map((x) => x.wallMs)); e.unmountWallMs = stat(e.rounds.map((x) => x.unmountWallMs)); }
    service = {
      launcher: sv.launcher, setuidLauncher: sv.setuidLauncher, helper: sv.helper, kinds: sv.kinds, multiUser,
      users: sv.multiUser.users, perUser: sv.multiUser.perUser, memory: sv.memory, serviceStarts: sv.serviceStarts,
      serviceLog: sv.serviceLog, durationMs: sv.durationMs, ...(sv.error ? { error: sv.error } : {}),
    };
  }

  for (const [what, byKind] of Object.entries(res.rss)) {
    rssKiB[what] = {};
    for (const [k, xs] of Object.entries(byKind)) rssKiB[what]![k] = stat(xs.filter(Number.isFinite));
  }
  const rssCalibration = { trueTimeKiB: stat(res.rssCalibration.trueTimeKiB.filter(Number.isFinite)), trueRuMaxrssKiB: stat(res.rssCalibration.trueRuMaxrssKiB) };
  const watchdog: Summary["watchdog"] = {};
  for (const [h, ws] of Object.entries(res.watchdog)) {
    const f = (k: string): Stat | null => stat(ws.filter((w) => w.alive && typeof w.status[k] === "number").map((w) => w.status[k]!));
    watchdog[h] = {
      vmRssKiB: f("VmRSS"), rssAnonKiB: f("RssAnon"), rssFileKiB: f("RssFile"), vmHwmKiB: f("VmHWM"), threads: f("Threads"),
      alive: ws.filter((w) => w.alive).length, autoUnmounted: ws.filter((w) => w.autoUnmounted).length, samples: ws.length,
    };
  }
  const concurrent: Summary["concurrent"] = {};
  for (const round of res.concurrent) {
    const e = (concurrent[round.helper] ??= { wallMs: null, unmountWallMs: null, rounds: [] });
    e.rounds.push(round);
  }
  for (const e of Object.values(concurrent)) {
    e.wallMs = stat(e.rounds.map((x) => x.wallMs));
    e.unmountWallMs = stat(e.rounds.map((x) => x.unmountWallMs));
  }
  let mountMax: Summary["mountMax"] = null;
  if (res.mountMax) {
    const perHelper: Record<string, number[]> = {};
    for (const round of res.mountMax.rounds) (perHelper[round.helper] ??= []).push(round.mounted);
    const exact: Record<string, boolean> = {};
    for (const [h, xs] of Object.entries(perHelper)) exact[h] = xs.every((x) => x === res.mountMax!.expected);
    mountMax = { value: res.mountMax.value, existing: res.mountMax.existingFuseMounts, expected: res.mountMax.expected, perHelper, exact };
  }

  const s: Summary = { helpers, latency, rssKiB, cpuMs, failures, rssCalibration, watchdog, concurrent, mountMax, scale: summarizeScale(res), service, targets: [] };
  s.targets = targets(s, "ours");
  return s;
}

// The issue's targets, for one helper (ours, or a variant).
export function targets(s: Summary, who: string): Target[] {
  const t: Target[] = [];
  const v = s.latency["-V (spawn→exit)"] ?? {};
  // What two runs of the design cost with no work at all: the set-uid launcher
  // exec'ing a Bun program that only calls _exit(0), twice (mount + unmount).
  const floorRun = v["launcher+empty-exit"]?.median;
  for (const sc of ["no-utab", "utab"]) {
    const key = `mount cycle (mount+unmount) [${sc}]`;
    if (!s.latency[key]) continue;
    const cyc = ratio(s.latency[key]?.[who], s.latency[key]?.["c"]);
    const cMed = s.latency[key]?.["c"]?.median;
    const floorNote = floorRun !== undefined && cMed ? `; design floor 2 × launcher+empty-exit = ${r(2 * floorRun)} ms = ${r((2 * floorRun) / cMed)}× C` : "";
    t.push({
      name: `classic mount cycle [${sc}]`, goal: "≤ 5× the C helper (median of mount+unmount)",
      value: cyc === null ? "–" : `${r(cyc)}× (${r(s.latency[key]?.[who]?.median)} vs ${r(s.latency[key]?.["c"]?.median)} ms${floorNote})`, met: cyc !== null && cyc <= 5,
    });
  }
  const vx = ratio(v[who], v["empty-exit"]);
  const ve = ratio(v[who], v["empty"]);
  const vl = ratio(v[who], v["launcher+empty-exit"]);
  t.push({
    name: "-V start-up", goal: "≤ 1.2× the empty compiled Bun program (the _exit floor; in brackets: ÷ plain empty, ÷ launcher+empty-exit)",
    value: `${vx === null ? "–" : r(vx) + "×"} (${ve === null ? "–" : r(ve) + "×"}, ${vl === null ? "–" : r(vl) + "×"})`, met: vx !== null && vx <= 1.2,
  });
  const w = s.watchdog[who]?.vmRssKiB?.median ?? null;
  t.push({ name: "watchdog RSS", goal: "≤ 24 MiB VmRSS 10 s after mounting", value: w === null ? "–" : `${mib(w)} MiB`, met: w !== null && w <= 24 * 1024 });
  const conc = s.concurrent[who];
  if (conc) {
    const all = conc.rounds.every((x) => x.mounted === x.count && x.leftAfterUnmount === 0);
    t.push({
      name: "100 concurrent mounts", goal: "all complete, none left after unmounting",
      value: conc.rounds.map((x) => `${x.mounted}/${x.count} mounted, ${x.leftAfterUnmount} left`).join("; "), met: all && conc.rounds.length > 0,
    });
  }
  if (s.mountMax && s.mountMax.perHelper[who]) {
    t.push({
      name: "mount_max exact", goal: `exactly mount_max − existing = ${s.mountMax.expected} mounts succeed`,
      value: `${s.mountMax.perHelper[who]!.join(", ")} succeeded`, met: s.mountMax.exact[who] === true,
    });
  }
  // The issue "Mount identity instead of mount-table text": at the largest
  // table the cycle is not slower than C's, and `-u` does not grow with the table.
  if (s.scale) {
    const sizes = s.scale.rows.map((x) => x.extraMounts);
    const lo = Math.min(...sizes), hi = Math.max(...sizes);
    for (const top of s.scale.rows.filter((x) => x.extraMounts === hi && hi > lo)) {
      const bottom = s.scale.rows.find((x) => x.extraMounts === lo && x.scenario === top.scenario);
      const cyc = ratio(top.cycle[who], top.cycle["c"]);
      t.push({
        name: `classic cycle at ${fmtInt(hi)} extra mounts [${top.scenario}]`, goal: "not slower than the C helper (median of mount + `-u -z`, ÷ C ≤ 1)",
        value: cyc === null ? "–" : `${r(cyc)}× (${r(top.cycle[who]?.median)} vs ${r(top.cycle["c"]?.median)} ms)`, met: cyc !== null && cyc <= 1,
      });
      const u0 = bottom?.unmount[who]?.median, u1 = top.unmount[who]?.median;
      const grow = u0 && u1 !== undefined ? u1 / u0 : null;
      t.push({
        name: `\`-u -z\` flat in table size [${top.scenario}]`, goal: `median at ${fmtInt(hi)} extra mounts ≤ 1.10× the median at ${fmtInt(lo)}`,
        value: grow === null ? "–" : `${r(grow)}× (${r(u0)} → ${r(u1)} ms, ${signed(top.unmountSlope[who])} ms per 1,000 mounts; C ${signed(top.unmountSlope["c"])})`,
        met: grow !== null && grow <= 1.1,
      });
    }
  }
  if (s.service && who === "ours") t.push(...serviceTargets(s));
  return t;
}

// The service phase's goals: the warm service against the C helper.
function serviceTargets(s: Summary): Target[] {
  const t: Target[] = [];
  const sv = s.service!;
  const cyc = s.latency[SERVICE_KEYS.cycle] ?? {};
  const q = ratio(cyc["svc"], cyc["c"]), qs = ratio(cyc["svc-setuid"], cyc["c"]);
  t.push({
    name: "classic mount cycle through the service [no-utab]",
    goal: "≤ 1.0× the C helper (median of mount+unmount; our launcher without set-uid → service, against C set-uid, interleaved)",
    value: q === null ? "–" : `${r(q)}× (${r(cyc["svc"]?.median)} vs ${r(cyc["c"]?.median)} ms; our set-uid launcher through the service: ${qs === null ? "–" : r(qs) + "×"})`,
    met: q !== null && q <= 1,
  });
  const mu = sv.multiUser["svc"];
  if (mu) {
    const all = mu.rounds.every((x) => x.mounted === x.count && x.leftAfterUnmount === 0);
    const c = sv.multiUser["c"];
    const wr = ratio(mu.wallMs, c?.wallMs);
    t.push({
      name: `${sv.users.length * sv.perUser} mounts at once from ${sv.users.length} users through the service`, goal: "all complete, none left after unmounting",
      value: mu.rounds.map((x) => `${x.mounted}/${x.count} mounted, ${x.leftAfterUnmount} left`).join("; ") +
        ` (median wall ${r(mu.wallMs?.median, 0)} ms, C ${r(c?.wallMs?.median, 0)} ms: ${wr === null ? "–" : r(wr) + "×"})`,
      met: all && mu.rounds.length > 0,
    });
  }
  const g = sv.memory?.groups;
  if (g && g["svc-service"] && g["c"]) {
    const a = g["svc-service"].mem, b = g["c"].mem, o = g["ours-setuid"]?.mem;
    const pq = a.pssKiB !== null && b.pssKiB !== null && b.pssKiB > 0 ? a.pssKiB / b.pssKiB : null;
    const rq = b.vmRssKiB > 0 ? a.vmRssKiB / b.vmRssKiB : null;
    const complete = g["svc-service"].mounted === sv.memory!.count && g["c"].mounted === sv.memory!.count;
    t.push({
      name: `memory of ${sv.memory!.count} auto-unmount watches through the service`,
      goal: `the service and all its descendants below the ${sv.memory!.count} C watchdogs (Σ PSS and Σ VmRSS)`,
      value: `Σ PSS ${mib(a.pssKiB)} vs ${mib(b.pssKiB)} MiB (${pq === null ? "–" : r(pq, 1) + "×"}), Σ VmRSS ${mib(a.vmRssKiB)} vs ${mib(b.vmRssKiB)} MiB (${rq === null ? "–" : r(rq, 1) + "×"})` +
        (o ? `; our set-uid watchdogs: Σ PSS ${mib(o.pssKiB)}, Σ VmRSS ${mib(o.vmRssKiB)} MiB` : "") + (complete ? "" : "; not every mount was made"),
      met: complete && pq !== null && pq < 1 && rq !== null && rq < 1,
    });
  }
  return t;
}

const fmtInt = (x: number): string => x.toLocaleString("en-US");
const signed = (x: number | null | undefined, d = 2): string => (x === null || x === undefined || !Number.isFinite(x) ? "–" : `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(d)}`);

// ---- merging ---------------------------------------------------------------------

type CfgInfo = Parameters<typeof render>[3];
// What results.json holds (run.ts writes it).
export type SavedResults<R> = { machine: Machine; config: { cfgInfo: CfgInfo } & Record<string, unknown>; raw: R };

// A run of some phases only: the other phases' raw samples (and where they
// came from) are taken from the previous results.json, so RESULTS.md stays
// complete. Only when the same helpers were measured. Fills in `result`.
export function mergeResults(result: ClientResult, m: Machine, cfgInfo: CfgInfo, ran: readonly string[], prev: SavedResults<ClientResult>): { machine: Machine; cfgInfo: CfgInfo } | { error: string } {
  const p = prev.raw;
  if (p.helpers.join(",") !== result.helpers.join(",")) return { error: `the previous results measured ${p.helpers.join(" ")}, this run ${result.helpers.join(" ")}` };
  const runInfo = (x: Machine): RunInfo => ({
    date: x.date, ...(x.command ? { command: x.command } : {}), ...(x.loadavg ? { loadavg: x.loadavg } : {}),
    kernel: x.kernel, ...(x.commit ? { commit: x.commit } : {}),
  });
  const prevRun = (phase: string): RunInfo => prev.machine.phaseRuns?.[phase] ?? runInfo(prev.machine);
  const thisRun = runInfo(m);
  const phaseRuns: Record<string, RunInfo> = {};
  const classic: ClientResult["classic"] = {};
  for (const phase of PHASES) {
    const mine = ran.includes(phase);
    phaseRuns[phase] = mine ? thisRun : prevRun(phase);
    switch (phase) {
      case "classic": { const x = mine ? result.classic["no-utab"] : p.classic["no-utab"]; if (x) classic["no-utab"] = x; break; }
      case "classic-utab": {
        const x = mine ? result.classic["utab"] : p.classic["utab"];
        if (x) classic["utab"] = x;
        if (!mine) result.utabScenario = p.utabScenario;
        break;
      }
      case "syncinit": if (!mine) result.syncInit = p.syncInit; break;
      case "version": if (!mine) { result.version = p.version; result.versionOutput = { ...p.versionOutput, ...result.versionOutput }; } break;
      case "rss": if (!mine) { result.rss = p.rss; result.rssCalibration = p.rssCalibration; } break;
      case "watchdog": if (!mine) result.watchdog = p.watchdog; break;
      case "concurrent": if (!mine) result.concurrent = p.concurrent; break;
      case "mountmax": if (!mine) result.mountMax = p.mountMax; break;
      case "scale": if (!mine) result.scale = p.scale ?? null; break;
      case "service": if (!mine) result.service = p.service ?? null; break;
    }
  }
  result.classic = classic;
  // N per measurement: this run's for what it ran, the previous file's otherwise.
  const keyPhase: Record<string, string> = {
    "classic mount+unmount, per scenario": "classic", "sync-init": "syncinit", "-V": "version", "scale, per size and scenario": "scale",
    "service: classic and sync-init, per kind": "service",
  };
  const n: Record<string, number> = {};
  for (const [k, v] of Object.entries({ ...prev.config.cfgInfo.n, ...cfgInfo.n })) {
    const ph = keyPhase[k];
    const src = ph && ran.includes(ph) ? cfgInfo.n : prev.config.cfgInfo.n;
    if (src[k] !== undefined) n[k] = src[k]!;
  }
  return { machine: { ...m, phaseRuns }, cfgInfo: { ...prev.config.cfgInfo, ...cfgInfo, n } };
}

// ---- rendering -------------------------------------------------------------------

function table(head: string[], rows: string[][]): string[] {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? "").length)));
  const line = (cells: string[]): string => "| " + cells.map((x, i) => x.padEnd(w[i]!)).join(" | ") + " |";
  return [line(head), "|" + w.map((n) => "-".repeat(n + 2)).join("|") + "|", ...rows.map(line)];
}

export function render(res: ClientResult, s: Summary, m: Machine, cfg: { n: Record<string, number>; concurrent: number; mountMax: number; watchMs: number }): string {
  const out: string[] = [];
  const others = s.helpers.filter((h) => h !== "c");
  const lat = (name: string): string[][] => {
    const g = s.latency[name] ?? {};
    return Object.keys(g).map((k) => {
      const x = g[k];
      const rc = k !== "c" && g["c"] ? ratio(x, g["c"]) : null;
      const rp = k !== "c" && g["c"] ? ratio(x, g["c"], "p90") : null;
      const fail = s.failures[name]?.[k] ?? 0;
      return [name, k, String(x?.n ?? 0), r(x?.median), r(x?.p90), r(x?.min), rc === null ? "" : `${r(rc)}×`, rp === null ? "" : `${r(rp)}×`,
        r(s.cpuMs[name]?.[k]?.median), fail ? String(fail) : ""];
    });
  };
  out.push("### Latency (ms; ratio = this helper / the C helper)", "");
  const classicKeys = Object.keys(res.classic).flatMap((sc) => [
    `classic mount (spawn→exit) [${sc}]`, `classic mount (spawn→fd) [${sc}]`, `unmount -u (spawn→exit) [${sc}]`, `mount cycle (mount+unmount) [${sc}]`]);
  out.push(...table(["measurement", "helper", "N", "median", "p90", "min", "ratio median", "ratio p90", "CPU ms (median)", "failures"], [
    ...classicKeys.flatMap(lat),
    ...lat("sync-init mount (spawn→exit)"), ...lat("sync-init mount (spawn→fd)"), ...lat("sync-init mount (spawn→status)"),
  ]));
  out.push("", "[no-utab]: no /run/mount/utab, nothing is recorded by either helper. [utab]: an empty /run/mount/utab exists (namespace-private tmpfs);",
    "ours then records with `/bin/mount -f` and removes with `/bin/umount --fake` (libfuse master's rule), Debian's 3.14 helper never does.");
  out.push("");
  const v = s.latency["-V (spawn→exit)"] ?? {};
  out.push("### `-V` start-up (ms; floors: compiled empty Bun programs run directly as the user, and the _exit one behind a set-uid launcher built from src/launcher)", "");
  out.push(...table(["kind", "N", "median", "p90", "min", "÷ empty-exit", "÷ empty", "÷ launcher+empty-exit", "÷ C", "CPU ms", "peak RSS MiB", "output"], Object.keys(v).map((k) => [
    k, String(v[k]?.n ?? 0), r(v[k]?.median), r(v[k]?.p90), r(v[k]?.min),
    k === "empty-exit" ? "" : `${r(ratio(v[k], v["empty-exit"]))}×`, k === "empty" ? "" : `${r(ratio(v[k], v["empty"]))}×`,
    k === "launcher+empty-exit" ? "" : `${r(ratio(v[k], v["launcher+empty-exit"]))}×`,
    k === "c" ? "" : `${r(ratio(v[k], v["c"]))}×`, r(s.cpuMs["-V (spawn→exit)"]?.[k]?.median), mib(s.rssKiB["-V"]?.[k]?.median),
    (res.versionOutput[k] ?? "").slice(0, 40) || "(none)",
  ])));
  out.push("");
  out.push("### Memory (MiB; peak = /usr/bin/time -f %M of whole runs, median)", "");
  const mem: string[][] = [];
  for (const h of s.helpers) {
    const peak = (what: string): string => mib(s.rssKiB[what]?.[h]?.median);
    const pr = (what: string): string => {
      const x = ratio(s.rssKiB[what]?.[h], s.rssKiB[what]?.["c"]);
      return h === "c" || x === null ? "" : ` (${r(x, 1)}× C)`;
    };
    mem.push([h, "peak RSS: classic mount run", peak("classic mount") + pr("classic mount"), ""]);
    mem.push([h, "peak RSS: unmount -u run", peak("unmount -u") + pr("unmount -u"), ""]);
    if (s.rssKiB["sync-init mount"]?.[h]) mem.push([h, "peak RSS: sync-init mount run", peak("sync-init mount"), ""]);
    const w = s.watchdog[h];
    if (w) {
      mem.push([h, `auto-unmount watchdog, VmRSS ${cfg.watchMs / 1000} s after mounting`, mib(w.vmRssKiB?.median),
        `RssAnon ${mib(w.rssAnonKiB?.median)}, RssFile ${mib(w.rssFileKiB?.median)}, VmHWM ${mib(w.vmHwmKiB?.median)}, threads ${r(w.threads?.median, 0)}; ` +
        `alive ${w.alive}/${w.samples}; removed the mount itself after the server closed fd and socket: ${w.autoUnmounted}/${w.samples}`]);
    }
  }
  mem.push(["/bin/true", "peak RSS via /usr/bin/time (method floor)", mib(s.rssCalibration.trueTimeKiB?.median),
    `wait4 ru_maxrss of /bin/true spawned by the client: ${mib(s.rssCalibration.trueRuMaxrssKiB?.median)} (the client's own RSS, inherited through vfork+exec: why ru_maxrss of the timed runs is not used)`]);
  out.push(...table(["helper", "what", "median", "notes"], mem));
  out.push("");
  out.push(`### ${cfg.concurrent} concurrent mounts by one user`, "");
  const cr: string[][] = [];
  for (const [h, e] of Object.entries(s.concurrent)) {
    for (const x of e.rounds) {
      cr.push([h, `${x.mounted}/${x.count}`, r(x.wallMs, 0), r(x.unmountWallMs, 0), String(x.leftAfterUnmount),
        Object.entries(x.errors).map(([k, n]) => `${n}× ${k}`).join("; ")]);
    }
  }
  out.push(...table(["helper", "mounted", "wall ms (mount)", "wall ms (unmount)", "left after", "errors"], cr));
  if (s.concurrent["ours"] && s.concurrent["c"]) {
    out.push("", `median wall, ours/C: ${r(ratio(s.concurrent["ours"].wallMs, s.concurrent["c"].wallMs))}× (mount), ${r(ratio(s.concurrent["ours"].unmountWallMs, s.concurrent["c"].unmountWallMs))}× (unmount)`);
  }
  out.push("");
  if (s.mountMax) {
    out.push(`### mount_max = ${s.mountMax.value} (${s.mountMax.existing} fuse mounts already in the namespace → ${s.mountMax.expected} may succeed), ${cfg.concurrent} concurrent attempts`, "");
    const mr: string[][] = [];
    for (const x of res.mountMax!.rounds) {
      mr.push([x.helper, String(x.mounted), x.mounted === s.mountMax.expected ? "yes" : `no (${x.mounted - s.mountMax.expected > 0 ? "+" : ""}${x.mounted - s.mountMax.expected})`,
        r(x.wallMs, 0), String(x.leftAfterUnmount), Object.entries(x.errors).map(([k, n]) => `${n}× ${k}`).join("; ")]);
    }
    out.push(...table(["helper", "succeeded", "exact", "wall ms", "left after", "errors"], mr));
    out.push("");
  }
  if (s.service) out.push(...renderService(s), "");
  if (s.scale) out.push(...renderScale(s.scale, s.helpers), "");
  out.push("### Targets (ours)", "");
  out.push(...table(["target", "goal", "measured", "met"], s.targets.map((t) => [t.name, t.goal, t.value, t.met ? "met" : "MISSED"])));
  for (const h of others.filter((x) => x !== "ours")) {
    out.push("", `### Targets (variant ${h})`, "");
    out.push(...table(["target", "goal", "measured", "met"], targets(s, h).map((t) => [t.name, t.goal, t.value, t.met ? "met" : "MISSED"])));
  }
  out.push("");
  out.push(`Machine: Linux ${m.kernel}, ${m.nproc} CPUs (${m.cpu}), ${m.memMiB} MiB RAM, ${m.os}; Bun ${m.bun}; C helper: ${m.cHelper}; ours: ${m.oursVersion}.`);
  if (m.loadavg) out.push(`Load average (/proc/loadavg) before: ${m.loadavg.start}; after: ${m.loadavg.end}.`);
  if (m.command) out.push(`Command: \`${m.command}\`${m.commit ? ` at commit ${m.commit}` : ""}.`);
  if (m.phaseRuns) {
    // A merged report: group the phases by the run that measured them.
    const runs = new Map<string, { info: NonNullable<Machine["phaseRuns"]>[string]; phases: string[] }>();
    for (const [ph, info] of Object.entries(m.phaseRuns)) {
      const key = `${info.date}|${info.command ?? ""}`;
      (runs.get(key) ?? runs.set(key, { info, phases: [] }).get(key)!).phases.push(ph);
    }
    if (runs.size > 1) {
      out.push("Merged report: the phases come from different runs (a run of some phases keeps the others' samples from the previous results.json;",
        "the helper's code and the kernel may differ between runs, so compare absolute numbers across runs with care):");
      for (const { info, phases } of runs.values()) {
        out.push(`- ${phases.join(", ")}: run of ${info.date}${info.command ? ` (\`${info.command}\`)` : ""}, ` +
          `${info.kernel ? `Linux ${info.kernel}` : "kernel not recorded"}, ${info.commit ? `commit ${info.commit}` : "commit not recorded"}` +
          `${info.loadavg ? `, load average ${info.loadavg.start} → ${info.loadavg.end}` : ""}${info.date === m.date ? " (this run)" : ""}.`);
      }
    }
  }
  out.push(`Run ${res.startedAt}, measuring client ${(res.durationMs / 1000).toFixed(0)} s; N = ${Object.entries(cfg.n).map(([k, n]) => `${n} (${k})`).join(", ")}.`);
  return out.join("\n");
}

// The scale phase: two tables (cycle, `-u -z` alone) and the method note.
function renderScale(sc: ScaleSummary, helpers: string[]): string[] {
  const out: string[] = [];
  const others = helpers.filter((h) => h !== "c");
  const u = sc.unmountArgs.filter((a) => a !== "--").join(" ");
  const part = (title: string, k: "cycle" | "unmount", slope: "cycleSlope" | "unmountSlope", rounds: "cycleRoundMedians" | "unmountRoundMedians"): void => {
    out.push(title, "");
    const head = ["extra mounts", "in table", "utab", ...helpers.map((h) => `${h} ms`), ...others.map((h) => `${h}/C`),
      ...helpers.map((h) => `${h} +ms per 1,000`), ...helpers.map((h) => `${h} round medians`), "N", "failures"];
    out.push(...table(head, sc.rows.map((x) => [
      fmtInt(x.extraMounts), fmtInt(x.tableMounts), x.scenario === "utab" ? "yes" : "no",
      ...helpers.map((h) => r(x[k][h]?.median)),
      ...others.map((h) => { const q = ratio(x[k][h], x[k]["c"]); return q === null ? "–" : `${r(q)}×`; }),
      ...helpers.map((h) => (x[slope][h] === null ? "" : signed(x[slope][h]))),
      ...helpers.map((h) => x[rounds][h]!.map((v) => r(v)).join(" / ")),
      helpers.map((h) => String(x[k][h]?.n ?? 0)).join(" / "),
      helpers.map((h) => x.failures[h] ?? 0).some((n) => n > 0) ? helpers.map((h) => `${h} ${x.failures[h] ?? 0}`).join(", ") : "",
    ])));
    out.push("");
  };
  part(`### Scale: classic cycle (mount + \`${u}\`) against the size of the mount table (median ms)`, "cycle", "cycleSlope", "cycleRoundMedians");
  part(`### Scale: \`${u}\` alone (the unmount half of the same cycles, spawn→exit, median ms)`, "unmount", "unmountSlope", "unmountRoundMedians");
  const base = Math.min(...sc.setup.map((x) => x.extraMounts));
  const setup = sc.setup.map((x, i) => i === 0 && x.extraMounts === 0 ? null : `${i === 0 ? 0 : fmtInt(sc.setup[i - 1]!.extraMounts)} → ${fmtInt(x.extraMounts)} in ${(x.setupMs / 1000).toFixed(2)} s`).filter((x) => x !== null);
  out.push(
    `Method: inside the benchmark's private mount namespace the controller (root) adds bind mounts of one small directory onto empty directories ` +
    `(mount(2) in a loop, no process per mount) until the table holds the extra number of mounts ("in table": lines of the client's /proc/self/mountinfo, ` +
    `the namespace's own mounts included). At each size, ${sc.rounds} round${sc.rounds === 1 ? "" : "s"}; each round runs both utab scenarios in rotating order, each with ` +
    `${sc.warmup} unrecorded and ${sc.cycles} recorded cycles per helper, interleaved in rotating order (A B, B A, …): N = ${sc.cycles * sc.rounds} per helper, size and scenario. ` +
    `A cycle is the classic mount (spawn→exit) plus \`fusermount3 ${sc.unmountArgs.join(" ")} MNT\` as libfuse's fuse_kern_unmount runs it (libfuse adds -q, which only silences errors); ` +
    `"${u} alone" is the unmount half timed by itself. "+ms per 1,000" = (median − median at ${fmtInt(base)} extra mounts) ÷ (extra mounts − ${fmtInt(base)}) × 1,000, ` +
    `per scenario; "round medians" show the drift between rounds. "utab yes": an empty /run/mount/utab on the namespace's private tmpfs (ours then runs /bin/mount -f and /bin/umount --fake). ` +
    `Sizes are measured in ascending order, so the slopes also hold any drift of the machine between sizes; the ratios, from interleaved runs, do not.`,
    "",
    `Set-up: extra mounts created ${setup.join(", ")}; all removed again in ${(sc.teardownMs / 1000).toFixed(2)} s (umount2 MNT_DETACH loop), ` +
    `${sc.leftAfterTeardown} left; the namespace, and with it every mount, ends with the run. The whole phase took ${(sc.durationMs / 1000).toFixed(0)} s.`,
  );
  return out;
}

// The service phase: latency (with C, interleaved; sync-init next to the
// set-uid rows), the multi-user rounds, memory of the watches.
const SERVICE_KIND: Record<string, string> = {
  svc: "ours: non-set-uid launcher → service",
  "svc-setuid": "ours: set-uid launcher → service",
  c: "c (set-uid; never asks a service)",
};
function renderService(s: Summary): string[] {
  const sv = s.service!;
  const out: string[] = [];
  out.push("### Service mode: `fusermount3-bun --service` (ms; ratio = this kind / the C helper, interleaved in the same rounds)", "");
  const rows: string[][] = [];
  for (const name of [SERVICE_KEYS.mountExit, SERVICE_KEYS.mountFd, SERVICE_KEYS.unmount, SERVICE_KEYS.cycle]) {
    const g = s.latency[name] ?? {};
    for (const k of Object.keys(g)) {
      const x = g[k];
      const rc = k !== "c" ? ratio(x, g["c"]) : null, rp = k !== "c" ? ratio(x, g["c"], "p90") : null;
      const fail = s.failures[name]?.[k] ?? 0;
      rows.push([name.replace("service: ", ""), SERVICE_KIND[k] ?? k, String(x?.n ?? 0), r(x?.median), r(x?.p90), r(x?.min),
        rc === null ? "" : `${r(rc)}×`, rp === null ? "" : `${r(rp)}×`, r(s.cpuMs[name]?.[k]?.median), fail ? String(fail) : ""]);
    }
  }
  // --sync-init: through the service, next to the set-uid rows of the syncinit phase (not interleaved with them).
  const pairs: [string, string][] = [
    [SERVICE_KEYS.syncFd, "sync-init mount (spawn→fd)"], [SERVICE_KEYS.syncStatus, "sync-init mount (spawn→status)"], [SERVICE_KEYS.syncExit, "sync-init mount (spawn→exit)"],
  ];
  for (const [svcKey, suidKey] of pairs) {
    const a = s.latency[svcKey]?.["svc"], b = s.latency[suidKey]?.["ours"];
    const fail = s.failures[svcKey]?.["svc"] ?? 0;
    rows.push([suidKey, SERVICE_KIND["svc"]!, String(a?.n ?? 0), r(a?.median), r(a?.p90), r(a?.min), "", "", "", fail ? String(fail) : ""]);
    if (b) {
      const q = ratio(a, b);
      rows.push([suidKey, "ours: set-uid, no service (syncinit phase)", String(b.n), r(b.median), r(b.p90), r(b.min), "", "",
        r(s.cpuMs[suidKey]?.["ours"]?.median), q === null ? "" : `service ÷ set-uid: ${r(q)}×`]);
    }
  }
  out.push(...table(["measurement", "kind", "N", "median", "p90", "min", "ratio median", "ratio p90", "CPU ms (median)", "failures / notes"], rows));
  out.push("",
    `Kinds: "non-set-uid launcher" = \`${sv.launcher}\`, a copy of our installed launcher without the set-uid bit: only the service can make it mount. ` +
    "The client runs it without no-new-privs: through the service the path is the same as under NoNewPrivileges (the launcher's `connect()` and " +
    "everything the service does do not depend on it), and a `setpriv --no-new-privs` in front would add an exec to our side only. " +
    `"set-uid launcher" = our installed \`${sv.setuidLauncher}\`, which asks the service first as well (ids lowered to the caller's before \`connect()\`). ` +
    `C = Debian's \`/usr/bin/fusermount3\`, set-uid, as in the other phases. The service (\`${sv.helper} --service\`, started as root by the controller ` +
    "on a private tmpfs at /run/fusermount3 in the benchmark's namespace, stopped by PID after the phase) runs classic mounts and `-u` in its reused request threads; " +
    "`--sync-init` and auto-unmount watches in a child process per request. CPU ms is the launcher's own (wait4): the service's work is not in it. " +
    "While the service runs every launcher of ours asks it first, so every other phase runs without it; the set-uid `--sync-init` rows come from the syncinit phase " +
    "(same run unless the report says otherwise), not interleaved with these.", "");
  out.push(`#### ${sv.users.length * sv.perUser} mounts at once from ${sv.users.length} users (${sv.perUser} each; ${sv.users[0] ?? ""}…${sv.users[sv.users.length - 1] ?? ""})`, "");
  const mr: string[][] = [];
  for (const [h, e] of Object.entries(sv.multiUser)) {
    for (const x of e.rounds) {
      mr.push([SERVICE_KIND[h] ?? h, `${x.mounted}/${x.count}`, r(x.wallMs, 0), r(x.startSkewMs, 1), r(Math.max(...x.perUserWallMs), 0), r(x.helperCpuMs, 0), r(x.unmountWallMs, 0),
        String(x.leftAfterUnmount), Object.entries(x.errors).map(([k, n]) => `${n}× ${k}`).join("; ")]);
    }
  }
  out.push(...table(["kind", "mounted", "wall ms (mount)", "start skew ms", "slowest user ms", "Σ CPU ms of the spawned", "wall ms (unmount)", "left after", "errors"], mr));
  const a = sv.multiUser["svc"], b = sv.multiUser["c"];
  if (a && b) out.push("", `median wall, service/C: ${r(ratio(a.wallMs, b.wallMs))}× (mount), ${r(ratio(a.unmountWallMs, b.unmountWallMs))}× (unmount).`);
  out.push("",
    "Each user is one agent (this benchmark's client, started by the controller as that user, with everything allocated beforehand); at one moment set by the " +
    "controller (CLOCK_MONOTONIC, shared by the agents) every agent starts its mounts back to back (as the one-user concurrency phase does) and reaps them; " +
    "wall = the first spawn of any agent → the last helper reaped; start skew = how much later the last agent got to its first spawn (on 2 cores, the other " +
    "agents' helpers are already running by then); \"Σ CPU ms of the spawned\": user + system time of the 100 processes the agents spawned (wait4): " +
    "C's whole work, but only our launchers' part through the service (the service's threads and children are not in it). Then every agent runs `-u` on all of its mounts at once; \"left after\" counts fuse mounts still there. " +
    "Rounds alternate the order of the two kinds.", "");
  const m = sv.memory;
  if (m) {
    out.push(`#### Memory of ${m.count} auto-unmount mounts held by live servers (MiB, sums over processes, ${m.waitMs / 1000} s after the last mount)`, "");
    const what: Record<string, string> = {
      "svc-service": "the service and all its descendants (the watches)",
      "svc-service-self": "the service process alone",
      "svc-launchers": "the waiting non-set-uid launchers (caller's side, not the service's)",
      c: "C: the watchdogs (/usr/bin/fusermount3 processes that stay)",
      "ours-setuid": "ours set-uid, no service: the watchdogs",
    };
    const mm: string[][] = [];
    for (const [k, g] of Object.entries(m.groups)) {
      const x = g.mem;
      mm.push([what[k] ?? k, String(x.processes), String(x.threads), mib(x.vmRssKiB), mib(x.pssKiB), mib(x.vmRssKiB / m.count), mib(x.pssKiB === null ? null : x.pssKiB / m.count),
        mib(x.rssAnonKiB), mib(x.rssFileKiB), `${g.mounted}/${g.count}`, k === "svc-service-self" || k === "svc-launchers" ? "" : `${g.autoUnmounted}/${g.mounted}`, String(g.leftMounted)]);
    }
    out.push(...table(["group", "processes", "threads", "Σ VmRSS", "Σ PSS", "VmRSS per mount", "PSS per mount", "Σ RssAnon", "Σ RssFile", "mounted", "auto-unmounted", "left"], mm));
    const sv1 = m.groups["svc-service"]?.mem, c1 = m.groups["c"]?.mem, o1 = m.groups["ours-setuid"]?.mem;
    const q = (x?: number | null, y?: number | null): string => (x == null || y == null || y === 0 ? "–" : `${r(x / y, 1)}×`);
    if (sv1 && c1) {
      out.push("", `Service tree ÷ C watchdogs: ${q(sv1.pssKiB, c1.pssKiB)} (Σ PSS), ${q(sv1.vmRssKiB, c1.vmRssKiB)} (Σ VmRSS)` +
        (o1 ? `; service tree ÷ our set-uid watchdogs: ${q(sv1.pssKiB, o1.pssKiB)} (Σ PSS), ${q(sv1.vmRssKiB, o1.vmRssKiB)} (Σ VmRSS).` : "."));
      const self = m.groups["svc-service-self"]?.mem;
      if (self) {
        const n = sv1.processes - self.processes;
        out.push("", `The watches alone (the tree without the service process): ${n} processes, Σ VmRSS ${mib(sv1.vmRssKiB - self.vmRssKiB)}, ` +
          `Σ PSS ${sv1.pssKiB === null || self.pssKiB === null ? "–" : mib(sv1.pssKiB - self.pssKiB)} MiB; ` +
          `per watch ${mib(n > 0 ? (sv1.vmRssKiB - self.vmRssKiB) / n : null)} VmRSS, ${sv1.pssKiB === null || self.pssKiB === null || n === 0 ? "–" : mib((sv1.pssKiB - self.pssKiB) / n)} PSS.`);
      }
    }
    out.push("",
      "Σ VmRSS counts a page shared by several processes (the same binary's file pages, libc) once per process; Σ PSS (/proc/PID/smaps_rollup, read as root) " +
      "divides each shared page among the processes that map it, so it is the group's own share (\"–\": smaps_rollup unavailable). " +
      "The mounts are made one after another by the client (libfuse's way, `-o auto_unmount`, fd and comm socket kept open); the service's watches and C's watchdogs " +
      "are measured at the same moment; ours set-uid after the service was stopped (with a service running, our set-uid launcher would use it). " +
      "Then the servers close fd and socket: \"auto-unmounted\" = the mount went away by itself; what stayed is unmounted with `-u` (\"left\" = still mounted after that).", "");
  }
  out.push(`The phase took ${(sv.durationMs / 1000).toFixed(0)} s; the service was started ${sv.serviceStarts} time${sv.serviceStarts === 1 ? "" : "s"}.` +
    (sv.error ? ` **It stopped early: ${sv.error}**` : ""));
  const failed = Object.entries(s.failures).some(([k, g]) => k.startsWith("service: ") && Object.values(g).some((n) => n > 0)) ||
    Object.values(sv.multiUser).some((e) => e.rounds.some((x) => x.mounted < x.count || x.leftAfterUnmount > 0));
  if ((sv.error || failed) && sv.serviceLog.trim()) out.push("", "The service's stderr (last lines):", "", "```", sv.serviceLog.trim().split("\n").slice(-20).join("\n"), "```");
  return out;
}
