// The caller controls the whole process state the set-uid helper starts with
// (security.md §1.2, §9): closed stdio, rlimits, umask, ignored or blocked
// signals, huge argv, bytes that are not UTF-8. Whatever it is, the helper
// must give a clear refusal or a correct mount, never a crash or stack trace,
// never leave a mount behind when it refuses, never a root-owned file in the
// user's tree; and /bin/mount (which records in /run/mount/utab) must run as
// it should.
//
// Every case runs in a nested mount namespace with a tmpfs on /run/mount and
// an empty utab, so that the real /bin/mount and /bin/umount run; a wrapper
// script (root-owned, outside the user's tree) sets up the hostile state and
// then execs the installed launcher.
import t, { type Test } from "tap";
import { writeFileSync, mkdirSync, chmodSync, chownSync, readFileSync, existsSync } from "node:fs";
import {
  integration, OURS, OURS_HELPER, FAKE_CLIENT, user, scratch, mkdirAs, cleanupDir, waitFor,
  helperPids, inNamespace, rootScratch, crashMarkers, rootOwnedUnder,
  SERVICE_MODE,
} from "../lib/harness.ts";
import { serviceDifference } from "./differences.ts";

type Client = { gotFd: boolean; fdTarget?: string; exitCode: number | null; signal: string | null; stderr: string; stdout: string };
type Entry = { fields: Record<string, Buffer> };
type Outcome = {
  id: string; client: Client; info: string; utab: string; uRc: number; uErr: string; info2: string; utab2: string; files: string[];
};

// bash $'…' quoting of arbitrary bytes (the scripts stay ASCII).
const bashBytes = (b: Buffer) => "$'" + [...b].map((c) =>
  c >= 0x20 && c < 0x7f && c !== 0x27 && c !== 0x5c ? String.fromCharCode(c) : `\\x${c.toString(16).padStart(2, "0")}`).join("") + "'";

const unescapeOctal = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));

// mountinfo entries (read as latin1, i.e. bytes) at exactly these bytes.
function entriesAt(info: string, path: Buffer): Array<{ fsType: Buffer; source: Buffer; superOptions: string; mountOptions: string }> {
  const out: Array<{ fsType: Buffer; source: Buffer; superOptions: string; mountOptions: string }> = [];
  for (const line of info.split("\n")) {
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (sep < 0) continue;
    if (!Buffer.from(unescapeOctal(f[4]!), "latin1").equals(path)) continue;
    out.push({
      fsType: Buffer.from(unescapeOctal(f[sep + 1]!), "latin1"), source: Buffer.from(unescapeOctal(f[sep + 2]!), "latin1"),
      superOptions: f[sep + 3]!, mountOptions: f[5]!,
    });
  }
  return out;
}

function utabEntries(text: string): Entry[] {
  return text.split("\n").filter((l) => l !== "").map((line) => {
    const fields: Record<string, Buffer> = {};
    for (const field of line.split(" ")) {
      const i = field.indexOf("=");
      if (i > 0) fields[field.slice(0, i)] = Buffer.from(unescapeOctal(field.slice(i + 1)), "latin1");
    }
    return { fields };
  });
}

integration("hostile process state tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  const rootDir = rootScratch();
  t.teardown(() => { cleanupDir(base); cleanupDir(rootDir); });
  const perl = existsSync("/usr/bin/perl");
  let seq = 0;

  type Case = {
    name: string;
    mnt: Buffer; // the mountpoint, any bytes
    opts?: Buffer; // the -o value, any bytes (default fsname=hostile,x-hostile)
    prelude?: string; // bash lines run before the exec (ulimit, umask, exec 2>&- …)
    perlPrelude?: string; // if set, the launcher is exec'd through perl after this code
    env?: Record<string, string>; // variables for the wrapper (dropped by the launcher)
  };

  // The wrapper: `wrapper mount` mounts M with OPTS, `wrapper umount` runs -u M.
  function wrapper(c: Case): string {
    const path = `${rootDir}/w${seq++}.sh`;
    const launch = c.perlPrelude !== undefined
      ? `exec /usr/bin/perl -e '${c.perlPrelude}; exec { $ARGV[0] } "fusermount3", @ARGV[1 .. $#ARGV] or die "exec: $!"' ${OURS} "$@"`
      : `exec -a fusermount3 ${OURS} "$@"`;
    writeFileSync(path, `#!/bin/bash
M=${bashBytes(c.mnt)}
OPTS=${bashBytes(c.opts ?? Buffer.from("fsname=hostile,x-hostile"))}
if [ "$1" = umount ]; then set -- -u "$M"; else set -- -o "$OPTS" -- "$M"; fi
${c.prelude ?? ""}
${launch}
`);
    chmodSync(path, 0o755);
    return path;
  }

  // Runs the cases one after the other in one nested namespace (mounts left
  // there vanish with it; each case has its own mountpoint).
  function runCases(cases: Case[], conf?: string): Outcome[] {
    const out = `${rootDir}/out${seq++}`;
    mkdirSync(out);
    const env: Record<string, string> = { N: String(cases.length), OUT: out, FAKE: FAKE_CLIENT };
    cases.forEach((c, i) => {
      const w = wrapper(c);
      env[`W_${i}`] = w;
      env[`S_${i}`] = JSON.stringify({ helper: "/bin/bash", args: [w, "mount"], env: c.env ?? {} });
      env[`E_${i}`] = Object.entries(c.env ?? {}).map(([k, v]) => `${k}=${v}`).join(" ");
    });
    let confSetup = "";
    if (conf !== undefined) {
      writeFileSync(`${out}/fuse.conf`, conf);
      chmodSync(`${out}/fuse.conf`, 0o644);
      confSetup = `mount --bind ${out}/fuse.conf /etc/fuse.conf`;
    }
    const r = inNamespace(`
      mkdir -p /run/mount; mount -t tmpfs -o mode=0755 tmpfs /run/mount; touch /run/mount/utab
      ${confSetup}
      as() { runuser -u ${u.name} -- env -i PATH=/usr/bin:/bin "$@"; }
      for ((i = 0; i < N; i++)); do
        w=W_$i; s=S_$i; e=E_$i
        as "$FAKE" "\${!s}" > "$OUT/$i.client"
        cat /proc/self/mountinfo > "$OUT/$i.info"; cp /run/mount/utab "$OUT/$i.utab"
        rc=0; as env \${!e} /bin/bash "\${!w}" umount > /dev/null 2> "$OUT/$i.uerr" || rc=$?
        echo $rc > "$OUT/$i.urc"
        cat /proc/self/mountinfo > "$OUT/$i.info2"; cp /run/mount/utab "$OUT/$i.utab2"
        stat -c '%a %U %n' /run/mount/* > "$OUT/$i.files"
        : > /run/mount/utab
      done`, env, 120000);
    if (r.code !== 0) throw new Error(`namespace script failed (${r.code}): ${r.stderr}`);
    return cases.map((c, i) => {
      const read = (ext: string) => readFileSync(`${out}/${i}.${ext}`, "latin1");
      let client: Client;
      try { client = JSON.parse(read("client").trim().split("\n").pop()!) as Client; } catch { client = { gotFd: false, exitCode: null, signal: null, stderr: `no report: ${read("client")}`, stdout: "" }; }
      return {
        id: c.name, client, info: read("info"), utab: read("utab"), uRc: Number(read("urc").trim()), uErr: read("uerr"),
        info2: read("info2"), utab2: read("utab2"), files: read("files").split("\n").filter((l) => l !== ""),
      };
    });
  }

  // The common verdict. "mount": the state must not keep the helper from
  // working. "either": a correct mount or a clean refusal.
  function judge(t: Test, c: Case, o: Outcome, expect: "mount" | "either", check?: (e: ReturnType<typeof entriesAt>[number]) => void) {
    const what = c.name;
    t.same(crashMarkers(o.client.stderr), [], `${what}: no crash in the mount's stderr (${o.client.stderr.slice(0, 300)})`);
    t.same(crashMarkers(o.uErr), [], `${what}: no crash in -u's stderr (${o.uErr.slice(0, 300)})`);
    t.equal(o.client.signal, null, `${what}: the helper was not killed by a signal`);
    const here = entriesAt(o.info, c.mnt);
    const recorded = utabEntries(o.utab).filter((e) => e.fields.TARGET?.equals(c.mnt));
    const mounted = o.client.exitCode === 0;
    if (expect === "mount") t.equal(o.client.exitCode, 0, `${what}: mounted (${o.client.stderr.slice(0, 300)})`);
    if (mounted) {
      t.ok(o.client.gotFd, `${what}: the fd arrived`);
      t.equal(o.client.fdTarget, "/dev/fuse");
      t.equal(here.length, 1, `${what}: exactly one entry at the mountpoint that was named`);
      if (here[0]) {
        t.match(here[0].mountOptions, /nosuid,nodev/);
        t.match(here[0].superOptions, new RegExp(`user_id=${u.uid},group_id=${u.gid}`));
        check?.(here[0]);
      }
      // A record /bin/mount cannot write (here: a hard RLIMIT_FSIZE of 0 that
      // root cannot raise without CAP_SYS_RESOURCE, as in some containers) is
      // reported and skipped; the mount the server already has is kept.
      if (expect === "either" && /is not recorded in the mount table/.test(o.client.stderr)) {
        t.equal(recorded.length, 0, `${what}: not recorded, and said so`);
      } else {
        t.equal(recorded.length, 1, `${what}: one utab record for it`);
        t.equal(utabEntries(o.utab).length, 1, `${what}: and nothing else in utab`);
      }
      if (recorded[0]) t.match(recorded[0].fields.OPTS?.toString("latin1") ?? "", new RegExp(`^user=${u.name}(,|$)`));
      t.equal(o.uRc, 0, `${what}: -u works (${o.uErr.slice(0, 300)})`);
      t.equal(entriesAt(o.info2, c.mnt).length, 0, `${what}: gone after -u`);
      t.same(utabEntries(o.utab2), [], `${what}: utab record removed`);
    } else {
      t.notOk(o.client.gotFd, `${what}: refused before sending an fd`);
      t.ok((o.client.exitCode ?? 1) !== 0);
      t.equal(here.length, 0, `${what}: refused, nothing mounted`);
      t.same(utabEntries(o.utab), [], `${what}: refused, nothing recorded`);
    }
    for (const f of o.files) {
      const [mode, owner, name] = f.split(" ");
      t.equal(Number.parseInt(mode!, 8) & 0o022, 0, `${what}: ${name} is not group/world-writable (${mode})`);
      t.equal(owner, "root", `${what}: ${name} owned by root`);
      t.ok(/\/utab(\.lock|\.event)?$/.test(name ?? ""), `${what}: no stray file in /run/mount (${name})`);
    }
    t.same(rootOwnedUnder(base), [], `${what}: no root-owned file in the user's tree`);
  }

  const mnt = (name: string) => Buffer.from(mkdirAs(u, `${base}/${name}`));

  t.test("fds 0, 1 and 2 closed", async (t) => {
    const c: Case = { name: "fds 0-2 closed", mnt: mnt("closed"), prelude: "exec 0<&- 1>&- 2>&-" };
    const [o] = runCases([c]);
    judge(t, c, o!, "mount");
  });

  t.test("RLIMIT_FSIZE 0 (soft, and soft+hard)", async (t) => {
    const soft: Case = { name: "ulimit -S -f 0", mnt: mnt("fsize-soft"), prelude: "ulimit -S -f 0" };
    const hard: Case = { name: "ulimit -f 0", mnt: mnt("fsize-hard"), prelude: "ulimit -f 0" };
    const [os, oh] = runCases([soft, hard]);
    // The helper raises the soft limit again before /bin/mount writes utab.
    judge(t, soft, os!, "mount");
    // Raising a lowered hard limit needs CAP_SYS_RESOURCE, which set-uid root
    // normally has (it may be missing in containers): a full mount, or a clean
    // failure with nothing mounted and no partial utab.
    judge(t, hard, oh!, "either");
  });

  t.test("umask 0 and umask 0777", async (t) => {
    const cases: Case[] = [
      { name: "umask 0", mnt: mnt("umask0"), prelude: "umask 0" },
      { name: "umask 0777", mnt: mnt("umask777"), prelude: "umask 0777" },
    ];
    runCases(cases).forEach((o, i) => {
      judge(t, cases[i]!, o, "mount");
      for (const f of o.files.filter((l) => l.endsWith("/utab"))) t.equal(Number.parseInt(f.split(" ")[0]!, 8) & 0o444, 0o444, `${cases[i]!.name}: utab stays readable (${f})`);
    });
  });

  t.test("SIGCHLD ignored, and every signal blocked", { skip: !perl && "perl is needed for the signal wrappers" }, async (t) => {
    const cases: Case[] = [
      { name: "SIGCHLD ignored", mnt: mnt("sigchld"), perlPrelude: '$SIG{CHLD} = "IGNORE"' },
      { name: "all signals blocked", mnt: mnt("sigblock"), perlPrelude: "use POSIX; my $s = POSIX::SigSet->new; $s->fillset; sigprocmask(SIG_BLOCK, $s) or die" },
      { name: "all signals blocked and SIGCHLD ignored", mnt: mnt("sigboth"), perlPrelude: 'use POSIX; $SIG{CHLD} = "IGNORE"; my $s = POSIX::SigSet->new; $s->fillset; sigprocmask(SIG_BLOCK, $s) or die' },
    ];
    runCases(cases).forEach((o, i) => judge(t, cases[i]!, o, "mount"));
  });

  t.test("auto_unmount watchdog with SIGCHLD ignored and every signal blocked: still unmounts after kill -9 of the server", { skip: !perl && "perl is needed" }, async (t) => {
    const c: Case = {
      name: "watchdog, hostile signals", mnt: mnt("sigwatch"), opts: Buffer.from("auto_unmount,x-hostile"),
      perlPrelude: 'use POSIX; $SIG{CHLD} = "IGNORE"; my $s = POSIX::SigSet->new; $s->fillset; sigprocmask(SIG_BLOCK, $s) or die',
    };
    const w = wrapper(c);
    const out = `${rootDir}/watch-out`;
    mkdirSync(out);
    const holdSpec = JSON.stringify({ helper: "/bin/bash", args: [w, "mount"], mode: "hold" });
    const r = inNamespace(`
      mkdir -p /run/mount; mount -t tmpfs tmpfs /run/mount; touch /run/mount/utab
      setpriv --reuid=${u.uid} --regid=${u.gid} --init-groups -- env -i PATH=/usr/bin:/bin ${FAKE_CLIENT} '${holdSpec}' > ${out}/hold.json &
      client=$!
      for i in $(seq 100); do grep -q " ${c.mnt.toString()} " /proc/self/mountinfo && break; sleep 0.1; done
      cp /run/mount/utab ${out}/utab
      grep -c " ${c.mnt.toString()} " /proc/self/mountinfo > ${out}/before || true
      kill -9 $client
      for i in $(seq 100); do grep -q " ${c.mnt.toString()} " /proc/self/mountinfo || break; sleep 0.1; done
      grep -c " ${c.mnt.toString()} " /proc/self/mountinfo > ${out}/after || true
      cp /run/mount/utab ${out}/utab2`);
    t.equal(r.code, 0, r.stderr);
    t.equal(readFileSync(`${out}/before`, "utf8").trim(), "1", "mounted");
    t.match(readFileSync(`${out}/hold.json`, "utf8"), /"gotFd":true/);
    t.equal(utabEntries(readFileSync(`${out}/utab`, "latin1")).length, 1, "recorded");
    t.equal(readFileSync(`${out}/after`, "utf8").trim(), "0", "the watchdog unmounted the dead filesystem");
    t.same(utabEntries(readFileSync(`${out}/utab2`, "latin1")), [], "and removed the record");
    t.ok(await waitFor(() => helperPids(OURS_HELPER).length === 0, 10000), "no helper left running");
  });

  t.test("RLIMIT_NOFILE tiny (soft and hard): a mount or a clean failure, never a mount left behind", async (t) => {
    const limits = [5, 6, 7, 8, 9, 10, 11, 12, 14, 16, 24];
    const cases: Case[] = limits.map((n) => ({ name: `ulimit -n ${n}`, mnt: mnt(`nofile${n}`), prelude: 'ulimit -n "$FM_LIMIT"', env: { FM_LIMIT: String(n) } }));
    const outcomes = runCases(cases);
    outcomes.forEach((o, i) => judge(t, cases[i]!, o, "either"));
    t.ok(outcomes.some((o) => o.client.exitCode === 0), "with enough descriptors it mounts");
  });

  t.test("RLIMIT_NOFILE tiny with mount_max = 0: fuse.conf read errors never fall back to the defaults", async (t) => {
    const limits = [6, 7, 8, 9, 10, 12, 16];
    const cases: Case[] = limits.map((n) => ({ name: `mount_max=0, ulimit -n ${n}`, mnt: mnt(`nofilemax${n}`), prelude: 'ulimit -n "$FM_LIMIT"', env: { FM_LIMIT: String(n) } }));
    runCases(cases, "mount_max = 0\n").forEach((o, i) => {
      t.not(o.client.exitCode, 0, `${cases[i]!.name}: refused`);
      t.equal(entriesAt(o.info, cases[i]!.mnt).length, 0, `${cases[i]!.name}: nothing mounted`);
      t.same(crashMarkers(o.client.stderr), [], `${cases[i]!.name}: no crash`);
    });
  });

  t.test("argv of 1 MiB; -o as long as one argument can be", async (t) => {
    // One argument may hold at most 128 KiB (MAX_ARG_STRLEN), and of several
    // -o only the last counts (libfuse), so the largest option string is one
    // -o of just under 128 KiB; 1 MiB of argv is made of operands.
    const cases: Case[] = [
      // 8200 extra operands of 127 bytes.
      { name: "1 MiB of operands", mnt: mnt("bigargv"), prelude: 'x=$(printf "x%.0s" {1..127}); more=(); for ((i = 0; i < 8200; i++)); do more+=("$x"); done; [ "$1" = -u ] || set -- "$@" "${more[@]}"' },
      // A mountpoint argument of 127 KiB.
      { name: "127 KiB mountpoint", mnt: Buffer.from(`${base}/${"y".repeat(130000)}`) },
      // 131000 bytes of x- options: allowed, but the utab record made of them
      // no longer fits in one argument of /bin/mount.
      { name: "128 KiB of x- options", mnt: mnt("bigx"), opts: Buffer.from(Array.from({ length: 16375 }, (_v, i) => `x-${String(i % 100000).padStart(5, "0")}`).join(",").slice(0, 131000).replace(/,[^,]*$/, "")) },
      // 127 KiB of mount flags: they never reach the kernel's option string.
      { name: "127 KiB of flags", mnt: mnt("bigflags"), opts: Buffer.from(Array.from({ length: 14000 }, () => "ro,nodev").join(",").slice(0, 130000).replace(/,[^,]*$/, "")) },
    ];
    const [operands, longPath, bigX, flags] = runCases(cases);
    // Through the service a request is one message of at most 64 KiB: the
    // launcher refuses the larger ones before sending anything.
    const tooLong = "fusermount3: arguments too long for the service\n";
    if (SERVICE_MODE) t.comment(`service-mode difference request-size-limit: ${serviceDifference("request-size-limit").what}`);
    judge(t, cases[0]!, operands!, "either");
    t.equal(operands!.client.stderr, SERVICE_MODE ? tooLong : "fusermount3: extra arguments after the mountpoint\n");
    judge(t, cases[1]!, longPath!, "either");
    t.not(longPath!.client.exitCode, 0, "a 127 KiB mountpoint cannot exist");
    judge(t, cases[2]!, bigX!, "either");
    if (SERVICE_MODE) {
      judge(t, cases[3]!, flags!, "either");
      t.equal(flags!.client.stderr, tooLong, "127 KiB of flags: refused by the launcher");
      t.equal(flags!.client.exitCode, 1);
    } else {
      judge(t, cases[3]!, flags!, "mount", (e) => t.match(e.mountOptions, /^ro,nosuid,nodev/));
    }
  });

  t.test("bytes that are not UTF-8 in the mountpoint and in options", async (t) => {
    const raw = (prefix: string, bytes: number[], suffix: string) => Buffer.concat([Buffer.from(prefix), Buffer.from(bytes), Buffer.from(suffix)]);
    // A directory whose name is not UTF-8, next to the directory its name
    // would become if the bytes were replaced by U+FFFD.
    const withSibling = raw(`${base}/latin1-`, [0xff], "-dir");
    const sibling = raw(`${base}/latin1-`, [0xef, 0xbf, 0xbd], "-dir");
    const alone = raw(`${base}/alone-`, [0xe9, 0xff], "-dir");
    for (const p of [withSibling, sibling, alone]) {
      mkdirSync(p);
      chownSync(p, u.uid, u.gid);
    }
    const cases: Case[] = [
      { name: "non-UTF-8 mountpoint next to its U+FFFD twin", mnt: withSibling },
      { name: "non-UTF-8 mountpoint", mnt: alone },
      { name: "non-UTF-8 fsname and subtype", mnt: mnt("rawopts"), opts: Buffer.concat([raw("fsname=", [0xfe, 0xff], ",subtype=s"), Buffer.from([0xff]), Buffer.from(",x-hostile")]) },
    ];
    const [o1, o2, o3] = runCases(cases);
    judge(t, cases[0]!, o1!, "either");
    t.equal(entriesAt(o1!.info, sibling).length, 0, "nothing is ever mounted on the directory that was not named");
    judge(t, cases[1]!, o2!, "either");
    judge(t, cases[2]!, o3!, "either", (e) => {
      t.same([...e.source], [0xfe, 0xff], "fsname bytes kept as given");
      t.same([...e.fsType], [...Buffer.from("fuse.s"), 0xff], "subtype bytes kept as given");
    });
  });

});
