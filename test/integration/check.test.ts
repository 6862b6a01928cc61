// fusermount3 --check: a user's diagnosis; each problem one line naming the fix.
// Every problem below is provoked for real (a mount namespace binds the files
// the check reads), and the healthy run shows none of them. The AppArmor label
// itself (/proc/self/attr/current) cannot be faked on this AppArmor-less
// kernel: its parser is unit-tested (test/unit/checkdiag.test.ts).
import t from "tap";
import { writeFileSync, chmodSync, mkdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import {
  ROOT, PREFIX, integration, OURS, OURS_HELPER, user, scratch, rootScratch, runAs, inNamespace, cleanupDir, setuidOnly,
} from "../lib/harness.ts";

type Finding = { id: string; severity: string; message: string };
type Report = Record<string, unknown> & { findings: Finding[]; problems: string[]; notes: string[] };
const ids = (r: Report, severity = "problem") => r.findings.filter((f) => f.severity === severity).map((f) => f.id);
const parse = (stdout: string, t: Tap): Report => {
  try { return JSON.parse(stdout) as Report; } catch { t.fail(`not JSON: ${stdout}`); return { findings: [], problems: [], notes: [] }; }
};
type Tap = { fail(msg: string): unknown };

// Findings the new checks make; a healthy installation has none of them.
const NOSYSCALL = `${PREFIX}/tools/nosyscall`;
const SYS_FSOPEN = 430;
const EPERM = 1;

const NEW_PROBLEMS = ["no-new-privs", "apparmor-confined", "apparmor-no-local-rules", "fusermount-not-setuid",
  "fusermount-stale", "launcher-skew", "launcher-other", "sync-init-failed"];

integration("check tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  const rootDir = rootScratch();
  t.teardown(() => { cleanupDir(base); cleanupDir(rootDir); });
  const asUser = (args: string) => `runuser -u ${u.name} -- env -i ${args} && echo "exit=0" || echo "exit=$?"`;
  // A launcher built from this checkout for another helper path.
  const launcherFor = (helperPath: string, out: string): string => {
    execFileSync("cc", ["-O2", "-D_GNU_SOURCE", `-DHELPER_PATH="${helperPath}"`, `${ROOT}/src/launcher/fusermount3.c`, "-o", out]);
    chmodSync(out, 0o4755);
    return out;
  };
  // --check diagnoses the set-uid installation from the caller's process (its
  // NoNewPrivileges, seccomp filter, AppArmor label, the launcher it came
  // through). Through the service it runs in the service's request child
  // and reports on that process instead: a known difference (see the README's
  // testing section), to be settled with the work on --check for the service.
  const CHECK_SETUID = setuidOnly("--check's diagnosis of the set-uid installation from the caller's process; through the service it reports on the service's request child instead (known difference)");
  // The mode tests start, kill and replace a service of their own on this
  // namespace's /run/fusermount3: they run in the set-uid pass, where none runs.
  const OWN_SERVICE = setuidOnly("the --check mode tests start, kill and replace a service of their own; the service pass runs one already");
  const syncInitSupported = (() => {
    const j = JSON.parse(runAs(u, [OURS, "--check", "--json"]).stdout) as { syncInit: string };
    return j.syncInit === "supported";
  })();

  t.test("a healthy installation", CHECK_SETUID, async (t) => {
    const r = runAs(u, [OURS, "--check"], { argv0: "fusermount3" });
    t.equal(r.code, 0, r.stdout);
    t.match(r.stdout, /^fusermount3 \d+\.\d+\.\d+: launcher .*\/bin\/fusermount3, helper .*fusermount3-bun\n/);
    t.match(r.stdout, /\nmode: the set-uid launcher \(no service at \/run\/fusermount3\/service\.sock\)\n/);
    t.match(r.stdout, /FUSE protocol 7\.\d+; synchronous FUSE_INIT (supported, works end to end|not supported \(Linux 6\.18\+ has it; .*\))\n/);
    t.match(r.stdout, /\/dev\/fuse: mode 0666, usable by you\n/);
    t.match(r.stdout, /\nAppArmor: not in this kernel; NoNewPrivileges not set\n/);
    t.match(r.stdout, /\nfusermount3 where FUSE programs look: /);
    t.match(r.stdout, /no problems found\n$/);
    const j = parse(runAs(u, [OURS, "--check", "--json"]).stdout, t);
    t.equal(j.privileged, true);
    t.same(j.problems, []);
    t.same(ids(j).filter((id) => NEW_PROBLEMS.includes(id)), []);
    t.match(String(j.fuseProtocol), /^7\.\d+$/);
    t.equal(j.noNewPrivs, false);
    t.same(j.launcherBuiltFor, [OURS_HELPER], "the launcher runs this helper");
    t.same(j.mode, { use: "set-uid", service: { socket: "/run/fusermount3/service.sock", state: "absent", version: null, detail: "", served: false },
      launcherSetuid: true, setuidWorks: true });
    t.same((j.apparmor as Record<string, unknown>).confined, false);
    if (syncInitSupported) t.same(j.syncInitEndToEnd, { result: "works", detail: "" }, "FUSE_INIT answered synchronously, as root");
    // Debian's own helper sits in /usr/bin here: a note, never a problem.
    t.same(ids(j, "note").filter((id) => id !== "fusermount-other"), []);
  });

  t.test("problems name their fix", async (t) => {
    const conf = `${base}/fuse.conf`;
    writeFileSync(conf, "mount_max = 0\nbogus line\n");
    chmodSync(conf, 0o644);
    const r = inNamespace(`
      mkdir -p ${base}/dev && mknod -m 600 ${base}/dev/fuse c 10 229
      mount --bind ${base}/dev/fuse /dev/fuse
      mount --bind ${conf} /etc/fuse.conf
      ${asUser(`${OURS} --check`)}`);
    t.match(r.stdout, /fusermount3: you cannot open \/dev\/fuse \(Permission denied\): make it mode 0666 \(chmod 0666 \/dev\/fuse\)\n/);
    t.match(r.stdout, /unknown parameter in \/etc\/fuse.conf at line 2: 'bogus line': fix or remove that line\n/);
    t.match(r.stdout, /mount_max reached \(\d+ FUSE mounts, mount_max = 0\): unmount some or raise mount_max in \/etc\/fuse.conf\n/);
    t.match(r.stdout, /exit=1\n$/);
  });

  t.test("the helper run without its launcher says so", CHECK_SETUID, async (t) => {
    const r = runAs(u, [OURS_HELPER, "--check"], { argv0: "fusermount3" });
    t.equal(r.code, 1);
    t.match(r.stdout, /fusermount3: not running as root: run fusermount3 through its set-uid launcher .*\/bin\/fusermount3\n/);
    if (syncInitSupported) {
      t.match(r.stdout, /synchronous FUSE_INIT supported \(FUSE_DEV_IOC_SYNC_INIT\), not exercised end to end \(not running as root\)\n/);
    }
  });

  t.test("NoNewPrivileges: the set-uid bit is ignored, and the check says why", CHECK_SETUID, async (t) => {
    const r = runAs(u, ["/usr/bin/setpriv", "--no-new-privs", OURS, "--check"]);
    t.equal(r.code, 1, r.stdout);
    t.match(r.stdout, /: NoNewPrivileges is set for this process \(NoNewPrivs: 1 in \/proc\/self\/status\), so the kernel ignores the set-uid bit of every fusermount3: start the fusermount3 service, which works under it \(systemctl enable --now fusermount3\.socket, or \.\/install\.sh --service\), or run the FUSE server outside the NoNewPrivileges sandbox \(systemd NoNewPrivileges=, setpriv --no-new-privs, bwrap, containers\)\n/);
    t.match(r.stdout, /\nmode: none \(no service at \/run\/fusermount3\/service\.sock; NoNewPrivileges is set\)\n/);
    t.notMatch(r.stdout, /not running as root: run fusermount3 through/, "one problem, one line");
    t.match(r.stdout, /; NoNewPrivileges set\n/);
    const j = parse(runAs(u, ["/usr/bin/setpriv", "--no-new-privs", OURS, "--check", "--json"]).stdout, t);
    t.equal(j.noNewPrivs, true);
    t.equal(j.privileged, false);
    t.same(ids(j), ["no-new-privs"]);
  });

  t.test("a fusermount3 that is not set-uid where libfuse looks first", async (t) => {
    const plain = `${rootDir}/fusermount3-plain`;
    execFileSync("install", ["-m", "0755", "/usr/bin/fusermount3", plain]);
    const r = inNamespace(`
      mount --bind ${plain} /usr/bin/fusermount3
      ${asUser(`${OURS} --check`)}`);
    t.match(r.stdout, /fusermount3: \/usr\/bin\/fusermount3( = \S+)* is not set-uid root \(mode 0755, owner uid 0\), so libfuse 3( and libfuse 2)? programs that run it cannot mount: make it set-uid root \(chown root:root \/usr\/bin\/fusermount3; chmod 4755 \/usr\/bin\/fusermount3\) or remove it\n/);
    t.match(r.stdout, /exit=1\n$/);
  });

  t.test("a fusermount3 earlier in PATH (/usr/local/bin): not set-uid, a stale launcher of ours, another one", CHECK_SETUID, async (t) => {
    const plain = `${rootDir}/fusermount3-plain2`;
    execFileSync("install", ["-m", "0755", "/usr/bin/fusermount3", plain]);
    const stale = launcherFor("/gone/lib/fusermount3/fusermount3-bun", `${rootDir}/fusermount3-stale`);
    const inLocalBin = (file: string) => inNamespace(`
      mount -t tmpfs -o mode=0755 tmpfs /usr/local/bin
      cp -p ${file} /usr/local/bin/fusermount3
      ${asUser(`${OURS} --check`)}`);
    const a = inLocalBin(plain);
    t.match(a.stdout, /fusermount3: \/usr\/local\/bin\/fusermount3 is not set-uid root \(mode 0755, owner uid 0\), so programs and scripts searching PATH that run it cannot mount: /);
    const b = inLocalBin(stale);
    t.match(b.stdout, /fusermount3: \/usr\/local\/bin\/fusermount3 is a fusermount3-ts launcher for \/gone\/lib\/fusermount3\/fusermount3-bun, which does not exist, so programs and scripts searching PATH that run it fail: reinstall it \(\.\/install\.sh\) or remove it\n/);
    t.match(b.stdout, /exit=1\n$/);
    const c = inLocalBin(OURS);
    t.match(c.stdout, /fusermount3: note: programs and scripts searching PATH run \/usr\/local\/bin\/fusermount3 \(another fusermount3-ts, helper \S+fusermount3-bun\), not this one: /);
    t.match(c.stdout, /no problems found\nexit=0\n$/, "another working fusermount3 is a note");
  });

  t.test("this launcher where libfuse looks: no note about another fusermount3", CHECK_SETUID, async (t) => {
    const r = inNamespace(`
      mount --bind ${OURS} /usr/bin/fusermount3
      ${asUser(`${OURS} --check`)}`);
    t.match(r.stdout, /fusermount3 where FUSE programs look: \/usr\/bin\/fusermount3( = \S+)* \(this launcher\)\n/);
    t.notMatch(r.stdout, /note: .*not this one/);
    t.match(r.stdout, /exit=0\n$/);
  });

  t.test("launcher/helper skew: the launcher next to the helper was built for another helper", CHECK_SETUID, async (t) => {
    const skewed = launcherFor("/old/lib/fusermount3/fusermount3-bun", `${rootDir}/fusermount3-skewed`);
    const real = `${rootDir}/real-launcher`;
    writeFileSync(real, "");
    const r = inNamespace(`
      mount --bind ${OURS} ${real}
      mount --bind ${skewed} ${OURS}
      ${asUser(`${real} --check`)}`);
    t.match(r.stdout, new RegExp(`: launcher ${OURS} was built for helper /old/lib/fusermount3/fusermount3-bun, not this one \\(${OURS_HELPER}\\): reinstall both with \\./install\\.sh --prefix \\S+\\n`));
    t.notMatch(r.stdout, /not running as root/, "run through a good launcher, the helper is privileged");
    t.match(r.stdout, /exit=1\n$/);
  });

  t.test("AppArmor: a profile for this launcher without this project's local rules", CHECK_SETUID, async (t) => {
    const aa = `${rootDir}/apparmor.d`;
    const sysmod = `${rootDir}/sysmodule`;
    mkdirSync(`${aa}/local`, { recursive: true });
    mkdirSync(`${sysmod}/apparmor/parameters`, { recursive: true });
    writeFileSync(`${aa}/fusermount3`, "abi <abi/4.0>,\ninclude <tunables/global>\nprofile fusermount3 /usr/bin/fusermount3 {\n  include if exists <local/fusermount3>\n}\n");
    // The kernel has no AppArmor: a fake module parameter over /sys/module.
    const run = (opts: { enabled?: string; local?: string | null; ours?: boolean }) => {
      writeFileSync(`${sysmod}/apparmor/parameters/enabled`, `${opts.enabled ?? "Y"}\n`);
      if (opts.local === null) execFileSync("rm", ["-f", `${aa}/local/fusermount3`]);
      else writeFileSync(`${aa}/local/fusermount3`, opts.local ?? "# site rules\n");
      return inNamespace(`
        mount --bind ${sysmod} /sys/module
        mount --bind ${aa} /etc/apparmor.d
        ${opts.ours === false ? "" : `mount --bind ${OURS} /usr/bin/fusermount3`}
        ${asUser(`${OURS} --check`)}
        ${asUser(`${OURS} --check --json`)}`);
    };
    const json = (stdout: string) => parse(stdout.slice(stdout.indexOf("exit=") + 7, stdout.lastIndexOf("exit=")), t);

    const none = run({});
    t.match(none.stdout, /fusermount3: AppArmor profile \/etc\/apparmor.d\/fusermount3 confines \/usr\/bin\/fusermount3 \(this launcher\) but \/etc\/apparmor.d\/local\/fusermount3 has no fusermount3-ts rules \(no '# fusermount3-ts' line\), so the launcher cannot start its helper: add this project's rules \(\.\/install\.sh --system writes them\) and reload with apparmor_parser -r \/etc\/apparmor.d\/fusermount3\n/);
    t.match(none.stdout, /\nAppArmor: enabled; \/etc\/apparmor.d\/fusermount3 present, local rules none; /);
    const nj = json(none.stdout);
    t.same(nj.apparmor, { enabled: true, label: null, mode: null, confined: false, profile: "/etc/apparmor.d/fusermount3",
      profilePresent: true, localRules: "none", attachIsThisLauncher: true });
    t.same(ids(nj), ["apparmor-no-local-rules"]);

    const missing = run({ local: null });
    t.match(missing.stdout, /\/etc\/apparmor.d\/local\/fusermount3 does not exist, so the launcher cannot start its helper: /);

    const ours = run({ local: "# fusermount3-ts\n/usr/lib/fusermount3/fusermount3-bun ix,\n" });
    t.notMatch(ours.stdout, /AppArmor profile/, "with the marker line: no problem");
    t.match(ours.stdout, /local rules of fusermount3-ts; /);
    t.match(ours.stdout, /no problems found\nexit=0\n/);

    const disabled = run({ enabled: "N" });
    t.notMatch(disabled.stdout, /AppArmor profile/, "AppArmor disabled: the profile is not loaded");
    t.match(disabled.stdout, /\nAppArmor: disabled; /);

    const other = run({ ours: false });
    t.notMatch(other.stdout, /AppArmor profile/, "the profile confines another fusermount3, not this one");
  });

  t.test("synchronous FUSE_INIT that cannot work end to end (fsopen denied by seccomp, as in containers)", { skip: !syncInitSupported ? "the kernel has no sync init" : CHECK_SETUID.skip }, async (t) => {
    // test/tools/nosyscall: root installs a filter that fails fsopen() with
    // EPERM (allowed without NoNewPrivileges for root), drops to the user and
    // runs the set-uid launcher, which inherits the filter: the helper is root
    // but cannot fsopen.
    const deny = [NOSYSCALL, String(SYS_FSOPEN), String(EPERM), String(u.uid), String(u.gid)];
    const r = runAs(null, [...deny, OURS, "--check"]);
    t.equal(r.code, 1, r.stdout + r.stderr);
    t.match(r.stdout, /synchronous FUSE_INIT supported by the kernel, failed end to end \(fsopen\/fsconfig: Operation not permitted\)\n/);
    t.match(r.stdout, /: synchronous FUSE_INIT is offered by the kernel but failed end to end \(fsopen\/fsconfig: Operation not permitted\): FUSE servers must mount without --sync-init here \(libfuse: do not enable sync init\)\n/);
    const j = parse(runAs(null, [...deny, OURS, "--check", "--json"]).stdout, t);
    t.same(j.syncInitEndToEnd, { result: "failed", detail: "fsopen/fsconfig: Operation not permitted" });
    t.same(ids(j), ["sync-init-failed"]);
  });

  // The service's socket in a private /run (an overlay, so the machine's is
  // never written), in a namespace of its own; `body` runs there. Every
  // process it starts is ended by PID before it returns.
  const withPrivateRun = (body: string) => inNamespace(`
    t=$(mktemp -d /tmp/fm-check-run-XXXXXX); mount -t tmpfs tmpfs "$t"; mkdir "$t/u" "$t/w"
    mount -t overlay overlay -o lowerdir=/run,upperdir="$t/u",workdir="$t/w" /run
    mkdir -p /run/fusermount3; mount -t tmpfs -o mode=0755 tmpfs /run/fusermount3
    S=/run/fusermount3/service.sock
    pids=""; trap 'for p in $pids; do kill -9 $p 2>/dev/null || true; done' EXIT
    service() { ${OURS_HELPER} --service 2>/dev/null & pids="$pids $!"; for i in $(seq 100); do [ -S $S ] && return; sleep 0.05; done; echo "no service"; }
    # A socket file nobody listens on, as a service killed without cleaning up leaves it.
    stale() { python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(sys.argv[1])' $S; chmod 0666 $S; }
    ${body}`, {}, 60000);
  const between = (out: string, a: string, b: string) => out.slice(out.indexOf(a) + a.length, out.indexOf(b));

  t.test("mode: a service answers, and the report comes through it (also under NoNewPrivileges)", OWN_SERVICE, async (t) => {
    const r = withPrivateRun(`
      service
      ${asUser(`${OURS} --check`)}
      echo ==JSON==; ${asUser(`/usr/bin/setpriv --no-new-privs ${OURS} --check --json`)}; echo ==END==`);
    t.match(r.stdout, /\nmode: the service first \(the service at \/run\/fusermount3\/service\.sock answers \(fusermount3 version: \d+\.\d+\.\d+\); this report came through it\); set-uid fallback available\n/, r.stderr);
    t.match(r.stdout, /no problems found\nexit=0\n/);
    const j = parse(between(r.stdout, "==JSON==", "exit=0\n==END=="), t);
    t.match(j.mode, { use: "service", service: { state: "answers", served: true }, launcherSetuid: true, setuidWorks: false });
    t.equal(j.noNewPrivs, true, "the caller's NoNewPrivileges, not the service's");
    t.same(j.problems, [], "under NoNewPrivileges, the service is the way: no problem");
  });

  t.test("mode: a stale socket (the service was killed) is a note; the set-uid path is used", OWN_SERVICE, async (t) => {
    const r = withPrivateRun(`
      service; kill -9 $pids; wait 2>/dev/null || true; chmod 0666 $S
      ${asUser(`${OURS} --check`)}`);
    t.match(r.stdout, /\nmode: the set-uid launcher \(\/run\/fusermount3\/service\.sock exists but no service listens \(Connection refused\)\)\n/);
    t.match(r.stdout, /fusermount3: note: \/run\/fusermount3\/service\.sock exists but no service listens \(Connection refused\), so the launcher uses its set-uid path: start the service \(systemctl enable --now fusermount3\.socket, or \.\/install\.sh --service\) or remove the stale socket \(rm \/run\/fusermount3\/service\.sock\)\n/);
    t.match(r.stdout, /no problems found\nexit=0\n$/);
  });

  t.test("mode: a socket the caller may not connect to is a note", OWN_SERVICE, async (t) => {
    const r = withPrivateRun(`
      service; chmod 0600 $S
      ${asUser(`${OURS} --check`)}`);
    t.match(r.stdout, /fusermount3: note: cannot connect to \/run\/fusermount3\/service\.sock \(Permission denied\), so the launcher uses its set-uid path: give the socket mode 0666 in a directory of mode 0755 \(SocketMode=0666, DirectoryMode=0755\)\n/);
    t.match(r.stdout, /exit=0\n$/);
  });

  t.test("mode: a service that takes connections but never answers is a problem, found within the deadline", OWN_SERVICE, async (t) => {
    // The launcher would wait for it: the helper is asked directly.
    const r = withPrivateRun(`
      python3 -c 'import socket,sys,os,time; s=socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666); s.listen(8); time.sleep(60)' $S & pids="$pids $!"
      for i in $(seq 100); do [ -S $S ] && break; sleep 0.05; done; sleep 0.2
      start=$(date +%s%N); ${asUser(`${OURS_HELPER} --check`)}; echo "ms=$(( ($(date +%s%N) - start) / 1000000 ))"`);
    t.match(r.stdout, /: a service takes connections at \/run\/fusermount3\/service\.sock but did not answer \(no reply to -V within 2000 ms\), so every fusermount3 waits for it: restart it \(systemctl restart fusermount3\.service\)\n/);
    t.match(r.stdout, /exit=1\n/);
    const ms = Number(/ms=(\d+)/.exec(r.stdout)?.[1]);
    t.ok(ms < 12000, `bounded (${ms} ms in all)`);
  });

  t.test("mode: neither a service nor a set-uid launcher: one line naming both fixes", OWN_SERVICE, async (t) => {
    const plain = `${rootDir}/fusermount3-not-setuid`;
    execFileSync("install", ["-m", "0755", OURS, plain]);
    const r = withPrivateRun(`
      mount --bind ${plain} ${OURS}
      ${asUser(`${OURS} --check`)}
      stale
      ${asUser(`${OURS} --check`)}`);
    const fix = "start the fusermount3 service \\(systemctl enable --now fusermount3\\.socket, or \\./install\\.sh --service\\) or make the launcher set-uid root " +
      `\\(chown root:root ${OURS}; chmod 4755 ${OURS}\\)`;
    t.match(r.stdout, new RegExp(`fusermount3: nothing can mount for you: no service at /run/fusermount3/service\\.sock and ${OURS} is not set-uid root: ${fix}\\n`));
    t.match(r.stdout, new RegExp(`fusermount3: nothing can mount for you: /run/fusermount3/service\\.sock exists but no service listens \\(Connection refused\\) and ${OURS} is not set-uid root: ${fix}\\n`));
    t.match(r.stdout, /\nmode: none \(no service at \/run\/fusermount3\/service\.sock; the launcher is not set-uid root\)\n/);
    t.notMatch(r.stdout, /: not running as root: |must be owned by root with mode 4755/, "one problem, one line");
    t.equal(r.stdout.match(/exit=1\n/g)?.length, 2);
  });

  t.test("--check takes no mountpoint; --json needs --check", async (t) => {
    t.equal(runAs(u, [OURS, "--check", "/mnt"], { argv0: "fusermount3" }).stderr, "fusermount3: --check takes no mountpoint\n");
    t.equal(runAs(u, [OURS, "--json", "/mnt"], { argv0: "fusermount3" }).stderr, "fusermount3: --json goes with --check\n");
  });
});
