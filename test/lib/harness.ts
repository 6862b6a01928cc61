// Shared helpers for the integration tests (run under Node by tap, as root,
// inside the private mount namespace that test/run.sh sets up). Everything the
// tests mount is unmounted and everything they start is stopped by PID.

import t from "tap";
import { spawnSync, spawn, execFileSync, type ChildProcess, type StdioOptions } from "node:child_process";
import { mkdtempSync, chmodSync, chownSync, readFileSync, rmSync, existsSync, realpathSync, readdirSync, readlinkSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PREFIX = process.env.FM_TEST_PREFIX ?? "";

// ---- the two modes ----------------------------------------------------------
// test/run.sh runs test/integration twice:
//   "setuid":  OURS is the installed set-uid launcher, run as it is;
//   "service": (FM_TEST_MODE=service) a root `fusermount3-bun --service`
//              listens on /run/fusermount3/service.sock (a tmpfs of the test
//              namespace; its pid in FM_TEST_SERVICE_PID), OURS is a copy of
//              the launcher WITHOUT the set-uid bit, and every process that
//              runs it (the launcher itself, the fake client, a real FUSE
//              client) runs under `setpriv --no-new-privs`, where a set-uid
//              helper cannot work at all: only the service can answer.
// Tests say OURS and go through runAs/fakeMount/fakeMountHold (which wrap by
// themselves) or ours()/OURS_NNP_PREFIX for argv and scripts of their own.
// Debian's C helper (C_HELPER) always runs set-uid and without no-new-privs.
export type Mode = "setuid" | "service";
export const MODE: Mode = process.env.FM_TEST_MODE === "service" ? "service" : "setuid";
export const SERVICE_MODE = MODE === "service";
export const OURS_SETUID = `${PREFIX}/bin/fusermount3`; // the installed set-uid launcher, in both modes
export const OURS_NNP = `${PREFIX}/service/fusermount3`; // the same launcher, mode 0755 (test/run.sh)
export const OURS = SERVICE_MODE ? OURS_NNP : OURS_SETUID;
export const OURS_HELPER = `${PREFIX}/lib/fusermount3/fusermount3-bun`;
export const C_HELPER = "/usr/bin/fusermount3";
export const FAKE_CLIENT = `${PREFIX}/tools/fakeclient`;
export const SETPRIV = "/usr/bin/setpriv";
const ARGV0 = `${PREFIX}/tools/argv0`; // execs a program with a chosen argv[0] (setpriv cannot)
export const SERVICE_SOCKET = "/run/fusermount3/service.sock";
export const SERVICE_PID = SERVICE_MODE ? Number(process.env.FM_TEST_SERVICE_PID ?? 0) || undefined : undefined;

// The argv of a process that runs our launcher, directly or as a FUSE server
// or client tool that spawns it: in service mode, under setpriv
// --no-new-privs. Unchanged otherwise. With `env`, test/tools/argv0 (static)
// gives the program exactly that environment and argv[0] (setpriv itself then
// runs with an empty one: nothing of the test's environment, LD_PRELOAD say,
// reaches a program in between); spawn the result with an empty environment.
export function ours(argv: string[], o: { argv0?: string; env?: Record<string, string> } = {}): string[] {
  if (!SERVICE_MODE) return argv;
  if (o.argv0 === undefined && o.env === undefined) return [SETPRIV, "--no-new-privs", ...argv];
  const vars = Object.entries(o.env ?? {}).map(([k, v]) => `${k}=${v}`);
  return [SETPRIV, "--no-new-privs", ARGV0, argv[0]!, o.argv0 ?? argv[0]!, String(vars.length), ...vars, ...argv.slice(1)];
}
// The same for shell scripts: a prefix for the command line of a process
// that runs our launcher ("" in set-uid mode).
export const OURS_NNP_PREFIX = SERVICE_MODE ? `${SETPRIV} --no-new-privs ` : "";

// Whether a command line runs our launcher: any argument that names it (the
// launcher itself, a FUSE server's `--helper OURS`, a tool's JSON spec, a
// `sh -c` script). (In service mode a run of OURS without no-new-privs fails
// loudly: test/tools/nnpguard.c; a command line that runs Debian's helper too
// says nnp: false and wraps its runs of ours itself.)
const runsOurs = (argv: string[]): boolean => argv.some((a) => a.includes(OURS));

// What runAs and friends spawn for argv, argv0 and env: wrapped when it runs ours.
function spawnArgs(argv: string[], argv0: string | undefined, env: Record<string, string>, nnp: boolean | undefined): { file: string; args: string[]; argv0: string | undefined; env: Record<string, string> } {
  const wrap = SERVICE_MODE && (nnp ?? runsOurs(argv));
  if (!wrap) return { file: argv[0]!, args: argv.slice(1), argv0, env };
  const w = ours(argv, { argv0, env });
  return { file: w[0]!, args: w.slice(1), argv0: undefined, env: {} };
}

// In service mode: the pid of the service's request child that serves the
// launcher (or FUSE server) `pid`, i.e. the process that does on the service
// path what the set-uid helper does on the other: the one to kill or watch.
// Found by the caller's stderr, which the child has as its own fd 2. In
// set-uid mode, `pid` itself (the launcher execs the helper).
export async function privilegedPid(pid: number, ms = 10000): Promise<number | undefined> {
  if (!SERVICE_MODE) return pid;
  let found: number | undefined;
  await waitFor(() => {
    let theirs: string;
    try { theirs = readlinkSync(`/proc/${pid}/fd/2`); } catch { return true; }
    for (const p of helperPids()) {
      try {
        const ppid = Number(readFileSync(`/proc/${p}/stat`, "utf8").replace(/^.*\) /s, "").split(" ")[1]);
        if (ppid === SERVICE_PID && readlinkSync(`/proc/${p}/fd/2`) === theirs) { found = p; return true; }
      } catch { /* gone */ }
    }
    return false;
  }, ms, 10);
  return found;
}

export const canIntegrate = (): boolean =>
  process.getuid?.() === 0 && PREFIX !== "" && existsSync(OURS_SETUID) && existsSync("/dev/fuse");
export const skipReason = "needs root, /dev/fuse and FM_TEST_PREFIX (run as root through npm test: sudo npm test)";

// Whether a program is on PATH.
export const have = (cmd: string): boolean => spawnSync("sh", ["-c", 'command -v "$1"', "sh", cmd], { stdio: "ignore" }).status === 0;

// What an integration test file needs; by default root, /dev/fuse and the
// helper that test/run.sh installs into FM_TEST_PREFIX.
export type Needs = {
  installed?: boolean; // false: root and /dev/fuse are enough
  // The file is about the set-uid path itself (what the set-uid launcher or a
  // privileged exec does, installing the set-uid binary): why, for the line
  // that says it was skipped in service mode.
  setuid?: string;
  files?: string[]; // e.g. the tools test/run.sh compiles into the prefix
  commands?: string[]; // programs that must be on PATH
  also?: () => string | undefined; // any other reason to skip
};

// Why the file's tests cannot run here, or undefined when they can.
export function whyNot(needs: Needs = {}): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (run as root through npm test: sudo npm test)";
  if (!existsSync("/dev/fuse")) return "needs /dev/fuse (modprobe fuse)";
  if (needs.installed !== false && !canIntegrate()) return skipReason;
  if (SERVICE_MODE && needs.setuid !== undefined) return `set-uid path only: ${needs.setuid}`;
  if (SERVICE_MODE && !(SERVICE_PID && existsSync(OURS_NNP))) return "service mode needs the service and the non-set-uid launcher that test/run.sh sets up (run through npm test)";
  for (const f of needs.files ?? []) if (!existsSync(f)) return `needs ${f} (built by test/run.sh: run through npm test)`;
  for (const c of needs.commands ?? []) if (!have(c)) return `needs ${c}, which is not installed`;
  return needs.also?.();
}

// The preamble of every integration test file: body declares the file's tests
// when they can run; otherwise one skipped test named `name` says why.
export function integration(name: string, body: () => void, needs: Needs = {}): void {
  const reason = whyNot(needs);
  if (reason !== undefined) t.test(name, { skip: reason }, () => {});
  else body();
}

// The reason of the files that install the set-uid launcher.
export const SETUID_INSTALL = "installs the set-uid launcher (install.sh, the Debian package) and checks it; the service is not part of what they install yet (the units work)";

// Options for one test that is about the set-uid path only: skipped, with the
// reason, in service mode. t.test(name, setuidOnly("why"), body).
export function setuidOnly(why: string): { skip: string | false } {
  return { skip: SERVICE_MODE ? `set-uid path only: ${why}` : false };
}

export type User = { name: string; uid: number; gid: number };
export function user(name = "fmtest"): User {
  const uid = Number(execFileSync("id", ["-u", name]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", name]).toString().trim());
  return { name, uid, gid };
}

// A scratch directory owned by the user, under a root-owned, world-traversable
// parent (so the user cannot rename the parent, as with a real home).
export function scratch(u: User): string {
  const d = realpathSync(mkdtempSync("/tmp/fm-it-"));
  chmodSync(d, 0o755);
  chownSync(d, u.uid, u.gid);
  return d;
}

export function mkdirAs(u: User, path: string, mode = 0o755): string {
  execFileSync("mkdir", ["-p", "-m", mode.toString(8), path], { uid: u.uid, gid: u.gid });
  return path;
}

export type Run = { code: number | null; signal: string | null; stdout: string; stderr: string };

// spawn() of a command as the user (root: null) with exactly opts.env,
// wrapped as runAs wraps it; the child's pid is the program's own.
export function spawnAs(u: User | null, argv: string[], opts: { env?: Record<string, string>; cwd?: string; stdio?: StdioOptions; nnp?: boolean } = {}): ChildProcess {
  const a = spawnArgs(argv, undefined, opts.env ?? {}, opts.nnp);
  return spawn(a.file, a.args, { env: a.env, cwd: opts.cwd, stdio: opts.stdio ?? ["ignore", "pipe", "pipe"], ...(u ? { uid: u.uid, gid: u.gid } : {}) });
}

// Run a command as the user with exactly the given environment.
// In service mode a command line that runs our launcher (see runsOurs) runs
// under setpriv --no-new-privs; `nnp` forces that on or off.
export function runAs(u: User | null, argv: string[], opts: { env?: Record<string, string>; cwd?: string; argv0?: string; timeoutMs?: number; input?: string; nnp?: boolean } = {}): Run {
  const a = spawnArgs(argv, opts.argv0, opts.env ?? {}, opts.nnp);
  const r = spawnSync(a.file, a.args, {
    env: a.env,
    cwd: opts.cwd ?? "/",
    argv0: a.argv0,
    uid: u?.uid, gid: u?.gid,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 30000,
    input: opts.input,
    stdio: [opts.input !== undefined ? "pipe" : "ignore", "pipe", "pipe"],
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

export type ClientSpec = {
  helper: string; args: string[]; argv0?: string; env?: Record<string, string>;
  sock?: "stream" | "seqpacket"; commFdEnv?: boolean; timeoutMs?: number; extraPipe?: boolean;
};
export type ClientReport = {
  gotFd: boolean; fdTarget?: string; dataByte?: number; exitCode: number | null;
  signal: string | null; stdout: string; stderr: string; recv?: string;
};
export type HoldReport = {
  gotFd: boolean; fdTarget?: string; dataByte?: number; recv?: string; pid?: number;
  extraPipeEof?: boolean; stdoutEof?: boolean;
};

// Mount through a helper the way libfuse does, as the user; waits for the helper.
// (o.nnp: the helper is a script that runs ours.)
export function fakeMount(u: User | null, spec: ClientSpec, o: { nnp?: boolean } = {}): ClientReport {
  const r = runAs(u, [FAKE_CLIENT, JSON.stringify(spec)], { env: { PATH: "/usr/bin:/bin", HOME: "/" }, nnp: o.nnp ?? spec.helper === OURS });
  if (r.code !== 0) throw new Error(`fake client failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as ClientReport;
}

// The "hold" variant: the client keeps the fd and the socket until killed.
export async function fakeMountHold(u: User | null, spec: ClientSpec): Promise<{ report: HoldReport; client: ChildProcess }> {
  const a = spawnArgs([FAKE_CLIENT, JSON.stringify({ ...spec, mode: "hold" })], undefined, { PATH: "/usr/bin:/bin", HOME: "/" }, spec.helper === OURS);
  const client = spawn(a.file, a.args, {
    env: a.env, ...(u ? { uid: u.uid, gid: u.gid } : {}), stdio: ["ignore", "pipe", "pipe"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    let buf = "";
    client.stdout!.on("data", (d: Buffer) => { buf += d.toString(); const i = buf.indexOf("\n"); if (i >= 0) resolve(buf.slice(0, i)); });
    client.on("exit", (code) => reject(new Error(`client exited ${code}`)));
    setTimeout(() => reject(new Error("client timed out")), 20000);
  });
  return { report: JSON.parse(line), client };
}

export type MountLine = { id: number; parent: number; mountPoint: string; mountOptions: string; fsType: string; source: string; superOptions: string; raw: string };

export function mountsAt(path: string): MountLine[] {
  const out: MountLine[] = [];
  for (const raw of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const f = raw.split(" ");
    const sep = f.indexOf("-", 6);
    if (sep < 0) continue;
    const mp = f[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
    if (mp !== path) continue;
    out.push({ id: Number(f[0]), parent: Number(f[1]), mountPoint: mp, mountOptions: f[5]!, fsType: f[sep + 1]!, source: f[sep + 2]!, superOptions: f[sep + 3]!, raw });
  }
  return out;
}

// A mountinfo line with the parts that differ between two otherwise equal
// mounts (ids, device numbers, fd numbers) blanked out.
export function normalizedMount(m: MountLine | undefined): string | undefined {
  if (!m) return undefined;
  return `${m.mountOptions} - ${m.fsType} ${m.source} ${m.superOptions}`;
}

export function fuseMountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8").split("\n")
    .map((l) => l.split(" "))
    .filter((f) => f.length > 6 && f[f.indexOf("-", 6) + 1]?.startsWith("fuse"))
    .map((f) => f[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((p) => p === dir || p.startsWith(dir + "/"));
}

// Detach everything we mounted below dir (deepest first), then remove it.
export function cleanupDir(dir: string): void {
  for (let i = 0; i < 10; i++) {
    const left = fuseMountsUnder(dir);
    const all = readFileSync("/proc/self/mountinfo", "utf8").split("\n").map((l) => l.split(" ")[4]).filter((p): p is string => !!p && (p === dir || p.startsWith(dir + "/")));
    if (left.length === 0 && all.length === 0) break;
    for (const p of [...new Set([...left, ...all])].sort().reverse()) spawnSync("umount", ["-l", p]);
  }
  rmSync(dir, { recursive: true, force: true });
}

export function killTree(pid: number | undefined): void {
  if (!pid) return;
  try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
}

export async function waitFor(cond: () => boolean, ms = 10000, step = 50): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, step));
  }
  return cond();
}

// Live processes whose executable is our helper binary (for "nothing left
// running"); argv[0] is the launcher's name, so look at /proc/PID/exe.
// In service mode the service itself is not counted (its request children,
// which is where a watch lives there, are).
export function helperPids(exe = OURS_HELPER): number[] {
  const pids: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(p)) continue;
    if (Number(p) === SERVICE_PID) continue;
    try {
      if (readlinkSync(`/proc/${p}/exe`) !== exe) continue;
      if (/\) Z /.test(readFileSync(`/proc/${p}/stat`, "utf8"))) continue;
      pids.push(Number(p));
    } catch { /* gone */ }
  }
  return pids;
}

// Run a bash script in a nested mount namespace whose /dev holds only the
// devices the helper needs and a /dev/log of our own: the syslogsink tool
// writes each datagram it receives to `log` as one line. In the script,
// \`as CMD…\` runs CMD as the user with an empty environment (no PAM, so the
// only records are ours).
export function withPrivateSyslog(u: User, log: string, body: string): Run {
  return inNamespace(`
    newdev=$(mktemp -d)
    mount -t tmpfs -o mode=755 tmpfs "$newdev"
    for n in null zero full random urandom fuse tty; do
      [ -e /dev/$n ] || continue; touch "$newdev/$n"; mount --bind /dev/$n "$newdev/$n"
    done
    mount --move "$newdev" /dev
    ready=$(mktemp)
    ${PREFIX}/tools/syslogsink /dev/log ${log} > "$ready" &
    sink=$!; trap 'kill -9 $sink 2>/dev/null || true; rm -f "$ready"' EXIT
    for i in $(seq 100); do [ -s "$ready" ] && break; sleep 0.05; done
    as() { setpriv --reuid ${u.uid} --regid ${u.gid} --clear-groups -- env -i "$@"; }
    ${body}
    sleep 0.2`);
}

// Run a bash script in a fresh private mount namespace (for binds over
// /usr/bin/fusermount3 or /etc/fuse.conf that must not leak to other tests).
//
// In service mode the script's namespace is another one than the service's,
// so every request it makes goes the way of a caller elsewhere (the service
// re-runs it in the caller's namespace: src/servicens.ts), and sees what the
// script binds there (fuse.conf, /bin/mount, /dev/log, utab). The whole
// script runs under setpriv --no-new-privs (root keeps every capability:
// mounts and binds work, only an exec can no longer gain privileges), so every
// launcher it runs, as any user, runs under NNP; `nnp: false` for a script
// that runs Debian's set-uid helper (it then prefixes its runs of ours with
// OURS_NNP_PREFIX).
export function inNamespace(script: string, env: Record<string, string> = {}, timeoutMs = 60000, o: { nnp?: boolean } = {}): Run {
  const e = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...env };
  const nnp = SERVICE_MODE && o.nnp !== false ? [SETPRIV, "--no-new-privs"] : [];
  const argv = [...nnp, "unshare", "-m", "--propagation", "private", "--", "bash", "-euo", "pipefail", "-c", script];
  const r = spawnSync(argv[0]!, argv.slice(1), {
    env: e, encoding: "utf8", timeout: timeoutMs,
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

// ---- additions for the security regression tests ---------------------------

// A root-owned, world-readable scratch directory for the tests' own scripts,
// recorders and copies of binaries (never inside a user's directory).
export function rootScratch(): string {
  const d = realpathSync(mkdtempSync("/tmp/fm-root-"));
  chmodSync(d, 0o755);
  return d;
}

// Signs that the helper (or the Bun runtime under it) crashed instead of
// answering: a JS stack trace, an uncaught exception, Bun's panic banner.
export function crashMarkers(stderr: string): string[] {
  const found: string[] = [];
  if (/^\s+at \S/m.test(stderr)) found.push("stack trace");
  for (const word of ["TypeError", "RangeError", "ReferenceError", "SyntaxError", "panic", "bun.report", "Segmentation fault", "internal error"]) {
    if (stderr.includes(word)) found.push(word);
  }
  return found;
}

// Files and directories owned by root below dir (the user's own tree must
// never get one).
export function rootOwnedUnder(dir: string): string[] {
  const r = spawnSync("find", [dir, "-xdev", "-uid", "0"], { encoding: "utf8" });
  return (r.stdout ?? "").split("\n").filter((l) => l !== "");
}

// mountinfo entries whose mount point is exactly these bytes (names that are
// not valid UTF-8 included), with the raw escaped field as the kernel wrote it.
export function mountsAtBytes(path: Buffer): { raw: string; field: Buffer; fsType: string; source: Buffer; superOptions: string }[] {
  const unescape = (s: Buffer): Buffer => Buffer.from(s.toString("latin1").replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))), "latin1");
  const out: { raw: string; field: Buffer; fsType: string; source: Buffer; superOptions: string }[] = [];
  for (const line of readFileSync("/proc/self/mountinfo").toString("latin1").split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (sep < 0) continue;
    const field = Buffer.from(f[4]!, "latin1");
    if (!unescape(field).equals(path)) continue;
    out.push({ raw: line, field, fsType: unescape(Buffer.from(f[sep + 1]!, "latin1")).toString("latin1"), source: unescape(Buffer.from(f[sep + 2]!, "latin1")), superOptions: f[sep + 3]! });
  }
  return out;
}

// A test user with a fixed uid, created if missing; returns whether it was
// created here (so the caller removes it again).
export function ensureUser(name: string, uid: number): { user: User; created: boolean } {
  let created = false;
  if (spawnSync("id", ["-u", name]).status !== 0) {
    const r = spawnSync("useradd", ["-M", "-d", "/nonexistent", "-s", "/usr/sbin/nologin", "-u", String(uid), "-U", name], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`useradd ${name}: ${r.stderr}`);
    created = true;
  }
  return { user: user(name), created };
}

export function removeUser(name: string): void {
  spawnSync("userdel", [name]);
}

// runAs without blocking the event loop (for commands that must overlap).
export function runAsAsync(u: User | null, argv: string[], opts: { env?: Record<string, string>; cwd?: string; argv0?: string; timeoutMs?: number; nnp?: boolean } = {}): Promise<Run> {
  const a = spawnArgs(argv, opts.argv0, opts.env ?? {}, opts.nnp);
  return new Promise((resolve) => {
    const child = spawn(a.file, a.args, {
      env: a.env, cwd: opts.cwd ?? "/", argv0: a.argv0, uid: u?.uid, gid: u?.gid,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d: Buffer) => { stdout += d.toString(); });
    child.stderr!.on("data", (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => killTree(child.pid), opts.timeoutMs ?? 30000);
    child.on("close", (code, signal) => { clearTimeout(timer); resolve({ code, signal, stdout, stderr }); });
  });
}
