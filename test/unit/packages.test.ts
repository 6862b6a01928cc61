// test/lib/packages.sh (sourced by npm test as root) with stub dpkg-query and
// apt-get: nothing is run when every package is installed; otherwise one
// apt-get update, then one non-interactive install of exactly the missing
// packages, both without stdin; a failed install fails the run.
import t from "tap";
import { mkdtempSync, writeFileSync, chmodSync, readFileSync, existsSync, rmSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { ROOT } from "../lib/harness.ts";

const stubs = mkdtempSync(join(tmpdir(), "fm-apt-stubs-"));
t.teardown(() => rmSync(stubs, { recursive: true, force: true }));
const log = join(stubs, "apt.log");
writeFileSync(join(stubs, "dpkg-query"), `#!/bin/sh
pkg=$3
for m in $STUB_MISSING; do [ "$m" = "$pkg" ] && { echo "dpkg-query: no packages found matching $pkg" >&2; exit 1; }; done
printf 'install ok installed'
`);
writeFileSync(join(stubs, "apt-get"), `#!/bin/sh
printf '%s|stdin=%s|frontend=%s\\n' "$*" "$(readlink /proc/self/fd/0)" "$DEBIAN_FRONTEND" >> "${log}"
exit "\${STUB_APT_RC:-0}"
`);
chmodSync(join(stubs, "dpkg-query"), 0o755);
chmodSync(join(stubs, "apt-get"), 0o755);

function run(env: Record<string, string>): { status: number | null; stdout: string; calls: string[] } {
  rmSync(log, { force: true });
  const r = spawnSync("bash", ["-c", ". test/lib/packages.sh; install_test_packages; echo \"returned $?\""], {
    cwd: ROOT, encoding: "utf8", input: "stdin must not be read\n",
    env: { PATH: `${stubs}:/usr/bin:/bin`, ...env },
  });
  return { status: r.status, stdout: r.stdout, calls: existsSync(log) ? readFileSync(log, "utf8").trim().split("\n") : [] };
}

t.test("everything installed: apt-get is not run", async (t) => {
  const r = run({});
  t.equal(r.stdout, "returned 0\n");
  t.same(r.calls, []);
});

t.test("missing packages: one update, then one install of exactly those, without stdin", async (t) => {
  const r = run({ STUB_MISSING: "bindfs lintian" });
  t.equal(r.status, 0);
  t.equal(r.stdout, "test: installing the Debian packages the tests use: bindfs lintian\nreturned 0\n");
  t.equal(r.calls.length, 2, r.calls.join("\n"));
  t.match(r.calls[0], /^-o DPkg::Lock::Timeout=300 update -qq\|stdin=\/dev\/null\|frontend=noninteractive$/);
  t.match(r.calls[1], /^-o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends bindfs lintian\|stdin=\/dev\/null\|frontend=noninteractive$/);
});

t.test("the list holds what the tests and the other engineers' tests need", async (t) => {
  const r = spawnSync("bash", ["-c", ". test/lib/packages.sh; printf '%s\\n' \"${TEST_PACKAGES[@]}\""], { cwd: ROOT, encoding: "utf8" });
  const list = r.stdout.trim().split("\n");
  for (const p of ["fuse3", "bindfs", "squashfuse", "fuse-zip", "squashfs-tools", "zip", "gcc", "libc6-dev", "util-linux",
    "procps", "man-db", "groff-base", "apparmor", "lintian", "systemd"]) t.ok(list.includes(p), p);
});

t.test("a failed install fails the run and says how to skip the step", async (t) => {
  const r = run({ STUB_MISSING: "zip", STUB_APT_RC: "100" });
  t.equal(r.status, 1);
  t.match(r.stdout, /test: apt-get install zip failed \(FM_TEST_NO_APT=1 skips this step\)\n0 passed, 1 failed, 0 skipped\n$/);
  t.notMatch(r.stdout, /returned/);
  t.equal(r.calls.length, 1, "no install after a failed update");
});

t.test("FM_TEST_NO_APT=1: nothing is installed", async (t) => {
  const r = run({ STUB_MISSING: "zip", FM_TEST_NO_APT: "1" });
  t.equal(r.stdout, "returned 0\n");
  t.same(r.calls, []);
});
