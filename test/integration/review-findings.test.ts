// Regression tests for the findings of the hostile review of the installed
// helper (two plain users, the set-uid launcher, /run/mount/utab present). Each
// test is named after its finding and fails on the helper before the fixes.
import t from "tap";
import { spawn, spawnSync, execFileSync, type ChildProcess } from "node:child_process";
import { writeFileSync, readFileSync, existsSync, mkdirSync, chmodSync, chownSync, symlinkSync, rmSync, statSync, renameSync, unlinkSync } from "node:fs";
import {
  integration, OURS, PREFIX, FAKE_CLIENT, user, scratch, mkdirAs, runAs, fakeMount, fakeMountHold,
  mountsAt, cleanupDir, killTree, waitFor, inNamespace, withPrivateSyslog, rootScratch, crashMarkers, type User, spawnAs,
  privilegedPid, SERVICE_MODE, ours,
} from "../lib/harness.ts";
import { serviceDifference } from "./differences.ts";

const SYNC_PEER = `${PREFIX}/tools/syncpeer`;
const NOSYSCALL = `${PREFIX}/tools/nosyscall`;
const EXCHANGE = `${PREFIX}/tools/exchange`;
const LOCK = "/run/fusermount3.lock";
const UTAB = "/run/mount/utab";
const SYS_FSOPEN = 430;
const ENOSYS = 38;

const statusOf = (pid: number): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
    const i = line.indexOf(":");
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
  }
  return out;
};
const alive = (pid: number) => { try { process.kill(pid, 0); return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return false; } };

// A --sync-init client whose helper waits for the proceed byte until killed.
function waitingHelper(u: User, mnt: string, extra: Record<string, unknown> = {}): { child: ChildProcess; helperPid: Promise<number> } {
  const child = spawnAs(u, [SYNC_PEER, JSON.stringify({ helper: OURS, args: ["--sync-init", "--", mnt], proceed: "never", ...extra })]);
  const helperPid = new Promise<number>((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const m = /\{"helperPid":(\d+)\}/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
    setTimeout(() => reject(new Error("no helper pid")), 10000);
  });
  // In service mode: the service's request child (the root process that waits).
  return { child, helperPid: helperPid.then(async (p) => (await privilegedPid(p)) ?? p) };
}

integration("review findings", () => {
  const u = user("fmtest");
  const u2 = user("fmtest2");
  const base = scratch(u);
  const base2 = scratch(u2);
  const rootDir = rootScratch();
  t.teardown(() => { cleanupDir(base); cleanupDir(base2); rmSync(rootDir, { recursive: true, force: true }); });

  t.test("finding 1: lock held by a stopped helper", async (t) => {
    t.test("the caller cannot stop (or signal) its helper; the main thread is lowered while it waits", async (t) => {
      const mnt = mkdirAs(u, `${base}/f1`);
      const { child, helperPid } = waitingHelper(u, mnt);
      t.teardown(() => killTree(child.pid));
      const pid = await helperPid;
      t.ok(await waitFor(() => readFileSync(`/proc/${pid}/wchan`, "utf8").includes("poll"), 5000), "waiting for proceed");
      const st = statusOf(pid);
      // Uid: real effective saved fs
      t.same(st.Uid!.split(/\s+/), ["0", "0", "0", String(u.uid)], "real uid 0, fsuid the caller's");
      t.same(st.Gid!.split(/\s+/).slice(3), [String(u.gid)], "fsgid the caller's");
      t.equal(st.CapEff, "0000000000000000", "no effective capability while waiting on the caller");
      const sigIgn = BigInt(`0x${st.SigIgn}`);
      for (const sig of [20, 21, 22]) t.ok(sigIgn & (1n << BigInt(sig - 1)), `terminal stop signal ${sig} ignored`);
      for (const sig of ["STOP", "TERM", "KILL"]) {
        const k = runAs(u, ["/bin/kill", `-${sig}`, String(pid)]);
        t.not(k.code, 0, `kill -${sig} by the caller refused`);
      }
      t.match(readFileSync(`/proc/${pid}/stat`, "utf8"), /\) S /, "still running, not stopped");
      // and the same holds for every thread of the process (tgkill on any of them stops all)
      for (const tid of execFileSync("ls", [`/proc/${pid}/task`]).toString().trim().split("\n")) {
        t.equal(readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8").match(/^Uid:\s+(\d+)/m)![1], "0", `thread ${tid} real uid 0`);
      }
    });

    t.test("a lock file anyone could open is refused, never used", async (t) => {
      const saved = existsSync(LOCK) ? statSync(LOCK) : undefined;
      t.teardown(() => { rmSync(LOCK, { force: true }); if (saved) writeFileSync(LOCK, "", { mode: 0o600 }); });
      rmSync(LOCK, { force: true });
      writeFileSync(LOCK, "", { mode: 0o644 });
      chmodSync(LOCK, 0o644);
      const mnt = mkdirAs(u, `${base}/f1b`);
      const r = fakeMount(u, { helper: OURS, argv0: "fusermount3", args: ["--", mnt] });
      t.equal(r.gotFd, false);
      t.equal(r.exitCode, 1);
      t.equal(r.stderr, `fusermount3: ${LOCK} must be a regular file owned by root with mode 0600: remove it (as root)\n`);
      t.equal(mountsAt(mnt).length, 0);
    });

    t.test("a lock held too long ends in a refusal within its deadline, nothing mounted", async (t) => {
      rmSync(LOCK, { force: true });
      writeFileSync(LOCK, "", { mode: 0o600 });
      const holder = spawn("flock", ["-F", "-x", LOCK, "sleep", "30"], { stdio: "ignore" });
      t.teardown(() => killTree(holder.pid));
      await new Promise((r) => setTimeout(r, 300));
      const mnt = mkdirAs(u, `${base}/f1c`);
      const start = Date.now();
      const r = fakeMount(u, { helper: OURS, argv0: "fusermount3", args: ["--", mnt], timeoutMs: 30000 });
      const ms = Date.now() - start;
      t.equal(r.gotFd, false);
      t.equal(r.stderr, `fusermount3: timed out after 10 seconds waiting for ${LOCK}\n`);
      t.ok(ms >= 9500 && ms < 14000, `refused after ${ms} ms`);
      t.equal(mountsAt(mnt).length, 0);
    });
  });

  t.test("finding 2: libmount's utab lock held by another user stalls nothing", async (t) => {
    mkdirSync("/run/mount", { recursive: true });
    if (!existsSync(UTAB)) writeFileSync(UTAB, "");
    if (!existsSync(`${UTAB}.lock`)) writeFileSync(`${UTAB}.lock`, "", { mode: 0o644 });
    const holder = spawn("flock", ["-F", "-s", `${UTAB}.lock`, "sleep", "60"], { uid: u2.uid, gid: u2.gid, stdio: "ignore" });
    t.teardown(() => killTree(holder.pid));
    await new Promise((r) => setTimeout(r, 300));
    t.ok(alive(holder.pid!), "another user holds a shared lock on utab.lock");
    const mnt = mkdirAs(u, `${base}/f2`);
    let start = Date.now();
    const r = fakeMount(u, { helper: OURS, argv0: "fusermount3", args: ["-o", "x-gvfs-hide", "--", mnt], timeoutMs: 30000 });
    const mountMs = Date.now() - start;
    t.equal(r.gotFd, true, "the server got its fd");
    t.equal(r.exitCode, 0);
    t.match(r.stderr, /did not finish within 3 seconds/);
    t.ok(mountMs < 6000, `mount done in ${mountMs} ms`);
    t.equal(mountsAt(mnt).length, 1);
    start = Date.now();
    const un = runAs(u, [OURS, "-u", mnt], { argv0: "fusermount3", timeoutMs: 30000 });
    const unmountMs = Date.now() - start;
    t.equal(un.code, 0, un.stderr);
    t.ok(unmountMs < 6000, `unmount done in ${unmountMs} ms`);
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("finding 3: a mount table past 4 MiB is read whole (mount_max, -u)", async (t) => {
    // ~330 mounts whose mount points are 3,800 characters of spaces, each
    // escaped to 4 bytes in mountinfo: about 5 MiB of table.
    const level = " ".repeat(250);
    const deep = `${rootDir}/big/${Array(15).fill(level).join("/")}`;
    const conf = `${rootDir}/fuse.conf.f3`;
    const mnt = mkdirAs(u, `${base}/f3`);
    const mnt2 = mkdirAs(u, `${base}/f3b`);
    const r = inNamespace(`
      mkdir -p "${deep}"
      for i in $(seq 330); do mkdir "${deep}/$i"; mount -t tmpfs -o size=4k none "${deep}/$i"; done
      size=$(wc -c < /proc/self/mountinfo); echo "size=$size"
      n=$(grep -c ' - fuse[ .]' /proc/self/mountinfo || true); echo "mount_max = $((n + 1))" > ${conf}
      mount --bind ${conf} /etc/fuse.conf
      as() { setpriv --reuid ${u.uid} --regid ${u.gid} --clear-groups -- env -i "$@"; }
      as ${FAKE_CLIENT} '${JSON.stringify({ helper: OURS, args: ["--", mnt] })}'
      as ${FAKE_CLIENT} '${JSON.stringify({ helper: OURS, args: ["--", mnt2] })}'
      as ${OURS} -u ${mnt} && echo "unmounted"
      grep -c " ${mnt} " /proc/self/mountinfo || true`, {}, 120000);
    t.equal(r.code, 0, r.stderr);
    const size = Number(/size=(\d+)/.exec(r.stdout)?.[1]);
    t.ok(size > 4 * 1024 * 1024, `mountinfo is ${size} bytes`);
    const reports = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { gotFd: boolean; stderr: string });
    t.equal(reports[0]?.gotFd, true, `first mount (${reports[0]?.stderr})`);
    t.equal(reports[1]?.gotFd, false, "mount_max (one more than there are) still applies");
    t.match(reports[1]?.stderr ?? "", /too many FUSE filesystems mounted/);
    t.match(r.stdout, /\nunmounted\n0\n$/, "-u finds its entry and unmounts");
  });

  t.test("finding 4: --sync-init where fsopen() is unavailable is refused before the fd, nothing over /", async (t) => {
    const mnt = mkdirAs(u, `${base}/f4`);
    const rootBefore = mountsAt("/").length;
    const [nosys, ...nosysArgs] = ours([NOSYSCALL, String(SYS_FSOPEN), String(ENOSYS), String(u.uid), String(u.gid), SYNC_PEER,
      JSON.stringify({ helper: OURS, args: ["--sync-init", "--", mnt], init: "answer" })]);
    const r = spawnSync(nosys!, nosysArgs, { env: {}, encoding: "utf8", timeout: 30000 });
    t.equal(r.status, 0, r.stderr);
    const rep = JSON.parse(r.stdout.trim().split("\n").pop()!) as { gotFd: boolean; exitCode: number; stderr: string; status?: number };
    if (SERVICE_MODE) {
      // The filter is the caller's: the service's child mounts with fsopen.
      t.comment(`service-mode difference caller-limits-not-inherited: ${serviceDifference("caller-limits-not-inherited").what}`);
      t.equal(rep.gotFd, true, "the fd went out");
      t.equal(rep.status, 0, "mounted with the new mount API");
      t.equal(rep.exitCode, 0, rep.stderr);
      t.equal(mountsAt(mnt).length, 1);
      t.equal(runAs(u, [OURS, "-u", mnt]).code, 0);
    } else {
      t.equal(rep.gotFd, false, "no fd went out");
      t.equal(rep.exitCode, 1);
      t.equal(rep.stderr, "fusermount3: --sync-init needs the kernel's new mount API (fsopen), which is not available here: mount without --sync-init\n");
    }
    t.equal(mountsAt("/").length, rootBefore, "nothing mounted over /");
    t.equal(mountsAt(mnt).length, 0);
    // Classic mounts do not need fsopen and still work under the same filter.
    const [nosys2, ...nosysArgs2] = ours([NOSYSCALL, String(SYS_FSOPEN), String(ENOSYS), String(u.uid), String(u.gid), FAKE_CLIENT,
      JSON.stringify({ helper: OURS, args: ["--", mnt] })]);
    const c2 = spawnSync(nosys2!, nosysArgs2, { env: {}, encoding: "utf8", timeout: 30000 });
    t.equal((JSON.parse(c2.stdout.trim().split("\n").pop()!) as { gotFd: boolean }).gotFd, true);
    t.equal(mountsAt(mnt).length, 1);
    t.equal(runAs(u, [OURS, "-u", mnt]).code, 0);
  });

  t.test("finding 5: FUSE_KERN_DEVICE never hands out an fd to anything but the FUSE device", async (t) => {
    const mnt = mkdirAs(u, `${base}/f5`);
    // A user's symlink under /dev (passes the /dev/ prefix test) to a file the
    // user can write but not reach, or to the FUSE device itself.
    const secret = `${base2}/private`;
    mkdirSync(secret, { mode: 0o700 }); chownSync(secret, u2.uid, u2.gid);
    writeFileSync(`${secret}/victim`, "secret\n", { mode: 0o666 }); chmodSync(`${secret}/victim`, 0o666);
    const link = `/dev/shm/fm-f5-${process.pid}`;
    const link2 = `/dev/shm/fm-f5b-${process.pid}`;
    execFileSync("ln", ["-sfn", `${secret}/victim`, link], { uid: u.uid, gid: u.gid });
    execFileSync("ln", ["-sfn", "/dev/fuse", link2], { uid: u.uid, gid: u.gid });
    t.teardown(() => { rmSync(link, { force: true }); rmSync(link2, { force: true }); });
    for (const protocol of [[], ["--sync-init"]]) {
      for (const dev of [link, link2, "/dev/fd/0"]) {
        const r = fakeMount(u, { helper: OURS, argv0: "fusermount3", args: [...protocol, "--", mnt], env: { FUSE_KERN_DEVICE: dev }, timeoutMs: 3000 });
        t.not(r.fdTarget, `${secret}/victim`, `${dev}: never the victim file`);
        t.equal(r.stderr.split("\n")[0], `fuse: invalid device from FUSE_KERN_DEVICE: ${dev} (a symbolic link)`, `${dev}: refused as a link`);
        if (r.gotFd) t.equal(r.fdTarget, "/dev/fuse", `${dev}: falls back to /dev/fuse`);
        spawnSync("umount", ["-l", mnt]);
      }
      for (const dev of ["/dev/null", "/dev/zero", "/dev/ptmx", "/dev/tty"]) {
        const r = fakeMount(u, { helper: OURS, argv0: "fusermount3", args: [...protocol, "--", mnt], env: { FUSE_KERN_DEVICE: dev }, timeoutMs: 3000 });
        t.equal(r.gotFd, false, `${protocol.join("") || "classic"} ${dev}: no fd`);
        t.equal(r.stderr, `fusermount3: invalid device from FUSE_KERN_DEVICE: ${dev} (not a FUSE device)\n`);
      }
    }
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("finding 6: nothing is mounted behind a directory the caller cannot search", async (t) => {
    // The victim (fmtest2) works in a world-writable directory inside its
    // private tree; the attacker (fmtest) swaps a parent of its mountpoint for a
    // symlink to /proc/<victim>/cwd while the helper checks and mounts.
    const priv = `${base2}/p6`;
    mkdirSync(`${priv}/work/m`, { recursive: true });
    chmodSync(priv, 0o700); chmodSync(`${priv}/work`, 0o777); chmodSync(`${priv}/work/m`, 0o777);
    execFileSync("chown", ["-R", `${u2.uid}:${u2.gid}`, priv]);
    const victim = spawn("sleep", ["60"], { cwd: `${priv}/work`, uid: u2.uid, gid: u2.gid, stdio: "ignore" });
    t.teardown(() => killTree(victim.pid));
    const a = mkdirAs(u, `${base}/f6a`);
    mkdirAs(u, `${a}/m`);
    execFileSync("ln", ["-s", `/proc/${victim.pid}/cwd`, `${base}/f6b`], { uid: u.uid, gid: u.gid });
    const ex = spawn(EXCHANGE, [JSON.stringify({ a, b: `${base}/f6b`, maxIterations: 50_000_000, maxMs: 8000 })], { uid: u.uid, gid: u.gid, stdio: "ignore" });
    t.teardown(() => killTree(ex.pid));
    let mounted = 0;
    for (let i = 0; i < 150; i++) {
      const r = runAs(u, [FAKE_CLIENT, JSON.stringify({ helper: OURS, args: ["--", `${a}/m`] })], { env: { PATH: "/usr/bin:/bin" } });
      if (/"gotFd":true/.test(r.stdout)) mounted++;
      if (mountsAt(`${priv}/work/m`).length > 0) { t.fail("mounted inside the victim's private tree"); break; }
      spawnSync("umount", ["-l", `${a}/m`]);
    }
    killTree(ex.pid);
    t.equal(mountsAt(`${priv}/work/m`).length, 0, `never behind ${priv} (${mounted} mounts where they belong)`);
  });

  t.test("finding 7: -u does not disclose another process's working directory", async (t) => {
    const priv = `${base2}/p7`;
    mkdirSync(`${priv}/secret-name`, { recursive: true });
    chmodSync(priv, 0o700);
    execFileSync("chown", ["-R", `${u2.uid}:${u2.gid}`, priv]);
    const victim = spawn("sleep", ["60"], { cwd: `${priv}/secret-name`, uid: u2.uid, gid: u2.gid, stdio: "ignore" });
    t.teardown(() => killTree(victim.pid));
    await new Promise((r) => setTimeout(r, 100));
    for (const pid of [victim.pid!, 1]) {
      const r = runAs(u, [OURS, "-u", `/proc/${pid}/cwd/.`], { argv0: "fusermount3" });
      t.equal(r.code, 1);
      t.equal(r.stderr, `fusermount3: bad mount point /proc/${pid}/cwd/.: Permission denied\n`, `pid ${pid}: nothing disclosed`);
    }
    // Its own processes' directories are the caller's to name.
    const own = runAs(u, ["/bin/sh", "-c", `cd ${base} && exec ${OURS} -u /proc/self/cwd/.`]);
    if (SERVICE_MODE) t.comment(`service-mode difference proc-self-is-the-service: ${serviceDifference("proc-self-is-the-service").what}`);
    t.equal(own.stderr, `${OURS}: entry for ${SERVICE_MODE ? "/" : base} not found in /etc/mtab\n`);
  });

  t.test("finding 8: audit records carry a fixed tag and escape every unsafe character", async (t) => {
    const log = `${rootDir}/syslog8.txt`;
    const evil = mkdirAs(u, `${base}/a\u0085b\u2028c\u202ed\u2066e`);
    const r = withPrivateSyslog(u, log, `
      as bash -c 'exec -a sudo ${OURS} -u "$0"' '${evil}' 2>/dev/null || true`);
    t.equal(r.code, 0, r.stderr);
    const line = readFileSync(log, "utf8").trim();
    t.match(line, /^<85>\w{3} [ \d]\d \d\d:\d\d:\d\d fusermount3\[\d+\]: /, "tag is fusermount3 whatever argv[0] says");
    t.notMatch(line, /[\u0080-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u, "no raw C1, separator or bidi character");
    t.match(line, /a\\u0085b\\u2028c\\u202ed\\u2066e/);
  });

  t.test("finding 9: utab records cannot be lent to another mount", async (t) => {
    mkdirSync("/run/mount", { recursive: true });
    if (!existsSync(UTAB)) writeFileSync(UTAB, "");
    const records = (target: string) => readFileSync(UTAB, "utf8").split("\n").filter((l) => l.includes(` TARGET=${target.replace(/ /g, "\\040")} `));

    t.test("a stale record for the path is replaced, not stacked", async (t) => {
      const mnt = mkdirAs(u, `${base}/f9a`);
      execFileSync("/bin/mount", ["--no-canonicalize", "-i", "-f", "-t", "fuse.stale", "-o", "rw,user=fmtest2,x-stale", "--", "stale", mnt]);
      t.equal(records(mnt).length, 1, "a stale record from another user");
      const r = fakeMount(u, { helper: OURS, argv0: "fusermount3", args: ["-o", "x-mine", "--", mnt] });
      t.equal(r.gotFd, true);
      const now = records(mnt);
      t.equal(now.length, 1, now.join("\n"));
      t.match(now[0] ?? "", /user=fmtest(,|$| )/);
      t.notMatch(now[0] ?? "", /fmtest2|x-stale/);
      t.equal(runAs(u, [OURS, "-u", mnt]).code, 0);
      t.equal(records(mnt).length, 0);
    });

    t.test("a mount moved while its record is written leaves no record behind", async (t) => {
      const dir = mkdirAs(u, `${base}/f9b`);
      const mnt = mkdirAs(u, `${dir}/m`);
      // Hold libmount's lock so that /bin/mount -f waits; move the mount's
      // parent meanwhile; then let the record be written.
      if (!existsSync(`${UTAB}.lock`)) writeFileSync(`${UTAB}.lock`, "", { mode: 0o644 });
      const holder = spawn("flock", ["-F", "-x", `${UTAB}.lock`, "sleep", "1.5"], { stdio: "ignore" });
      t.teardown(() => killTree(holder.pid));
      await new Promise((r) => setTimeout(r, 200));
      const client = fakeMountHold(u, { helper: OURS, args: ["-o", "x-moved", "--", mnt] });
      const { client: cp } = await client;
      t.teardown(() => killTree(cp.pid));
      renameSync(dir, `${dir}-moved`);
      await waitFor(() => !alive(holder.pid!), 5000);
      await new Promise((r) => setTimeout(r, 1500));
      t.equal(records(mnt).length, 0, "no record for the path the mount left");
      t.equal(mountsAt(`${dir}-moved/m`).length, 1, "the mount itself is fine where it went");
      spawnSync("umount", ["-l", `${dir}-moved/m`]);
      cleanupDir(`${dir}-moved`);
    });
  });

  t.test("finding 10: robustness", async (t) => {
    t.test("a UDP, TCP or datagram socket is not a comm fd", async (t) => {
      const mnt = mkdirAs(u, `${base}/f10`);
      for (const [kind, py] of [
        ["udp", "socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"],
        ["tcp", "socket.socket(socket.AF_INET, socket.SOCK_STREAM)"],
        ["unix datagram", "socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)[0]"],
      ] as const) {
        const script = `import os, socket\ns = ${py}\nos.set_inheritable(s.fileno(), True)\nos.environ['_FUSE_COMMFD'] = str(s.fileno())\nos.execv('${OURS}', ['fusermount3', '--', '${mnt}'])`;
        const r = runAs(u, ["/usr/bin/python3", "-c", script]);
        t.equal(r.code, 1, kind);
        t.match(r.stderr, /^fusermount3: file descriptor \d+ is not a Unix stream or seqpacket socket, can't send fuse fd\n$/, kind);
        t.equal(mountsAt(mnt).length, 0, `${kind}: nothing mounted`);
      }
    });

    t.test("a cwd longer than PATH_MAX behaves as with libfuse 3.14", async (t) => {
      const deep = mkdirAs(u, `${base}/deep`);
      t.teardown(() => { spawnSync("rm", ["-rf", "--", deep]); }); // rm copes with paths past PATH_MAX
      const script = (helper: string, args: string[]) => `import os\nos.chdir('${deep}')\nfor i in range(20):\n  n='d'*250\n  os.makedirs(n, exist_ok=True)\n  os.chdir(n)\nos.execv('${helper}', ['fusermount3'] + ${JSON.stringify(args)})`;
      for (const args of [["-V"], ["-u", "x"], ["-u", "/nonexistent/x"]]) {
        const ours = runAs(u, ["/usr/bin/python3", "-c", script(OURS, args)]);
        const theirs = runAs(u, ["/usr/bin/python3", "-c", script("/usr/bin/fusermount3", args)]);
        t.same(crashMarkers(ours.stderr), [], `${args.join(" ")}: no crash`);
        t.equal(ours.code, theirs.code, `${args.join(" ")}: exit code as 3.14 (${theirs.stderr.trim()})`);
        if (args[0] !== "-V") t.equal(ours.stderr, theirs.stderr, `${args.join(" ")}: same message`);
        else t.match(ours.stdout, /^fusermount3 version: /);
      }
    });

    t.test("tiny stack or address-space limits: one clear line, never a crash banner", async (t) => {
      for (const [limit, re] of [
        ["ulimit -s 64", /^fusermount3: the stack size \(ulimit -s\) limit \(hard 64 KiB\) is below the 1024 KiB the helper needs: raise it\n$/],
        ["ulimit -v 1000000", /^fusermount3: the address space \(ulimit -v\) limit \(hard 1000000 KiB\) is below the 8388608 KiB the helper needs: raise it\n$/],
      ] as const) {
        const r = runAs(u, ["/bin/bash", "-c", `${limit}; exec -a fusermount3 ${OURS} -V`]);
        if (SERVICE_MODE) {
          // The launcher asks the service before it looks at its limits; the
          // service's child runs with its own.
          t.comment(`service-mode difference caller-limits-not-inherited: ${serviceDifference("caller-limits-not-inherited").what}`);
          t.equal(r.code, 0, `${limit}: ${r.stderr}`);
          t.equal(r.stdout, "fusermount3 version: 3.19.0\n", limit);
          continue;
        }
        t.equal(r.code, 1, limit);
        t.match(r.stderr, re, limit);
      }
      // A low soft limit under a higher hard one is simply raised.
      for (const limit of ["ulimit -S -s 128", "ulimit -S -v 1000000"]) {
        const r = runAs(u, ["/bin/bash", "-c", `${limit}; exec -a fusermount3 ${OURS} -V`]);
        t.equal(r.code, 0, `${limit}: ${r.stderr}`);
        t.equal(r.stdout, "fusermount3 version: 3.19.0\n");
      }
    });
  });

  t.test("finding 11: auto-unmount when the server dies with a request in flight", async (t) => {
    // The server answers FUSE_INIT, then never answers again; the test closes
    // the comm socket (the watchdog wakes and probes: its open is now a
    // request in flight), then kills the server: the probe's open fails with
    // ECONNABORTED, which means dead.
    const mnt = mkdirAs(u, `${base}/f11`);
    const child = spawnAs(u, [SYNC_PEER, JSON.stringify({ helper: OURS, args: ["--sync-init", "-o", "auto_unmount", "--", mnt], init: "answer", hold: true, closeCommAfterMs: 300 })]);
    t.teardown(() => killTree(child.pid));
    t.ok(await waitFor(() => mountsAt(mnt).length === 1, 10000), "mounted");
    await new Promise((r) => setTimeout(r, 1200)); // socket closed, the watchdog's probe waits on the server
    child.kill("SIGKILL");
    t.ok(await waitFor(() => mountsAt(mnt).length === 0, 10000), "the dead filesystem was unmounted");
  });
});
