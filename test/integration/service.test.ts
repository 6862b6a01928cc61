// The service mode: `fusermount3-bun --service` as root, the launcher NOT
// set-uid, callers under `setpriv --no-new-privs` (where a set-uid helper
// cannot work). The service gets its own /run/fusermount3 (a tmpfs, on an
// overlay of /run in this test's private namespace, so the machine's /run is
// never written) and is stopped by PID at the end.
import t from "tap";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, chmodSync, writeFileSync, existsSync, mkdirSync, rmSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { privateRun, sh, SOCKET } from "../lib/service.ts";
import {
  integration, PREFIX, OURS_SETUID, OURS_HELPER, FAKE_CLIENT, user, scratch, mkdirAs, runAs, runAsAsync, mountsAt,
  normalizedMount, cleanupDir, rootScratch, have, waitFor, type User, type Run,
} from "../lib/harness.ts";

const SERVICE_CLIENT = `${PREFIX}/tools/serviceclient`;
const SETPRIV = "/usr/bin/setpriv";

integration("service tests", () => {
  const u = user("fmtest");
  const other = user("fmtest2");
  const base = scratch(u);
  const otherBase = scratch(other);
  const tools = rootScratch();
  const NNP = `${tools}/fusermount3`; // the installed launcher, without the set-uid bit
  copyFileSync(OURS_SETUID, NNP);
  chmodSync(NNP, 0o755);

  // A private /run: overlay (upper on a tmpfs), then a tmpfs on /run/fusermount3.
  const undoRun = privateRun(); // a private /run with its own /run/fusermount3 (test/lib/service.ts)

  const env = { PATH: "/usr/bin:/bin", HOME: "/" };
  const nnp = (who: User, argv: string[], opts: { cwd?: string } = {}): Run => runAs(who, [SETPRIV, "--no-new-privs", ...argv], { env, ...opts });
  // Mount with the fake client (libfuse's way), as `who`, under no-new-privs, through `helper`.
  const fakeMount = (who: User, helper: string, args: string[], o: { cwd?: string; noNewPrivs?: boolean } = {}) => {
    const spec = JSON.stringify({ helper, argv0: "fusermount3", args });
    const r = o.noNewPrivs === false ? runAs(who, [FAKE_CLIENT, spec], { env, cwd: o.cwd }) : nnp(who, [FAKE_CLIENT, spec], { cwd: o.cwd });
    if (r.code !== 0) throw new Error(`fake client failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split("\n").pop()!) as { gotFd: boolean; exitCode: number; stderr: string; fdTarget?: string };
  };
  const timeV = (prog: string, viaSetpriv: boolean, n = 20) => {
    const argv = prog === "/bin/true" ? [prog] : [prog, "-V"];
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const r = viaSetpriv ? nnp(u, argv) : runAs(u, argv, { env });
      if (r.code !== 0) throw new Error(r.stderr);
    }
    return Number(process.hrtime.bigint() - t0) / 1e6 / n;
  };
  const cycle = (helper: string, viaSetpriv: boolean, n = 10) => {
    const mnt = mkdirAs(u, `${base}/cost-${viaSetpriv ? "svc" : "suid"}`);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) {
      const m = fakeMount(u, helper, ["--", mnt], { noNewPrivs: viaSetpriv });
      if (m.exitCode !== 0) throw new Error(m.stderr);
      const un = viaSetpriv ? nnp(u, [helper, "-u", mnt]) : runAs(u, [helper, "-u", mnt], { env });
      if (un.code !== 0) throw new Error(un.stderr);
    }
    return Number(process.hrtime.bigint() - t0) / 1e6 / n;
  };
  const raw = (who: User, spec: Record<string, unknown>): Promise<Run> =>
    runAsAsync(who, [SETPRIV, "--no-new-privs", SERVICE_CLIENT, JSON.stringify({ socket: SOCKET, ...spec })], { env, timeoutMs: 30000 });
  const reply = (r: Run) => JSON.parse(r.stdout.trim().split("\n").pop()!) as { reply: unknown; ms: number };
  const named = (s: string, prog: string) => s.split(prog).join("fusermount3");

  let service: ChildProcess | undefined;
  let serviceErr = "";
  const startService = async () => {
    const p = spawn(OURS_HELPER, ["--service"], { env: {}, cwd: "/", stdio: ["ignore", "ignore", "pipe"] });
    service = p;
    const before = serviceErr.length;
    p.stderr!.on("data", (d: Buffer) => { serviceErr += d.toString(); });
    if (!(await waitFor(() => serviceErr.slice(before).includes("listening"), 10000))) throw new Error(`service did not start: ${serviceErr}`);
  };
  // While a service runs, every launcher in this namespace (set-uid or not)
  // asks it first; so the set-uid path's answers are taken before it starts.
  const conf = `${tools}/fuse.conf`;
  writeFileSync(conf, "# nothing allowed\n");
  chmodSync(conf, 0o644);
  const mine = mkdirAs(u, `${base}/refuse`);
  const notMine = `${tools}/rootdir`;
  mkdirSync(notMine, { mode: 0o755 });
  const refusals: Array<[string, string[]]> = [
    ["allow_other without user_allow_other", ["-o", "allow_other", "--", mine]],
    ["a mountpoint the user cannot write", ["--", notMine]],
    ["an unknown option", ["-o", "uid=0", "--", mine]],
  ];
  const opts = "fsname=svcfs,subtype=probe,default_permissions";
  const baseline = {
    nnpSetuid: undefined as undefined | { exitCode: number; gotFd: boolean },
    mount: undefined as string | undefined,
    refusals: [] as { exitCode: number; stderr: string }[],
    unmountNotMounted: undefined as Run | undefined,
    bogus: undefined as Run | undefined,
    costV: 0, costCycle: 0,
  };
  t.before(async () => {
    const m0 = mkdirAs(u, `${base}/nosvc`);
    baseline.nnpSetuid = fakeMount(u, OURS_SETUID, ["--", m0]);
    const m1 = mkdirAs(u, `${base}/suid`);
    const s = fakeMount(u, OURS_SETUID, ["-o", opts, "--", m1], { noNewPrivs: false });
    if (s.exitCode !== 0) throw new Error(s.stderr);
    baseline.mount = normalizedMount(mountsAt(m1)[0]);
    runAs(u, [OURS_SETUID, "-u", m1], { env });
    sh(["mount", "--bind", conf, "/etc/fuse.conf"]);
    try {
      for (const [, args] of refusals) baseline.refusals.push(fakeMount(u, OURS_SETUID, args, { noNewPrivs: false }));
    } finally { spawnSync("umount", ["/etc/fuse.conf"]); }
    baseline.unmountNotMounted = runAs(u, [OURS_SETUID, "-u", mine], { env });
    baseline.bogus = runAs(u, [OURS_SETUID, "--bogus"], { env });
    const spawnCost = timeV("/bin/true", false);
    baseline.costV = timeV(OURS_SETUID, false) - spawnCost;
    baseline.costCycle = cycle(OURS_SETUID, false) - 2 * spawnCost;

    await startService();
  });
  t.teardown(async () => {
    if (service?.pid) {
      process.kill(service.pid, "SIGTERM");
      await waitFor(() => service!.exitCode !== null || service!.signalCode !== null, 5000);
    }
    cleanupDir(base);
    cleanupDir(otherBase);
    undoRun();
    rmSync(tools, { recursive: true, force: true });
  });

  t.test("without the service, the set-uid launcher cannot mount under no-new-privs; with it, it can", async (t) => {
    t.equal(baseline.nnpSetuid?.exitCode, 1, "no service: set-uid is ignored");
    t.notOk(baseline.nnpSetuid?.gotFd);
    const r = fakeMount(u, OURS_SETUID, ["--", `${base}/nosvc`]);
    t.equal(r.exitCode, 0, r.stderr);
    t.ok(r.gotFd);
    t.equal(nnp(u, [OURS_SETUID, "-u", `${base}/nosvc`]).code, 0);
    const v = nnp(u, [NNP, "-V"]);
    t.equal(v.code, 0, v.stderr);
    t.match(v.stdout, /^fusermount3 version: /);
  });

  t.test("mount, read mountinfo, unmount through the service; same mount as the set-uid path", async (t) => {
    const viaService = mkdirAs(u, `${base}/svc`);
    const r = fakeMount(u, NNP, ["-o", opts, "--", viaService]);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(r.stderr, "");
    t.ok(r.gotFd);
    t.equal(r.fdTarget, "/dev/fuse");
    const a = mountsAt(viaService);
    t.equal(a.length, 1);
    t.equal(a[0]?.superOptions, `rw,user_id=${u.uid},group_id=${u.gid},default_permissions`, "the caller's uid, from SO_PEERCRED");
    t.equal(normalizedMount(a[0]), baseline.mount);
    const un = nnp(u, [NNP, "-u", viaService]);
    t.equal(un.code, 0, un.stderr);
    t.equal(un.stderr, "");
    t.equal(mountsAt(viaService).length, 0);
  });

  t.test("a relative mountpoint resolves in the caller's cwd", async (t) => {
    const dir = mkdirAs(u, `${base}/cwd`);
    mkdirAs(u, `${dir}/rel`);
    const r = fakeMount(u, NNP, ["--", "rel"], { cwd: dir });
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(mountsAt(`${dir}/rel`).length, 1);
    const un = nnp(u, [NNP, "-u", "rel"], { cwd: dir });
    t.equal(un.code, 0, un.stderr);
    t.equal(mountsAt(`${dir}/rel`).length, 0);
  });

  t.test("refusals: same messages and exit codes as the set-uid path", async (t) => {
    sh(["mount", "--bind", conf, "/etc/fuse.conf"]);
    t.teardown(() => { spawnSync("umount", ["/etc/fuse.conf"]); });
    refusals.forEach(([what, args], i) => {
      const svc = fakeMount(u, NNP, args);
      const suid = baseline.refusals[i]!;
      t.equal(svc.exitCode, 1, what);
      t.equal(suid.exitCode, 1, `${what} (set-uid)`);
      t.notOk(svc.gotFd, `${what}: no fd`);
      t.equal(svc.stderr, suid.stderr, `${what}: message`);
      t.not(svc.stderr, "", `${what}: says why`);
    });
    const svc = nnp(u, [NNP, "-u", mine]);
    const suid = baseline.unmountNotMounted!;
    t.equal(svc.code, 1, "-u of something not mounted");
    t.equal(suid.code, 1);
    t.equal(named(svc.stderr, NNP), named(suid.stderr, OURS_SETUID));
    t.equal(named(svc.stderr, NNP), `fusermount3: entry for ${mine} not found in /etc/mtab\n`);
    const bad = nnp(u, [NNP, "--bogus"]);
    t.equal(bad.code, baseline.bogus!.code);
    t.equal(named(bad.stderr, NNP), named(baseline.bogus!.stderr, OURS_SETUID));
  });

  t.test("who asks is what SO_PEERCRED says, whatever the request carries", async (t) => {
    const theirs = mkdirAs(other, `${otherBase}/theirs`);
    const m = fakeMount(other, NNP, ["--", theirs]);
    t.equal(m.exitCode, 0, m.stderr);
    const steal = reply(await raw(u, { mode: "request", argv: ["fusermount3", "-u", theirs] }));
    t.same(steal.reply, { kind: "status", status: 1 }, "fmtest cannot unmount fmtest2's mount");
    const claim = reply(await raw(u, { mode: "request", argv: ["fusermount3", "-u", theirs], env: { _FUSE_COMMFD: "3" } }));
    t.same(claim.reply, { kind: "status", status: 1 });
    // A variable other than the three (a claimed uid, say) makes it no request at all.
    const claimUid = reply(await raw(u, { mode: "request", argv: ["fusermount3", "-u", theirs], env: { SUDO_UID: String(other.uid) } }));
    t.same(claimUid.reply, { kind: "status", status: 1 });
    t.equal(mountsAt(theirs).length, 1, "still mounted");
    t.equal(nnp(other, [NNP, "-u", theirs]).code, 0, "the owner can");
  });

  t.test("idle and half-sent connections end at the deadline without delaying another user", async (t) => {
    const idle = raw(u, { mode: "idle" });
    const truncated = raw(u, { mode: "truncated", argv: ["fusermount3", "-V"] });
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const r = nnp(other, [NNP, "-V"]);
    const ms = Date.now() - t0;
    t.equal(r.code, 0, r.stderr);
    t.ok(ms < 3000, `another user's request answered in ${ms} ms meanwhile`);
    const half = reply(await truncated);
    t.same(half.reply, { kind: "status", status: 1 }, "a truncated request: exit 1");
    const i = reply(await idle);
    t.same(i.reply, { kind: "status", status: 1 }, "an idle connection: exit 1");
    t.ok(i.ms >= 4500 && i.ms < 7000, `ended by the 5 s deadline (${i.ms} ms)`);
  });

  t.test("garbage and requests without fds get exit 1, and the service keeps serving", async (t) => {
    for (const mode of ["garbage", "nofds"]) {
      const g = reply(await raw(u, { mode }));
      t.same(g.reply, { kind: "status", status: 1 }, mode);
    }
    const r = nnp(u, [NNP, "-V"]);
    t.equal(r.code, 0, r.stderr);
    t.equal(service?.exitCode, null, "the service still runs");
  });

  t.test("requests served in the service's threads leave every thread as they found it", async (t) => {
    const pid = service!.pid!;
    const tasks = () => readdirSync(`/proc/${pid}/task`);
    const threadState = () => tasks().map((tid) => {
      const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
      const field = (name: string) => status.split("\n").find((l) => l.startsWith(`${name}:`))?.split(/\s+/).slice(1) ?? [];
      let fds = -1;
      try { fds = readdirSync(`/proc/${pid}/task/${tid}/fd`).length; } catch { /* the task ended */ }
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      return { tid, comm, fsuid: field("Uid")[3], fsgid: field("Gid")[3], eff: field("CapEff")[0], prm: field("CapPrm")[0],
        groups: field("Groups").join(" "), cwd: readlinkSync(`/proc/${pid}/task/${tid}/cwd`), fds };
    });
    const mixed = () => {
      const relative = mkdirAs(u, `${base}/thr-rel`);
      const a = fakeMount(u, NNP, ["-o", "fsname=thr", "--", "thr-rel"], { cwd: base });
      if (a.exitCode !== 0) throw new Error(a.stderr);
      // Another user's requests in between: a relative path resolves in ITS cwd, refusals after resolving.
      const b = nnp(other, [NNP, "-u", "thr-rel"], { cwd: otherBase });
      const c2 = fakeMount(other, NNP, ["-o", "uid=0", "--", otherBase]);
      const d = nnp(u, [NNP, "-u", relative]);
      return { a: a.exitCode, b: b.code, bErr: b.stderr, c: c2.exitCode, d: d.code, dErr: d.stderr };
    };
    mixed(); // the threads exist from here on
    const before = threadState();
    const errBefore = serviceErr.length;
    for (let i = 0; i < 5; i++) {
      const r = mixed();
      t.equal(r.a, 0, "mount of a relative path in u's cwd");
      t.equal(r.b, 1, "the other user's relative -u names its own cwd");
      t.match(r.bErr, new RegExp(`${otherBase}/thr-rel`), r.bErr);
      t.equal(r.c, 1, "refused option");
      t.equal(r.d, 0, r.dErr);
    }
    // Our code runs on the main thread and in the request threads ("Worker").
    // The runtime's own threads (JIT compilers, the GC) that it happens to
    // start while a request thread is lowered keep that thread's credentials;
    // they run none of our code and touch no file (src/serviceworker.ts).
    const ours = (s: { tid: string; comm: string }) => s.tid === String(pid) || s.comm === "Worker";
    const runtime = /^(JITWorker|JSCWarmUp|mi-scavenger|Heap Helper.*|HeapHelper.*|.*GC.*|Bun Pool.*)$/;
    const after = threadState();
    t.ok(before.filter((s) => s.comm === "Worker").length >= 1, `the service runs request threads (${before.map((s) => s.comm).join(", ")})`);
    for (const s of after.filter((x) => !ours(x))) t.match(s.comm, runtime, `task ${s.tid} (${s.comm}) is one of the runtime's own`);
    for (const s of after.filter(ours)) {
      t.equal(s.fsuid, "0", `task ${s.tid}: fsuid 0`);
      t.equal(s.fsgid, "0", `task ${s.tid}: fsgid 0`);
      t.equal(s.eff, s.prm, `task ${s.tid}: every permitted capability effective again`);
      t.equal(s.cwd, "/", `task ${s.tid}: cwd /`);
      const was = before.find((b) => b.tid === s.tid);
      if (was) {
        t.equal(s.fds, was.fds, `task ${s.tid}: as many fds as before (${was.fds})`);
        t.equal(s.groups, was.groups, `task ${s.tid}: groups as before`);
      }
    }
    t.notMatch(serviceErr.slice(errBefore), /left open|stops serving|internal error/, "no request left anything behind");
  });

  t.test("auto_unmount through the service: the watch unmounts after kill -9 of the server", async (t) => {
    const mnt = mkdirAs(u, `${base}/auto`);
    const client = spawn(SETPRIV, ["--no-new-privs", FAKE_CLIENT, JSON.stringify({ helper: NNP, argv0: "fusermount3", args: ["-o", "auto_unmount", "--", mnt], mode: "hold" })],
      { env, uid: u.uid, gid: u.gid, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    client.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
    t.ok(await waitFor(() => out.includes("\n"), 20000), "the client got its answer");
    const report = JSON.parse(out.split("\n")[0]!) as { gotFd: boolean };
    t.ok(report.gotFd, out);
    t.equal(mountsAt(mnt).length, 1, "mounted");
    await new Promise((r) => setTimeout(r, 500));
    t.equal(mountsAt(mnt).length, 1, "still mounted while the server lives (the launcher waits past the notice)");
    process.kill(client.pid!, "SIGKILL");
    t.ok(await waitFor(() => mountsAt(mnt).length === 0, 15000), "unmounted by the watch after the server died");
  });

  t.test("auto-unmount watches are held by the service itself, and survive its SIGKILL and restart", async (t) => {
    const holders: ChildProcess[] = [];
    const mnts: string[] = [];
    const hold = async (mnt: string) => {
      const client = spawn(SETPRIV, ["--no-new-privs", FAKE_CLIENT, JSON.stringify({ helper: NNP, argv0: "fusermount3", args: ["-o", "auto_unmount", "--", mnt], mode: "hold" })],
        { env, uid: u.uid, gid: u.gid, stdio: ["ignore", "pipe", "pipe"] });
      holders.push(client);
      let out = "";
      client.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
      if (!(await waitFor(() => out.includes("\n"), 20000))) throw new Error("no answer from the fake client");
      return JSON.parse(out.split("\n")[0]!) as { gotFd: boolean };
    };
    t.teardown(() => { for (const h of holders) if (h.exitCode === null && h.signalCode === null) process.kill(h.pid!, "SIGKILL"); });
    for (let i = 0; i < 3; i++) {
      const mnt = mkdirAs(u, `${base}/held-${i}`);
      mnts.push(mnt);
      t.ok((await hold(mnt)).gotFd, `mount ${i} got its fd`);
    }
    const children = () => readdirSync(`/proc/${service!.pid}/task`)
      .flatMap((tid) => readFileSync(`/proc/${service!.pid}/task/${tid}/children`, "utf8").trim().split(/\s+/).filter(Boolean));
    await waitFor(() => children().length === 0, 5000);
    t.same(children(), [], "no watchdog process: the service holds the three watches");
    t.equal(readdirSync("/run/fusermount3/watches").length, 3, "one record each");

    process.kill(service!.pid!, "SIGKILL");
    await waitFor(() => service!.exitCode !== null || service!.signalCode !== null, 5000);
    await new Promise((r) => setTimeout(r, 1500));
    t.ok(mnts.every((m) => mountsAt(m).length === 1), "still mounted while no service runs");
    await startService();
    // The launchers come back within a second and hand their watches over.
    t.ok(await waitFor(() => children().length === 0 && serviceErr.split("listening").pop()!.length >= 0, 5000));
    await new Promise((r) => setTimeout(r, 2500));
    t.ok(mnts.every((m) => mountsAt(m).length === 1), "still mounted after the restart");
    process.kill(holders[0]!.pid!, "SIGKILL");
    t.ok(await waitFor(() => mountsAt(mnts[0]!).length === 0, 15000), "the restarted service unmounts after kill -9 of a server");
    t.ok(mnts.slice(1).every((m) => mountsAt(m).length === 1), "and only that mount");
    const un = nnp(u, [NNP, "-u", mnts[1]!]);
    t.equal(un.code, 0, un.stderr);
    t.ok(await waitFor(() => readdirSync("/run/fusermount3/watches").length === 1, 5000), "a manual unmount ends that watch and its record");
    process.kill(holders[2]!.pid!, "SIGKILL");
    t.ok(await waitFor(() => mountsAt(mnts[2]!).length === 0, 15000), "the last one too");
    t.ok(await waitFor(() => readdirSync("/run/fusermount3/watches").length === 0, 5000), "no record left");
    t.notMatch(serviceErr, /internal error|cannot/, "the service logged no failure");
  });

  t.test("cost per request: service vs set-uid path", async (t) => {
    const setpriv = timeV("/bin/true", true);
    const svcV = timeV(NNP, true) - setpriv;
    const svcCycle = cycle(NNP, true) - 2 * setpriv;
    t.comment(`-V: service ${svcV.toFixed(1)} ms, set-uid ${baseline.costV.toFixed(1)} ms per run (the cost of starting /bin/true the same way subtracted: ${setpriv.toFixed(1)} ms under setpriv)`);
    t.comment(`mount+unmount cycle with the fake client: service ${svcCycle.toFixed(1)} ms, set-uid ${baseline.costCycle.toFixed(1)} ms`);
    t.pass("measured");
  });

  t.test("bindfs mounts, reads and unmounts through the service under no-new-privs", { skip: have("bindfs") ? false : "bindfs is not installed" }, async (t) => {
    const src = mkdirAs(u, `${base}/bind-src`);
    writeFileSync(`${src}/hello`, "hi\n");
    spawnSync("chown", [`${u.uid}:${u.gid}`, `${src}/hello`]);
    const mnt = mkdirAs(u, `${base}/bind-mnt`);
    sh(["mount", "--bind", NNP, "/usr/bin/fusermount3"]);
    t.teardown(() => { spawnSync("umount", ["/usr/bin/fusermount3"]); });
    const m = nnp(u, ["/usr/bin/bindfs", "--no-allow-other", src, mnt]);
    t.equal(m.code, 0, m.stderr);
    t.equal(mountsAt(mnt)[0]?.fsType, "fuse");
    const cat = nnp(u, ["/bin/cat", `${mnt}/hello`]);
    t.equal(cat.stdout, "hi\n", cat.stderr);
    const un = nnp(u, ["/usr/bin/fusermount", "-u", mnt]);
    t.equal(un.code, 0, un.stderr);
    await waitFor(() => mountsAt(mnt).length === 0, 5000);
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("under systemd socket activation (LISTEN_FDS), the service serves the socket it is given", { skip: have("systemd-socket-activate") ? false : "systemd-socket-activate is not installed" }, async (t) => {
    const sock = "/run/fusermount3/activated.sock";
    const act = spawn("sh", ["-c", 'exec systemd-socket-activate --seqpacket -l "$0" "$1" --service', sock, OURS_HELPER],
      { env: { PATH: "/usr/bin:/bin" }, cwd: "/", stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    act.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
    t.teardown(async () => {
      if (act.pid) process.kill(act.pid, "SIGTERM");
      await waitFor(() => act.exitCode !== null || act.signalCode !== null, 5000);
    });
    t.ok(await waitFor(() => existsSync(sock), 5000), "socket created by systemd-socket-activate");
    sh(["chmod", "0666", sock]); // what a unit's SocketMode=0666 does
    for (let i = 0; i < 2; i++) {
      const r = await runAsAsync(u, [SETPRIV, "--no-new-privs", SERVICE_CLIENT, JSON.stringify({ socket: sock, mode: "request", argv: ["fusermount3", "-V"] })], { env });
      t.match(r.stdout, /^fusermount3 version: /, `request ${i + 1}: the version on the caller's own stdout`);
      t.same(reply(r).reply, { kind: "status", status: 0 }, `request ${i + 1}: status 0`);
    }
    t.match(err, /listening on the socket systemd passed/);
  });

  t.test("--service refuses to run for a user", async (t) => {
    const r = runAs(u, [OURS_HELPER, "--service", "--socket", `${base}/x.sock`], { env });
    t.equal(r.code, 1);
    t.match(r.stderr, /runs as root only/);
    const viaLauncher = runAs(u, [OURS_HELPER, "--service-request"], { env });
    t.equal(viaLauncher.code, 1);
    t.match(viaLauncher.stderr, /for the service only/);
    t.notOk(existsSync(`${base}/x.sock`));
  });
}, { files: [FAKE_CLIENT, SERVICE_CLIENT], commands: ["setpriv"] });
