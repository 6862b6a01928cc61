// The launcher is the only set-uid code: whatever environment or cwd files a
// user brings, none of the Bun runtime's start-up hooks may run as root. Each
// vector carries a payload that would leave a marker file; no marker may appear,
// and the helper must answer normally.
import t from "tap";
import { writeFileSync, existsSync, readdirSync, copyFileSync, chmodSync, readFileSync, statSync, rmSync, chownSync } from "node:fs";
import { createServer } from "node:net";
import { spawnSync } from "node:child_process";
import {
  integration, OURS, OURS_HELPER, user, scratch, mkdirAs, runAs, fakeMount, mountsAt, cleanupDir,
} from "../lib/harness.ts";

integration("launcher tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  t.teardown(() => cleanupDir(base));

  const marker = `${base}/marker`;
  const payload = `${base}/payload.js`;
  writeFileSync(payload, `require("fs").writeFileSync(${JSON.stringify(marker)}, "euid=" + process.geteuid());\n`);
  chmodSync(payload, 0o644);
  const version = "fusermount3 version: 3.19.0\n";

  const vectors: Array<[string, Record<string, string>, string[]]> = [
    ["BUN_BE_BUN", { BUN_BE_BUN: "1" }, ["-e", readFileSync(payload, "utf8")]],
    ["BUN_OPTIONS --preload", { BUN_OPTIONS: `--preload ${payload}` }, ["-V"]],
    ["BUN_OPTIONS -r", { BUN_OPTIONS: `-r ${payload}` }, ["-V"]],
    ["NODE_OPTIONS --require", { NODE_OPTIONS: `--require ${payload}` }, ["-V"]],
    ["BUN_INSPECT wait", { BUN_INSPECT: "ws://127.0.0.1:39229/x?wait=1" }, ["-V"]],
    ["BUN_INSPECT break", { BUN_INSPECT: "ws://127.0.0.1:39230/x?break=1" }, ["-V"]],
    ["BUN_JSC functionOverrides", { BUN_JSC_functionOverrides: payload }, ["-V"]],
    ["NODE_CHANNEL_FD", { NODE_CHANNEL_FD: "0" }, ["-V"]],
    ["LD_PRELOAD", { LD_PRELOAD: `${base}/nonexistent.so` }, ["-V"]],
  ];

  for (const [name, env, args] of vectors) {
    t.test(`runtime vector: ${name}`, async (t) => {
      rmSync(marker, { force: true });
      const r = runAs(u, [OURS, ...args], { env, argv0: "fusermount3", timeoutMs: 10000 });
      t.notOk(existsSync(marker), "payload did not run");
      t.notOk(r.signal, "finished on its own (no inspector wait)");
      if (args[0] === "-V") {
        t.equal(r.stdout, version);
        t.equal(r.code, 0);
        t.equal(r.stderr, "", "nothing printed by the runtime or the loader");
      } else {
        t.equal(r.stderr, "fusermount3: invalid option -- 'e'\n", "our parser saw the arguments");
        t.equal(r.code, 1);
      }
    });
  }

  t.test("runtime vector: BUN_INSPECT_CONNECT_TO dials nobody", async (t) => {
    const sock = `${base}/inspect.sock`;
    let connections = 0;
    const server = createServer(() => { connections++; });
    await new Promise<void>((res) => server.listen(sock, res));
    chmodSync(sock, 0o777);
    const r = runAs(u, [OURS, "-V"], { env: { BUN_INSPECT_CONNECT_TO: `unix://${sock}` }, timeoutMs: 10000 });
    await new Promise((res) => setTimeout(res, 200));
    server.close();
    t.equal(r.stdout, version);
    t.equal(connections, 0);
  });

  t.test("runtime vector: JIT dump and profiler paths create no files", async (t) => {
    const dir = mkdirAs(u, `${base}/dumps`);
    chmodSync(dir, 0o777);
    const r = runAs(u, [OURS, "-V"], {
      env: {
        BUN_JSC_useJITDump: "1", BUN_JSC_jitDumpDirectory: dir,
        BUN_JSC_useSamplingProfiler: "1", BUN_JSC_samplingProfilerPath: `${dir}/prof`,
        BUN_JSC_dumpOptions: "1",
      },
    });
    t.equal(r.stdout, version);
    t.equal(r.stderr, "");
    t.same(readdirSync(dir), []);
  });

  t.test("runtime vector: BUN_BYTECODE_ORDER_OUT cannot replace a root file", async (t) => {
    const victim = `${base}/victim`;
    writeFileSync(victim, "root's data\n");
    const before = statSync(victim);
    const r = runAs(u, [OURS, "-V"], { env: { BUN_BYTECODE_ORDER_OUT: victim, BUN_BYTECODE_DIGEST_OUT: `${base}/digest` } });
    t.equal(r.stdout, version);
    t.equal(readFileSync(victim, "utf8"), "root's data\n");
    t.equal(statSync(victim).ino, before.ino, "not replaced");
    t.notOk(existsSync(`${base}/digest`));
  });

  t.test("runtime vector: bunfig.toml and .env in the cwd are not loaded", async (t) => {
    const cwd = mkdirAs(u, `${base}/trap`);
    writeFileSync(`${cwd}/bunfig.toml`, `preload = [${JSON.stringify(payload)}]\n`);
    writeFileSync(`${cwd}/.env`, `BUN_OPTIONS=--preload ${payload}\nFOO=bar\n`);
    rmSync(marker, { force: true });
    const v = runAs(u, [OURS, "-V"], { cwd });
    t.equal(v.stdout, version);
    // And through a real mount from that cwd, with a relative mountpoint.
    mkdirAs(u, `${cwd}/mnt`);
    const m = fakeMount(u, { helper: OURS, args: ["--", `${cwd}/mnt`], env: { BUN_OPTIONS: `--preload ${payload}` } });
    t.equal(m.exitCode, 0, m.stderr);
    t.equal(mountsAt(`${cwd}/mnt`).length, 1);
    t.equal(runAs(u, [OURS, "-u", `${cwd}/mnt`]).code, 0);
    t.notOk(existsSync(marker), "payload did not run");
  });

  t.test("the helper refuses to run set-uid itself", async (t) => {
    const copy = `${base}/setuid-copy`;
    copyFileSync(OURS_HELPER, copy);
    chownSync(copy, 0, 0);
    chmodSync(copy, 0o4755);
    t.teardown(() => rmSync(copy, { force: true }));
    const r = runAs(u, [copy, "-V"], { argv0: "fusermount3" });
    t.equal(r.code, 1);
    t.match(r.stderr, /^fusermount3: refusing to run: .* is set-uid/);
    t.equal(r.stdout, "");
  });

  t.test("the helper refuses a foreign environment when privileged", async (t) => {
    // Real uid = the user, effective uid = 0, as after a set-uid exec that did
    // not come through the launcher.
    // env -i: the test runner adds its own variables to every child it spawns.
    const setpriv = (vars: string[]) => spawnSync("/usr/bin/env", ["-i", ...vars, "/usr/bin/setpriv",
      "--ruid", String(u.uid), "--rgid", String(u.gid), "--clear-groups", "--", OURS_HELPER, "-V"], { encoding: "utf8" });
    const r = setpriv(["SOMETHING=1"]);
    t.equal(r.status, 1);
    t.match(r.stderr, /refusing to run privileged with a foreign environment \(SOMETHING\)/);
    const ok = setpriv(["_FUSE_COMMFD=9", "FUSE_KERN_DEVICE=/dev/fuse"]);
    t.equal(ok.stdout, version, "the launcher's variables are accepted");
  });

  t.test("the launcher keeps only validated variables", async (t) => {
    const mnt = mkdirAs(u, `${base}/envmnt`);
    // Non-digit comm fd values never reach the helper.
    const bad = runAs(u, [OURS, mnt], { env: { _FUSE_COMMFD: "3 " }, argv0: "fusermount3" });
    t.equal(bad.stderr, "fusermount3: old style mounting not supported\n");
    // A device outside /dev is dropped by the launcher: the mount uses /dev/fuse.
    const dev = fakeMount(u, { helper: OURS, args: ["--", mnt], env: { FUSE_KERN_DEVICE: "/etc/shadow" } });
    t.equal(dev.exitCode, 0, dev.stderr);
    t.equal(dev.fdTarget, "/dev/fuse");
    t.equal(runAs(u, [OURS, "-u", mnt]).code, 0);
    // A /dev path that is not a character device: master's message, fallback.
    const notChr = fakeMount(u, { helper: OURS, args: ["--", mnt], env: { FUSE_KERN_DEVICE: "/dev/shm" } });
    t.equal(notChr.stderr, "fuse: invalid device from FUSE_KERN_DEVICE: /dev/shm (not a character device)\n");
    t.equal(notChr.exitCode, 0);
    t.equal(runAs(u, [OURS, "-u", mnt]).code, 0);
    // A character device that is not FUSE opens, but the kernel refuses the mount.
    const wrong = fakeMount(u, { helper: OURS, argv0: "fusermount3", args: ["--", mnt], env: { FUSE_KERN_DEVICE: "/dev/null" } });
    t.equal(wrong.exitCode, 1);
    t.equal(wrong.stderr, "fusermount3: invalid device from FUSE_KERN_DEVICE: /dev/null (not a FUSE device)\n");
    t.equal(mountsAt(mnt).length, 0);
  });
});
