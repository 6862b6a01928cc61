// The client as a package: `npm pack`, install the tarball into a fresh Bun
// project in a temporary directory, import it by name, and mount the example
// filesystem as the unprivileged user.
import t from "tap";
import { mkdtempSync, writeFileSync, chmodSync, existsSync, readFileSync, rmSync } from "node:fs";
import { spawnSync, spawn } from "node:child_process";
import { join } from "node:path";
import { integration, ROOT, OURS, user, scratch, mkdirAs, runAs, mountsAt, cleanupDir, killTree , spawnAs } from "../lib/harness.ts";

const BUN = join(ROOT, "node_modules", ".bin", "bun");

integration("package tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  const project = mkdtempSync("/tmp/fm-pkg-");
  chmodSync(project, 0o755);
  t.teardown(() => { cleanupDir(base); rmSync(project, { recursive: true, force: true }); });
  const env = { PATH: `${join(ROOT, "node_modules", ".bin")}:${process.env.PATH ?? "/usr/bin:/bin"}`, HOME: process.env.HOME ?? "/root" };

  t.test("npm pack → install in a fresh project → mount the example", async (t) => {
    const pack = spawnSync("npm", ["pack", "--silent", "--pack-destination", project], { cwd: ROOT, encoding: "utf8", env });
    t.equal(pack.status, 0, pack.stderr);
    const tarball = join(project, pack.stdout.trim().split("\n").pop()!);
    t.ok(existsSync(tarball), "tarball written");
    const listing = spawnSync("tar", ["-tzf", tarball], { encoding: "utf8" }).stdout;
    t.match(listing, /package\/types\/src\/client\/index\.d\.ts/, "type declarations are packed");
    t.notMatch(listing, /package\/test\//, "tests are not packed");
    t.notMatch(listing, /package\/node_modules\//);
    t.match(listing, /package\/examples\/hello\/fuse\.ts/, "the exported example modules are packed");
    t.notMatch(listing, /package\/examples\/hello\/main\.ts/, "the example's command line (commander, a dev dependency) is not");

    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }));
    const install = spawnSync("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], { cwd: project, encoding: "utf8", env });
    t.equal(install.status, 0, install.stderr);
    const pkg = JSON.parse(readFileSync(join(project, "node_modules/fusermount3-ts/package.json"), "utf8")) as { exports: Record<string, { types: string }>; dependencies?: Record<string, string> };
    t.same(pkg.dependencies ?? {}, {}, "no runtime dependencies");
    t.notOk(existsSync(join(project, "node_modules/commander")), "commander is not installed with the package");
    t.ok(existsSync(join(project, "node_modules/fusermount3-ts", pkg.exports["./client"]!.types)), "types resolve");

    writeFileSync(join(project, "app.ts"), `
import { mount, unmount, type FuseMount } from "fusermount3-ts/client";
import { serve } from "fusermount3-ts/examples/hello/fuse";
import { HelloFs } from "fusermount3-ts/examples/hello/hellofs";
const [mnt, helper] = process.argv.slice(2) as [string, string];
let session: ReturnType<typeof serve> | undefined;
const m: FuseMount = await mount(mnt, { helper, options: ["fsname=pkg", "subtype=pkg"], serve: (fd) => (session = serve(fd, new HelloFs())) });
await session!.initialized;
console.log(JSON.stringify({ protocol: m.protocol }));
await session!.closed;
process.exit(0);
void unmount;
`);
    const tsc = spawnSync(join(ROOT, "node_modules/.bin/tsc"), ["--noEmit", "--strict", "--module", "esnext", "--moduleResolution", "bundler",
      "--target", "es2022", "--allowImportingTsExtensions", "--skipLibCheck", "--types", "bun", "--typeRoots", join(ROOT, "node_modules/@types"), "app.ts"],
    { cwd: project, encoding: "utf8", env });
    t.equal(tsc.status, 0, `the consumer typechecks against the package: ${tsc.stdout}`);
    const build = spawnSync(BUN, ["build", "--compile", "app.ts", "--outfile", "app"], { cwd: project, encoding: "utf8", env });
    t.equal(build.status, 0, build.stderr);
    chmodSync(join(project, "app"), 0o755);

    const mnt = mkdirAs(u, `${base}/pkgmnt`);
    const app = spawnAs(u, [join(project, "app"), mnt, OURS]);
    t.teardown(() => killTree(app.pid));
    const line = await new Promise<string>((resolve, reject) => {
      let buf = "";
      app.stdout!.on("data", (d: Buffer) => { buf += d; if (buf.includes("\n")) resolve(buf.trim()); });
      app.on("exit", (c) => reject(new Error(`app exited ${c}`)));
    });
    t.same(JSON.parse(line), { protocol: "sync-init" });
    t.equal(runAs(u, ["/bin/cat", `${mnt}/hello`]).stdout, "Hello, world!\n");
    t.equal(mountsAt(mnt)[0]?.fsType, "fuse.pkg");
    t.equal(runAs(u, [OURS, "-u", mnt]).code, 0);
    t.equal(await new Promise((r) => app.on("exit", r)), 0);
  });
});
