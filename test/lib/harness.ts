// Shared helpers for the integration tests (run under Node by tap, as root,
// inside the private mount namespace that test/run.sh sets up). Everything the
// tests mount is unmounted and everything they start is stopped by PID.

import t from "tap";
import { spawnSync, spawn, execFileSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, chmodSync, chownSync, readFileSync, rmSync, existsSync, realpathSync, readdirSync, readlinkSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const PREFIX = process.env.FM_TEST_PREFIX ?? "";
export const OURS = `${PREFIX}/bin/fusermount3`;
export const OURS_HELPER = `${PREFIX}/lib/fusermount3/fusermount3-bun`;
export const C_HELPER = "/usr/bin/fusermount3";
export const FAKE_CLIENT = `${PREFIX}/tools/fakeclient`;

export const canIntegrate = (): boolean =>
  process.getuid?.() === 0 && PREFIX !== "" && existsSync(OURS) && existsSync("/dev/fuse");
export const skipReason = "needs root, /dev/fuse and FM_TEST_PREFIX (run as root through npm test: sudo npm test)";

// Whether a program is on PATH.
export const have = (cmd: string): boolean => spawnSync("sh", ["-c", 'command -v "$1"', "sh", cmd], { stdio: "ignore" }).status === 0;

// What an integration test file needs; by default root, /dev/fuse and the
// helper that test/run.sh installs into FM_TEST_PREFIX.
export type Needs = {
  installed?: boolean; // false: root and /dev/fuse are enough
  files?: string[]; // e.g. the tools test/run.sh compiles into the prefix
  commands?: string[]; // programs that must be on PATH
  also?: () => string | undefined; // any other reason to skip
};

// Why the file's tests cannot run here, or undefined when they can.
export function whyNot(needs: Needs = {}): string | undefined {
  if (process.getuid?.() !== 0) return "needs root (run as root through npm test: sudo npm test)";
  if (!existsSync("/dev/fuse")) return "needs /dev/fuse (modprobe fuse)";
  if (needs.installed !== false && !canIntegrate()) return skipReason;
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

// Run a command as the user with exactly the given environment.
export function runAs(u: User | null, argv: string[], opts: { env?: Record<string, string>; cwd?: string; argv0?: string; timeoutMs?: number; input?: string } = {}): Run {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    env: opts.env ?? {},
    cwd: opts.cwd ?? "/",
    argv0: opts.argv0,
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
export function fakeMount(u: User | null, spec: ClientSpec): ClientReport {
  const r = runAs(u, [FAKE_CLIENT, JSON.stringify(spec)], { env: { PATH: "/usr/bin:/bin", HOME: "/" } });
  if (r.code !== 0) throw new Error(`fake client failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as ClientReport;
}

// The "hold" variant: the client keeps the fd and the socket until killed.
export async function fakeMountHold(u: User | null, spec: ClientSpec): Promise<{ report: HoldReport; client: ChildProcess }> {
  const client = spawn(FAKE_CLIENT, [JSON.stringify({ ...spec, mode: "hold" })], {
    env: { PATH: "/usr/bin:/bin", HOME: "/" }, ...(u ? { uid: u.uid, gid: u.gid } : {}), stdio: ["ignore", "pipe", "pipe"],
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
export function helperPids(exe = OURS_HELPER): number[] {
  const pids: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(p)) continue;
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
export function inNamespace(script: string, env: Record<string, string> = {}, timeoutMs = 60000): Run {
  const r = spawnSync("unshare", ["-m", "--propagation", "private", "--", "bash", "-euo", "pipefail", "-c", script], {
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...env }, encoding: "utf8", timeout: timeoutMs,
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
export function runAsAsync(u: User | null, argv: string[], opts: { env?: Record<string, string>; cwd?: string; argv0?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      env: opts.env ?? {}, cwd: opts.cwd ?? "/", argv0: opts.argv0, uid: u?.uid, gid: u?.gid,
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
