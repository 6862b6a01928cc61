// On a terminal, common refusals get a second line that names the fix; through
// a pipe (what FUSE libraries read) the output stays libfuse's, byte for byte.
import t from "tap";
import { writeFileSync, chmodSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { integration, OURS, OURS_NNP_PREFIX, FAKE_CLIENT, user, scratch, mkdirAs, fakeMount, cleanupDir, type User } from "../lib/harness.ts";

// Runs the fake client as the user on a pseudo-terminal (util-linux script).
function onTerminal(u: User, dir: string, spec: object): string {
  const cmd = `${dir}/cmd.sh`;
  writeFileSync(cmd, `#!/bin/sh\nexec ${OURS_NNP_PREFIX}${FAKE_CLIENT} '${JSON.stringify({ ...spec, inheritStderr: true })}'\n`);
  chmodSync(cmd, 0o755);
  const r = spawnSync("script", ["-qec", cmd, "/dev/null"], { uid: u.uid, gid: u.gid, env: { PATH: "/usr/bin:/bin" }, encoding: "utf8" });
  return (r.stdout ?? "").replace(/\r/g, "").split("\n").filter((l) => !l.startsWith("{")).join("\n");
}

integration("hint tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  t.teardown(() => cleanupDir(base));
  const root = `${base}/rootowned`;
  spawnSync("mkdir", [root]);

  const cases: Array<[string, object, string, string]> = [
    ["allow_other without user_allow_other", { args: ["-o", "allow_other", mkdirAs(u, `${base}/m`)] },
      "fusermount3: option allow_other only allowed if 'user_allow_other' is set in /etc/fuse.conf",
      "fusermount3: to allow it, an administrator adds the line 'user_allow_other' to /etc/fuse.conf"],
    ["mountpoint not writable", { args: [root] },
      `fusermount3: user has no write access to mountpoint ${root}`,
      "fusermount3: mount on a directory you own and can write to (for example mkdir ~/mnt)"],
    ["no FUSE device", { args: [`${base}/m`], env: { FUSE_KERN_DEVICE: "/dev/fuse-missing" } },
      "fusermount3: fuse device /dev/fuse-missing not found. Kernel module not loaded?",
      "fusermount3: load it with 'modprobe fuse' (as root)"],
  ];
  for (const [name, spec, first, hint] of cases) {
    t.test(name, async (t) => {
      const full = { helper: OURS, argv0: "fusermount3", ...spec };
      t.equal(onTerminal(u, base, full).trim(), `${first}\n${hint}`, "terminal: libfuse's line, then the fix");
      const piped = fakeMount(u, full as Parameters<typeof fakeMount>[1]);
      t.equal(piped.stderr, `${first}\n`, "pipe: libfuse's line only");
    });
  }
}, { commands: ["script"] });
