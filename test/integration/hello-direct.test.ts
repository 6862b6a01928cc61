// The example FUSE server (examples/hello) mounted directly by root with the
// new mount API, then used from Node like any filesystem.
import t from "tap";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import {
  closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, realpathSync,
  statfsSync, statSync, writeFileSync,
} from "node:fs";
import { integration, ROOT, cleanupDir, killTree, mountsAt, waitFor } from "../lib/harness.ts";

const HELLO = "Hello, world!\n";

integration("hello example, mounted directly", () => {
  t.test("hello example, mounted directly", async (t) => {
    const base = realpathSync(mkdtempSync("/tmp/fm-hello-"));
    const mnt = `${base}/mnt`;
    spawnSync("mkdir", [mnt]);
    let server: ChildProcess | undefined;
    let exited = false;
    t.teardown(() => {
      if (!exited) killTree(server?.pid);
      // cleanupDir detaches (umount -l) whatever is still mounted below base.
      cleanupDir(base);
    });

    server = spawn(`${ROOT}/node_modules/.bin/bun`, ["examples/hello/direct-mount.ts", mnt], {
      cwd: ROOT, stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    server.stderr!.on("data", (d: Buffer) => { stderr += d.toString(); });
    const exit = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      server!.on("exit", (code, signal) => { exited = true; resolve({ code, signal }); });
    });

    const ready = await new Promise<string>((resolve, reject) => {
      let buf = "";
      server!.stdout!.on("data", (d: Buffer) => {
        buf += d.toString();
        const i = buf.indexOf("\n");
        if (i >= 0) resolve(buf.slice(0, i));
      });
      void exit.then(({ code }) => reject(new Error(`server exited (${code}) before ready: ${stderr}`)));
      setTimeout(() => reject(new Error(`no ready line within 20 s: ${stderr}`)), 20000).unref();
    });
    t.same(JSON.parse(ready), { ready: true }, "ready line");

    const m = mountsAt(mnt);
    t.equal(m.length, 1, "mounted once");
    t.equal(m[0]?.fsType, "fuse");
    t.equal(m[0]?.source, "hello");
    t.match(m[0]?.mountOptions ?? "", /\bnosuid\b.*\bnodev\b/);
    t.equal(m[0]?.superOptions, `rw,user_id=0,group_id=0`);

    t.same(readdirSync(mnt), ["hello"], "readdir");
    t.equal(readFileSync(`${mnt}/hello`, "utf8"), HELLO, "content");

    const root = statSync(mnt);
    t.ok(root.isDirectory(), "root is a directory");
    t.equal(root.mode, 0o040755, "root mode");
    t.equal(root.ino, 1, "root inode");
    t.equal(root.nlink, 2);
    t.equal(root.uid, 0);
    t.equal(root.gid, 0);
    const file = statSync(`${mnt}/hello`);
    t.ok(file.isFile(), "hello is a regular file");
    t.equal(file.mode, 0o100444, "hello mode");
    t.equal(file.size, HELLO.length, "hello size");
    t.equal(file.nlink, 1);
    t.equal(file.ino, 2);

    const fd = openSync(`${mnt}/hello`, "r");
    try {
      const b = Buffer.alloc(64);
      const n = readSync(fd, b, 0, b.length, 7);
      t.equal(b.toString("utf8", 0, n), "world!\n", "read at offset 7");
      t.equal(readSync(fd, b, 0, b.length, 100), 0, "read past the end");
      const two = readSync(fd, b, 0, 2, 0);
      t.equal(b.toString("utf8", 0, two), "He", "short read at 0");
    } finally {
      closeSync(fd);
    }

    t.throws(() => statSync(`${mnt}/missing`), { code: "ENOENT" }, "missing name");
    t.throws(() => readFileSync(`${mnt}/missing`), { code: "ENOENT" }, "missing name, open");
    t.throws(() => readdirSync(`${mnt}/hello`), { code: "ENOTDIR" }, "hello is not a directory");
    t.throws(() => writeFileSync(`${mnt}/hello`, "x"), { code: "EACCES" }, "read-only file");

    const sf = statfsSync(mnt);
    t.equal(sf.type, 0x65735546, "FUSE_SUPER_MAGIC");
    t.equal(sf.bsize, 4096);
    t.equal(sf.files, 2);

    const un = spawnSync("umount", [mnt], { encoding: "utf8" });
    t.equal(un.status, 0, `umount: ${un.stderr}`);
    t.equal(mountsAt(mnt).length, 0, "unmounted");

    const timeout = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), 5000).unref());
    const how = await Promise.race([exit, timeout]);
    t.not(how, "timeout", "server exits by itself within 5 s of the unmount");
    if (how !== "timeout") {
      t.equal(how.code, 0, `server exit status (stderr: ${stderr})`);
      t.equal(how.signal, null);
    }
    t.equal(stderr, "", "nothing on stderr");
    t.ok(await waitFor(() => !existsSync(`/proc/${server!.pid}/stat`) || exited, 1000), "process gone");
  });
}, { installed: false });
