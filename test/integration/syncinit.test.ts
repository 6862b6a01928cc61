// --sync-init driven step by step by a fake peer (test/tools/syncpeer.ts) as the
// unprivileged user, against the installed set-uid helper.
import t from "tap";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, mkdirSync, statSync } from "node:fs";
import {
  integration, OURS, PREFIX, user, scratch, mkdirAs, runAs, mountsAt, cleanupDir, waitFor, killTree,
  type User, spawnAs,
  privilegedPid,
} from "../lib/harness.ts";

const PEER = `${PREFIX}/tools/syncpeer`;
const SHORT_TIMEOUT_HELPER = `${PREFIX}/tools/fusermount3-bun-short-timeout`;

type PeerReport = {
  gotFd: boolean; ioctl?: number | string; status?: number | "eof"; exitCode?: number | null; signal?: string | null;
  stderr?: string; initOpcode?: number; initAnsweredAt?: number; statusAt?: number; proceedAt?: number;
};
type PeerSpec = {
  helper?: string; args: string[]; env?: Record<string, string>; arm?: boolean; proceed?: "send" | "close" | "never";
  proceedBytes?: number[]; init?: "answer" | "fail" | "die" | "ignore"; hold?: boolean;
  swap?: { path: string; target: string };
};

// Starts the peer; resolves with the helper's pid and a promise of the report.
function peer(u: User | null, spec: PeerSpec): { child: ChildProcess; launcherPid: Promise<number>; helperPid: Promise<number>; report: Promise<PeerReport> } {
  const child = spawnAs(u, [PEER, JSON.stringify({ helper: OURS, ...spec })]);
  const lines: string[] = [];
  let buf = "";
  const waiters: Array<() => void> = [];
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) { lines.push(buf.slice(0, i)); buf = buf.slice(i + 1); waiters.splice(0).forEach((w) => w()); }
  });
  child.on("exit", () => waiters.splice(0).forEach((w) => w()));
  const line = (n: number) => new Promise<string>((resolve, reject) => {
    const check = () => {
      if (lines.length > n) resolve(lines[n]!);
      else if (child.exitCode !== null || child.signalCode !== null) reject(new Error(`peer ended after ${lines.length} lines`));
      else waiters.push(check);
    };
    check();
  });
  // The process the peer started (in service mode the launcher, which lives
  // as long as the watch the service holds for it) and, in service mode, the
  // service's request child (the root process that mounts).
  const launcherPid = line(0).then((l) => (JSON.parse(l) as { helperPid: number }).helperPid);
  const helperPid = launcherPid.then(async (p) => (await privilegedPid(p)) ?? p);
  const report = line(1).then((l) => JSON.parse(l) as PeerReport);
  // Tests that kill the peer never await its report.
  report.catch(() => {});
  return { child, launcherPid, helperPid, report };
}

const alive = (pid: number) => {
  try { return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8")); } catch { return false; }
};

integration("sync-init tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  t.teardown(() => cleanupDir(base));
  const sync = (mnt: string, opts = "") => ["--sync-init", "-o", opts, "--", mnt];

  t.test("success: FUSE_INIT is answered inside the mount, before the status", async (t) => {
    const mnt = mkdirAs(u, `${base}/ok`);
    const r = await peer(u, { args: sync(mnt, "subtype=sync,fsname=peer") }).report;
    t.equal(r.gotFd, true);
    t.equal(r.ioctl, 0, "FUSE_DEV_IOC_SYNC_INIT armed");
    t.equal(r.initOpcode, 26, "FUSE_INIT arrived");
    t.equal(r.status, 0);
    t.ok(r.initAnsweredAt! < r.statusAt!, "INIT answered before the status came");
    t.equal(r.exitCode, 0);
    t.equal(r.stderr, "");
    const m = mountsAt(mnt)[0];
    t.equal(m?.fsType, "fuse.sync");
    t.equal(m?.source, "peer");
    t.equal(m?.mountOptions, "rw,nosuid,nodev,relatime");
    t.equal(runAs(u, [OURS, "-u", mnt]).code, 0);
  });

  t.test("any proceed byte value is accepted; extra bytes are harmless", async (t) => {
    for (const bytes of [[0x00], [0x70], [0xff], [0xff, 1, 2, 3]]) {
      const mnt = mkdirAs(u, `${base}/pb${bytes.length}-${bytes[0]}`);
      const r = await peer(u, { args: sync(mnt), proceedBytes: bytes }).report;
      t.equal(r.status, 0, `proceed ${bytes}`);
      t.equal(mountsAt(mnt).length, 1);
      t.equal(runAs(u, [OURS, "-u", mnt]).code, 0);
    }
  });

  t.test("kernels without sync init (ioctl not used): INIT is asynchronous, mount still works", async (t) => {
    const mnt = mkdirAs(u, `${base}/async`);
    const r = await peer(u, { args: sync(mnt), arm: false }).report;
    t.equal(r.status, 0);
    t.equal(mountsAt(mnt).length, 1);
    t.equal(runAs(u, [OURS, "-u", mnt]).code, 0);
  });

  t.test("refused options and mountpoints: message, nothing sent, exit 1", async (t) => {
    const mnt = mkdirAs(u, `${base}/refused`);
    const cases: Array<[string[], string]> = [
      [sync(mnt, "allow_other"), "fusermount3: option allow_other only allowed if 'user_allow_other' is set in /etc/fuse.conf\n"],
      [sync(mnt, "blkdev"), "fusermount3: option blkdev is privileged\n"],
      [sync(mnt, "bogus"), "fusermount3: unknown option 'bogus'\n"],
      [sync(`${base}/missing`), `fusermount3: failed to access mountpoint ${base}/missing: No such file or directory\n`],
      [sync("/"), "fusermount3: user has no write access to mountpoint /\n"],
    ];
    for (const [args, stderr] of cases) {
      const r = await peer(u, { args }).report;
      t.equal(r.gotFd, false, `${args.join(" ")}: no fd`);
      t.equal(r.exitCode, 1);
      t.equal(r.stderr, stderr);
    }
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("EOF instead of proceed: no mount, master's message", async (t) => {
    const mnt = mkdirAs(u, `${base}/eof`);
    const r = await peer(u, { args: sync(mnt), proceed: "close" }).report;
    t.equal(r.gotFd, true);
    t.equal(r.exitCode, 1);
    t.equal(r.stderr, "fusermount3: connection closed while waiting for signal\n");
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("proceed timeout (2-second test build, run directly)", async (t) => {
    const mnt = mkdirAs(u, `${base}/timeout`);
    const started = Date.now();
    const r = await peer(null, { helper: SHORT_TIMEOUT_HELPER, args: sync(mnt), proceed: "never" }).report;
    const took = Date.now() - started;
    t.equal(r.gotFd, true);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, /: timed out after 2 seconds waiting for signal\n$/);
    t.ok(took >= 1900 && took < 6000, `took ${took} ms`);
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("the installed helper has no shortened timeout", async (t) => {
    const strings = readFileSync(`${PREFIX}/lib/fusermount3/fusermount3-bun`);
    t.equal(strings.indexOf("FM_TEST_PROCEED_TIMEOUT=2"), -1);
    const mnt = mkdirAs(u, `${base}/notimeout`);
    const p = peer(u, { args: sync(mnt), proceed: "never" });
    const pid = await p.helperPid;
    await new Promise((r) => setTimeout(r, 3000));
    t.ok(alive(pid), "still waiting after 3 s");
    p.child.kill("SIGKILL");
    killTree(pid);
  });

  t.test("kernel refusal after proceed: negative status, never 0", async (t) => {
    const mnt = mkdirAs(u, `${base}/fail`);
    const r = await peer(u, { args: sync(mnt), init: "fail" }).report;
    t.equal(r.gotFd, true);
    t.type(r.status, "number");
    t.ok((r.status as number) < 0, `status ${r.status}`);
    t.equal(r.exitCode, 1);
    t.match(r.stderr, /^fusermount3: mount failed: /);
    t.equal(mountsAt(mnt).length, 0);
    // A device that is not FUSE never leaves the helper (review finding 5):
    // refused before the fd would be sent, so the client sees plain EOF.
    const r2 = await peer(u, { args: sync(mnt), arm: false, env: { FUSE_KERN_DEVICE: "/dev/null" } }).report;
    t.equal(r2.gotFd, false);
    t.equal(r2.stderr, "fusermount3: invalid device from FUSE_KERN_DEVICE: /dev/null (not a FUSE device)\n");
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("server dies during FUSE_INIT: helper gone within 1 s, nothing mounted", async (t) => {
    const mnt = mkdirAs(u, `${base}/died`);
    const p = peer(u, { args: sync(mnt), init: "ignore" });
    const pid = await p.helperPid;
    // The peer now holds the socket and never answers INIT: the helper blocks.
    await new Promise((r) => setTimeout(r, 700));
    t.ok(alive(pid), "helper blocked in the mount while the server lives");
    t.match(readFileSync(`/proc/${pid}/wchan`, "utf8"), /request_wait_answer|fuse/);
    p.child.kill("SIGKILL");
    const killedAt = Date.now();
    t.ok(await waitFor(() => !alive(pid), 1000, 20), `helper gone ${Date.now() - killedAt} ms after the server died`);
    t.equal(mountsAt(mnt).length, 0, "nothing mounted");
    // And when the server exits on its own right after proceed.
    const p2 = peer(u, { args: sync(mnt), init: "die" });
    const pid2 = await p2.helperPid;
    t.ok(await waitFor(() => !alive(pid2), 1500, 20), "helper gone");
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("swapping a parent for a symlink before proceed cannot redirect the mount", async (t) => {
    // The attack on libfuse's first sync-init version: hold back proceed, replace
    // a directory on the checked path with a symlink into a root-owned tree,
    // then proceed. The mount must land on the inode that was checked.
    const victim = `${base}/victim`;
    mkdirSync(`${victim}/m`, { recursive: true });
    const parent = mkdirAs(u, `${base}/a`);
    const mnt = mkdirAs(u, `${parent}/m`);
    const r = await peer(u, { args: sync(mnt, "subtype=toctou"), swap: { path: parent, target: victim } }).report;
    t.equal(r.status, 0, r.stderr ?? "");
    t.equal(mountsAt(`${victim}/m`).length, 0, "nothing mounted in the root-owned directory");
    t.equal(mountsAt(`${parent}.orig/m`)[0]?.fsType, "fuse.toctou", "mounted on the checked directory");
    t.equal(statSync(`${victim}/m`).uid, 0);
    t.equal(runAs(u, [OURS, "-u", `${parent}.orig/m`]).code, 0);
    t.equal(runAs(u, [OURS, "-u", `${victim}/m`]).code, 1, "and the user cannot unmount in the victim tree");
  });

  t.test("auto_unmount over sync-init: killing the server unmounts", async (t) => {
    const mnt = mkdirAs(u, `${base}/auto`);
    const p = peer(u, { args: sync(mnt, "auto_unmount,subtype=autosync"), hold: true });
    t.teardown(() => p.child.kill("SIGKILL"));
    const r = await p.report;
    t.equal(r.status, 0);
    // The watchdog is the helper itself, or in service mode the launcher: the
    // service's request child hands the watch to the service and ends.
    const helper = await p.launcherPid;
    t.equal(mountsAt(mnt)[0]?.fsType, "fuse.autosync");
    t.ok(alive(helper), "the helper stays as the watchdog");
    p.child.kill("SIGKILL");
    t.ok(await waitFor(() => mountsAt(mnt).length === 0, 10000), "unmounted");
    t.ok(await waitFor(() => !alive(helper), 10000), "watchdog ended");
  });
}, { files: [PEER] });
