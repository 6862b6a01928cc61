// install.sh: idempotent install into a prefix, exact uninstall, clear refusals.
import t from "tap";
import { mkdtempSync, statSync, existsSync, readdirSync, rmSync, chmodSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { integration, ROOT, user, inNamespace, SETUID_INSTALL } from "../lib/harness.ts";

const install = (...args: string[]) =>
  spawnSync("bash", [join(ROOT, "install.sh"), ...args], { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });

integration("install tests", () => {
  const prefix = mkdtempSync("/var/tmp/fm-install-");
  chmodSync(prefix, 0o755);
  t.teardown(() => rmSync(prefix, { recursive: true, force: true }));

  t.test("install, reinstall, uninstall", async (t) => {
    const first = install("--prefix", prefix);
    t.equal(first.status, 0, first.stderr);
    t.match(first.stdout, /installed .*\/bin\/fusermount3 \(fusermount3 version: \d+\.\d+\.\d+\)/);
    const launcher = statSync(`${prefix}/bin/fusermount3`);
    const helper = statSync(`${prefix}/lib/fusermount3/fusermount3-bun`);
    t.equal(launcher.mode & 0o7777, 0o4755, "launcher set-uid");
    t.equal(launcher.uid, 0);
    t.equal(helper.mode & 0o7777, 0o755, "helper never set-uid");
    t.equal(helper.uid, 0);
    t.ok(existsSync(`${prefix}/share/man/man1/fusermount3.1`), "man page installed");
    const man = spawnSync("man", ["--warnings", "-l", `${prefix}/share/man/man1/fusermount3.1`], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", MANWIDTH: "80" } });
    t.equal(man.status, 0);
    t.equal(man.stderr, "", "renders without warnings");
    t.match(man.stdout, /--sync-init/);
    t.match(man.stdout, /SECURITY MODEL/);
    const again = install("--prefix", prefix);
    t.equal(again.status, 0, "idempotent");
    t.same(readdirSync(`${prefix}/bin`), ["fusermount3"], "no leftovers from the replace");
    const removed = install("--uninstall", "--prefix", prefix);
    t.equal(removed.status, 0, removed.stderr);
    t.same(readdirSync(`${prefix}/bin`), []);
    t.notOk(existsSync(`${prefix}/share/man/man1/fusermount3.1`), "man page removed");
    t.notOk(existsSync(`${prefix}/lib/fusermount3`));
    const twice = install("--uninstall", "--prefix", prefix);
    t.equal(twice.status, 0);
    t.match(twice.stdout, /nothing installed/);
  });

  t.test("refusals name the problem", async (t) => {
    const u = user("fmtest");
    const asUser = spawnSync("bash", [join(ROOT, "install.sh"), "--prefix", "/tmp/nowhere"], { encoding: "utf8", uid: u.uid, gid: u.gid, env: { PATH: "/usr/bin:/bin" } });
    t.equal(asUser.status, 1);
    t.match(asUser.stderr, /must be run as root/);
    const bad = install("--bogus");
    t.equal(bad.status, 1);
    t.match(bad.stderr, /unknown argument '--bogus'/);
    const nosuid = inNamespace(`
      d=$(mktemp -d /var/tmp/fm-nosuid-XXXXXX); mount -t tmpfs -o nosuid tmpfs "$d"; chmod 755 "$d"
      bash ${join(ROOT, "install.sh")} --prefix "$d" && echo INSTALLED; umount "$d"; rmdir "$d"`,
      { PATH: process.env.PATH ?? "/usr/bin:/bin" }, 120000);
    t.notMatch(nosuid.stdout, /INSTALLED/);
    t.match(nosuid.stderr, /mounted nosuid; the launcher's set-uid bit would be ignored/);
  });
}, { setuid: SETUID_INSTALL });
