// Mount identity instead of mount-table text: -u and mount_max on a table of
// 10,000 mounts, an auto-unmount watch that follows its mount and ends with
// it, and recovery of the caller's own dead mount (and only that).
import t from "tap";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync, mkdirSync, chmodSync, existsSync } from "node:fs";
import {
  integration, OURS, PREFIX, FAKE_CLIENT, user, scratch, mkdirAs, runAs, fakeMount, fakeMountHold,
  mountsAt, cleanupDir, killTree, waitFor, inNamespace, rootScratch, helperPids, type User, spawnAs,
  SERVICE_MODE,
} from "../lib/harness.ts";
import { serviceDifference } from "./differences.ts";

const MANY = `${PREFIX}/tools/manymounts`;
const HELLO = `${PREFIX}/tools/hello`;
const alive = (pid: number) => { try { return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8")); } catch { return false; } };

// The example server, serving (so the mount is alive) until killed.
async function hello(u: User, mnt: string): Promise<ChildProcess> {
  const child = spawnAs(u, [HELLO, mnt, "--helper", OURS]);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`hello exited ${code}`)));
    setTimeout(() => reject(new Error("hello did not start")), 20000);
  });
  return child;
}

integration("mount identity", () => {
  const u = user("fmtest");
  const u2 = user("fmtest2");
  const base = scratch(u);
  const rootDir = rootScratch();
  t.teardown(() => cleanupDir(base));
  const mount = (who: User | null, mnt: string, extra: string[] = []) =>
    fakeMount(who, { helper: OURS, argv0: "fusermount3", args: [...extra, "--", mnt] });

  t.test("-u and mount_max with 10,000 extra mounts", async (t) => {
    const conf = `${rootDir}/fuse.conf.scale`;
    const mnts = [0, 1, 2].map((i) => mkdirAs(u, `${base}/scale${i}`));
    const as = `setpriv --reuid ${u.uid} --regid ${u.gid} --clear-groups -- env -i`;
    const r = inNamespace(`
      mkdir -p ${rootDir}/many && mount -t tmpfs none ${rootDir}/many && ${MANY} ${rootDir}/many 10000
      echo "lines=$(wc -l < /proc/self/mountinfo)"
      n=$(grep -c ' - fuse[ .]' /proc/self/mountinfo || true); echo "mount_max = $((n + 2))" > ${conf}
      mount --bind ${conf} /etc/fuse.conf
      for m in ${mnts.join(" ")}; do ${as} ${FAKE_CLIENT} '{"helper":"${OURS}","argv0":"fusermount3","args":["--","'$m'"]}'; done
      ${as} ${OURS} -u ${mnts[0]} && echo "unmounted 0"
      ${as} ${OURS} -u ${mnts[1]} && echo "unmounted 1"
      rc=0; ${as} ${OURS} -u ${base}/many-not-mounted 2>&1 || rc=$?; echo "rc=$rc"`, {}, 120000);
    t.equal(r.code, 0, r.stderr);
    t.ok(Number(/lines=(\d+)/.exec(r.stdout)?.[1]) > 10000, "10,000 extra mounts");
    const reports = r.stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { gotFd: boolean; stderr: string });
    t.same(reports.map((x) => x.gotFd), [true, true, false], `mount_max = 2 counted exactly (${reports.map((x) => x.stderr).join(" | ")})`);
    t.match(reports[2]?.stderr ?? "", /^fusermount3: too many FUSE filesystems mounted; mount_max=N can be set in \/etc\/fuse.conf\n$/);
    t.match(r.stdout, /unmounted 0\nunmounted 1\n/);
    t.match(r.stdout, new RegExp(`fusermount3: entry for ${base}/many-not-mounted not found in /etc/mtab\\nrc=1`));
  });

  t.test("the watch follows its mount: moved by root, it is still the one unmounted", async (t) => {
    const a = mkdirAs(u, `${base}/move-a`);
    const b = mkdirAs(u, `${base}/move-b`);
    const { client } = await fakeMountHold(u, { helper: OURS, argv0: "fusermount3", args: ["-o", "auto_unmount,subtype=moved", "--", a] });
    t.teardown(() => killTree(client.pid));
    t.equal(mountsAt(a).length, 1);
    t.equal(spawnSync("mount", ["--move", a, b]).status, 0, "root moves the mount");
    t.equal(mountsAt(b).length, 1);
    client.kill("SIGKILL"); // the server dies: its mount is dead
    t.ok(await waitFor(() => mountsAt(b).length === 0, 15000), "the moved mount was unmounted where it went");
    t.equal(mountsAt(a).length, 0);
  });

  t.test("a manual -u ends the watch within a second, the server still running", async (t) => {
    const mnt = mkdirAs(u, `${base}/manual`);
    const before = new Set(helperPids());
    const { report, client } = await fakeMountHold(u, { helper: OURS, argv0: "fusermount3", args: ["-o", "auto_unmount", "--", mnt] });
    t.teardown(() => killTree(client.pid));
    // Through the service the launcher the server started waits for the end
    // of the watch the service holds: its exit is the watch's end.
    if (SERVICE_MODE) t.comment(`service-mode difference watch-in-the-service: ${serviceDifference("watch-in-the-service").what}`);
    else t.ok(await waitFor(() => helperPids().some((p) => !before.has(p)), 5000), "the watchdog runs");
    const watchdog = SERVICE_MODE ? report.pid! : helperPids().find((p) => !before.has(p))!;
    t.ok(alive(watchdog), "the watch runs");
    t.equal(runAs(u, [OURS, "-u", mnt]).code, 0);
    const at = Date.now();
    t.ok(await waitFor(() => !alive(watchdog), 1500, 20), `the watch ended ${Date.now() - at} ms after the unmount`);
    t.ok(alive(client.pid!), "while its server (holding the socket) still runs");
  });

  t.test("a second, unrelated mount at the same path is left alone", async (t) => {
    const mnt = mkdirAs(u, `${base}/stacked`);
    // The watched mount: a real server with auto_unmount.
    const bottom = spawnAs(u, [HELLO, mnt, "--helper", OURS, "--auto-unmount", "--classic"]);
    t.teardown(() => killTree(bottom.pid));
    t.ok(await waitFor(() => mountsAt(mnt).length === 1, 20000), "watched mount");
    // Another mount on top of it, at the same path (root's tmpfs: a user cannot
    // reach into their own FUSE mount as root-run helper, to stack on it).
    t.equal(spawnSync("mount", ["-t", "tmpfs", "none", mnt]).status, 0);
    t.equal(mountsAt(mnt).length, 2);
    bottom.kill("SIGKILL"); // the watched mount's server dies
    await new Promise((r) => setTimeout(r, 3000));
    const left = mountsAt(mnt).map((m) => m.fsType);
    t.equal(left[left.length - 1], "tmpfs", `the other mount stays on top (${left.join(", ")})`);
    spawnSync("umount", ["-l", mnt]); spawnSync("umount", ["-l", mnt]);
  });

  t.test("the caller's own dead mount is detached before mounting there again", async (t) => {
    const mnt = mkdirAs(u, `${base}/dead`);
    t.equal(mount(u, mnt, ["-o", "subtype=crashed"]).gotFd, true); // the fake server exits: dead at once
    t.equal(mountsAt(mnt).length, 1);
    const again = mount(u, mnt, ["-o", "subtype=again"]);
    t.equal(again.gotFd, true);
    t.equal(again.stderr, `fusermount3: note: detached your dead FUSE filesystem at ${mnt} (its server is gone) before mounting\n`);
    t.same(mountsAt(mnt).map((m) => m.fsType), ["fuse.again"], "only the new mount is there");
    t.equal(runAs(u, [OURS, "-u", mnt]).code, 0);
  });

  t.test("no recovery of another user's dead mount, a live mount, or a non-FUSE mount", async (t) => {
    // Another user's dead mount, in a directory both can write.
    const shared = `${base}/shared`;
    mkdirSync(shared); chmodSync(shared, 0o777);
    const theirs = mkdirAs(u2, `${shared}/theirs`, 0o777);
    t.equal(mount(u2, theirs).gotFd, true);
    const r1 = mount(u, theirs);
    t.equal(r1.gotFd, false);
    t.notMatch(r1.stderr, /note:/);
    t.equal(mountsAt(theirs).length, 1, "their mount is untouched");
    t.equal(runAs(u2, [OURS, "-uz", theirs]).code, 0);
    // A live mount: refused as before (the root-run helper may not look into
    // the user's FUSE mount), and left serving.
    const live = mkdirAs(u, `${base}/live`);
    const server = await hello(u, live);
    t.teardown(() => killTree(server.pid));
    const r2 = mount(u, live, ["-o", "subtype=ontop"]);
    t.notMatch(r2.stderr, /note:/);
    t.equal(r2.gotFd, false, r2.stderr);
    t.same(mountsAt(live).map((m) => m.fsType), ["fuse.hello"], "nothing detached");
    t.equal(runAs(u, ["/bin/cat", `${live}/hello`]).stdout, "Hello, world!\n", "still serving");
    spawnSync("umount", ["-l", live]);
    killTree(server.pid);
    // A tmpfs mounted by root where the user may write.
    const plain = mkdirAs(u, `${base}/plain`);
    spawnSync("mount", ["-t", "tmpfs", "-o", "mode=0777", "none", plain]);
    const r3 = mount(u, plain);
    t.notMatch(r3.stderr, /note:/);
    t.same(mountsAt(plain).map((m) => m.fsType), ["tmpfs", "fuse"]);
    spawnSync("umount", ["-l", plain]); spawnSync("umount", ["-l", plain]);
  });

  t.test("--check lists the caller's FUSE mounts, alive and dead, and how to clean the dead ones", async (t) => {
    const dead = mkdirAs(u, `${base}/c-dead`);
    const live = mkdirAs(u, `${base}/c-live`);
    t.equal(mount(u, dead, ["-o", "subtype=gone"]).gotFd, true);
    const server = await hello(u, live);
    t.teardown(() => killTree(server.pid));
    const r = runAs(u, [OURS, "--check"], { argv0: "fusermount3" });
    t.match(r.stdout, new RegExp(`yours: .*${dead} \\(fuse\\.gone, dead\\)`));
    t.match(r.stdout, new RegExp(`${live} \\(fuse\\.hello, alive\\)`));
    t.match(r.stdout, new RegExp(`fusermount3: ${dead} is a dead FUSE mount of yours \\(its server is gone\\): remove it with fusermount3 -uz ${dead}`));
    t.notMatch(r.stdout, new RegExp(`${live} is a dead`));
    const j = JSON.parse(runAs(u, [OURS, "--check", "--json"]).stdout) as { mounts: { list: Array<{ mountPoint: string; state: string }> } };
    t.same(j.mounts.list.filter((m) => m.mountPoint === dead || m.mountPoint === live).map((m) => m.state).sort(), ["alive", "dead"]);
    spawnSync("umount", ["-l", dead]); spawnSync("umount", ["-l", live]);
    killTree(server.pid);
  });

  void existsSync;
});
