// Unit tests for src/policy/checkdiag.ts, the pure half of --check. The AppArmor label
// (/proc/self/attr/current) cannot be faked for a real process on a kernel
// without AppArmor (procfs answers it, not a file a test could bind over), so
// its parser is tested here only; the integration tests fake the files that can
// be faked (/etc/apparmor.d, the module parameter) in a mount namespace.
import t from "tap";
import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import * as d from "../../src/policy/checkdiag.ts";

// Every finding is one line, and a fix follows its ': '. Returns the offenders.
const notOneLineWithFix = (fs: d.Finding[]): string[] =>
  fs.filter((f) => f.message.includes("\n") || !/: \S/.test(f.message)).map((f) => f.id);

t.test("the module is pure: no imports at all", async (t) => {
  const src = readFileSync(join(dirname(fileURLToPath(import.meta.url)), "../../src/policy/checkdiag.ts"), "utf8");
  t.notMatch(src, /^\s*import\b/m);
  t.notMatch(src, /\brequire\(/);
});

t.test("parseAppArmorLabel", async (t) => {
  t.same(d.parseAppArmorLabel("unconfined\n"), { label: "unconfined", mode: null, confined: false, denies: false });
  t.same(d.parseAppArmorLabel("fusermount3 (enforce)\n"), { label: "fusermount3", mode: "enforce", confined: true, denies: true });
  t.same(d.parseAppArmorLabel("fusermount3 (complain)\0"), { label: "fusermount3", mode: "complain", confined: true, denies: false });
  t.same(d.parseAppArmorLabel("snap.foo.bar (kill)"), { label: "snap.foo.bar", mode: "kill", confined: true, denies: true });
  // AppArmor 4 profiles with flags=(unconfined) carry a name but confine nothing.
  t.same(d.parseAppArmorLabel("unprivileged_userns (unconfined)\n"), { label: "unprivileged_userns", mode: "unconfined", confined: false, denies: false });
  t.same(d.parseAppArmorLabel("/usr/bin/fusermount3 (enforce)"), { label: "/usr/bin/fusermount3", mode: "enforce", confined: true, denies: true });
  t.same(d.parseAppArmorLabel(":ns:fusermount3//&unconfined (mixed)")?.label, ":ns:fusermount3//&unconfined");
  t.equal(d.parseAppArmorLabel("unconfined_u:unconfined_r:unconfined_t:s0-s0:c0.c1023\n"), null, "an SELinux context");
  t.equal(d.parseAppArmorLabel("_"), null, "a Smack label");
  t.equal(d.parseAppArmorLabel(""), null);
  t.equal(d.parseAppArmorLabel("a (ENFORCE)"), null);
  t.equal(d.parseAppArmorLabel("a\nb (enforce)"), null);
});

t.test("parseYesNo, markers, NoNewPrivs", async (t) => {
  t.equal(d.parseYesNo("Y\n"), true);
  t.equal(d.parseYesNo("N\n"), false);
  t.equal(d.parseYesNo("maybe"), null);
  t.equal(d.APPARMOR_LOCAL_MARKER, "# fusermount3-ts");
  t.equal(d.localRulesState(null), "missing");
  t.equal(d.localRulesState(""), "none");
  t.equal(d.localRulesState("# site rules\n/srv/** rw,\n"), "none");
  t.equal(d.localRulesState("# fusermount3-ts\n/usr/lib/fusermount3/fusermount3-bun ix,\n"), "ours");
  t.equal(d.localRulesState("# fusermount3-ts 0.1.0: do not edit\n"), "ours");
  t.equal(d.localRulesState("  # fusermount3-ts\n"), "ours");
  t.equal(d.localRulesState("# fusermount3-tsx\n"), "none");
  t.equal(d.localRulesState("/x r, # fusermount3-ts\n"), "none", "a marker inside a rule line does not count");
  const status = "Name:\tfusermount3\nUmask:\t0022\nNoNewPrivs:\t1\nSeccomp:\t0\n";
  t.equal(d.parseNoNewPrivs(status), true);
  t.equal(d.parseNoNewPrivs(status.replace("NoNewPrivs:\t1", "NoNewPrivs:\t0")), false);
  t.equal(d.parseNoNewPrivs("Name:\tx\n"), null, "kernels before 4.10 have no field");
  t.equal(d.statusField("XNoNewPrivs:\t1\n", "NoNewPrivs"), null);
});

const aa = (o: Partial<d.AppArmorFacts>): d.AppArmorFacts => ({
  enabled: null, label: null, labelErrno: null, profilePresent: false, localRules: "missing", attachIsThisLauncher: false, ...o,
});

t.test("appArmorFindings", async (t) => {
  t.same(d.appArmorFindings(aa({})), [], "no AppArmor");
  t.same(d.appArmorFindings(aa({ enabled: true, label: d.parseAppArmorLabel("unconfined") })), [], "unconfined");
  t.same(d.appArmorFindings(aa({ enabled: false, profilePresent: true, attachIsThisLauncher: true })), [], "disabled: the profile is not loaded");
  t.same(d.appArmorFindings(aa({ enabled: true, profilePresent: true, attachIsThisLauncher: false })), [],
    "the profile confines another fusermount3, not ours");
  t.same(d.appArmorFindings(aa({ enabled: true, profilePresent: true, attachIsThisLauncher: true, localRules: "ours" })), []);

  const none = d.appArmorFindings(aa({ enabled: true, profilePresent: true, attachIsThisLauncher: true, localRules: "none" }));
  t.equal(none.length, 1);
  t.equal(none[0]!.severity, "problem");
  t.equal(none[0]!.message, "AppArmor profile /etc/apparmor.d/fusermount3 confines /usr/bin/fusermount3 (this launcher) but " +
    "/etc/apparmor.d/local/fusermount3 has no fusermount3-ts rules (no '# fusermount3-ts' line), so the launcher cannot start " +
    "its helper: add this project's rules (./install.sh --system writes them) and reload with apparmor_parser -r /etc/apparmor.d/fusermount3");
  const missing = d.appArmorFindings(aa({ enabled: true, profilePresent: true, attachIsThisLauncher: true, localRules: "missing" }));
  t.match(missing[0]!.message, /\/etc\/apparmor.d\/local\/fusermount3 does not exist, so/);

  const confined = d.appArmorFindings(aa({ enabled: true, label: d.parseAppArmorLabel("fusermount3 (enforce)") }));
  t.equal(confined.length, 1);
  t.equal(confined[0]!.severity, "problem");
  t.equal(confined[0]!.message, "confined by AppArmor profile 'fusermount3' (enforce): a refused mount is logged as " +
    "apparmor=\"DENIED\" operation=\"mount\" profile=\"fusermount3\" (journalctl -k | grep DENIED, or dmesg); allow it in " +
    "/etc/apparmor.d/local/fusermount3 and reload with apparmor_parser -r /etc/apparmor.d/fusermount3");
  const expected = d.appArmorFindings(aa({
    enabled: true, label: d.parseAppArmorLabel("fusermount3 (enforce)"), profilePresent: true, attachIsThisLauncher: true, localRules: "ours",
  }));
  t.same(expected.map((f) => [f.id, f.severity]), [["apparmor-confined", "note"]], "with our rules, confinement is expected: a note");
  const other = d.appArmorFindings(aa({ enabled: true, label: d.parseAppArmorLabel("snap.x.y (enforce)") }));
  t.match(other[0]!.message, /profile="snap\.x\.y".*the profile's local rules under \/etc\/apparmor.d\/local\//);
  const complain = d.appArmorFindings(aa({ enabled: true, label: d.parseAppArmorLabel("fusermount3 (complain)") }));
  t.same(complain.map((f) => f.severity), ["note"]);
  t.match(complain[0]!.message, /nothing is refused/);
  const unreadable = d.appArmorFindings(aa({ enabled: true, labelErrno: 13 }));
  t.same(unreadable.map((f) => [f.id, f.severity]), [["apparmor-label-unreadable", "note"]]);
  t.same(d.appArmorFindings(aa({ enabled: null, labelErrno: 22 })), [], "EINVAL: no LSM answers the label");
  t.same(notOneLineWithFix([...none, ...missing, ...confined, ...expected, ...other, ...complain, ...unreadable]), [], "one line each, naming the fix");
});

const inst = (o: Partial<d.InstallFacts>): d.InstallFacts => ({
  helper: "/p/lib/fusermount3/fusermount3-bun", helperFile: { mode: 0o100755, uid: 0 },
  launcher: "/p/bin/fusermount3", launcherFile: { mode: 0o104755, uid: 0 },
  privileged: true, callerIsRoot: false, launcherNosuid: false, noNewPrivs: false, serviceAnswers: false, ...o,
});

t.test("installFindings: NoNewPrivileges names itself, not the generic line", async (t) => {
  t.same(d.installFindings(inst({})), []);
  const nnp = d.installFindings(inst({ privileged: false, noNewPrivs: true }));
  t.same(nnp.map((f) => f.id), ["no-new-privs"]);
  t.match(nnp[0]!.message, /^NoNewPrivileges is set .*: start the fusermount3 service, which works under it \(systemctl enable --now fusermount3\.socket, or \.\/install\.sh --service\), or run the FUSE server outside the NoNewPrivileges sandbox/);
  t.same(d.installFindings(inst({ privileged: false, noNewPrivs: false })).map((f) => f.id), ["not-root"]);
  t.same(d.installFindings(inst({ privileged: false, noNewPrivs: null })).map((f) => f.id), ["not-root"]);
  t.same(d.installFindings(inst({ privileged: false, launcherNosuid: true })).map((f) => f.id), ["launcher-nosuid"]);
  t.same(d.installFindings(inst({ privileged: false, noNewPrivs: true, launcherNosuid: true })).map((f) => f.id), ["no-new-privs", "launcher-nosuid"]);
  t.same(d.installFindings(inst({ privileged: false, callerIsRoot: true, noNewPrivs: true })), [], "root needs no set-uid");
  t.same(d.installFindings(inst({ launcherFile: null })).map((f) => f.id), ["launcher-missing"]);
  t.same(d.installFindings(inst({ launcherFile: { mode: 0o100755, uid: 0 } })), [], "0755: installed without set-uid (modeFindings)");
  t.same(d.installFindings(inst({ launcherFile: { mode: 0o100700, uid: 0 } })).map((f) => f.id), ["launcher-mode"]);
  t.same(d.installFindings(inst({ launcherFile: { mode: 0o104755, uid: 1000 } })).map((f) => f.id), ["launcher-mode"]);
  t.same(d.installFindings(inst({ privileged: false, launcherFile: { mode: 0o100755, uid: 0 } })), [], "not set-uid: the mode's line, not not-root");
  t.same(d.installFindings(inst({ privileged: false, noNewPrivs: true, serviceAnswers: true })), [], "a service answers: NoNewPrivileges does not matter");
  t.same(d.installFindings(inst({ privileged: false, launcherNosuid: true, serviceAnswers: true })), []);
  t.same(d.installFindings(inst({ helperFile: { mode: 0o104755, uid: 0 } })).map((f) => f.id), ["helper-setuid"]);
  t.same(d.installFindings(inst({ helperFile: { mode: 0o100775, uid: 0 } })).map((f) => f.id), ["helper-owner"]);
  t.same(notOneLineWithFix(nnp), [], "one line each, naming the fix");
});

const svc = (o: Partial<d.ServiceFacts>): d.ServiceFacts => ({
  socket: "/run/fusermount3/service.sock", state: "absent", version: null, detail: "", served: false, ...o,
});
const modeFacts = (o: Partial<d.ModeFacts>): d.ModeFacts => ({
  service: svc({}), launcher: "/p/bin/fusermount3", launcherFile: { mode: 0o104755, uid: 0 },
  noNewPrivs: false, launcherNosuid: false, callerIsRoot: false, ...o,
});

t.test("the mode: the service first, else the set-uid launcher, else neither (one line naming both fixes)", async (t) => {
  const answers = svc({ state: "answers", version: "fusermount3 version: 3.19.0" });
  const plain = { mode: 0o100755, uid: 0 };
  t.equal(d.modeOf(modeFacts({})), "set-uid");
  t.same(d.modeFindings(modeFacts({})), []);
  t.equal(d.describeMode(modeFacts({})), "the set-uid launcher (no service at /run/fusermount3/service.sock)");
  t.equal(d.modeOf(modeFacts({ service: answers })), "service");
  t.equal(d.describeMode(modeFacts({ service: answers })),
    "the service first (the service at /run/fusermount3/service.sock answers (fusermount3 version: 3.19.0)); set-uid fallback available");
  t.equal(d.describeMode(modeFacts({ service: answers, launcherFile: plain })), "the service first (the service at /run/fusermount3/service.sock answers (fusermount3 version: 3.19.0)); set-uid fallback none (the launcher is not set-uid root)");
  t.equal(d.describeMode(modeFacts({ service: svc({ state: "answers", served: true, version: "v" }), noNewPrivs: true })),
    "the service first (the service at /run/fusermount3/service.sock answers (v); this report came through it); set-uid fallback none (NoNewPrivileges is set)");
  t.same(d.modeFindings(modeFacts({ service: answers, launcherFile: plain, noNewPrivs: true })), [], "the service works under NoNewPrivileges");

  const none = d.modeFindings(modeFacts({ launcherFile: plain }));
  t.equal(d.modeOf(modeFacts({ launcherFile: plain })), "none");
  t.same(none.map((f) => [f.id, f.severity]), [["no-mode", "problem"]]);
  t.equal(none[0]!.message, "nothing can mount for you: no service at /run/fusermount3/service.sock and /p/bin/fusermount3 is not set-uid root: " +
    "start the fusermount3 service (systemctl enable --now fusermount3.socket, or ./install.sh --service) or make the launcher set-uid root " +
    "(chown root:root /p/bin/fusermount3; chmod 4755 /p/bin/fusermount3)");
  const staleNone = d.modeFindings(modeFacts({ launcherFile: plain, service: svc({ state: "stale", detail: "Connection refused" }) }));
  t.match(staleNone[0]!.message, /^nothing can mount for you: \/run\/fusermount3\/service.sock exists but no service listens \(Connection refused\) and /);
  t.same(d.modeFindings(modeFacts({ noNewPrivs: true })), [], "NoNewPrivileges has its own line (installFindings)");
  t.same(d.modeFindings(modeFacts({ callerIsRoot: true, launcherFile: plain })), [], "root needs neither");

  const stale = d.modeFindings(modeFacts({ service: svc({ state: "stale", detail: "Connection refused" }) }));
  t.same(stale.map((f) => [f.id, f.severity]), [["service-stale", "note"]]);
  t.match(stale[0]!.message, /so the launcher uses its set-uid path: start the service \(.*\) or remove the stale socket \(rm \/run\/fusermount3\/service.sock\)$/);
  const unreachable = d.modeFindings(modeFacts({ service: svc({ state: "unreachable", detail: "Permission denied" }) }));
  t.same(unreachable.map((f) => [f.id, f.severity]), [["service-unreachable", "note"]]);
  const hung = d.modeFindings(modeFacts({ service: svc({ state: "no-answer", detail: "no reply to -V within 2000 ms" }) }));
  t.same(hung.map((f) => [f.id, f.severity]), [["service-no-answer", "problem"]]);
  t.match(hung[0]!.message, /so every fusermount3 waits for it: restart it \(systemctl restart fusermount3\.service\)$/);
  t.same(notOneLineWithFix([...none, ...staleNone, ...stale, ...unreachable, ...hung]), [], "one line each, naming the fix");
});

const bin = (...parts: string[]) => new TextEncoder().encode(parts.join(""));

t.test("embeddedHelperPaths and knowsSyncInit scan bytes", async (t) => {
  t.same(d.embeddedHelperPaths(bin("\x7fELF\0\0%s: failed\n\0fusermount\0\0\0/usr/local/lib/fusermount3/fusermount3-bun\0\0\0")),
    ["/usr/local/lib/fusermount3/fusermount3-bun"]);
  t.same(d.embeddedHelperPaths(bin("\x01\x02/opt/x y/fusermount3-bun\0")), ["/opt/x y/fusermount3-bun"], "spaces are kept");
  t.same(d.embeddedHelperPaths(bin("junk/a/fusermount3-bun\0")), ["/a/fusermount3-bun"], "starts at the first slash");
  t.same(d.embeddedHelperPaths(bin("/a/fusermount3-bun\0/b/fusermount3-bun\0/a/fusermount3-bun\0")), ["/a/fusermount3-bun", "/b/fusermount3-bun"]);
  t.same(d.embeddedHelperPaths(bin("/a/fusermount3-bunx\0/a/fusermount3-bun")), [], "exact name, NUL-terminated");
  t.same(d.embeddedHelperPaths(new Uint8Array(0)), []);
  t.equal(d.knowsSyncInit(bin("\0unmount\0sync-init\0comm-fd\0")), true);
  t.equal(d.knowsSyncInit(bin("\0unmount\0comm-fd\0--sync-initx")), false);
});

t.test("launcherFindings: skew between launcher and helper", async (t) => {
  const base = { launcher: "/p/bin/fusermount3", helper: "/p/lib/fusermount3/fusermount3-bun", prefix: "/p" };
  t.same(d.launcherFindings({ ...base, builtFor: [base.helper], builtForThisHelper: true }), []);
  t.same(d.launcherFindings({ ...base, builtFor: null, builtForThisHelper: false }), [], "unreadable: nothing to say");
  const skew = d.launcherFindings({ ...base, builtFor: ["/old/lib/fusermount3/fusermount3-bun"], builtForThisHelper: false });
  t.equal(skew[0]!.message, "launcher /p/bin/fusermount3 was built for helper /old/lib/fusermount3/fusermount3-bun, not this one " +
    "(/p/lib/fusermount3/fusermount3-bun): reinstall both with ./install.sh --prefix /p");
  const other = d.launcherFindings({ ...base, builtFor: [], builtForThisHelper: false });
  t.same(other.map((f) => f.id), ["launcher-other"]);
  t.same(notOneLineWithFix([...skew, ...other]), [], "one line each, naming the fix");
});

const helperAt = (o: Partial<d.InstalledHelper>): d.InstalledHelper => ({
  paths: ["/usr/bin/fusermount3"], mode: 0o104755, uid: 0, regular: true, readable: true,
  thisLauncher: false, builtFor: [], builtForPresent: false, syncInit: false, ...o,
});

t.test("installedFindings: the fusermount3 FUSE programs run", async (t) => {
  t.same(d.installedFindings([helperAt({ thisLauncher: true })]), [], "ours: nothing to say");
  const other = d.installedFindings([helperAt({ paths: ["/usr/bin/fusermount3", "/bin/fusermount3", "/usr/bin/fusermount"] })]);
  t.same(other.map((f) => [f.id, f.severity]), [["fusermount-other", "note"]], "another set-uid helper is a note, not a problem");
  t.equal(other[0]!.message, "libfuse 3 and libfuse 2 programs run /usr/bin/fusermount3 (another fusermount3, without " +
    "--sync-init), not this one: ./install.sh --system replaces it; `command -v fusermount3` shows the one your shell runs");
  const plain = d.installedFindings([helperAt({ mode: 0o100755 })]);
  t.same(plain.map((f) => [f.id, f.severity]), [["fusermount-not-setuid", "problem"]]);
  t.equal(plain[0]!.message, "/usr/bin/fusermount3 is not set-uid root (mode 0755, owner uid 0), so libfuse 3 programs that run " +
    "it cannot mount: make it set-uid root (chown root:root /usr/bin/fusermount3; chmod 4755 /usr/bin/fusermount3) or remove it");
  t.same(d.installedFindings([helperAt({ uid: 1000 })]).map((f) => f.id), ["fusermount-not-setuid"], "set-uid, but not root's");
  t.same(d.installedFindings([helperAt({ regular: false, mode: 0o40755 })]).map((f) => f.id), ["fusermount-not-setuid"]);
  const local = d.installedFindings([helperAt({ paths: ["/usr/local/bin/fusermount3"], mode: 0o100755 })]);
  t.match(local[0]!.message, /programs and scripts searching PATH that run it cannot mount/);
  const stale = d.installedFindings([helperAt({ builtFor: ["/gone/lib/fusermount3/fusermount3-bun"], builtForPresent: false })]);
  t.same(stale.map((f) => [f.id, f.severity]), [["fusermount-stale", "problem"]]);
  const sibling = d.installedFindings([helperAt({ builtFor: ["/opt/lib/fusermount3/fusermount3-bun"], builtForPresent: true })]);
  t.same(sibling.map((f) => [f.id, f.severity]), [["fusermount-other", "note"]]);
  t.match(sibling[0]!.message, /another fusermount3-ts, helper \/opt\/lib\/fusermount3\/fusermount3-bun/);
  t.match(d.describeInstalled(helperAt({ syncInit: true })), /with --sync-init/);
  t.equal(d.describeInstalled(helperAt({ readable: false })), "another fusermount3", "no claim about bytes not read");
  t.same(notOneLineWithFix([...other, ...plain, ...local, ...stale, ...sibling]), [], "one line each, naming the fix");
});

t.test("synchronous FUSE_INIT", async (t) => {
  t.same(d.syncInitFindings({ ioctl: "supported", endToEnd: "works", detail: "" }), []);
  t.same(d.syncInitFindings({ ioctl: "not supported", endToEnd: "not exercised", detail: "" }), [], "an older kernel is not a problem");
  t.same(d.syncInitFindings({ ioctl: "supported", endToEnd: "not exercised", detail: "not running as root" }), []);
  const failed = d.syncInitFindings({ ioctl: "supported", endToEnd: "failed", detail: "fsopen/fsconfig: Operation not permitted" });
  t.same(failed.map((f) => f.id), ["sync-init-failed"]);
  t.same(notOneLineWithFix(failed), [], "one line each, naming the fix");
  t.equal(d.describeSyncInit({ ioctl: "supported", endToEnd: "works", detail: "" }), "supported, works end to end");
  t.equal(d.describeSyncInit({ ioctl: "supported", endToEnd: "not exercised", detail: "not running as root" }),
    "supported (FUSE_DEV_IOC_SYNC_INIT), not exercised end to end (not running as root)");
  t.match(d.describeSyncInit({ ioctl: "not supported", endToEnd: "not exercised", detail: "" }), /^not supported /);

  const req = new Uint8Array(104);
  const v = new DataView(req.buffer);
  v.setUint32(0, 104, true); v.setUint32(4, 26, true); v.setBigUint64(8, 2n, true); v.setUint32(40, 7, true); v.setUint32(44, 45, true);
  t.same(d.parseInitRequest(req), { unique: 2n, major: 7, minor: 45 });
  v.setUint32(4, 1, true);
  t.equal(d.parseInitRequest(req), null, "not INIT");
  t.equal(d.parseInitRequest(req.subarray(0, 40)), null, "short");
});
