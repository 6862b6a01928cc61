// The service for the service tests: a private /run (an overlay, its upper
// layer on a tmpfs) with its own tmpfs on /run/fusermount3, in the test's
// private mount namespace, so the machine's /run is never written; and the
// installed helper started as root with --service, stopped by PID.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { OURS_HELPER, SERVICE_SOCKET, waitFor } from "./harness.ts";

export const SOCKET = SERVICE_SOCKET;

// Run a command as root; throw with its stderr if it fails.
export function sh(argv: string[]): void {
  const r = spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: ${r.stderr}`);
}

// Returns the undo (unmount in reverse order, remove the tmpfs directory).
// dirMode: /run/fusermount3's mode (a unit's DirectoryMode=).
export function privateRun(dirMode = "0755"): () => void {
  const runTmp = realpathSync(mkdtempSync("/tmp/fm-svc-run-"));
  sh(["mount", "-t", "tmpfs", "tmpfs", runTmp]);
  mkdirSync(`${runTmp}/upper`); mkdirSync(`${runTmp}/work`);
  sh(["mount", "-t", "overlay", "overlay", "-o", `lowerdir=/run,upperdir=${runTmp}/upper,workdir=${runTmp}/work`, "/run"]);
  mkdirSync("/run/fusermount3", { recursive: true });
  sh(["mount", "-t", "tmpfs", "-o", `mode=${dirMode}`, "tmpfs", "/run/fusermount3"]);
  return () => {
    for (const m of ["/run/fusermount3", "/run", runTmp]) spawnSync("umount", ["-l", m]);
    rmSync(runTmp, { recursive: true, force: true });
  };
}

export class Service {
  proc: ChildProcess | undefined;
  log = "";

  get pid(): number { return this.proc!.pid!; }
  get running(): boolean { return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null; }

  async start(): Promise<void> {
    const p = spawn(OURS_HELPER, ["--service"], { env: {}, cwd: "/", stdio: ["ignore", "ignore", "pipe"] });
    this.proc = p;
    const from = this.log.length;
    p.stderr!.on("data", (d: Buffer) => { this.log += d.toString(); });
    if (!(await waitFor(() => this.log.slice(from).includes("listening"), 10000))) throw new Error(`service did not start: ${this.log}`);
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    if (!this.running) return;
    process.kill(this.pid, signal);
    await waitFor(() => !this.running, 5000);
  }

  // Processes the service started that are still there (request children,
  // unwatch children, watchdogs of callers elsewhere).
  children(): string[] {
    try {
      return readdirSync(`/proc/${this.pid}/task`)
        .flatMap((tid) => readFileSync(`/proc/${this.pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean));
    } catch {
      return [];
    }
  }
}
