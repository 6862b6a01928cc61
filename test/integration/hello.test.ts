// The example TypeScript FUSE server, mounted by the unprivileged user through
// the client module: with sync init through our helper, and falling back to the
// classic protocol through Debian's C fusermount3 (which has no --sync-init).
import t, { type Test } from "tap";
import { spawn, type ChildProcess } from "node:child_process";
import {
  integration, OURS, C_HELPER, PREFIX, user, scratch, mkdirAs, runAs, mountsAt, cleanupDir,
  waitFor, killTree, type User, spawnAs,
} from "../lib/harness.ts";

const HELLO = `${PREFIX}/tools/hello`;

type Ready = { ready: boolean; protocol: string; syncInit: boolean; initAnsweredAt: number; statusAt: number; initBeforeMounted: boolean };

function start(u: User, args: string[]): { child: ChildProcess; ready: Promise<Ready>; stderr: () => string; exited: Promise<number | null> } {
  const child = spawnAs(u, [HELLO, ...args]);
  let err = "";
  child.stderr!.on("data", (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  const ready = new Promise<Ready>((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf("\n");
      if (i >= 0) resolve(JSON.parse(buf.slice(0, i)) as Ready);
    });
    void exited.then((code) => reject(new Error(`hello exited ${code}: ${err}`)));
    setTimeout(() => reject(new Error("hello did not become ready")), 20000);
  });
  ready.catch(() => {});
  return { child, ready, stderr: () => err, exited };
}

integration("hello example tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  t.teardown(() => cleanupDir(base));

  const exercise = (t: Test, mnt: string) => {
    t.equal(runAs(u, ["/bin/cat", `${mnt}/hello`]).stdout, "Hello, world!\n", "the file reads back");
    t.equal(runAs(u, ["/bin/ls", mnt]).stdout, "hello\n");
    t.match(runAs(u, ["/usr/bin/stat", "-c", "%s %a", `${mnt}/hello`]).stdout, /^14 444\n$/);
    t.equal(mountsAt(mnt)[0]?.fsType, "fuse.hello");
  };

  t.test("sync-init through our helper: INIT answered inside the mount", async (t) => {
    const mnt = mkdirAs(u, `${base}/sync`);
    const h = start(u, [mnt, "--helper", OURS]);
    t.teardown(() => killTree(h.child.pid));
    const r = await h.ready;
    t.equal(r.protocol, "sync-init");
    t.equal(r.syncInit, true, "FUSE_DEV_IOC_SYNC_INIT was armed");
    t.equal(r.initBeforeMounted, true, "FUSE_INIT was answered before the mount status arrived");
    t.ok(r.initAnsweredAt <= r.statusAt);
    exercise(t, mnt);
    const un = runAs(u, [OURS, "-u", mnt]);
    t.equal(un.code, 0, un.stderr);
    t.equal(await h.exited, 0, "the server ends by itself after the unmount");
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("the client falls back to the classic protocol with Debian's fusermount3", async (t) => {
    const mnt = mkdirAs(u, `${base}/classic`);
    const h = start(u, [mnt, "--helper", C_HELPER]);
    t.teardown(() => killTree(h.child.pid));
    const r = await h.ready;
    t.equal(r.protocol, "classic");
    t.equal(r.syncInit, false);
    exercise(t, mnt);
    t.equal(runAs(u, [C_HELPER, "-u", mnt]).code, 0);
    t.equal(await h.exited, 0);
    t.equal(h.stderr(), "");
  });

  t.test("classic protocol through our helper", async (t) => {
    const mnt = mkdirAs(u, `${base}/classic2`);
    const h = start(u, [mnt, "--helper", OURS, "--classic"]);
    t.teardown(() => killTree(h.child.pid));
    const r = await h.ready;
    t.equal(r.protocol, "classic");
    exercise(t, mnt);
    t.equal(runAs(u, [OURS, "-u", mnt]).code, 0);
    t.equal(await h.exited, 0);
  });

  t.test("auto-unmount through the client: kill -9 of the server removes the mount", async (t) => {
    const mnt = mkdirAs(u, `${base}/auto`);
    const h = start(u, [mnt, "--helper", OURS, "--auto-unmount"]);
    t.teardown(() => killTree(h.child.pid));
    const r = await h.ready;
    t.equal(r.protocol, "sync-init");
    exercise(t, mnt);
    h.child.kill("SIGKILL");
    t.ok(await waitFor(() => mountsAt(mnt).length === 0, 10000), "unmounted by the watchdog");
  });

  t.test("a refused mount is a typed error and leaves nothing behind", async (t) => {
    const mnt = `${base}/not-there`;
    const h = start(u, [mnt, "--helper", OURS]);
    t.equal(await h.exited, 1);
    t.equal(h.stderr(), `hello: fusermount3 did not mount: ${OURS}: failed to access mountpoint ${mnt}: No such file or directory\n`);
  });
}, { files: [HELLO] });
