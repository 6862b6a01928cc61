// The pure half of `fusermount3 --check`: parsers for what the kernel and the
// system's files say, and the findings built from them, each one line that
// names its fix. No I/O and no bun: or sys/ imports: check.ts gathers the facts,
// this file decides (unit-tested under Node in test/unit/checkdiag.test.ts).

export type Finding = { id: string; severity: "problem" | "note"; message: string };
const problem = (id: string, message: string): Finding => ({ id, severity: "problem", message });
const note = (id: string, message: string): Finding => ({ id, severity: "note", message });

// ---- AppArmor ----------------------------------------------------------------

// The line that marks this project's rules in the profile's local include. It
// is shared: whatever writes /etc/apparmor.d/local/fusermount3 for this project
// (the installer) must put exactly this line in it (at the top); --check looks
// for a line that is this marker, alone or followed by a space and more text.
export const APPARMOR_LOCAL_MARKER = "# fusermount3-ts";
export const APPARMOR_PROFILE = "/etc/apparmor.d/fusermount3";
export const APPARMOR_LOCAL = "/etc/apparmor.d/local/fusermount3";
export const APPARMOR_ENABLED = "/sys/module/apparmor/parameters/enabled";
// The AppArmor-only view of the label (Linux 5.8+), then the shared one, which
// belongs to whichever LSM owns it (SELinux contexts do not parse as AppArmor).
export const APPARMOR_LABEL_FILES = ["/proc/self/attr/apparmor/current", "/proc/self/attr/current"] as const;
// The profile's name in Ubuntu's AppArmor policy; it attaches to this path.
export const APPARMOR_PROFILE_NAME = "fusermount3";
export const APPARMOR_ATTACH_PATH = "/usr/bin/fusermount3";

export type AppArmorLabel = { label: string; mode: string | null; confined: boolean; denies: boolean };

// "/proc/self/attr/current" as AppArmor writes it: "unconfined", or
// "LABEL (MODE)" with MODE enforce, complain, kill, unconfined, user, prompt or
// mixed (stacks). Anything else (an SELinux or Smack label, garbage) is null.
export function parseAppArmorLabel(text: string): AppArmorLabel | null {
  const s = text.replace(/\0+$/, "").trim();
  if (s === "unconfined") return { label: s, mode: null, confined: false, denies: false };
  const m = /^(\S(?:.*\S)?) \(([a-z_]+)\)$/.exec(s);
  if (!m || m[1]!.includes("\n")) return null;
  const mode = m[2]!;
  const confined = mode !== "unconfined";
  return { label: m[1]!, mode, confined, denies: confined && mode !== "complain" };
}

// /sys/module/apparmor/parameters/enabled: "Y" or "N".
export function parseYesNo(text: string): boolean | null {
  const s = text.trim();
  return s === "Y" || s === "y" || s === "1" ? true : s === "N" || s === "n" || s === "0" ? false : null;
}

export function hasMarkerLine(text: string, marker = APPARMOR_LOCAL_MARKER): boolean {
  return text.split("\n").some((l) => {
    const t = l.trim();
    return t === marker || t.startsWith(marker + " ");
  });
}

export type LocalRules = "ours" | "none" | "missing";
export const localRulesState = (text: string | null): LocalRules =>
  text === null ? "missing" : hasMarkerLine(text) ? "ours" : "none";

export type AppArmorFacts = {
  enabled: boolean | null;       // the module parameter; null: no AppArmor in this kernel
  label: AppArmorLabel | null;   // this process's, when it could be read
  labelErrno: number | null;     // why it could not (13 = EACCES)
  profilePresent: boolean;       // APPARMOR_PROFILE exists
  localRules: LocalRules;        // APPARMOR_LOCAL
  attachIsThisLauncher: boolean; // APPARMOR_ATTACH_PATH is this installation's launcher
};

const DENIED = (profile: string) =>
  `apparmor="DENIED" operation="mount" profile="${profile}" (journalctl -k | grep DENIED, or dmesg)`;

export function appArmorFindings(f: AppArmorFacts): Finding[] {
  const out: Finding[] = [];
  const l = f.label;
  if (l?.confined) {
    const ours = l.label === APPARMOR_PROFILE_NAME;
    const rules = ours ? APPARMOR_LOCAL : "the profile's local rules under /etc/apparmor.d/local/";
    const reload = ours ? `apparmor_parser -r ${APPARMOR_PROFILE}` : "apparmor_parser -r on the profile";
    if (!l.denies) {
      out.push(note("apparmor-complain", `confined by AppArmor profile '${l.label}' in ${l.mode} mode: nothing is refused, ` +
        `what it would refuse is logged as apparmor="ALLOWED" (journalctl -k)`));
    } else {
      // With this project's rules in place, confinement is the expected state:
      // say where refusals show, without failing the check.
      const expected = ours && f.localRules === "ours";
      const msg = `confined by AppArmor profile '${l.label}' (${l.mode}): a refused mount is logged as ${DENIED(l.label)}; ` +
        `allow it in ${rules} and reload with ${reload}`;
      out.push(expected ? note("apparmor-confined", msg) : problem("apparmor-confined", msg));
    }
  } else if (l === null && f.enabled === true && f.labelErrno === 13) {
    out.push(note("apparmor-label-unreadable", `cannot read this process's AppArmor label (Permission denied), so it is ` +
      `probably confined: look for ${DENIED(APPARMOR_PROFILE_NAME)}`));
  }
  if (f.enabled === true && f.profilePresent && f.attachIsThisLauncher && f.localRules !== "ours") {
    const what = f.localRules === "missing" ? "does not exist" : `has no fusermount3-ts rules (no '${APPARMOR_LOCAL_MARKER}' line)`;
    out.push(problem("apparmor-no-local-rules", `AppArmor profile ${APPARMOR_PROFILE} confines ${APPARMOR_ATTACH_PATH} (this launcher) ` +
      `but ${APPARMOR_LOCAL} ${what}, so the launcher cannot start its helper: add this project's rules ` +
      `(./install.sh --system writes them) and reload with apparmor_parser -r ${APPARMOR_PROFILE}`));
  }
  return out;
}

// ---- NoNewPrivileges and the installation -----------------------------------

// A field of /proc/self/status ("NoNewPrivs:\t1").
export function statusField(status: string, name: string): string | null {
  for (const line of status.split("\n")) {
    const i = line.indexOf(":");
    if (i > 0 && line.slice(0, i) === name) return line.slice(i + 1).trim();
  }
  return null;
}
export function parseNoNewPrivs(status: string): boolean | null {
  const v = statusField(status, "NoNewPrivs");
  return v === "1" ? true : v === "0" ? false : null;
}

export type FileFacts = { mode: number; uid: number } | null; // null: missing

export type InstallFacts = {
  helper: string; helperFile: FileFacts;
  launcher: string; launcherFile: FileFacts;
  privileged: boolean;          // euid 0
  callerIsRoot: boolean;        // real uid 0
  launcherNosuid: boolean;      // the launcher's filesystem is mounted nosuid
  noNewPrivs: boolean | null;
  serviceAnswers: boolean;      // the launcher's requests go to the service
};

const S_ISUID = 0o4000, S_ISGID = 0o2000;

export function installFindings(f: InstallFacts): Finding[] {
  const out: Finding[] = [];
  const { helper, launcher } = f;
  if (f.helperFile) {
    if (f.helperFile.mode & (S_ISUID | S_ISGID)) out.push(problem("helper-setuid", `${helper} is set-uid or set-gid: only the launcher may be (chmod 0755 ${helper})`));
    if (f.helperFile.uid !== 0 || (f.helperFile.mode & 0o022)) out.push(problem("helper-owner", `${helper} must be owned by root and writable only by root (chown root:root; chmod 0755)`));
  }
  if (!f.launcherFile) {
    out.push(problem("launcher-missing", `launcher ${launcher} not found next to the helper: reinstall with ./install.sh`));
  } else if (f.launcherFile.uid !== 0 || ((f.launcherFile.mode & 0o7777) !== 0o4755 && (f.launcherFile.mode & 0o7777) !== 0o755)) {
    // 0755 is an installation without set-uid (install.sh --no-setuid): modeFindings.
    out.push(problem("launcher-mode", `${launcher} must be owned by root with mode 4755 (chown root:root ${launcher}; chmod 4755 ${launcher})`));
  }
  // With a service answering, the launcher's set-uid bit does not matter.
  if (!f.privileged && !f.callerIsRoot && !f.serviceAnswers) {
    if (f.noNewPrivs) {
      out.push(problem("no-new-privs", "NoNewPrivileges is set for this process (NoNewPrivs: 1 in /proc/self/status), so the kernel " +
        `ignores the set-uid bit of every fusermount3: start the fusermount3 service, which works under it (${START_SERVICE}), ` +
        "or run the FUSE server outside the NoNewPrivileges sandbox (systemd NoNewPrivileges=, setpriv --no-new-privs, bwrap, containers)"));
    }
    if (f.launcherNosuid) {
      out.push(problem("launcher-nosuid", `${launcher} is on a filesystem mounted nosuid, so it cannot run as root: install it elsewhere (./install.sh --prefix DIR) or start the fusermount3 service (${START_SERVICE})`));
    }
    if (!f.noNewPrivs && !f.launcherNosuid && (!f.launcherFile || isSetuidRoot({ ...f.launcherFile, regular: true }))) {
      out.push(problem("not-root", `not running as root: run fusermount3 through its set-uid launcher ${launcher}`));
    }
  }
  return out;
}

// ---- the mode: the service, the set-uid launcher, or neither -------------------

export const START_SERVICE = "systemctl enable --now fusermount3.socket, or ./install.sh --service";

// What connecting to the service's socket as the caller found.
//   answers      a -V request through it came back (version: what it printed)
//   absent       no file at the socket's path
//   stale        a file there, but nothing listens (ECONNREFUSED): the launcher falls back
//   unreachable  connect() failed otherwise (EACCES …): the launcher falls back
//   no-answer    connected, but no reply within the deadline: every launcher waits for it
export type ServiceState = "answers" | "absent" | "stale" | "unreachable" | "no-answer";
export type ServiceFacts = {
  socket: string; state: ServiceState;
  version: string | null;  // "fusermount3 version: …" as the service printed it
  detail: string;          // strerror, or what went wrong
  served: boolean;         // this report itself came through the service
};
export type ModeFacts = {
  service: ServiceFacts;
  launcher: string; launcherFile: FileFacts;
  noNewPrivs: boolean | null;   // the caller's
  launcherNosuid: boolean;
  callerIsRoot: boolean;
};
export type Mode = "service" | "set-uid" | "none";

export const serviceAnswers = (s: ServiceFacts): boolean => s.served || s.state === "answers";

// Whether the set-uid path can make this caller root.
export function setuidWorks(f: ModeFacts): boolean {
  if (f.callerIsRoot) return true;
  return f.launcherFile !== null && isSetuidRoot({ ...f.launcherFile, regular: true }) && !f.noNewPrivs && !f.launcherNosuid;
}

export function modeOf(f: ModeFacts): Mode {
  return serviceAnswers(f.service) ? "service" : setuidWorks(f) ? "set-uid" : "none";
}

export function describeService(s: ServiceFacts): string {
  switch (s.state) {
    case "answers": return `the service at ${s.socket} answers (${s.version ?? "no version printed"})${s.served ? "; this report came through it" : ""}`;
    case "absent": return `no service at ${s.socket}`;
    case "stale": return `${s.socket} exists but no service listens (${s.detail})`;
    case "unreachable": return `cannot connect to ${s.socket} (${s.detail})`;
    case "no-answer": return `a service at ${s.socket} took the connection but did not answer (${s.detail})`;
  }
}

export function describeMode(f: ModeFacts): string {
  const svc = describeService(f.service);
  const why = f.launcherFile === null ? "no launcher" : !isSetuidRoot({ ...f.launcherFile, regular: true }) ? "the launcher is not set-uid root"
    : f.noNewPrivs ? "NoNewPrivileges is set" : f.launcherNosuid ? "the launcher is on a nosuid filesystem" : "";
  switch (modeOf(f)) {
    case "service": return `the service first (${svc}); set-uid fallback ${setuidWorks(f) ? "available" : `none (${why})`}`;
    case "set-uid": return `the set-uid launcher (${svc})`;
    case "none": return `none (${svc}; ${why})`;
  }
}

export function modeFindings(f: ModeFacts): Finding[] {
  const out: Finding[] = [];
  const s = f.service;
  const mode = modeOf(f);
  if (s.state === "no-answer") {
    out.push(problem("service-no-answer", `a service takes connections at ${s.socket} but did not answer (${s.detail}), so every ` +
      `fusermount3 waits for it: restart it (systemctl restart fusermount3.service)`));
  }
  if (mode === "set-uid" && (s.state === "stale" || s.state === "unreachable")) {
    const fix = s.state === "stale" ? `start the service (${START_SERVICE}) or remove the stale socket (rm ${s.socket})`
      : `give the socket mode 0666 in a directory of mode 0755 (SocketMode=0666, DirectoryMode=0755)`;
    out.push(note(`service-${s.state}`, `${describeService(s)}, so the launcher uses its set-uid path: ${fix}`));
  }
  // NoNewPrivileges and a nosuid launcher have findings of their own (installFindings).
  if (mode === "none" && s.state !== "no-answer" && !f.noNewPrivs && !f.launcherNosuid && f.launcherFile !== null) {
    const l = f.launcher;
    out.push(problem("no-mode", `nothing can mount for you: ${describeService(s)} and ${l} is not set-uid root: ` +
      `start the fusermount3 service (${START_SERVICE}) or make the launcher set-uid root (chown root:root ${l}; chmod 4755 ${l})`));
  }
  return out;
}

// ---- launchers and helpers ---------------------------------------------------

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder("latin1").decode(b);

function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  for (let i = hay.indexOf(first, from); i >= 0 && i + needle.length <= hay.length; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

export const HELPER_NAME = "fusermount3-bun";

// The helper paths a launcher was built for (HELPER_PATH, a NUL-terminated
// string in its read-only data): every absolute path there ending in
// "/fusermount3-bun". A launcher of this project holds exactly one.
export function embeddedHelperPaths(bin: Uint8Array): string[] {
  const needle = enc(`/${HELPER_NAME}\0`);
  const out: string[] = [];
  for (let i = indexOfBytes(bin, needle, 0); i >= 0; i = indexOfBytes(bin, needle, i + needle.length)) {
    let start = i;
    while (start > 0 && bin[start - 1]! >= 0x20 && bin[start - 1]! < 0x7f) start--;
    const text = dec(bin.subarray(start, i + needle.length - 1));
    const slash = text.indexOf("/");
    const path = text.slice(slash);
    if (slash >= 0 && !out.includes(path)) out.push(path);
  }
  return out;
}

// libfuse's fusermount3 knows --sync-init from 3.19 on; its option table holds
// the name as a string. A scan of the file, never a run of it.
export const knowsSyncInit = (bin: Uint8Array): boolean => indexOfBytes(bin, enc("sync-init\0"), 0) >= 0;

export type LauncherFacts = {
  launcher: string; helper: string; prefix: string;
  builtFor: string[] | null;       // embeddedHelperPaths of the launcher, null: unreadable or missing
  builtForThisHelper: boolean;     // one of them is this helper (same path or same file)
};

export function launcherFindings(f: LauncherFacts): Finding[] {
  if (f.builtFor === null || f.builtForThisHelper) return [];
  const fix = `reinstall both with ./install.sh --prefix ${f.prefix || "/"}`;
  if (f.builtFor.length === 0) {
    return [problem("launcher-other", `${f.launcher} does not run this helper (no ${HELPER_NAME} path in it): ${fix}`)];
  }
  return [problem("launcher-skew", `launcher ${f.launcher} was built for helper ${f.builtFor.join(", ")}, not this one (${f.helper}): ${fix}`)];
}

// Where FUSE libraries and scripts find a fusermount. libfuse 3 runs
// FUSERMOUNT_DIR/fusermount3 (its build's bindir: /usr/bin on Debian, where
// /bin is the same directory) before searching PATH; libfuse 2 does the same
// with fusermount; /usr/local/bin comes before /usr/bin in the usual PATH. The
// helper cannot see the caller's PATH (its launcher passes no environment), so
// these fixed places are what it can check.
export const LIBFUSE_HELPER_PATHS: readonly { path: string; who: string; replace: string }[] = [
  { path: "/usr/bin/fusermount3", who: "libfuse 3 programs", replace: "./install.sh --system replaces it" },
  { path: "/bin/fusermount3", who: "libfuse 3 programs", replace: "./install.sh --system replaces it" },
  { path: "/usr/local/bin/fusermount3", who: "programs and scripts searching PATH", replace: "./install.sh (prefix /usr/local) replaces it" },
  { path: "/usr/bin/fusermount", who: "libfuse 2 programs", replace: "ln -sf fusermount3 /usr/bin/fusermount points it at /usr/bin/fusermount3" },
];

export type InstalledHelper = {
  paths: string[];                // the places above that are this one file
  mode: number; uid: number; regular: boolean;
  readable: boolean;              // its bytes could be read (as the caller)
  thisLauncher: boolean;          // the same file as this installation's launcher
  builtFor: string[];             // embeddedHelperPaths (another fusermount3-ts launcher when not empty)
  builtForPresent: boolean;       // its helper exists
  syncInit: boolean;              // knowsSyncInit (for another fusermount3)
};

export const isSetuidRoot = (h: { mode: number; uid: number; regular: boolean }): boolean =>
  h.regular && h.uid === 0 && (h.mode & S_ISUID) !== 0 && (h.mode & 0o111) !== 0;

export function describeInstalled(h: InstalledHelper): string {
  if (h.thisLauncher) return "this launcher";
  if (!isSetuidRoot(h)) return `not set-uid root (mode ${(h.mode & 0o7777).toString(8).padStart(4, "0")}, owner uid ${h.uid})`;
  if (h.builtFor.length) return `another fusermount3-ts, helper ${h.builtFor.join(", ")}${h.builtForPresent ? "" : " (missing)"}`;
  return h.readable ? `another fusermount3, ${h.syncInit ? "with" : "without"} --sync-init` : "another fusermount3";
}

const known = (p: string) => LIBFUSE_HELPER_PATHS.find((x) => x.path === p);
// "libfuse 3 programs", "libfuse 3 and libfuse 2 programs", ...
function whoRuns(paths: string[]): string {
  const who = [...new Set(paths.map((p) => known(p)?.who ?? "programs"))];
  const libfuse = who.filter((w) => /^libfuse \d programs$/.test(w)).map((w) => w.replace(/ programs$/, ""));
  const rest = who.filter((w) => !/^libfuse \d programs$/.test(w));
  return [...(libfuse.length ? [`${libfuse.join(" and ")} programs`] : []), ...rest].join(" and ");
}

export function installedFindings(list: InstalledHelper[]): Finding[] {
  const out: Finding[] = [];
  for (const h of list) {
    if (h.thisLauncher) continue;
    const p = h.paths[0]!;
    const names = h.paths.join(" = ");
    const who = whoRuns(h.paths);
    if (!isSetuidRoot(h)) {
      out.push(problem("fusermount-not-setuid", `${names} is ${describeInstalled(h)}, so ${who} that run it cannot mount: ` +
        `make it set-uid root (chown root:root ${p}; chmod 4755 ${p}) or remove it`));
    } else if (h.builtFor.length && !h.builtForPresent) {
      out.push(problem("fusermount-stale", `${names} is a fusermount3-ts launcher for ${h.builtFor.join(", ")}, which does not exist, ` +
        `so ${who} that run it fail: reinstall it (./install.sh) or remove it`));
    } else {
      out.push(note("fusermount-other", `${who} run ${p} (${describeInstalled(h)}), not this one: ` +
        `${known(p)?.replace ?? "remove it"}; \`command -v fusermount3\` shows the one your shell runs`));
    }
  }
  return out;
}

// ---- synchronous FUSE_INIT -----------------------------------------------------

export type SyncInitFacts = {
  ioctl: "supported" | "not supported" | "unknown"; // FUSE_DEV_IOC_SYNC_INIT on the caller's /dev/fuse fd
  endToEnd: "works" | "failed" | "not exercised";
  detail: string;                                    // why failed / not exercised
};

export function syncInitFindings(f: SyncInitFacts): Finding[] {
  if (f.ioctl !== "supported" || f.endToEnd !== "failed") return [];
  return [problem("sync-init-failed", `synchronous FUSE_INIT is offered by the kernel but failed end to end (${f.detail}): ` +
    "FUSE servers must mount without --sync-init here (libfuse: do not enable sync init)")];
}

export function describeSyncInit(f: SyncInitFacts): string {
  if (f.ioctl === "not supported") return "not supported (Linux 6.18+ has it; FUSE libraries mount without it)";
  if (f.ioctl === "unknown") return "unknown";
  if (f.endToEnd === "works") return "supported, works end to end";
  if (f.endToEnd === "failed") return `supported by the kernel, failed end to end (${f.detail})`;
  return `supported (FUSE_DEV_IOC_SYNC_INIT), not exercised end to end (${f.detail})`;
}

// One FUSE_INIT request as the kernel queues it: opcode 26 in the header,
// then fuse_init_in's major and minor. null when it is not one.
export const FUSE_INIT_OPCODE = 26;
export function parseInitRequest(req: Uint8Array): { unique: bigint; major: number; minor: number } | null {
  if (req.length < 48) return null;
  const v = new DataView(req.buffer, req.byteOffset, req.byteLength);
  if (v.getUint32(0, true) !== req.length || v.getUint32(4, true) !== FUSE_INIT_OPCODE) return null;
  return { unique: v.getBigUint64(8, true), major: v.getUint32(40, true), minor: v.getUint32(44, true) };
}
