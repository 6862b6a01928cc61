// The installed (set-uid) helper driven as an unprivileged user: mount, unmount,
// refusals, fuse.conf policy, mount_max, auto_unmount after kill -9.
import t from "tap";
import { writeFileSync, mkdirSync, chmodSync, chownSync, symlinkSync, rmSync, existsSync } from "node:fs";
import { spawnSync, spawn } from "node:child_process";
import {
  integration, OURS, FAKE_CLIENT, user, scratch, mkdirAs, runAs, fakeMount, fakeMountHold,
  mountsAt, cleanupDir, killTree, waitFor, helperPids, ours,
  SERVICE_MODE,
} from "../lib/harness.ts";
import { serviceDifference } from "./differences.ts";

integration("mount tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  t.teardown(() => cleanupDir(base));

  const mount = (mnt: string, opts?: string, extra: Partial<Parameters<typeof fakeMount>[1]> = {}) =>
    fakeMount(u, { helper: OURS, argv0: "fusermount3", args: [...(opts !== undefined ? ["-o", opts] : []), "--", mnt], ...extra });
  const unmount = (mnt: string, ...flags: string[]) => runAs(u, [OURS, ...flags, mnt], { argv0: "fusermount3" });

  // Bind a test fuse.conf over /etc/fuse.conf for the body (we run inside the
  // private namespace of test/run.sh, so the machine's file is untouched).
  const withConf = async (text: string, body: () => Promise<void> | void) => {
    const f = `${base}/fuse.conf.${Math.random().toString(36).slice(2)}`;
    writeFileSync(f, text);
    chmodSync(f, 0o644);
    if (!existsSync("/etc/fuse.conf")) throw new Error("/etc/fuse.conf is missing (install fuse3)");
    spawnSync("mount", ["--bind", f, "/etc/fuse.conf"]);
    try { await body(); } finally { spawnSync("umount", ["/etc/fuse.conf"]); rmSync(f); }
  };

  t.test("mount, read the mount table, unmount", async (t) => {
    const mnt = mkdirAs(u, `${base}/m1`);
    const r = mount(mnt, "fsname=testfs,subtype=probe,default_permissions");
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(r.stderr, "");
    t.ok(r.gotFd, "fd received");
    t.equal(r.fdTarget, "/dev/fuse");
    t.equal(r.dataByte, 0, "one 0x00 data byte");
    const m = mountsAt(mnt);
    t.equal(m.length, 1);
    t.equal(m[0]?.fsType, "fuse.probe");
    t.equal(m[0]?.source, "testfs");
    t.match(m[0]?.mountOptions, /^rw,nosuid,nodev,relatime$/);
    t.equal(m[0]?.superOptions, `rw,user_id=${u.uid},group_id=${u.gid},default_permissions`);
    const un = unmount(mnt, "-u");
    t.equal(un.code, 0, un.stderr);
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("unmount flags: -z lazy, -q quiet, errors", async (t) => {
    const mnt = mkdirAs(u, `${base}/m2`);
    t.equal(mount(mnt).exitCode, 0);
    const lazy = runAs(u, [OURS, "-u", "-z", mnt], { argv0: "fusermount3" });
    t.equal(lazy.code, 0, lazy.stderr);
    t.equal(mountsAt(mnt).length, 0);
    const loud = unmount(mnt, "-u");
    t.equal(loud.code, 1);
    t.equal(loud.stderr, `fusermount3: entry for ${mnt} not found in /etc/mtab\n`);
    const quiet = unmount(mnt, "-u", "-q");
    t.equal(quiet.code, 1);
    t.equal(quiet.stderr, "");
    const z = runAs(u, [OURS, "-z", mnt], { argv0: "fusermount3" });
    t.equal(z.stderr, "fusermount3: -z can only be used with -u\n");
    t.equal(z.code, 1);
  });

  t.test("a user cannot unmount another user's or a non-FUSE mount", async (t) => {
    const other = user("fmtest2");
    const otherBase = scratch(other);
    t.teardown(() => cleanupDir(otherBase));
    const mnt = mkdirAs(other, `${otherBase}/theirs`);
    const r = fakeMount(other, { helper: OURS, args: ["--", mnt] });
    t.equal(r.exitCode, 0, r.stderr);
    const steal = unmount(mnt, "-u");
    t.equal(steal.code, 1);
    t.match(steal.stderr, /entry for .* not found in \/etc\/mtab/);
    t.equal(mountsAt(mnt).length, 1, "still mounted");
    // A symlink of ours pointing at their mountpoint changes nothing.
    const link = `${base}/link-to-theirs`;
    spawnSync("ln", ["-s", mnt, link], { uid: u.uid, gid: u.gid });
    const viaLink = unmount(link, "-u");
    t.equal(viaLink.code, 1);
    t.equal(mountsAt(mnt).length, 1, "still mounted after symlink attempt");
    t.equal(unmount("/tmp", "-u").code, 1, "no unmount of a non-FUSE mountpoint");
    t.equal(runAs(other, [OURS, "-u", mnt]).code, 0, "the owner can");
  });

  t.test("option refusals", async (t) => {
    const mnt = mkdirAs(u, `${base}/m3`);
    const cases: Array<[string, string]> = [
      ["allow_other", "fusermount3: option allow_other only allowed if 'user_allow_other' is set in /etc/fuse.conf\n"],
      ["allow_root", "fusermount3: option allow_root only allowed if 'user_allow_other' is set in /etc/fuse.conf\n"],
      ["blkdev", "fusermount3: option blkdev is privileged\n"],
      ["context=x\\,allow_other", "fusermount3: unknown option 'context=x\\'\n"],
      ["default_permissions\\,allow_other", "fusermount3: unknown option 'default_permissions\\'\n"],
      ["uid=0", "fusermount3: unknown option 'uid=0'\n"],
      ["user=root", "fusermount3: unknown option 'user=root'\n"],
      ["X-foo", "fusermount3: unknown option 'X-foo'\n"],
      ["ro,,nodev", "fusermount3: unknown option ''\n"],
      ["-u", "fusermount3: unknown option '-u'\n"],
    ];
    await withConf("# nothing allowed\n", () => {
      for (const [opts, stderr] of cases) {
        const r = mount(mnt, opts);
        t.equal(r.exitCode, 1, `-o ${opts}`);
        t.equal(r.stderr, stderr, `-o ${opts} message`);
        t.notOk(r.gotFd, `-o ${opts}: no fd`);
        t.equal(mountsAt(mnt).length, 0, `-o ${opts}: nothing mounted`);
      }
    });
  });

  t.test("dev and suid are never honoured for users", async (t) => {
    const mnt = mkdirAs(u, `${base}/m4`);
    const r = mount(mnt, "dev,suid,exec");
    t.equal(r.exitCode, 0);
    t.equal(r.stderr, "fusermount3: unsafe option dev ignored\nfusermount3: unsafe option suid ignored\n");
    t.match(mountsAt(mnt)[0]?.mountOptions ?? "", /nosuid,nodev/);
    t.equal(unmount(mnt, "-u").code, 0);
  });

  t.test("escaped comma stays inside fsname", async (t) => {
    const mnt = mkdirAs(u, `${base}/m5`);
    const r = mount(mnt, "fsname=a\\,allow_other");
    t.equal(r.exitCode, 0, r.stderr);
    const m = mountsAt(mnt)[0];
    t.equal(m?.source, "a,allow_other");
    t.notMatch(m?.superOptions ?? "", /allow_other/);
    t.equal(unmount(mnt, "-u").code, 0);
  });

  t.test("x- options are split off and never reach the kernel", async (t) => {
    const mnt = mkdirAs(u, `${base}/m6`);
    const r = mount(mnt, "x-gvfs-hide,ro,x-gdu.hide");
    t.equal(r.exitCode, 0, r.stderr);
    const m = mountsAt(mnt)[0];
    t.match(m?.mountOptions ?? "", /^ro,/);
    t.notMatch(m?.raw ?? "", /x-/);
    t.equal(unmount(mnt, "-u").code, 0);
  });

  t.test("bad mountpoints", async (t) => {
    const file = `${base}/afile`;
    writeFileSync(file, "x");
    chownSync(file, u.uid, u.gid);
    const rootDir = `${base}/rootdir`;
    mkdirSync(rootDir);
    const sticky = `${base}/sticky`;
    mkdirSync(sticky, { mode: 0o1777 });
    chmodSync(sticky, 0o1777);
    const stickyOther = `${sticky}/notmine`;
    mkdirSync(stickyOther);
    chmodSync(stickyOther, 0o1777);
    const link = `${base}/link`;
    symlinkSync(mkdirAs(u, `${base}/target`), link);
    const fifo = `${base}/fifo`;
    spawnSync("mkfifo", [fifo]);
    chownSync(fifo, u.uid, u.gid);
    const noSearch = mkdirAs(u, `${base}/nosearch`);
    mkdirAs(u, `${noSearch}/inner`);
    chmodSync(noSearch, 0o600);
    const cases: Array<[string, string]> = [
      [`${base}/missing`, `fusermount3: failed to access mountpoint ${base}/missing: No such file or directory\n`],
      [`${base}/missing/deeper`, `fusermount3: bad mount point ${base}/missing/deeper: No such file or directory\n`],
      ["", "fusermount3: invalid mountpoint ''\n"],
      [rootDir, `fusermount3: user has no write access to mountpoint ${rootDir}\n`],
      [stickyOther, `fusermount3: mountpoint ${stickyOther} not owned by user\n`],
      [link, `fusermount3: mountpoint ${link} is not a directory or a regular file\n`],
      [fifo, `fusermount3: mountpoint ${fifo} is not a directory or a regular file\n`],
      ["/proc/sys", "fusermount3: user has no write access to mountpoint /proc/sys\n"],
      [`${noSearch}/inner`, `fusermount3: failed to access mountpoint ${noSearch}/inner: Permission denied\n`],
      [`${noSearch}/inner/x`, `fusermount3: bad mount point ${noSearch}/inner/x: Permission denied\n`],
    ];
    for (const [mnt, stderr] of cases) {
      const r = mount(mnt);
      t.equal(r.exitCode, 1, `${mnt}`);
      t.equal(r.stderr, stderr, `${mnt} message`);
      t.notOk(r.gotFd);
    }
    t.equal(mountsAt(rootDir).length + mountsAt(stickyOther).length + mountsAt(`${base}/target`).length, 0);
    // A regular file the user owns is a valid mountpoint (rootmode 100000).
    const r = mount(file);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(mountsAt(file).length, 1);
    t.equal(unmount(file, "-u").code, 0);
  });

  t.test("comm fd validation happens before any mount", async (t) => {
    const mnt = mkdirAs(u, `${base}/m7`);
    const none = runAs(u, [OURS, mnt], { argv0: "fusermount3" });
    t.equal(none.stderr, "fusermount3: old style mounting not supported\n");
    t.equal(none.code, 1);
    const closed = runAs(u, [OURS, mnt], { argv0: "fusermount3", env: { _FUSE_COMMFD: "987" } });
    t.equal(closed.stderr, "fusermount3: fstat of comm fd 987 failed: Bad file descriptor\n");
    const notSock = runAs(u, [OURS, mnt], { argv0: "fusermount3", env: { _FUSE_COMMFD: "0" } }); // stdin is /dev/null
    t.equal(notSock.stderr, "fusermount3: file descriptor 0 is not a socket, can't send fuse fd\n");
    const byOption = runAs(u, [OURS, "--comm-fd", "3x", mnt], { argv0: "fusermount3" });
    t.equal(byOption.stderr, "fusermount3: invalid _FUSE_COMMFD: 3x\n");
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("SOCK_SEQPACKET comm socket and mountpoint before -o (go-fuse)", async (t) => {
    const mnt = mkdirAs(u, `${base}/m8`);
    const r = fakeMount(u, { helper: OURS, args: [mnt, "-o", "fsname=go,subtype=gofuse"], sock: "seqpacket" });
    t.equal(r.exitCode, 0, r.stderr);
    t.ok(r.gotFd);
    t.equal(mountsAt(mnt)[0]?.fsType, "fuse.gofuse");
    t.equal(unmount(mnt, "-u").code, 0);
  });

  t.test("user_allow_other in fuse.conf permits allow_other", async (t) => {
    const mnt = mkdirAs(u, `${base}/m9`);
    await withConf("user_allow_other\n", () => {
      const r = mount(mnt, "allow_other");
      t.equal(r.exitCode, 0, r.stderr);
      t.match(mountsAt(mnt)[0]?.superOptions ?? "", /allow_other/);
    });
    t.equal(unmount(mnt, "-u").code, 0);
  });

  t.test("fuse.conf messages", async (t) => {
    const mnt = mkdirAs(u, `${base}/m10`);
    await withConf("bogus\nmount_max = -5\nuser_allow_other = 1\n", () => {
      const r = mount(mnt);
      t.equal(r.exitCode, 0);
      t.equal(r.stderr,
        "fusermount3: unknown parameter in /etc/fuse.conf at line 1: 'bogus'\n" +
        "fusermount3: invalid mount_max = -5 in /etc/fuse.conf at line 2\n" +
        "fusermount3: unknown parameter in /etc/fuse.conf at line 3: 'user_allow_other = 1'\n");
    });
    t.equal(unmount(mnt, "-u").code, 0);
  });

  t.test("mount_max counts FUSE mounts", async (t) => {
    const count = () => spawnSync("sh", ["-c", "grep -c ' - fuse[. ]' /proc/self/mountinfo"], { encoding: "utf8" }).stdout.trim();
    const existing = Number(count()) || 0;
    const dirs = [0, 1, 2].map((i) => mkdirAs(u, `${base}/max${i}`));
    await withConf(`mount_max = ${existing + 2}\n`, () => {
      t.equal(mount(dirs[0]!).exitCode, 0);
      t.equal(mount(dirs[1]!).exitCode, 0);
      const third = mount(dirs[2]!);
      t.equal(third.exitCode, 1);
      t.equal(third.stderr, "fusermount3: too many FUSE filesystems mounted; mount_max=N can be set in /etc/fuse.conf\n");
      t.equal(mountsAt(dirs[2]!).length, 0);
    });
    await withConf("mount_max = 0\n", () => {
      t.equal(mount(dirs[2]!).exitCode, 1, "mount_max = 0 forbids user mounts");
    });
    for (const d of dirs.slice(0, 2)) t.equal(unmount(d, "-u").code, 0);
  });

  t.test("mount_max is exact when many mounts race (classic and sync-init)", async (t) => {
    const count = () => Number(spawnSync("sh", ["-c", "grep -c ' - fuse[. ]' /proc/self/mountinfo"], { encoding: "utf8" }).stdout.trim()) || 0;
    // Exactness under concurrency. (The helpers' start-up staggers them, so this
    // rarely reaches the window the mount lock closes; the lock is described in
    // the README.)
    const allowed = 6;
    const dirs = Array.from({ length: 24 }, (_, i) => mkdirAs(u, `${base}/race${i}`));
    await withConf(`mount_max = ${count() + allowed}\n`, async () => {
      const runs = dirs.map((d, i) => new Promise<number>((resolve) => {
        const args = i % 2 ? ["--sync-init", "-o", "", "--", d] : ["--", d];
        const spec = i % 2 ? { helper: OURS, args, init: "answer" } : { helper: OURS, args };
        const tool = i % 2 ? FAKE_CLIENT.replace(/fakeclient$/, "syncpeer") : FAKE_CLIENT;
        const [file, ...args2] = ours([tool, JSON.stringify(spec)]);
        const child = spawn(file!, args2, { env: {}, uid: u.uid, gid: u.gid, stdio: ["ignore", "pipe", "ignore"] });
        child.on("exit", () => resolve(i));
      }));
      await Promise.all(runs);
    });
    const mounted = dirs.filter((d) => mountsAt(d).length > 0);
    t.equal(mounted.length, allowed, `exactly mount_max mounts (${mounted.length})`);
    for (const d of mounted) t.equal(unmount(d, "-u").code, 0);
  });

  t.test("auto_unmount: killing the server with SIGKILL unmounts", async (t) => {
    const mnt = mkdirAs(u, `${base}/auto`);
    const { report, client } = await fakeMountHold(u, { helper: OURS, argv0: "fusermount3", args: ["-o", "auto_unmount,subtype=auto", "--", mnt] });
    t.teardown(() => killTree(client.pid));
    t.ok(report.gotFd);
    t.equal(mountsAt(mnt).length, 1, "mounted");
    if (SERVICE_MODE) t.comment(`service-mode difference watch-in-the-service: ${serviceDifference("watch-in-the-service").what}`);
    else t.ok(helperPids().length >= 1, "watchdog is running");
    client.kill("SIGKILL");
    t.ok(await waitFor(() => mountsAt(mnt).length === 0, 10000), "unmounted after the server died");
    t.ok(await waitFor(() => helperPids().length === 0, 10000), "watchdog exited");
  });

  t.test("auto_unmount leaves a live filesystem alone and a replaced mount alone", async (t) => {
    const mnt = mkdirAs(u, `${base}/auto2`);
    const { client } = await fakeMountHold(u, { helper: OURS, args: ["-o", "auto_unmount", "--", mnt] });
    t.teardown(() => killTree(client.pid));
    // The user unmounts by hand and mounts something else there; when the first
    // server dies, the watchdog must not touch the new mount.
    t.equal(unmount(mnt, "-u", "-z").code, 0);
    const second = mount(mnt, "subtype=second");
    t.equal(second.exitCode, 0);
    client.kill("SIGKILL");
    await waitFor(() => helperPids().length === 0, 10000);
    t.equal(mountsAt(mnt)[0]?.fsType, "fuse.second", "the other mount is still there");
    t.equal(unmount(mnt, "-u").code, 0);
  });

  t.test("the watchdog keeps nothing it inherited open but the comm socket", async (t) => {
    const mnt = mkdirAs(u, `${base}/auto4`);
    const { report, client } = await fakeMountHold(u, { helper: OURS, args: ["-o", "auto_unmount", "--", mnt], extraPipe: true });
    t.teardown(() => killTree(client.pid));
    t.ok(report.gotFd);
    t.equal(report.extraPipeEof, true, "an inherited pipe is closed");
    t.equal(report.stdoutEof, true, "stdout now points to /dev/null");
    t.equal(mountsAt(mnt).length, 1);
    client.kill("SIGKILL");
    t.ok(await waitFor(() => mountsAt(mnt).length === 0, 10000), "and it still unmounts");
  });

  t.test("--auto-unmount watchdog only: refused for users, kept for root", async (t) => {
    const mnt = mkdirAs(u, `${base}/auto3`);
    const r = mount(mnt);
    t.equal(r.exitCode, 0);
    // A user's mount-less watchdog would only be a root process that waits as
    // long and as often as they like (review finding 10).
    const refused = fakeMount(u, { helper: OURS, args: ["--auto-unmount", "--", mnt] });
    t.equal(refused.exitCode, 1);
    t.match(refused.stderr, /^\S*fusermount3: --auto-unmount without mounting is only for root \(libfuse uses it after mounting directly\)\n$/);
    t.equal(mountsAt(mnt).length, 1, "the mount is untouched");
    t.equal(runAs(u, [OURS, "-u", mnt]).code, 0);
    // Root (a library that mounted directly) still gets its watchdog, which
    // unmounts root's dead filesystem once the socket closes.
    t.equal(fakeMount(null, { helper: OURS, args: ["--", mnt] }).gotFd, true, "root mounts");
    const { client } = await fakeMountHold(null, { helper: OURS, args: ["--auto-unmount", "--", mnt], timeoutMs: 300 });
    t.teardown(() => killTree(client.pid));
    t.equal(mountsAt(mnt).length, 1);
    client.kill("SIGKILL");
    t.ok(await waitFor(() => mountsAt(mnt).length === 0, 10000), "dead filesystem unmounted");
  });
});
