// SIGKILL at each step of both protocols, of the helper and of its peer (the
// FUSE server). Afterwards no helper may be left running, and no mount may be
// left unless it was complete and its fd had been delivered; with
// auto_unmount such a mount goes away when the server dies.
// Complements syncinit.test.ts (EOF/timeout of the proceed byte, server killed
// during FUSE_INIT) and mount.test.ts (auto_unmount after kill -9).
import t, { type Test } from "tap";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync, chmodSync, mkdirSync } from "node:fs";
import {
  integration, setuidOnly, OURS, OURS_HELPER, PREFIX, FAKE_CLIENT, user, scratch, mkdirAs, runAs, fakeMountHold,
  mountsAt, cleanupDir, killTree, waitFor, helperPids, inNamespace, rootScratch, crashMarkers, type User, spawnAs,
  privilegedPid, SERVICE_MODE,
} from "../lib/harness.ts";
import { serviceDifference } from "./differences.ts";

const FAULT_PEER = `${PREFIX}/tools/faultpeer`;
const SYNC_PEER = `${PREFIX}/tools/syncpeer`;

type Line = Record<string, unknown>;

// A peer process (faultpeer or syncpeer) whose JSON lines arrive one by one.
function startPeer(tool: string, u: User, spec: Record<string, unknown>): { child: ChildProcess; line: (n: number, ms?: number) => Promise<Line> } {
  const child = spawnAs(u, [tool, JSON.stringify({ helper: OURS, ...spec })]);
  const lines: Line[] = [];
  let buf = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf("\n")) >= 0) { lines.push(JSON.parse(buf.slice(0, i)) as Line); buf = buf.slice(i + 1); }
  });
  const line = async (n: number, ms = 20000): Promise<Line> => {
    if (!(await waitFor(() => lines.length > n || child.exitCode !== null || child.signalCode !== null, ms, 20)) || lines.length <= n) {
      throw new Error(`peer gave ${lines.length} lines`);
    }
    return lines[n]!;
  };
  return { child, line };
}

const alive = (pid: number) => {
  try { return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8")); } catch { return false; }
};

integration("fault injection tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  const rootDir = rootScratch();
  t.teardown(() => { cleanupDir(base); cleanupDir(rootDir); });
  const sync = (mnt: string, opts = "") => ["--sync-init", "-o", opts, "--", mnt];
  const noHelperLeft = async (t: Test) => {
    t.ok(await waitFor(() => helperPids(OURS_HELPER).length === 0, 10000), "no helper process left running");
  };
  const noCrash = (t: Test, stderr: unknown, what: string) => t.same(crashMarkers(String(stderr ?? "")), [], `${what}: no crash`);

  t.test("classic: the peer closes the socket before reading the fd: the mount is removed", async (t) => {
    const mnt = mkdirAs(u, `${base}/close-early`);
    const p = startPeer(FAULT_PEER, u, { args: ["--", mnt], fault: "close" });
    t.teardown(() => killTree(p.child.pid));
    const r = await p.line(1);
    t.equal(r.exitCode, 1, "the helper fails");
    t.match(String(r.stderr), /^sending file descriptor: (Broken pipe|Connection reset by peer|Connection refused)\n$/);
    noCrash(t, r.stderr, "helper");
    t.equal(mountsAt(mnt).length, 0, "no mount nobody can serve");
    await noHelperLeft(t);
  });

  t.test("classic: the peer is SIGKILLed before the helper sends the fd (its stdout/stderr pipes die too)", async (t) => {
    // The peer closes its end of the socket before it starts the helper and
    // exits right after: however fast the helper (through the service it is
    // a few milliseconds), the fd can never be queued. (Once the fd is queued
    // on a live socket the hand-off has succeeded, whoever reads it.)
    const mnt = mkdirAs(u, `${base}/die-early`);
    for (let round = 0; round < 3; round++) {
      const p = startPeer(FAULT_PEER, u, { args: ["--", mnt], fault: "die" });
      const { helperPid } = await p.line(0) as { helperPid: number };
      t.ok(await waitFor(() => !alive(helperPid), 10000), `round ${round}: the helper ended`);
      t.equal(mountsAt(mnt).length, 0, `round ${round}: no mount left`);
      killTree(p.child.pid);
    }
    await noHelperLeft(t);
  });

  t.test("classic, with /run/mount/utab: the fd reaches the server before /bin/mount records, so a slow record delays nothing", async (t) => {
    // A slow recorder in front of /bin/mount (another user holding libmount's
    // lock looks the same): the server has its fd while the record is still
    // being written, and the record is there once it is done.
    const mnt = mkdirAs(u, `${base}/close-utab`);
    const out = `${rootDir}/close-utab`;
    mkdirSync(out);
    writeFileSync(`${out}/mount`, `#!/bin/bash\necho started > ${out}/mount-started\nsleep 1\nexec ${out}/real-mount "$@"\n`);
    chmodSync(`${out}/mount`, 0o755);
    const spec = JSON.stringify({ helper: OURS, args: ["-o", "x-fault", "--", mnt], mode: "hold" });
    const r = inNamespace(`
      cp /bin/mount ${out}/real-mount
      mkdir -p /run/mount; mount -t tmpfs tmpfs /run/mount; touch /run/mount/utab
      mount --bind ${out}/mount /bin/mount
      setpriv --reuid=${u.uid} --regid=${u.gid} --init-groups -- env -i ${FAKE_CLIENT} '${spec}' > ${out}/client.json &
      client=$!
      for i in $(seq 100); do [ -s ${out}/client.json ] && break; sleep 0.05; done
      [ -e ${out}/mount-started ] && echo recording > ${out}/when-fd || echo before > ${out}/when-fd
      cp /run/mount/utab ${out}/utab-at-fd
      for i in $(seq 100); do grep -q x-fault /run/mount/utab && break; sleep 0.05; done
      cp /run/mount/utab ${out}/utab-after
      kill -9 $client
      rc=0; runuser -u ${u.name} -- env -i ${OURS} -u ${mnt} 2> ${out}/u.err || rc=$?
      echo $rc > ${out}/u.rc
      grep -c " ${mnt} " /proc/self/mountinfo > ${out}/count-final || true
      cp /run/mount/utab ${out}/utab-final`);
    t.equal(r.code, 0, r.stderr);
    t.match(readFileSync(`${out}/client.json`, "utf8"), /"gotFd":true/, "the server got its fd");
    t.equal(readFileSync(`${out}/utab-at-fd`, "utf8"), "", "before the record was written");
    t.match(readFileSync(`${out}/utab-after`, "utf8"), new RegExp(`TARGET=${mnt} .*x-fault`), "then the record");
    t.equal(readFileSync(`${out}/u.rc`, "utf8").trim(), "0", readFileSync(`${out}/u.err`, "utf8"));
    t.equal(readFileSync(`${out}/count-final`, "utf8").trim(), "0", "nothing left at the end");
    t.equal(readFileSync(`${out}/utab-final`, "utf8"), "", "no record left at the end");
    await noHelperLeft(t);
  });

  t.test("sync-init: the helper is SIGKILLed while the peer withholds proceed: nothing mounted", async (t) => {
    const mnt = mkdirAs(u, `${base}/kill-proceed`);
    const p = startPeer(SYNC_PEER, u, { args: sync(mnt), proceed: "never" });
    t.teardown(() => killTree(p.child.pid));
    const helperPid = (await privilegedPid((await p.line(0)).helperPid as number))!;
    await new Promise((r) => setTimeout(r, 600));
    t.ok(alive(helperPid), "the helper waits for proceed");
    t.equal(mountsAt(mnt).length, 0, "nothing mounted before proceed");
    process.kill(helperPid, "SIGKILL");
    const r = await p.line(1);
    t.equal(r.gotFd, true, "the peer had the fd");
    if (SERVICE_MODE) {
      t.comment(`service-mode difference killed-request-status: ${serviceDifference("killed-request-status").what}`);
      t.equal(r.exitCode, 128 + 9, "the launcher exits with 128 + SIGKILL");
    } else {
      t.equal(r.signal, "SIGKILL");
    }
    t.equal(mountsAt(mnt).length, 0, "nothing mounted");
    await noHelperLeft(t);
  });

  t.test("sync-init: the helper is SIGKILLed while FUSE_INIT is pending inside the mount: nothing mounted", async (t) => {
    const mnt = mkdirAs(u, `${base}/kill-init`);
    const p = startPeer(SYNC_PEER, u, { args: sync(mnt), init: "ignore" });
    t.teardown(() => killTree(p.child.pid));
    const helperPid = (await privilegedPid((await p.line(0)).helperPid as number))!;
    t.ok(await waitFor(() => { try { return /request_wait_answer|fuse/.test(readFileSync(`/proc/${helperPid}/wchan`, "utf8")); } catch { return false; } }, 10000, 20),
      "the helper is inside the mount, waiting for FUSE_INIT");
    process.kill(helperPid, "SIGKILL");
    const r = await p.line(1);
    t.equal(r.status, "eof", "the peer gets no status");
    t.equal(mountsAt(mnt).length, 0, "the half-made mount was never attached");
    await noHelperLeft(t);
  });

  t.test("sync-init: the peer dies right after the fd, before proceed: nothing mounted", async (t) => {
    const mnt = mkdirAs(u, `${base}/die-fd-sync`);
    for (const opts of ["", "auto_unmount"]) {
      const p = startPeer(FAULT_PEER, u, { args: sync(mnt, opts), fault: "die-after-fd" });
      const r = await p.line(0);
      const helperPid = r.helperPid as number;
      const got = await p.line(1);
      t.equal(got.gotFd, true, `${opts || "plain"}: fd received`);
      t.ok(await waitFor(() => !alive(helperPid), 10000), `${opts || "plain"}: the helper ended`);
      t.equal(mountsAt(mnt).length, 0, `${opts || "plain"}: nothing mounted`);
      killTree(p.child.pid);
    }
    await noHelperLeft(t);
  });

  t.test("classic: the peer dies right after the fd: without auto_unmount the complete mount stays (the user's to remove)", async (t) => {
    const mnt = mkdirAs(u, `${base}/die-fd`);
    const p = startPeer(FAULT_PEER, u, { args: ["--", mnt], fault: "die-after-fd" });
    const got = await p.line(1);
    t.equal(got.gotFd, true);
    await noHelperLeft(t);
    const m = mountsAt(mnt);
    t.equal(m.length, 1, "the mount whose fd was delivered stays");
    t.match(m[0]?.superOptions ?? "", new RegExp(`user_id=${u.uid},`));
    const un = runAs(u, [OURS, "-u", mnt], { argv0: "fusermount3" });
    t.equal(un.code, 0, un.stderr);
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("classic: the peer dies right after the fd, before the watchdog waits: auto_unmount still removes the mount", async (t) => {
    const mnt = mkdirAs(u, `${base}/die-fd-auto`);
    for (let round = 0; round < 3; round++) {
      const p = startPeer(FAULT_PEER, u, { args: ["-o", "auto_unmount", "--", mnt], fault: "die-after-fd" });
      const got = await p.line(1);
      t.equal(got.gotFd, true);
      t.ok(await waitFor(() => mountsAt(mnt).length === 0, 10000), `round ${round}: unmounted`);
      await noHelperLeft(t);
    }
  });

  t.test("sync-init: the peer is SIGKILLed after the status, without auto_unmount: the complete mount stays", async (t) => {
    const mnt = mkdirAs(u, `${base}/sync-hold`);
    const p = startPeer(SYNC_PEER, u, { args: sync(mnt, "subtype=held"), hold: true });
    t.teardown(() => killTree(p.child.pid));
    const r = await p.line(1);
    t.equal(r.status, 0);
    p.child.kill("SIGKILL");
    await noHelperLeft(t);
    t.equal(mountsAt(mnt)[0]?.fsType, "fuse.held", "the mount stays");
    t.equal(runAs(u, [OURS, "-u", mnt]).code, 0, "and the user can remove it");
  });

  t.test("the watchdog is SIGKILLed while it waits: the complete mount stays, no root process remains",
    setuidOnly("through the service the watch is held by the service itself, not a watchdog process; its SIGKILL and restart are tested in service.test.ts and service-hostile.test.ts"), async (t) => {
    for (const proto of ["classic", "sync-init"] as const) {
      const mnt = mkdirAs(u, `${base}/kill-watchdog-${proto}`);
      let client: ChildProcess;
      let watchdogPid: number;
      if (proto === "classic") {
        const h = await fakeMountHold(u, { helper: OURS, args: ["-o", "auto_unmount", "--", mnt] });
        client = h.client;
        watchdogPid = (await privilegedPid(h.report.pid!))!;
        t.ok(h.report.gotFd);
      } else {
        const p = startPeer(SYNC_PEER, u, { args: sync(mnt, "auto_unmount"), hold: true });
        client = p.child;
        const launcher = (await p.line(0)).helperPid as number;
        t.equal((await p.line(1)).status, 0);
        watchdogPid = (await privilegedPid(launcher))!;
      }
      t.teardown(() => killTree(client.pid));
      t.equal(mountsAt(mnt).length, 1, `${proto}: mounted`);
      await new Promise((r) => setTimeout(r, 300));
      t.ok(alive(watchdogPid), `${proto}: the watchdog runs`);
      process.kill(watchdogPid, "SIGKILL");
      t.ok(await waitFor(() => !alive(watchdogPid), 5000), `${proto}: watchdog gone`);
      await noHelperLeft(t);
      client.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, 300));
      t.equal(mountsAt(mnt).length, 1, `${proto}: nobody watches any more, the delivered mount stays`);
      const un = runAs(u, [OURS, "-u", mnt], { argv0: "fusermount3" });
      t.equal(un.code, 0, `${proto}: the user removes it (${un.stderr})`);
      t.equal(mountsAt(mnt).length, 0);
    }
  });

  t.test("classic, /run/mount/utab present: the helper is SIGKILLed while /bin/mount records the mount",
    setuidOnly("it kills the process that records; through the service that is a request thread of the service itself, whose SIGKILL is tested in service-hostile.test.ts"), async (t) => {
    // The fd is already with the server when the record is written (a record
    // never holds up a mount); killing the helper then costs at most the
    // record. What must hold: no root process remains, nothing but the user's
    // own FUSE mount is left, and the user can remove it and its record.
    const mnt = mkdirAs(u, `${base}/kill-recording`);
    const out = `${rootDir}/kill-recording`;
    mkdirSync(out);
    writeFileSync(`${out}/mount`, `#!/bin/bash\necho started > ${out}/mount-started\nsleep 1\nexec ${out}/real-mount "$@"\n`);
    chmodSync(`${out}/mount`, 0o755);
    const spec = JSON.stringify({ helper: OURS, args: ["-o", "x-rec", "--", mnt], mode: "hold" });
    const r = inNamespace(`
      cp /bin/mount ${out}/real-mount
      mkdir -p /run/mount; mount -t tmpfs tmpfs /run/mount; touch /run/mount/utab
      mount --bind ${out}/mount /bin/mount
      setpriv --reuid=${u.uid} --regid=${u.gid} --init-groups -- env -i ${FAKE_CLIENT} '${spec}' > ${out}/client.json &
      client=$!
      for i in $(seq 100); do [ -e ${out}/mount-started ] && break; sleep 0.05; done
      helper=$(pgrep -P $client | head -n 1)
      grep -c " ${mnt} " /proc/self/mountinfo > ${out}/count-during || true
      kill -9 $helper
      sleep 1.5
      kill -9 $client
      grep -c " ${mnt} " /proc/self/mountinfo > ${out}/count-after || true
      cp /run/mount/utab ${out}/utab-after
      rc=0; runuser -u ${u.name} -- env -i ${OURS} -u ${mnt} 2> ${out}/u.err || rc=$?
      echo $rc > ${out}/u.rc
      grep -c " ${mnt} " /proc/self/mountinfo > ${out}/count-final || true
      cp /run/mount/utab ${out}/utab-final`);
    t.equal(r.code, 0, r.stderr);
    t.equal(readFileSync(`${out}/count-during`, "utf8").trim(), "1", "killed inside the window (mounted, recording)");
    t.match(readFileSync(`${out}/client.json`, "utf8"), /"gotFd":true/, "the fd arrived before the record");
    t.ok(["0", "1"].includes(readFileSync(`${out}/count-after`, "utf8").trim()), "at most the one mount");
    t.equal(readFileSync(`${out}/u.rc`, "utf8").trim(), readFileSync(`${out}/count-after`, "utf8").trim() === "1" ? "0" : "1",
      `the user can remove what is left (${readFileSync(`${out}/u.err`, "utf8")})`);
    t.equal(readFileSync(`${out}/count-final`, "utf8").trim(), "0", "nothing left at the end");
    t.equal(readFileSync(`${out}/utab-final`, "utf8"), "", "no record left at the end");
    await noHelperLeft(t);
  });
}, { files: [FAULT_PEER, SYNC_PEER] });
