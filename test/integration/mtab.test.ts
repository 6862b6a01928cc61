// The user-space mount table: with /run/mount/utab present, a mount is recorded
// by `/bin/mount -f` and removed by `/bin/umount --fake`. A recorder bound over
// both (in a private namespace) logs exactly what the children receive.
import t from "tap";
import { writeFileSync, chmodSync, readFileSync } from "node:fs";
import { integration, OURS, FAKE_CLIENT, user, scratch, mkdirAs, inNamespace, cleanupDir } from "../lib/harness.ts";

integration("mount-table tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  t.teardown(() => cleanupDir(base));
  const log = `${base}/children.log`;

  // One record per call: argv and environ NUL-separated, then cwd and uids.
  const recorder = (mode: "pass" | "fail") => `#!/bin/bash
{
  printf 'CALL %s\\n' "$(basename "$0")"
  printf 'ARGV'; printf ' [%s]' "$@"; printf '\\n'
  printf 'ENV [%s]\\n' "$(tr '\\0' ' ' < /proc/$$/environ)"
  printf 'CWD %s\\n' "$(pwd)"
  printf 'RUID %s\\n' "$(awk '/^Uid:/ {print $2}' /proc/$$/status)"
} >> ${log}
${mode === "fail" ? "exit 1" : `exec ${base}/real-$(basename "$0") "$@"`}
`;

  const scenario = (mode: "pass" | "fail", body: string) => {
    writeFileSync(`${base}/mount`, recorder(mode));
    writeFileSync(`${base}/umount`, recorder(mode));
    chmodSync(`${base}/mount`, 0o755);
    chmodSync(`${base}/umount`, 0o755);
    writeFileSync(log, "");
    return inNamespace(`
      cp /bin/mount ${base}/real-mount; cp /bin/umount ${base}/real-umount
      mkdir -p /run/mount; mount -t tmpfs tmpfs /run/mount; touch /run/mount/utab
      mount --bind ${base}/umount /bin/umount; mount --bind ${base}/mount /bin/mount
      as() { runuser -u ${u.name} -- env -i PATH=/usr/bin:/bin "$@"; }
      mounted() { awk -v p="$1" '$5 == p' /proc/self/mountinfo | grep -q .; }
      ${body}`);
  };

  t.test("x- options and user= are recorded in utab, never given to the kernel", async (t) => {
    const mnt = mkdirAs(u, `${base}/m1`);
    const spec = JSON.stringify({ helper: OURS, argv0: "fusermount3", args: ["-o", "x-gvfs-hide,fsname=-oro\\,--target=/etc,subtype=sub,ro", "--", mnt] });
    const r = scenario("pass", `
      as ${FAKE_CLIENT} '${spec}'
      echo "UTAB $(cat /run/mount/utab)"
      echo "INFO $(awk -v p=${mnt} '$5 == p' /proc/self/mountinfo)"
      as ${OURS} -u ${mnt}; echo "UNMOUNT $?"
      echo "UTAB-AFTER [$(cat /run/mount/utab)]"
      mounted ${mnt} || echo gone`);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /"exitCode":0/);
    t.match(r.stdout, new RegExp(`UTAB SRC=-oro,--target=/etc TARGET=${mnt} ROOT=/ OPTS=user=fmtest,x-gvfs-hide`));
    t.notMatch(r.stdout.split("\n").find((l) => l.startsWith("INFO")) ?? "", /x-gvfs/, "not in mountinfo");
    t.match(r.stdout, /INFO .* ro,nosuid,nodev,relatime - fuse\.sub -oro,--target=\/etc ro,user_id=/);
    t.match(r.stdout, /UNMOUNT 0\nUTAB-AFTER \[\]\ngone/);
    const calls = readFileSync(log, "utf8");
    t.match(calls, `CALL mount\nARGV [--no-canonicalize] [-i] [-f] [-t] [fuse.sub] [-o] [ro,nosuid,nodev,user=fmtest,x-gvfs-hide] [--] [-oro,--target=/etc] [${mnt}]\nENV []\nCWD /\nRUID 0\n`);
    t.match(calls, `CALL umount\nARGV [--no-canonicalize] [-i] [--fake] [--] [${mnt}]\nENV []\nCWD /\nRUID 0\n`);
  });

  t.test("a failed table update costs only the record: the server has its fd, nothing is unmounted by path as root", async (t) => {
    const mnt = mkdirAs(u, `${base}/m2`);
    const spec = JSON.stringify({ helper: OURS, argv0: "fusermount3", args: ["--", mnt] });
    const r = scenario("fail", `
      as ${FAKE_CLIENT} '${spec}'
      mounted ${mnt} && echo still-mounted || echo not-mounted
      rc=0; as ${OURS} -u ${mnt} || rc=$?; echo "UNMOUNT $rc"`);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /"gotFd":true/);
    t.match(r.stdout, /"exitCode":0/);
    t.match(r.stdout, /mount of \S+ is not recorded in the mount table/);
    t.match(r.stdout, /still-mounted/);
    t.match(r.stdout, /UNMOUNT 0/, "the user removes it; no record to remove");
    const calls = readFileSync(log, "utf8");
    t.equal((calls.match(/CALL /g) ?? []).length, 1, "only /bin/mount ran; no unmount by path, no umount --fake of a record that is not there");
  });

  t.test("no table update without /run/mount/utab", async (t) => {
    const mnt = mkdirAs(u, `${base}/m3`);
    const spec = JSON.stringify({ helper: OURS, args: ["-o", "x-gvfs-hide", "--", mnt] });
    writeFileSync(log, "");
    const r = inNamespace(`
      [ ! -e /run/mount/utab ] || mount -t tmpfs tmpfs /run/mount
      mount --bind ${base}/mount /bin/mount
      runuser -u ${u.name} -- env -i ${FAKE_CLIENT} '${spec}'
      runuser -u ${u.name} -- env -i ${OURS} -u ${mnt}; echo "UNMOUNT $?"`);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /"exitCode":0/);
    t.match(r.stdout, /UNMOUNT 0/);
    t.equal(readFileSync(log, "utf8"), "", "/bin/mount never ran");
  });
});
