// The service against hostile and unlucky callers: a thousand idle
// connections from one uid, an fd flood, a caller killed mid-request, a
// server that stalls in FUSE_INIT while another user mounts, one user's
// requests stuck in their own unanswering FUSE mount, and SIGKILL of
// the service in the middle of requests (nothing left mounted without a
// server). The launcher is NOT set-uid and callers run under
// `setpriv --no-new-privs`; the service runs on a private /run (test/lib/service.ts).
import t from "tap";
import { spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, chmodSync } from "node:fs";
import {
  integration, PREFIX, OURS, FAKE_CLIENT, user, scratch, mkdirAs, runAs, runAsAsync, mountsAt, cleanupDir, rootScratch, waitFor,
  type User, type Run,
} from "../lib/harness.ts";
import { privateRun, Service, SOCKET } from "../lib/service.ts";

const SERVICE_CLIENT = `${PREFIX}/tools/serviceclient`;
const SYNC_PEER = `${PREFIX}/tools/syncpeer`;
const SETPRIV = "/usr/bin/setpriv";
const env = { PATH: "/usr/bin:/bin", HOME: "/" };

integration("service hostile tests", () => {
  const u = user("fmtest");
  const other = user("fmtest2");
  const base = scratch(u);
  const otherBase = scratch(other);
  const tools = rootScratch();
  const NNP = `${tools}/fusermount3`;
  copyFileSync(OURS, NNP);
  chmodSync(NNP, 0o755);
  const undoRun = privateRun();
  const service = new Service();
  const spawned: ChildProcess[] = [];

  const nnp = (who: User, argv: string[], opts: { cwd?: string } = {}): Run => runAs(who, [SETPRIV, "--no-new-privs", ...argv], { env, ...opts });
  const raw = (who: User, spec: Record<string, unknown>): Promise<Run> =>
    runAsAsync(who, [SETPRIV, "--no-new-privs", SERVICE_CLIENT, JSON.stringify({ socket: SOCKET, ...spec })], { env, timeoutMs: 60000 });
  const reply = (r: Run) => JSON.parse(r.stdout.trim().split("\n").pop()!) as { reply: any; ms: number };
  // A libfuse-style server that holds its fd and comm socket until killed;
  // resolves with the fake client's report (or undefined if it never came).
  const holdingMount = (who: User, mnt: string, extra: string[] = []) => {
    const client = spawn(SETPRIV, ["--no-new-privs", FAKE_CLIENT, JSON.stringify({ helper: NNP, argv0: "fusermount3", args: [...extra, "--", mnt], mode: "hold" })],
      { env, uid: who.uid, gid: who.gid, stdio: ["ignore", "pipe", "pipe"] });
    spawned.push(client);
    let out = "";
    client.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
    const report = waitFor(() => out.includes("\n"), 20000).then((ok) => (ok ? JSON.parse(out.split("\n")[0]!) as { gotFd: boolean; exitCode?: number } : undefined));
    return { client, report };
  };
  const quick = (who: User) => {
    const t0 = Date.now();
    const r = nnp(who, [NNP, "-V"]);
    return { code: r.code, ms: Date.now() - t0 };
  };

  t.before(async () => { await service.start(); });
  t.teardown(async () => {
    for (const p of spawned) if (p.exitCode === null && p.signalCode === null) process.kill(p.pid!, "SIGKILL");
    await waitFor(() => spawned.every((p) => p.exitCode !== null || p.signalCode !== null), 5000);
    await service.stop();
    cleanupDir(base);
    cleanupDir(otherBase);
    undoRun();
  });

  t.test("a thousand idle connections from one uid cost that uid, not another", async (t) => {
    const flood = raw(u, { mode: "flood", count: 1000 });
    await new Promise((r) => setTimeout(r, 300));
    const q = quick(other);
    t.equal(q.code, 0, "another user's request is answered meanwhile");
    t.ok(q.ms < 3000, `in ${q.ms} ms`);
    const f = reply(await flood).reply as { connected: number; refusedAtConnect: number; answered: number };
    t.ok(f.connected + f.refusedAtConnect >= 1000 || f.connected >= 500, `connections made: ${JSON.stringify(f)}`);
    t.ok(f.answered >= f.connected - 16, `all but the 16 a uid may keep waiting were answered (FM3S 1) at once: ${JSON.stringify(f)}`);
    t.equal(quick(u).code, 0, "the flooding user's next request is served once its connections are gone");
    t.ok(service.running, "the service still runs");
  });

  t.test("a request with 240 extra fds is refused; the service keeps none of them", async (t) => {
    const fdsBefore = (await import("node:fs")).readdirSync(`/proc/${service.pid}/fd`).length;
    const r = reply(await raw(u, { mode: "fdflood", count: 240, argv: ["fusermount3", "-V"] }));
    t.same(r.reply, { kind: "status", status: 1 }, "exit 1");
    await new Promise((r) => setTimeout(r, 200));
    const fdsAfter = (await import("node:fs")).readdirSync(`/proc/${service.pid}/fd`).length;
    t.ok(fdsAfter <= fdsBefore + 2, `the service's fds: ${fdsBefore} before, ${fdsAfter} after`);
    t.equal(quick(u).code, 0);
  });

  t.test("a caller killed mid-request: the request completes and nothing is left", async (t) => {
    const mnt = mkdirAs(u, `${base}/killed`);
    // proceed "never": the request waits for the server's proceed (sync-init).
    const peer = spawn(SETPRIV, ["--no-new-privs", SYNC_PEER, JSON.stringify({ helper: NNP, argv0: "fusermount3", args: ["--sync-init", "--", mnt], proceed: "never" })],
      { env, uid: u.uid, gid: u.gid, stdio: ["ignore", "pipe", "pipe"] });
    spawned.push(peer);
    let out = "";
    peer.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
    t.ok(await waitFor(() => out.includes("helperPid"), 10000), "the launcher runs");
    const launcher = (JSON.parse(out.split("\n")[0]!) as { helperPid: number }).helperPid;
    await new Promise((r) => setTimeout(r, 500));
    process.kill(launcher, "SIGKILL");
    process.kill(peer.pid!, "SIGKILL");
    t.ok(await waitFor(() => service.children().length === 0, 10000), "the request's child ended (EOF on the comm socket)");
    t.equal(mountsAt(mnt).length, 0, "nothing mounted");
    t.equal(quick(u).code, 0, "the service serves the next request");
  });

  t.test("one user's server stalls in FUSE_INIT; another user's requests go on", async (t) => {
    const mnt = mkdirAs(u, `${base}/stall`);
    const peer = spawn(SETPRIV, ["--no-new-privs", SYNC_PEER, JSON.stringify({ helper: NNP, argv0: "fusermount3", args: ["--sync-init", "--", mnt], init: "ignore" })],
      { env, uid: u.uid, gid: u.gid, stdio: ["ignore", "pipe", "pipe"] });
    spawned.push(peer);
    let out = "";
    peer.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
    t.ok(await waitFor(() => out.includes("helperPid"), 10000), "the stalled request runs");
    await new Promise((r) => setTimeout(r, 500));
    const theirs = mkdirAs(other, `${otherBase}/meanwhile`);
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const m = holdingMount(other, theirs);
      const rep = await m.report;
      t.ok(rep?.gotFd, `mount ${i} of the other user got its fd`);
      const un = nnp(other, [NNP, "-u", theirs]);
      t.equal(un.code, 0, un.stderr);
      process.kill(m.client.pid!, "SIGKILL");
      t.ok(Date.now() - t0 < 5000, `cycle ${i} in ${Date.now() - t0} ms while the other server stalls`);
    }
    process.kill(peer.pid!, "SIGKILL");
    t.ok(await waitFor(() => mountsAt(mnt).length === 0 && service.children().length === 0, 40000), "the stalled request ends with its server, nothing mounted");
  });

  t.test("one user's requests stuck in their own FUSE mount hold neither the threads nor another user", async (t) => {
    // A server that never answers FUSE_INIT: every lookup under its mount
    // waits (uninterruptibly for the user) until the server goes. Ten -u of
    // paths below it, as many as the service has threads and more, each
    // stuck as the caller in a thread or, past the per-uid share of the
    // threads, waiting for one and then in a process.
    const mnt = mkdirAs(u, `${base}/stuck`);
    const holder = holdingMount(u, mnt);
    t.ok((await holder.report)?.gotFd, "the server that never answers has its fd");
    const stuck = Array.from({ length: 10 }, (_, i) => runAsAsync(u, [SETPRIV, "--no-new-privs", NNP, "-u", `${mnt}/below${i}`], { env, timeoutMs: 60000 }));
    await new Promise((r) => setTimeout(r, 1000));
    const theirs = mkdirAs(other, `${otherBase}/while-stuck`);
    for (let i = 0; i < 3; i++) {
      const t0 = Date.now();
      const m = holdingMount(other, theirs);
      t.ok((await m.report)?.gotFd, `mount ${i} of the other user got its fd`);
      const un = nnp(other, [NNP, "-u", theirs]);
      t.equal(un.code, 0, un.stderr);
      process.kill(m.client.pid!, "SIGKILL");
      t.ok(Date.now() - t0 < 5000, `cycle ${i} in ${Date.now() - t0} ms while ten requests of another user are stuck`);
    }
    process.kill(holder.client.pid!, "SIGKILL");
    const ends = await Promise.all(stuck);
    t.same(ends.map((r) => r.code), ends.map(() => 1), "the stuck requests fail once their server is gone");
    t.ok(ends.every((r) => r.signal === null), "none needed a kill");
    const un = nnp(u, [NNP, "-u", mnt]);
    t.equal(un.code, 0, un.stderr);
    t.ok(await waitFor(() => mountsAt(mnt).length === 0 && service.children().length === 0, 20000), "nothing mounted, no request process left");
    t.equal(quick(other).code, 0, "the service still serves");
  });

  // Requests in a process of their own (auto_unmount, --sync-init) outlive the
  // service. A request in one of its threads dies with it: killed between its
  // mount(2) and sending the fd (tens of microseconds), it leaves that mount
  // without a server, as a SIGKILL of the C helper at that point does, and the
  // caller's next mount there clears it (dead-mount recovery).
  t.test("SIGKILL of the service in the middle of requests: every mount left has its server, or is cleared by the next mount there", async (t) => {
    const classic = Array.from({ length: 8 }, (_, i) => mkdirAs(u, `${base}/burst-${i}`));
    const watched = Array.from({ length: 4 }, (_, i) => mkdirAs(u, `${base}/burst-auto-${i}`));
    const started = [...classic.map((m) => holdingMount(u, m)), ...watched.map((m) => holdingMount(u, m, ["-o", "auto_unmount"]))];
    const all = [...classic, ...watched];
    await new Promise((r) => setTimeout(r, 150));
    await service.stop("SIGKILL");
    const reports = await Promise.all(started.map((s) => Promise.race([s.report, new Promise<undefined>((r) => setTimeout(() => r(undefined), 8000))])));
    const orphans: string[] = [];
    for (let i = 0; i < all.length; i++) {
      const mounted = mountsAt(all[i]!).length === 1;
      if (mounted && !reports[i]?.gotFd) orphans.push(all[i]!);
      if (i >= classic.length && mounted) t.ok(reports[i]?.gotFd, `${all[i]}: a request in its own process: mounted only with its server`);
    }
    t.comment(`${all.filter((m) => mountsAt(m).length === 1).length} of ${all.length} mounted before the kill; ${orphans.length} without a server`);
    await service.start();
    for (const m of orphans) {
      const again = holdingMount(u, m);
      const rep = await again.report;
      t.ok(rep?.gotFd, `${m}: the next mount there works`);
      t.equal(mountsAt(m).length, 1, `${m}: and the dead mount is gone`);
    }
    for (const m of all) if (mountsAt(m).length === 1) nnp(u, [NNP, "-u", m]);
    for (const p of spawned) if (p.exitCode === null && p.signalCode === null) process.kill(p.pid!, "SIGKILL");
    t.ok(await waitFor(() => all.every((m) => mountsAt(m).length === 0), 15000), "all cleaned up");
    t.equal(quick(other).code, 0, "the restarted service serves");
  });
}, { files: [FAKE_CLIENT, SERVICE_CLIENT, SYNC_PEER], commands: ["setpriv"] });
