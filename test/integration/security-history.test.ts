// Every historical fusermount attack (docs: security.md §3–4) replayed against
// the installed set-uid helper by the unprivileged test users. Complements
// mount.test.ts (plain refusals, allow_other, dev/suid, fsname comma, mount_max,
// sticky dirs), launcher.test.ts (runtime environment vectors) and mtab.test.ts
// (recorder argv/env/cwd of /bin/mount and /bin/umount).
import t, { type Test } from "tap";
import { writeFileSync, mkdirSync, chmodSync, rmSync, existsSync, readFileSync, lstatSync, renameSync } from "node:fs";
import { spawn, spawnSync } from "node:child_process";
import {
  integration, OURS, PREFIX, FAKE_CLIENT, user, scratch, mkdirAs, runAs, runAsAsync, fakeMount,
  mountsAt, fuseMountsUnder, cleanupDir, killTree, waitFor, inNamespace, rootScratch, crashMarkers,
  rootOwnedUnder, ensureUser, removeUser, type User, SERVICE_MODE,
} from "../lib/harness.ts";
import { serviceDifference } from "./differences.ts";

const EXCHANGE = `${PREFIX}/tools/exchange`;
const SYNC_PEER = `${PREFIX}/tools/syncpeer`;
const HELLO = `${PREFIX}/tools/hello`;

// What the kernel does to a mount point in /proc/self/mountinfo.
const kernelEscape = (p: string) => p.replace(/[ \t\n\\]/g, (ch) => `\\${ch.charCodeAt(0).toString(8).padStart(3, "0")}`);
const libmountUnescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

// /run/mount/utab: one line per entry, space-separated KEY=value fields with
// libmount's octal escapes.
function parseUtab(text: string): Array<Record<string, string>> {
  return text.split("\n").filter((l) => l !== "").map((line) => {
    const e: Record<string, string> = {};
    for (const field of line.split(" ")) {
      const i = field.indexOf("=");
      if (i > 0) e[field.slice(0, i)] = libmountUnescape(field.slice(i + 1));
    }
    return e;
  });
}

const mountinfoLineCount = () => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l !== "").length;
// FUSE mounts whose kernel (super) options carry allow_other or allow_root.
const allowOtherAnywhere = () => readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => {
  const after = (l.split(" - ")[1] ?? "").split(" ");
  return after[0]?.startsWith("fuse") === true && /(^|,)allow_(other|root)(,|$)/.test(after[2] ?? "");
});

integration("security history tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  const rootDir = rootScratch();
  t.teardown(() => { cleanupDir(base); cleanupDir(rootDir); });

  const spec = (mnt: string, opts?: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ helper: OURS, argv0: "fusermount3", args: [...(opts !== undefined ? ["-o", opts] : []), "--", mnt], ...extra });
  const mount = (who: User, mnt: string, opts?: string) =>
    fakeMount(who, { helper: OURS, argv0: "fusermount3", args: [...(opts !== undefined ? ["-o", opts] : []), "--", mnt] });
  const unmount = (who: User, mnt: string, ...flags: string[]) => runAs(who, [OURS, ...flags, mnt], { argv0: "fusermount3" });
  const noCrash = (tt: Test, stderr: string | undefined, what: string) =>
    tt.same(crashMarkers(stderr ?? ""), [], `${what}: no crash or stack trace in stderr`);

  const withConf = async (text: string, body: () => Promise<void> | void) => {
    const f = `${rootDir}/fuse.conf.${Math.random().toString(36).slice(2)}`;
    writeFileSync(f, text);
    chmodSync(f, 0o644);
    if (spawnSync("mount", ["--bind", f, "/etc/fuse.conf"]).status !== 0) throw new Error("cannot bind a test fuse.conf");
    try { await body(); } finally { spawnSync("umount", ["/etc/fuse.conf"]); rmSync(f); }
  };

  // A root-owned victim: a tmpfs mounted in a root-owned directory.
  const victimParent = `${rootDir}/victim`;
  const victim = `${victimParent}/m`;
  mkdirSync(victim, { recursive: true });
  chmodSync(victimParent, 0o755);
  spawnSync("mount", ["-t", "tmpfs", "-o", "mode=0755,size=1m", "fm-victim", victim]);
  t.teardown(() => { spawnSync("umount", ["-l", victim]); });
  const victimIntact = () => {
    const m = mountsAt(victim);
    return m.length === 1 && m[0]!.fsType === "tmpfs" && m[0]!.source === "fm-victim";
  };

  t.test("CVE-2005-3531: names with newline, tab, backslash, space, # and , give one escaped entry; -u removes it", async (t) => {
    t.ok(victimIntact(), "victim mounted (fixture)");
    const names = ["nl\nname", "tab\tname", "back\\slash", "sp ace", "hash#name", "com,ma", "mix \t\n\\#,all", "-dash",
      // The 2005 exploit: a name that forges a whole mtab line claiming /etc.
      `forge\n/ /etc fuse rw,user=${u.name},user_id=${u.uid} 0 0\n`];
    const root = mkdirAs(u, `${base}/inj`);
    for (const name of names) {
      const mnt = `${root}/${name}`;
      mkdirAs(u, mnt);
      const before = mountinfoLineCount();
      const r = mount(u, mnt, "fsname=inj,subtype=inj");
      t.equal(r.exitCode, 0, `${JSON.stringify(name)}: mounted (${r.stderr})`);
      t.equal(mountinfoLineCount(), before + 1, `${JSON.stringify(name)}: exactly one new mountinfo line`);
      const m = mountsAt(mnt);
      t.equal(m.length, 1, `${JSON.stringify(name)}: one entry at the path`);
      t.equal(m[0]?.raw.split(" ")[4], kernelEscape(mnt), `${JSON.stringify(name)}: escaped by the kernel`);
      t.equal(m[0]?.fsType, "fuse.inj");
      t.equal(mountsAt("/etc").filter((e) => e.fsType.startsWith("fuse")).length, 0, "no FUSE entry for /etc");
      const un = unmount(u, mnt, "-u");
      t.equal(un.code, 0, `${JSON.stringify(name)}: -u works (${un.stderr})`);
      t.equal(mountsAt(mnt).length, 0, `${JSON.stringify(name)}: gone`);
    }
    t.same(rootOwnedUnder(base), []);
  });

  t.test("CVE-2005-3531 with /run/mount/utab and the real /bin/mount: one utab entry with the right TARGET", async (t) => {
    const names = ["nl\nname", "tab\tname", "back\\slash", "sp ace", "hash#name", "com,ma", `forge\n/ /etc fuse rw,user=${u.name} 0 0\n`];
    const root = mkdirAs(u, `${base}/utab`);
    const out = `${rootDir}/utab-out`;
    mkdirSync(out);
    const env: Record<string, string> = { N: String(names.length), FAKE: FAKE_CLIENT, OURS, OUT: out };
    names.forEach((name, i) => {
      const mnt = mkdirAs(u, `${root}/${name}`);
      env[`MNT_${i}`] = mnt;
      env[`SPEC_${i}`] = spec(mnt, "fsname=inj,x-inj");
    });
    const r = inNamespace(`
      mkdir -p /run/mount; mount -t tmpfs tmpfs /run/mount; touch /run/mount/utab
      as() { runuser -u ${u.name} -- env -i PATH=/usr/bin:/bin "$@"; }
      for ((i = 0; i < N; i++)); do
        m=MNT_$i; s=SPEC_$i
        as "$FAKE" "\${!s}" > "$OUT/client.$i"
        cp /run/mount/utab "$OUT/utab.$i"
        rc=0; as "$OURS" -u "\${!m}" 2> "$OUT/uerr.$i" || rc=$?
        echo $rc > "$OUT/urc.$i"
        cp /run/mount/utab "$OUT/utab-after.$i"
        umount -l "\${!m}" 2>/dev/null && echo "left mounted: $i" || true
      done`, env);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, "", "nothing was left mounted");
    names.forEach((name, i) => {
      const what = JSON.stringify(name);
      const client = JSON.parse(readFileSync(`${out}/client.${i}`, "utf8").trim()) as { exitCode: number; stderr: string };
      t.equal(client.exitCode, 0, `${what}: mounted (${client.stderr})`);
      const entries = parseUtab(readFileSync(`${out}/utab.${i}`, "utf8"));
      t.equal(entries.length, 1, `${what}: utab parses to exactly one entry`);
      t.equal(entries[0]?.TARGET, env[`MNT_${i}`], `${what}: TARGET is the mountpoint`);
      t.equal(entries[0]?.SRC, "inj");
      t.equal(entries[0]?.OPTS, `user=${u.name},x-inj`);
      t.equal(readFileSync(`${out}/urc.${i}`, "utf8").trim(), "0", `${what}: -u works: ${readFileSync(`${out}/uerr.${i}`, "utf8")}`);
      t.same(parseUtab(readFileSync(`${out}/utab-after.${i}`, "utf8")), [], `${what}: the utab entry is removed`);
    });
  });

  t.test("CVE-2010-0789: parallel -u of one mount: exactly one succeeds", async (t) => {
    const mnt = mkdirAs(u, `${base}/parallel`);
    for (let round = 0; round < 4; round++) {
      t.equal(mount(u, mnt).exitCode, 0);
      const runs = await Promise.all(Array.from({ length: 6 }, () => runAsAsync(u, [OURS, "-u", mnt], { argv0: "fusermount3" })));
      t.equal(runs.filter((r) => r.code === 0).length, 1, `round ${round}: exactly one -u succeeded`);
      for (const r of runs.filter((x) => x.code !== 0)) {
        t.equal(r.code, 1);
        t.match(r.stderr, /^fusermount3: (entry for .* not found in \/etc\/mtab|failed to unmount .*)\n$/);
      }
      t.equal(mountsAt(mnt).length, 0, `round ${round}: unmounted once, nothing else touched`);
    }
    t.ok(victimIntact());
  });

  t.test("CVE-2010-0789: a symlink to a root-owned victim mount as the -u argument fails, the victim stays", async (t) => {
    const dir = mkdirAs(u, `${base}/links`);
    spawnSync("ln", ["-s", victim, `${dir}/to-mount`], { uid: u.uid, gid: u.gid });
    spawnSync("ln", ["-s", victimParent, `${dir}/to-parent`], { uid: u.uid, gid: u.gid });
    t.ok(lstatSync(`${dir}/to-mount`).isSymbolicLink());
    for (const args of [["-u", `${dir}/to-mount`], ["-u", "-z", `${dir}/to-mount`], ["-u", `${dir}/to-mount/`],
      ["-u", `${dir}/to-parent/m`], ["-u", "-z", "-q", `${dir}/to-parent/m`], ["-u", victim]]) {
      const r = runAs(u, [OURS, ...args], { argv0: "fusermount3" });
      t.equal(r.code, 1, `${args.join(" ")}: refused`);
      noCrash(t, r.stderr, args.join(" "));
      t.ok(victimIntact(), `${args.join(" ")}: victim still mounted`);
    }
  });

  // The unmount race: `fusermount3 -u` runs again and again on the user's own
  // mount while a component of the path flips between the real directory and a
  // symlink towards the victim. Bounded by count and time.
  const race = async (t: Test, layout: { a: string; b: string; mnt: string; watch: string; lastComponent: boolean }) => {
    const stopFile = `${rootDir}/stop-${Math.random().toString(36).slice(2)}`;
    const swapper = spawn(EXCHANGE, [JSON.stringify({ a: layout.a, b: layout.b, maxIterations: 50_000_000, maxMs: 9000, stopFile })], {
      env: {}, uid: u.uid, gid: u.gid, stdio: ["ignore", "pipe", "pipe"],
    });
    t.teardown(() => killTree(swapper.pid));
    let swapOut = "";
    swapper.stdout!.on("data", (d: Buffer) => { swapOut += d.toString(); });
    const swapperDone = new Promise<void>((r) => swapper.on("close", () => r()));
    const started = Date.now();
    let iterations = 0;
    let unmounted = 0;
    let mounted = 0;
    let victimLost = false;
    let covered = false;
    const elsewhere = new Set<string>();
    const messages = new Set<string>();
    for (; iterations < 400 && Date.now() - started < 7000; iterations++) {
      // When the swapped name is the mountpoint itself, a mount made while
      // it flipped sits on the checked directory under its other name and
      // blocks further swaps (a mountpoint cannot be renamed, so that path is
      // stable and safe to unmount by name here): remove it and go on.
      if (layout.lastComponent) {
        const under = fuseMountsUnder(layout.watch);
        if (under.length > 0 && !under.includes(layout.mnt)) {
          for (const p of under) { elsewhere.add(p); spawnSync("umount", ["-l", p]); }
        }
      }
      if (fuseMountsUnder(layout.watch).length === 0) {
        const m = runAs(u, [FAKE_CLIENT, spec(layout.mnt)], { env: { PATH: "/usr/bin:/bin" } });
        if (/"exitCode":0/.test(m.stdout)) mounted++;
        if (crashMarkers(m.stdout).length) t.fail(`crash during a mount in the race: ${m.stdout}`);
        if (layout.lastComponent) for (const p of fuseMountsUnder(layout.watch)) if (p !== layout.mnt) elsewhere.add(p);
      }
      const r = runAs(u, [OURS, "-u", layout.mnt], { argv0: "fusermount3" });
      if (r.code === 0) unmounted++;
      else messages.add(r.stderr.split(base).join("<base>").split(rootDir).join("<root>").trim());
      if (crashMarkers(r.stderr).length) t.fail(`crash during the race: ${r.stderr}`);
      if (!victimIntact()) { victimLost = true; break; }
      if (fuseMountsUnder(victimParent).length > 0) { covered = true; break; }
    }
    writeFileSync(stopFile, "");
    await swapperDone;
    rmSync(stopFile, { force: true });
    const report = JSON.parse(swapOut.trim() || "{}") as { iterations?: number; swaps?: number; errors?: Record<string, number>; restored?: boolean };
    t.notOk(victimLost, "the victim was never unmounted");
    t.notOk(covered, "nothing was ever mounted over the victim");
    t.ok(victimIntact(), "victim intact at the end");
    t.ok((report.swaps ?? 0) > 0, `the names were swapped (${JSON.stringify(report)})`);
    t.ok(unmounted > 0, `some -u of the user's own mount succeeded in the race (${iterations} runs, ${unmounted} unmounts, ${mounted} mounts)`);
    t.comment(`refusals seen: ${[...messages].join(" | ")}`);
    // A mount made while the last component flipped lands on the directory
    // that was checked, which may by then carry the other name (the user's
    // own directory; informational).
    if (elsewhere.size) t.comment(`mounts that ended up under another name of the user's directory: ${[...elsewhere].join(", ")}`);
    // Put the names back for the cleanup if a mount kept the swapper from it
    // (the swapper has stopped: the paths are stable now).
    for (const p of fuseMountsUnder(layout.watch)) spawnSync("umount", ["-l", p]);
    if (!report.restored && lstatSync(layout.a).isSymbolicLink()) {
      renameSync(layout.a, `${layout.a}.tmp`);
      renameSync(layout.b, layout.a);
      renameSync(`${layout.a}.tmp`, layout.b);
    }
  };

  t.test("CVE-2010-0789/CVE-2010-3879: RENAME_EXCHANGE of the mountpoint's parent with a symlink to the victim's parent", async (t) => {
    const top = mkdirAs(u, `${base}/race1`);
    const d = mkdirAs(u, `${top}/d`);
    mkdirAs(u, `${d}/m`);
    spawnSync("ln", ["-s", victimParent, `${top}/s`], { uid: u.uid, gid: u.gid });
    await race(t, { a: d, b: `${top}/s`, mnt: `${d}/m`, watch: top, lastComponent: false });
    t.ok(lstatSync(d).isDirectory(), "the real directory is back at its name");
  });

  t.test("CVE-2010-0789: RENAME_EXCHANGE of the mountpoint itself with a symlink to the victim", async (t) => {
    const d = mkdirAs(u, `${base}/race2`);
    mkdirAs(u, `${d}/m`);
    spawnSync("ln", ["-s", victim, `${d}/l`], { uid: u.uid, gid: u.gid });
    await race(t, { a: `${d}/m`, b: `${d}/l`, mnt: `${d}/m`, watch: d, lastComponent: true });
  });

  // A recorder bound over /bin/mount and /bin/umount (root-owned, outside the
  // user's tree) that logs every call's cwd, then runs the real binary.
  const recorderScript = (log: string, real: string) => `#!/bin/bash
printf 'CALL %s CWD %s\\n' "$(basename "$0")" "$(pwd)" >> ${log}
exec ${real} "$@"
`;
  const withRecorder = (name: string) => {
    const dir = `${rootDir}/${name}`;
    mkdirSync(dir);
    for (const c of ["mount", "umount"]) {
      writeFileSync(`${dir}/${c}`, recorderScript(`${dir}/log`, `${dir}/real-${c}`));
      chmodSync(`${dir}/${c}`, 0o755);
    }
    writeFileSync(`${dir}/log`, "");
    return {
      dir,
      setup: `
        cp /bin/mount ${dir}/real-mount; cp /bin/umount ${dir}/real-umount
        mkdir -p /run/mount; mount -t tmpfs tmpfs /run/mount; touch /run/mount/utab
        mount --bind ${dir}/umount /bin/umount; mount --bind ${dir}/mount /bin/mount
        as() { runuser -u ${u.name} -- env -i PATH=/usr/bin:/bin "$@"; }`,
      calls: () => readFileSync(`${dir}/log`, "utf8").split("\n").filter((l) => l !== ""),
    };
  };

  t.test("CVE-2011-0542: run from a cwd inside the user's own live FUSE mount: works, children run in /", { skip: !existsSync(HELLO) && "hello tool missing" }, async (t) => {
    const live = mkdirAs(u, `${base}/live`);
    const m2 = mkdirAs(u, `${base}/m2`);
    const rec = withRecorder("rec-live");
    const mountSpec = JSON.stringify({ helper: "/bin/bash", args: ["-c", 'cd "$1" && exec -a fusermount3 "$2" -o x-cwd -- ../m2', "bash", live, OURS] });
    const r = inNamespace(`${rec.setup}
      setpriv --reuid=${u.uid} --regid=${u.gid} --init-groups -- env -i ${HELLO} ${live} --helper ${OURS} > ${rec.dir}/hello.out 2>&1 &
      hello=$!
      for i in $(seq 100); do grep -q " ${live} " /proc/self/mountinfo && break; sleep 0.1; done
      as /bin/bash -c 'cd "$1" && cat hello' bash ${live} > ${rec.dir}/read.out
      as ${FAKE_CLIENT} '${mountSpec}' > ${rec.dir}/mount.json
      rc=0; as /bin/bash -c 'cd "$1" && exec -a fusermount3 "$2" -u ../m2' bash ${live} ${OURS} 2> ${rec.dir}/u.err || rc=$?
      echo $rc > ${rec.dir}/u.rc
      as ${OURS} -u ${live} || true
      for i in $(seq 100); do kill -0 $hello 2>/dev/null || break; sleep 0.1; done
      kill -9 $hello 2>/dev/null || true
      ${rec.dir}/real-umount -l ${m2} 2>/dev/null && echo "m2 left mounted" || true
      ${rec.dir}/real-umount -l ${live} 2>/dev/null && echo "live left mounted" || true`);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, "");
    t.equal(readFileSync(`${rec.dir}/read.out`, "utf8"), "Hello, world!\n", "the cwd is on a live FUSE filesystem");
    const client = JSON.parse(readFileSync(`${rec.dir}/mount.json`, "utf8").trim()) as { exitCode: number; stderr: string };
    t.equal(client.exitCode, 0, `relative mountpoint from inside the FUSE mount: ${client.stderr}`);
    noCrash(t, client.stderr, "mount");
    t.equal(readFileSync(`${rec.dir}/u.rc`, "utf8").trim(), "0", `-u from inside the FUSE mount: ${readFileSync(`${rec.dir}/u.err`, "utf8")}`);
    const calls = rec.calls();
    t.ok(calls.filter((l) => l.startsWith("CALL mount")).length >= 2, `the table was updated: ${calls.join("; ")}`);
    t.ok(calls.some((l) => l.startsWith("CALL umount")), "and cleaned");
    for (const l of calls) t.match(l, / CWD \/$/, `child ran in /: ${l}`);
    t.same(rootOwnedUnder(base), []);
  });

  t.test("CVE-2011-0542: run from a deleted cwd: works, children run in /", async (t) => {
    const m3 = mkdirAs(u, `${base}/m3`);
    const gone = `${base}/gone`;
    const rec = withRecorder("rec-gone");
    const inGone = 'mkdir "$1" && cd "$1" && rmdir "$1" && shift && exec -a fusermount3 "$@"';
    const mountSpec = JSON.stringify({ helper: "/bin/bash", args: ["-c", inGone, "bash", gone, OURS, "-o", "x-gone", "--", m3] });
    const r = inNamespace(`${rec.setup}
      as ${FAKE_CLIENT} '${mountSpec}' > ${rec.dir}/mount.json
      rc=0; as /bin/bash -c '${inGone}' bash ${gone} ${OURS} -u ${m3} 2> ${rec.dir}/u.err || rc=$?
      echo $rc > ${rec.dir}/u.rc
      ${rec.dir}/real-umount -l ${m3} 2>/dev/null && echo "m3 left mounted" || true`);
    t.equal(r.code, 0, r.stderr);
    const client = JSON.parse(readFileSync(`${rec.dir}/mount.json`, "utf8").trim()) as { exitCode: number; stderr: string };
    t.equal(client.exitCode, 0, `mount from a deleted cwd: ${client.stderr}`);
    t.equal(client.stderr, "");
    t.equal(readFileSync(`${rec.dir}/u.rc`, "utf8").trim(), "0", `-u from a deleted cwd: ${readFileSync(`${rec.dir}/u.err`, "utf8")}`);
    t.equal(r.stdout, "", "nothing left mounted");
    for (const l of rec.calls()) t.match(l, / CWD \/$/, `child ran in /: ${l}`);
    t.notOk(existsSync(gone));
  });

  t.test("CVE-2018-10906: escaped commas never smuggle allow_other (classic and sync-init)", async (t) => {
    const mnt = mkdirAs(u, `${base}/comma`);
    const refused = ["context=x\\,allow_other", "default_permissions\\,allow_other", "foo=\\,allow_other",
      "fsname=x,context=x\\,allow_other", "\\,allow_other", "allow_other\\,", "max_read=4096\\,allow_other",
      "subtype=s,foo=\\,allow_root"];
    // Escapes are honoured inside fsname= (and subtype=): the comma stays in
    // the value. A refusal of the subtype one would be acceptable too.
    const accepted: Array<[string, boolean, (m: ReturnType<typeof mountsAt>[number]) => void]> = [
      ["subtype=a\\,allow_other", false, (m) => t.equal(m.fsType, "fuse.a,allow_other")],
      ["fsname=b\\,allow_other,subtype=c", true, (m) => t.equal(m.source, "b,allow_other")],
    ];
    await withConf("# no user_allow_other\n", async () => {
      for (const opts of refused) {
        const r = mount(u, mnt, opts);
        t.equal(r.exitCode, 1, `classic -o ${opts}: refused`);
        t.notOk(r.gotFd);
        t.equal(mountsAt(mnt).length, 0);
        if (existsSync(SYNC_PEER)) {
          const s = runAs(u, [SYNC_PEER, JSON.stringify({ helper: OURS, args: ["--sync-init", "-o", opts, "--", mnt] })]);
          t.match(s.stdout, /"gotFd":false/, `sync-init -o ${opts}: nothing sent`);
          t.match(s.stdout, /"exitCode":1/);
          t.equal(mountsAt(mnt).length, 0);
        }
        t.same(allowOtherAnywhere(), [], "no mount shows allow_other");
      }
      for (const [opts, mustMount, check] of accepted) {
        const r = mount(u, mnt, opts);
        if (!mustMount && r.exitCode !== 0) {
          t.equal(r.exitCode, 1, `-o ${opts}: refused (${r.stderr})`);
          t.equal(mountsAt(mnt).length, 0);
          continue;
        }
        t.equal(r.exitCode, 0, `-o ${opts}: ${r.stderr}`);
        const m = mountsAt(mnt)[0];
        if (m) check(m);
        t.notMatch(m?.superOptions ?? "", /allow_(other|root)/, `-o ${opts}: kernel options have no allow_other`);
        t.same(allowOtherAnywhere(), []);
        t.equal(unmount(u, mnt, "-u").code, 0);
        if (existsSync(SYNC_PEER)) {
          const s = runAs(u, [SYNC_PEER, JSON.stringify({ helper: OURS, args: ["--sync-init", "-o", opts, "--", mnt] })]);
          t.match(s.stdout, /"status":0/, `sync-init -o ${opts}`);
          t.notMatch(mountsAt(mnt)[0]?.superOptions ?? "", /allow_(other|root)/);
          t.same(allowOtherAnywhere(), []);
          t.equal(unmount(u, mnt, "-u").code, 0);
        }
      }
    });
  });

  t.test("option strings starting with '-' are refused as options, never run as commands", async (t) => {
    const mnt = mkdirAs(u, `${base}/dash`);
    for (const opts of ["--version", "-V", "--help", "-oallow_other", "-", "--", "--auto-unmount", "-q"]) {
      const r = mount(u, mnt, opts);
      t.equal(r.exitCode, 1, `-o ${opts}`);
      t.equal(r.stderr, `fusermount3: unknown option '${opts}'\n`, `-o ${opts}: message`);
      t.equal(r.stdout, "", `-o ${opts}: no version or help printed`);
      t.notOk(r.gotFd);
      t.equal(mountsAt(mnt).length, 0);
    }
  });

  t.test("an empty -o mounts; the longest possible -o is refused cleanly; 1 MiB of -o: only the last counts", async (t) => {
    const mnt = mkdirAs(u, `${base}/opts`);
    const empty = mount(u, mnt, "");
    t.equal(empty.exitCode, 0, empty.stderr);
    t.equal(empty.stderr, "");
    t.equal(mountsAt(mnt)[0]?.superOptions, `rw,user_id=${u.uid},group_id=${u.gid}`);
    t.equal(unmount(u, mnt, "-u").code, 0);
    // One argument holds at most 128 KiB (execve refuses a longer one with
    // E2BIG before anything runs), so the largest -o is just under that.
    const script = `${rootDir}/big-o.sh`;
    writeFileSync(script, `opt=$(printf 'default_permissions,%.0s' {1..6500}); opt=\${opt:0:131000}
exec -a fusermount3 ${OURS} -o "\${opt%,*}" -- "$1"
`);
    chmodSync(script, 0o755);
    const started = Date.now();
    const r = fakeMount(u, { helper: "/bin/bash", args: [script, mnt] }, { nnp: true });
    t.ok(Date.now() - started < 10000, "answered promptly");
    t.equal(r.exitCode, 1);
    t.notOk(r.gotFd);
    // Through the service a request is one message of at most 64 KiB.
    const tooLong = "fusermount3: arguments too long for the service\n";
    if (SERVICE_MODE) t.comment(`service-mode difference request-size-limit: ${serviceDifference("request-size-limit").what}`);
    t.equal(r.stderr, SERVICE_MODE ? tooLong : "fusermount3: mount options too long\nfusermount3: mount options too long\nfusermount3: mount failed: Invalid argument\n");
    noCrash(t, r.stderr, "128 KiB -o");
    t.equal(mountsAt(mnt).length, 0);
    // 1 MiB spread over nine -o arguments full of forbidden options, then a
    // last harmless one: as in libfuse only the last -o is used, so nothing
    // of the earlier ones (allow_other, dev, suid, blkdev) may show up.
    const spread = `${rootDir}/spread-o.sh`;
    writeFileSync(spread, `opt=$(printf 'allow_other,dev,suid,blkdev,allow_root,%.0s' {1..2900})
args=(); for i in 1 2 3 4 5 6 7 8 9; do args+=(-o "$opt"); done
exec -a fusermount3 ${OURS} "\${args[@]}" -o ro,subtype=last -- "$1"
`);
    chmodSync(spread, 0o755);
    await withConf("# no user_allow_other\n", () => {
      const s = fakeMount(u, { helper: "/bin/bash", args: [spread, mnt] }, { nnp: true });
      if (SERVICE_MODE) {
        t.equal(s.exitCode, 1);
        t.equal(s.stderr, tooLong);
        t.equal(mountsAt(mnt).length, 0);
        return;
      }
      t.equal(s.exitCode, 0, s.stderr);
      t.equal(s.stderr, "");
      const m = mountsAt(mnt)[0];
      t.equal(m?.fsType, "fuse.last");
      t.match(m?.mountOptions ?? "", /^ro,nosuid,nodev/);
      t.equal(m?.superOptions, `ro,user_id=${u.uid},group_id=${u.gid}`);
    });
    if (!SERVICE_MODE) t.equal(unmount(u, mnt, "-u").code, 0);
  });

  t.test("mount_max: negative and huge values in fuse.conf (spec §7)", async (t) => {
    const mnt = mkdirAs(u, `${base}/max`);
    const cases: Array<[string, string]> = [
      ["-1", ""],
      ["-2", "fusermount3: invalid mount_max = -2 in /etc/fuse.conf at line 1\n"],
      ["-1000", "fusermount3: invalid mount_max = -1000 in /etc/fuse.conf at line 1\n"],
      ["2147483647", ""],
      ["0x7fffffff", ""],
      ["99999999999", ""],
    ];
    for (const [value, stderr] of cases) {
      await withConf(`mount_max = ${value}\n`, () => {
        const r = mount(u, mnt);
        t.equal(r.exitCode, 0, `mount_max = ${value}: mounts (${r.stderr})`);
        t.equal(r.stderr, stderr, `mount_max = ${value}: message`);
        t.equal(mountsAt(mnt).length, 1);
      });
      t.equal(unmount(u, mnt, "-u").code, 0);
    }
    // 0 still forbids, so the values above really were read.
    await withConf("mount_max = 0\n", () => {
      t.equal(mount(u, mnt).exitCode, 1, "mount_max = 0 forbids");
    });
  });

  t.test("uid prefix (util-linux CVE-2021-3995 analogue): user_id=<uid> is matched exactly", async (t) => {
    // Two uids where one is a decimal prefix of the other (e.g. 3100 and
    // 31000): reuse the users if an earlier run left them, else create them.
    const idOf = (name: string) => { const r = spawnSync("id", ["-u", name], { encoding: "utf8" }); return r.status === 0 ? Number(r.stdout.trim()) : undefined; };
    const free = (n: number) => spawnSync("getent", ["passwd", String(n)]).status !== 0 && spawnSync("getent", ["group", String(n)]).status !== 0;
    let short = idOf("fmtest100");
    if (short === undefined) for (let c = 3100; c < 6000 && short === undefined; c++) if (free(c) && free(c * 10)) short = c;
    if (short === undefined) { t.fail("no free uid pair"); return; }
    const a = ensureUser("fmtest100", short);
    const b = ensureUser("fmtest1000", idOf("fmtest1000") ?? short * 10);
    t.teardown(() => { if (a.created) removeUser("fmtest100"); if (b.created) removeUser("fmtest1000"); });
    t.ok(String(b.user.uid).startsWith(String(a.user.uid)) && b.user.uid !== a.user.uid, `uids ${a.user.uid} / ${b.user.uid}`);
    for (const [owner, other] of [[b.user, a.user], [a.user, b.user]] as const) {
      const dir = scratch(owner);
      t.teardown(() => cleanupDir(dir));
      const mnt = mkdirAs(owner, `${dir}/m`);
      t.equal(mount(owner, mnt).exitCode, 0);
      t.match(mountsAt(mnt)[0]?.superOptions ?? "", new RegExp(`user_id=${owner.uid},`));
      const steal = unmount(other, mnt, "-u");
      t.equal(steal.code, 1, `uid ${other.uid} cannot unmount uid ${owner.uid}'s mount`);
      t.equal(steal.stderr, `fusermount3: entry for ${mnt} not found in /etc/mtab\n`);
      t.equal(unmount(other, mnt, "-u", "-z").code, 1);
      t.equal(mountsAt(mnt).length, 1, "still mounted");
      t.equal(unmount(owner, mnt, "-u").code, 0, "the owner can");
    }
  });

  const h = `${rootDir}/hugetlbfs`;
  mkdirSync(h);
  const hm = spawnSync("mount", ["-t", "hugetlbfs", "-o", `uid=${u.uid},gid=${u.gid},mode=0755`, "fm-hugetlbfs", h], { encoding: "utf8" });
  t.teardown(() => { spawnSync("umount", ["-l", h]); });
  t.test("fs-type whitelist: a mountpoint on hugetlbfs the user can write is refused", { skip: hm.status !== 0 && `hugetlbfs cannot be mounted here: ${hm.stderr}` }, async (t) => {
    const dir = mkdirAs(u, `${h}/dir`);
    spawnSync("touch", [`${h}/file`], { uid: u.uid, gid: u.gid });
    for (const mnt of [dir, `${h}/file`]) {
      const r = mount(u, mnt);
      t.equal(r.exitCode, 1, `${mnt}`);
      t.equal(r.stderr, "fusermount3: mounting over filesystem type 0x958458f6 is forbidden\n");
      t.notOk(r.gotFd);
      t.equal(mountsAt(mnt).length, 0);
      if (existsSync(SYNC_PEER)) {
        const s = runAs(u, [SYNC_PEER, JSON.stringify({ helper: OURS, args: ["--sync-init", "--", mnt] })]);
        t.match(s.stdout, /"gotFd":false/, "sync-init: nothing sent");
        t.match(s.stdout, /mounting over filesystem type 0x958458f6 is forbidden/);
        t.equal(mountsAt(mnt).length, 0);
      }
    }
  });

  t.test("FUSE_KERN_DEVICE: /dev/../etc/shadow, symlinks under /dev, root-only nodes: looked at and opened as the caller", async (t) => {
    const mnt = mkdirAs(u, `${base}/dev`);
    const out = `${rootDir}/dev-out`;
    mkdirSync(out);
    // In a nested namespace a fresh tmpfs (device nodes allowed) replaces
    // /dev/shm: the user's symlinks and root's nodes live there, under /dev/.
    // Walked as the caller without following links (openat2), and opened only
    // once proven to be the FUSE device: a link falls back to /dev/fuse, another
    // device is refused without being opened, a path the caller cannot reach
    // fails as the caller.
    const cases: Array<{ dev: string; expect: "fallback-not-chr" | "fallback-link" | "eacces" | "dropped" | "not-fuse" }> = [
      { dev: "/dev/../etc/shadow", expect: "fallback-not-chr" },
      { dev: "/dev/shm/l-shadow", expect: "fallback-link" },
      { dev: "/dev/shm/l-fifo", expect: "fallback-link" },
      { dev: "/dev/shm/rootnull", expect: "not-fuse" },
      { dev: "/dev/shm/l-rootnull", expect: "fallback-link" },
      { dev: "/dev/shm/secret/file", expect: "eacces" },
      { dev: "/dev/shm/l-secret-null", expect: "fallback-link" },
      { dev: "/etc/shadow", expect: "dropped" },
      { dev: "/dev/shm/l-null", expect: "fallback-link" },
    ];
    const env: Record<string, string> = { N: String(cases.length), OUT: out, FAKE: FAKE_CLIENT, PEER: SYNC_PEER };
    cases.forEach((c, i) => {
      env[`C_${i}`] = spec(mnt, undefined, { env: { FUSE_KERN_DEVICE: c.dev } });
      env[`S_${i}`] = JSON.stringify({ helper: OURS, args: ["--sync-init", "--", mnt], arm: false, env: { FUSE_KERN_DEVICE: c.dev } });
    });
    const r = inNamespace(`
      mount -t tmpfs -o mode=1777 fm-devshm /dev/shm
      mkfifo -m 0600 /dev/shm/fifo
      mknod -m 0600 /dev/shm/rootnull c 1 3
      mkdir -m 0700 /dev/shm/secret; touch /dev/shm/secret/file; mknod -m 0666 /dev/shm/secret/null c 1 3
      as() { runuser -u ${u.name} -- env -i PATH=/usr/bin:/bin "$@"; }
      as ln -s /etc/shadow /dev/shm/l-shadow
      as ln -s /dev/shm/fifo /dev/shm/l-fifo
      as ln -s /dev/shm/rootnull /dev/shm/l-rootnull
      as ln -s /dev/shm/secret/null /dev/shm/l-secret-null
      as ln -s /dev/null /dev/shm/l-null
      # A writer blocked on the FIFO is released as soon as anybody opens it.
      ( exec 3>/dev/shm/fifo; echo opened > "$OUT/fifo-opened" ) &
      writer=$!
      for ((i = 0; i < N; i++)); do
        c=C_$i; s=S_$i
        as "$FAKE" "\${!c}" > "$OUT/c.$i"
        grep -F " ${mnt} " /proc/self/mountinfo > "$OUT/ci.$i" || true
        umount -l ${mnt} 2>/dev/null || true
        as "$PEER" "\${!s}" | tail -n 1 > "$OUT/s.$i"
        grep -F " ${mnt} " /proc/self/mountinfo > "$OUT/si.$i" || true
        umount -l ${mnt} 2>/dev/null || true
      done
      sleep 0.2
      kill $writer 2>/dev/null || true`, env);
    t.equal(r.code, 0, r.stderr);
    t.notOk(existsSync(`${out}/fifo-opened`), "the FIFO canary was never opened");
    cases.forEach((c, i) => {
      const cl = JSON.parse(readFileSync(`${out}/c.${i}`, "utf8").trim()) as { gotFd: boolean; fdTarget?: string; exitCode: number; stderr: string };
      const sp = JSON.parse(readFileSync(`${out}/s.${i}`, "utf8").trim()) as { gotFd: boolean; status?: number | string; exitCode: number; stderr: string };
      const cInfo = readFileSync(`${out}/ci.${i}`, "utf8");
      const sInfo = readFileSync(`${out}/si.${i}`, "utf8");
      noCrash(t, cl.stderr, c.dev);
      noCrash(t, sp.stderr, c.dev);
      if (cl.gotFd) t.equal(cl.fdTarget, "/dev/fuse", `${c.dev}: only /dev/fuse is ever handed out`);
      for (const info of [cInfo, sInfo]) {
        if (info !== "") t.match(info, / - fuse \/dev\/fuse rw,user_id=/, `${c.dev}: any mount is a FUSE mount of /dev/fuse`);
      }
      switch (c.expect) {
        case "fallback-not-chr":
          t.equal(cl.stderr, `fuse: invalid device from FUSE_KERN_DEVICE: ${c.dev} (not a character device)\n`, `${c.dev}: message`);
          t.equal(cl.exitCode, 0, `${c.dev}: falls back to /dev/fuse`);
          t.equal(sp.stderr, `fuse: invalid device from FUSE_KERN_DEVICE: ${c.dev} (not a character device)\n`);
          t.equal(sp.status, 0);
          break;
        case "fallback-link":
          t.equal(cl.stderr, `fuse: invalid device from FUSE_KERN_DEVICE: ${c.dev} (a symbolic link)\n`, `${c.dev}: message`);
          t.equal(cl.exitCode, 0, `${c.dev}: falls back to /dev/fuse`);
          t.equal(sp.stderr, `fuse: invalid device from FUSE_KERN_DEVICE: ${c.dev} (a symbolic link)\n`);
          t.equal(sp.status, 0);
          break;
        case "eacces":
          // Looked at as root, this would be found.
          t.equal(cl.stderr, `fusermount3: failed to open ${c.dev}: Permission denied\n`, `${c.dev}: opened as the caller`);
          t.equal(cl.exitCode, 1);
          t.notOk(cl.gotFd);
          t.equal(sp.stderr, `fusermount3: failed to open ${c.dev}: Permission denied\n`);
          t.notOk(sp.gotFd);
          t.equal(cInfo + sInfo, "", `${c.dev}: nothing mounted`);
          break;
        case "dropped":
          t.equal(cl.stderr, "", `${c.dev}: dropped by the launcher`);
          t.equal(cl.exitCode, 0);
          break;
        case "not-fuse":
          t.equal(cl.stderr, `fusermount3: invalid device from FUSE_KERN_DEVICE: ${c.dev} (not a FUSE device)\n`, `${c.dev}: a non-FUSE device is never opened`);
          t.notOk(cl.gotFd);
          t.notOk(sp.gotFd, `${c.dev}: with --sync-init no fd leaves the helper`);
          t.equal(cInfo + sInfo, "");
          break;
      }
    });
  });
}, { files: [EXCHANGE] });
