// Shapes shared by the benchmark controller (run.ts, root) and the measuring
// client (client.ts, the unprivileged user). Pure: no I/O.

export type HelperSpec = {
  name: string; // "ours", "c", or a variant's name
  launcher: string; // what a FUSE library runs (set-uid)
  bunHelper?: string; // the never-set-uid Bun binary behind it (ours and variants)
  syncInit: boolean; // understands --sync-init
  inConcurrency: boolean; // part of the concurrent / mount_max rounds
};

export type ClientConfig = {
  helpers: HelperSpec[]; // interleaving order
  floors: { name: string; path: string }[]; // compiled empty Bun programs
  dir: string; // owned by the user; every mountpoint is created below it
  n: { mount: number; syncInit: number; version: number };
  warmup: number;
  concurrent: { count: number; rounds: number };
  mountMax: { value: number; rounds: number };
  watchdog: { waitMs: number; perHelper: number };
  // Peak RSS runs through /usr/bin/time -f %M (null: skipped).
  rss: { time: string; runs: number } | null;
  timeoutMs: number;
  utab: boolean; // the controller can switch /run/mount/utab (private tmpfs) on and off
  // Only these phases (default: all): classic, classic-utab, syncinit, version, rss, watchdog, concurrent, mountmax, scale.
  phases?: string[];
  // The scale phase: the classic cycle (mount + `-u -z`) at each number of
  // extra (bind) mounts in the namespace's table, `cycles` interleaved cycles
  // per helper in each of `rounds` rounds per utab scenario; `warmup` unrecorded
  // cycles per helper at the start of each round.
  scale: { sizes: number[]; cycles: number; rounds: number; warmup: number };
  // More -V style start-up kinds (diagnostics), e.g. a floor behind a set-uid launcher.
  extraVersion?: { name: string; path: string; args: string[] }[];
  // The service phase (null: not measured; the controller asks for it).
  service?: ServiceConfig | null;
  // Set when the binary runs as a per-user agent of the service phase's
  // multi-user rounds (started by the controller as that user; see client.ts).
  agent?: boolean;
};

export type ServiceConfig = {
  launcher: string; // a NON-set-uid copy of our installed launcher: only the service can make it mount
  setuidLauncher: string; // our installed set-uid launcher (it asks the service first, too)
  helper: string; // the installed Bun helper the controller starts as root with --service
  users: string[]; // the multi-user rounds' users (each one agent)
  perUser: number; // mounts each user starts at once
  rounds: number; // multi-user rounds per helper
  memCount: number; // auto-unmount mounts held per group for the memory measurement
  memWaitMs: number; // from the last of them to the measurement
};

// One timed helper run (all times in ms from just before posix_spawn).
export type RunSample = {
  fdMs?: number; // /dev/fuse fd received
  statusMs?: number; // sync-init status received
  exitMs: number; // helper reaped
  cpuMs: number; // user + system, from wait4's rusage
  round?: number; // the scale phase: which round (0-based) the sample belongs to
};

export type Failure = { what: string; code: number | null; signal: number | null; stderr: string };

export type Series = { samples: RunSample[]; failures: Failure[] };

export type WatchdogSample = {
  pid: number;
  mounted: boolean; // fd received
  alive: boolean; // still running when measured
  status: Record<string, number>; // VmRSS, VmHWM, RssAnon, RssFile, RssShmem (KiB), Threads
  autoUnmounted: boolean | null; // after the socket closed: the watchdog removed the mount
  exitCode: number | null;
};

export type ConcurrentRound = {
  helper: string;
  count: number;
  mounted: number; // fd received and exit 0
  wallMs: number; // first spawn -> last helper reaped
  unmountWallMs: number; // concurrent `-u` of everything mounted
  leftAfterUnmount: number; // fuse mounts still below the directory afterwards
  errors: Record<string, number>; // stderr line -> count
};

export type MountMaxResult = {
  value: number;
  existingFuseMounts: number; // in the namespace before the rounds
  expected: number; // value - existing
  rounds: ConcurrentRound[];
};

// The scale phase at one table size.
export type ScalePoint = {
  extraMounts: number; // bind mounts the controller added to the namespace's table
  tableMounts: number; // lines in the client's /proc/self/mountinfo before measuring (host's + namespace's + extra)
  setupMs: number; // the controller creating this size's extra mounts from the previous size's (mkdir + mount(2) loop)
  // Per utab scenario ("no-utab", "utab"): the classic mount, the `-u -z`
  // that follows it (timed alone) and their sum; samples carry their round.
  scenarios: Record<string, { mount: Record<string, Series>; unmount: Record<string, Series>; cycle: Record<string, Series> }>;
};

export type ScaleResult = {
  unmountArgs: string[]; // what the cycle's unmount passes before the mountpoint
  cycles: number; rounds: number; warmup: number;
  points: ScalePoint[];
  teardownMs: number; // removing every extra mount again (umount2 MNT_DETACH loop)
  leftAfterTeardown: number; // extra mounts still in the table afterwards (expected 0)
  durationMs: number; // the whole phase, set-up and teardown included
};

export type ClientResult = {
  startedAt: string;
  durationMs: number;
  existingFuseMounts: number;
  helpers: string[];
  // Classic mount and `-u`, per mount-table scenario: "no-utab" (no
  // /run/mount/utab: no helper records anything) and "utab" (an empty utab
  // exists: ours records the mount with /bin/mount -f and removes it with
  // /bin/umount --fake, as libfuse master; Debian's 3.14 does not).
  classic: Record<string, { mount: Record<string, Series>; unmount: Record<string, Series>; cycle: Record<string, Series> }>;
  utabScenario: boolean; // false: /run/mount missing, the utab scenario was skipped
  syncInit: Record<string, Series>;
  version: Record<string, Series>;
  versionOutput: Record<string, string>;
  // Peak RSS (KiB) from /usr/bin/time -f %M: measurement -> helper/kind -> samples.
  rss: Record<string, Record<string, number[]>>;
  // Why not wait4's ru_maxrss of the timed runs: the same tiny program, spawned
  // by this (large) client, reports the client's RSS (see spawn.ts).
  rssCalibration: { trueRuMaxrssKiB: number[]; trueTimeKiB: number[] };
  watchdog: Record<string, WatchdogSample[]>;
  concurrent: ConcurrentRound[];
  mountMax: MountMaxResult | null;
  scale?: ScaleResult | null; // absent in results from before the scale phase existed
  service?: ServiceResult | null; // absent in results from before the service phase existed
};

// ---- the service phase ----------------------------------------------------------------

// 100 mounts started at once by several users (each user's agent starts its
// share back to back at a moment the controller sets); times from one clock
// (CLOCK_MONOTONIC, spawn.ts's monotonicMs) across the agents.
export type MultiUserRound = {
  helper: string;
  users: number; perUser: number; count: number;
  mounted: number; // fd received and exit 0
  wallMs: number; // the first spawn of any user -> the last helper reaped
  startSkewMs: number; // the last agent's first spawn - the first agent's (all wait for the same moment)
  perUserWallMs: number[]; // each agent: its first spawn -> its last helper reaped
  helperCpuMs: number; // user + system CPU of every helper run (wait4; through the service: the launchers only)
  unmountWallMs: number; // every user's concurrent `-u` of its mounts
  leftAfterUnmount: number; // fuse mounts still below the users' directories afterwards
  errors: Record<string, number>; // stderr line -> count
};

// Memory of a group of processes (and all their descendants), read by the
// controller (root) from /proc: sums over the processes.
export type TreeMem = {
  roots: number; // root pids asked for
  alive: number; // of them, running (not gone, not zombies)
  processes: number; // alive roots + their descendants
  vmRssKiB: number; // sum of VmRSS (shared pages counted once per process)
  pssKiB: number | null; // sum of Pss from /proc/PID/smaps_rollup (shared pages divided among their users); null: unavailable
  rssAnonKiB: number; rssFileKiB: number; rssShmemKiB: number;
  threads: number;
};

export type ServiceMemGroup = {
  count: number; // auto-unmount mounts asked for
  mounted: number; // fd received
  mem: TreeMem; // the group (see the names in client.ts)
  autoUnmounted: number; // mounts gone by themselves after the server closed fd and socket
  leftMounted: number; // still mounted after that and an untimed -u (expected 0)
};

export type ServiceResult = {
  launcher: string; setuidLauncher: string; helper: string;
  kinds: string[]; // the classic rounds' kinds, interleaved: "svc" (non-set-uid launcher), "svc-setuid", "c"
  // Classic mount and `-u` with the service running (no utab): per kind.
  classic: { mount: Record<string, Series>; unmount: Record<string, Series>; cycle: Record<string, Series> };
  syncInit: Series; // --sync-init through the service (non-set-uid launcher)
  multiUser: { users: string[]; perUser: number; rounds: MultiUserRound[] };
  // Groups: "svc-service" (the service and every descendant: the watches),
  // "svc-service-self" (the service process alone), "svc-launchers" (the
  // non-set-uid launchers waiting for their watches, the caller's side),
  // "c" (the C watchdogs), "ours-setuid" (our set-uid watchdogs, no service).
  memory: { count: number; waitMs: number; groups: Record<string, ServiceMemGroup> } | null;
  serviceStarts: number;
  serviceLog: string; // the service's stderr (its last 4,000 characters)
  durationMs: number;
  error?: string; // the phase stopped early
};

// The service phase's root-side requests (answers after the ";").
export type ServiceRequest =
  | { type: "service"; action: "start" } // ; { pid } | { error }
  | { type: "service"; action: "stop" } // ; { log, leftDescendants } | { error }
  // Every agent prepares perUser mounts through `launcher` in its own
  // directory, all start at once; then all unmount at once. ; MultiUserRound | { error }
  | { type: "multiuser"; helper: string; launcher: string; perUser: number }
  // Memory of process groups (roots and their descendants); "service": true
  // adds the groups "service" and "service-self". ; Record<string, TreeMem>
  | { type: "treemem"; groups: Record<string, number[]>; service?: boolean };

// Client -> controller requests (one JSON line each on stdout); the controller
// answers each with one JSON line on the client's stdin.
export type Request =
  | { type: "progress"; msg: string }
  | { type: "fuseconf"; mountMax: number | null } // null: back to the machine's file
  | { type: "procstatus"; pids: number[] }
  | { type: "utab"; present: boolean } // create or remove an (empty) utab in the namespace's private /run/mount
  // Bring the namespace's extra bind mounts to exactly `count` (0: remove them
  // all); answered with ScaleAnswer.
  | { type: "scale"; count: number }
  | ServiceRequest
  | { type: "result"; result: ClientResult };

export type ScaleAnswer = { count: number; ms: number } | { error: string };
