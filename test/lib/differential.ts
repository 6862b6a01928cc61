// The differential suite's shared part (test/integration/differential-*.test.ts,
// one file per family of cases). Every case runs as an unprivileged user
// through BOTH the reference C helper (Debian 12's set-uid /usr/bin/fusermount3,
// libfuse 3.14) and our installed launcher, each driven by the fake libfuse
// client (comm socket, _FUSE_COMMFD, fd reception), with the same argv0
// "fusermount3". Compared: exit code (and signal), stdout, stderr (helper paths
// normalised), whether an fd arrived, the mountinfo line at the mountpoint
// (normalizedMount: no ids or device numbers) and the set of mounts the run
// left (any FUSE mount, any mount below the scratch directories). Between runs
// everything that appeared is detached as root (umount -l), so every run
// starts clean; the teardown removes the scratch directories (cleanupDir).
//
// A case that differs on purpose names an entry of differences.ts and asserts
// our behaviour explicitly (and the documented 3.14 behaviour of the C tool);
// every other case must be exactly equal, so an undocumented divergence is a
// failing case: fix the helper, or document the difference.
//
// Set FM_DIFF_DUMP=<file> to append both outcomes of every case as JSON lines.

import t from "tap";
import { writeFileSync, chmodSync, chownSync, symlinkSync, mkdirSync, readFileSync, appendFileSync, rmSync, existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import {
  integration, OURS, OURS_HELPER, OURS_SETUID, C_HELPER, PREFIX, SERVICE_MODE, user, scratch, mkdirAs, fakeMount,
  mountsAt, normalizedMount, cleanupDir, type User,
} from "./harness.ts";
import { difference, serviceDifference, type DifferenceId, type ServiceDifferenceId } from "../integration/differences.ts";

export type Outcome = {
  code: number | null; signal: string | null; stdout: string; stderr: string; gotFd: boolean;
  mount: string | undefined; // normalizedMount(mountsAt(at)[0])
  mounts: string[]; // every mount the run left (see newMounts): "<mountpoint> <normalized line>"
};
export type Expect = {
  code: number | null; stderr: string; stdout?: string; gotFd: boolean;
  mount?: string; mounts?: string[];
};
export type Case = {
  name: string;
  args: string[];
  at?: string; // where to read the mountinfo line (default: the main mountpoint)
  as?: User; // default fmtest
  env?: Record<string, string>; // extra environment for the helper
  commFd?: boolean; // set _FUSE_COMMFD=3 (default true)
  timeoutMs?: number;
  conf?: string | (() => string); // bound over /etc/fuse.conf for both runs
  confMode?: number;
  setup?: () => void; // before each helper's run, after the clean-up
  around?: (body: () => void) => void; // wraps both runs (and the conf binding)
  diff?: DifferenceId; // deliberate difference: assert `ours` (and `c`) instead of equality
  ours?: Expect;
  c?: Partial<Expect>;
  // In service mode only: how the service path differs from the set-uid
  // path here (an entry of SERVICE_DIFFERENCES), and our outcome there;
  // `unchecked` names fields that are not compared, with the reason in the entry.
  service?: { diff: ServiceDifferenceId; ours: Expect; unchecked?: Array<keyof Expect> };
};

export const P = "fusermount3: ";

// The users, scratch directories, fixtures and helpers every family's cases
// are written with. Creates the fixtures; the caller's teardown removes them.
function setup() {
  const u = user("fmtest");
  const u2 = user("fmtest2");
  const B = scratch(u);
  const OB = scratch(u2);
  t.teardown(() => {
    clearMounts();
    cleanupDir(B);
    cleanupDir(OB);
  });

  // ---------------------------------------------------------------- helpers

  type Line = { id: number; mountPoint: string; fsType: string };
  const allMounts = (): Line[] =>
    readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter(Boolean).map((raw) => {
      const f = raw.split(" ");
      const sep = f.indexOf("-", 6);
      return {
        id: Number(f[0]),
        mountPoint: f[4]!.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8))),
        fsType: f[sep + 1] ?? "",
      };
    });
  const isFuse = (l: Line) => /^fuse(blk)?(\.|$)/.test(l.fsType);
  const below = (p: string, dir: string) => p === dir || p.startsWith(dir + "/");
  // Mounts that existed before the cases (set after the fixtures are made).
  let baseline = new Set<number>();
  // What a run may have left: any FUSE mount, and any mount below our scratch
  // directories (e.g. a root-owned mount stacked by a case's setup).
  const newMounts = () => allMounts().filter((l) => !baseline.has(l.id) && (isFuse(l) || below(l.mountPoint, B) || below(l.mountPoint, OB)));

  // Detach, as root, everything that appeared since the fixtures were made.
  function clearMounts(): void {
    for (let i = 0; i < 10; i++) {
      const left = newMounts();
      if (left.length === 0) return;
      for (const l of left.reverse()) {
        const r = spawnSync("umount", ["-l", l.mountPoint]);
        if (r.status !== 0) spawnSync("umount", ["-l", "--no-canonicalize", l.mountPoint]);
      }
    }
    throw new Error(`cannot clean up: ${JSON.stringify(newMounts())}`);
  }

  const mountSnapshot = () =>
    newMounts().map((l) => `${l.mountPoint} ${normalizedMount(mountsAt(l.mountPoint).find((m) => m.id === l.id))}`).sort();

  const helperPaths = [OURS_HELPER, OURS, OURS_SETUID, C_HELPER, PREFIX].filter((p) => p !== "").sort((a, b) => b.length - a.length);
  const normalise = (s: string | undefined) => {
    let out = s ?? "";
    for (const p of helperPaths) out = out.split(p).join("<helper>");
    return out;
  };

  const M = mkdirAs(u, `${B}/m`); // the main mountpoint, reused (every run starts clean)

  function run(c: Case, helper: string): Outcome {
    clearMounts();
    c.setup?.();
    const r = fakeMount(c.as ?? u, {
      helper, argv0: "fusermount3", args: c.args, env: c.env,
      commFdEnv: c.commFd ?? true, timeoutMs: c.timeoutMs ?? 10000,
    });
    const at = c.at ?? M;
    const out: Outcome = {
      code: r.exitCode ?? null, signal: r.signal ?? null,
      stdout: normalise(r.stdout), stderr: normalise(r.stderr), gotFd: r.gotFd,
      mount: normalizedMount(mountsAt(at)[0]), mounts: mountSnapshot(),
    };
    clearMounts();
    return out;
  }

  function withConf(text: string, mode: number, body: () => void): void {
    const f = `${B}/fuse.conf.${Math.random().toString(36).slice(2)}`;
    writeFileSync(f, text);
    chmodSync(f, mode);
    if (!existsSync("/etc/fuse.conf")) throw new Error("/etc/fuse.conf is missing (install fuse3)");
    const r = spawnSync("mount", ["--bind", f, "/etc/fuse.conf"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`bind fuse.conf: ${r.stderr}`);
    try { body(); } finally { spawnSync("umount", ["/etc/fuse.conf"]); rmSync(f); }
  }

  // Bind a device node over /dev/fuse for both runs (we are in the private
  // mount namespace of test/run.sh).
  const withDevice = (node: string) => (body: () => void) => {
    const r = spawnSync("mount", ["--bind", node, "/dev/fuse"], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`bind ${node}: ${r.stderr}`);
    try { body(); } finally { spawnSync("umount", ["/dev/fuse"]); }
  };

  // A mount made by the C helper as `who` (for the unmount cases). The fake
  // client closes the fd afterwards, so it is a dead (ENOTCONN) FUSE mount.
  const mountWithC = (who: User, mnt: string, opts?: string) => () => {
    const r = fakeMount(who, {
      helper: C_HELPER, argv0: "fusermount3", args: [...(opts !== undefined ? ["-o", opts] : []), "--", mnt],
    });
    if (r.exitCode !== 0 || !r.gotFd) throw new Error(`setup mount of ${mnt} failed: ${r.stderr}`);
  };

  // Root mounts a tmpfs on top of a path (stacked mounts, security.md §5.7).
  const stackTmpfs = (path: string, opts = "") => {
    const r = spawnSync("mount", ["-t", "tmpfs", ...(opts ? ["-o", opts] : []), "none", path], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`tmpfs over ${path}: ${r.stderr}`);
  };

  const UG = `user_id=${u.uid},group_id=${u.gid}`;
  // A normalized mountinfo line of one of our test mounts.
  const line = (o: { mopts?: string; type?: string; src?: string; sopts?: string } = {}) =>
    `${o.mopts ?? "rw,nosuid,nodev,relatime"} - ${o.type ?? "fuse"} ${o.src ?? "/dev/fuse"} ${o.sopts ?? `rw,${UG}`}`;
  const mounted = (mount: string, at = M): Expect => ({ code: 0, stderr: "", gotFd: true, mount, mounts: [`${at} ${mount}`] });
  const refused = (stderr: string, code: number | null = 1): Expect => ({ code, stderr, gotFd: false, mounts: [] });

  // --------------------------------------------------------------- fixtures

  const asRoot = (path: string, mode: number, kind: "dir" | "file" = "dir", owner?: User) => {
    if (kind === "dir") mkdirSync(path); else writeFileSync(path, "x");
    chmodSync(path, mode);
    if (owner) chownSync(path, owner.uid, owner.gid);
    return path;
  };
  const M2 = mkdirAs(u, `${B}/m2`);
  const FILE = asRoot(`${B}/file`, 0o644, "file", u);
  const FILE_RO = asRoot(`${B}/file-ro`, 0o444, "file", u);
  const FILE_ROOT = asRoot(`${B}/file-root`, 0o644, "file");
  const FILE_ROOT_W = asRoot(`${B}/file-root-w`, 0o666, "file");
  const ROOTDIR = asRoot(`${B}/rootdir`, 0o755);
  const ROOTDIR_W = asRoot(`${B}/rootdir-w`, 0o777);
  const OTHERDIR = asRoot(`${B}/otherdir`, 0o755, "dir", u2);
  const OTHERDIR_W = asRoot(`${B}/otherdir-w`, 0o777, "dir", u2);
  const STICKY_ROOT = asRoot(`${B}/sticky-root`, 0o1777);
  const STICKY_OTHER = asRoot(`${B}/sticky-other`, 0o1777, "dir", u2);
  const STICKY_MINE = asRoot(`${B}/sticky-mine`, 0o1777, "dir", u);
  const TARGET = mkdirAs(u, `${B}/target`);
  const LINK = `${B}/link`;
  symlinkSync(TARGET, LINK);
  const LINK_M = `${B}/link-m`;
  symlinkSync(M, LINK_M);
  const DANGLING = `${B}/dangling`;
  symlinkSync(`${B}/nowhere`, DANGLING);
  const REAL = mkdirAs(u, `${B}/real`);
  const REAL_M = mkdirAs(u, `${REAL}/m`);
  const LINKDIR = `${B}/linkdir`;
  symlinkSync(REAL, LINKDIR);
  const FIFO = `${B}/fifo`;
  spawnSync("mkfifo", [FIFO]);
  chownSync(FIFO, u.uid, u.gid);
  const NOSEARCH = mkdirAs(u, `${B}/nosearch`);
  mkdirAs(u, `${NOSEARCH}/inner`);
  chmodSync(NOSEARCH, 0o600);
  const NOWRITE = mkdirAs(u, `${B}/nowrite`, 0o555);
  const D1 = mkdirAs(u, `${B}/d1/d2`);
  const LOOP = `${B}/loop`;
  symlinkSync(LOOP, LOOP);
  const STACKBASE = asRoot(`${B}/stackbase`, 0o755);
  const XONLY = asRoot(`${B}/xonly`, 0o711);
  const XONLY_M = asRoot(`${XONLY}/m`, 0o755, "dir", u);
  const SPECIAL: Record<string, string> = {
    "space": "sp ace", "tab": "ta\tb", "newline": "new\nline", "backslash": "back\\slash",
    "hash": "ha#sh", "comma": "com,ma", "non-ASCII": "ünïcødé-日本", "leading dash": "-dash",
    "quotes": "q'u\"ote", "printf directives": "%s%n%x", "colon and equals": "a:b=c",
  };
  for (const n of Object.values(SPECIAL)) mkdirAs(u, `${B}/${n}`);
  const THEIRS = mkdirAs(u2, `${OB}/theirs`);
  const LONGNAME = `${B}/${"x".repeat(300)}`;

  // A ramfs (allowed by master's whitelist, not by 3.14's) and a bpf fs (in
  // neither) holding directories the user owns.
  const fsFixture = (type: string) => {
    const d = `${B}/${type}`;
    mkdirSync(d);
    const r = spawnSync("mount", ["-t", type, type, d], { encoding: "utf8" });
    if (r.status !== 0) return undefined;
    chmodSync(d, 0o755);
    chownSync(d, u.uid, u.gid);
    return d;
  };
  const RAMFS = fsFixture("ramfs");
  const BPF = fsFixture("bpf");

  // Device nodes for the device-open cases: an unused misc minor (open gives
  // ENODEV) and the real fuse device with mode 0600 (EACCES for the user).
  const DEV_NONE = `${B}/dev-none`;
  spawnSync("mknod", [DEV_NONE, "c", "10", "250"]);
  chmodSync(DEV_NONE, 0o666);
  const DEV_NOPERM = `${B}/dev-noperm`;
  spawnSync("mknod", [DEV_NOPERM, "c", "10", "229"]);
  chmodSync(DEV_NOPERM, 0o600);

  baseline = new Set(allMounts().map((l) => l.id));
  const fuseCount = () => allMounts().filter((l) => l.fsType === "fuse" || l.fsType.startsWith("fuse.")).length;

  const families: Array<[string, Case[]]> = [];
  const fam = (name: string, cs: Case[]) => families.push([name, cs]);
  const mo = (opts: string, mnt = M): string[] => ["-o", opts, "--", mnt];

  return {
    u, u2, B, OB, M, M2, FILE, FILE_RO, FILE_ROOT, FILE_ROOT_W, ROOTDIR, ROOTDIR_W, OTHERDIR, OTHERDIR_W,
    STICKY_ROOT, STICKY_OTHER, STICKY_MINE, TARGET, LINK, LINK_M, DANGLING, REAL, REAL_M, LINKDIR, FIFO,
    NOSEARCH, NOWRITE, D1, LOOP, STACKBASE, XONLY, XONLY_M, SPECIAL, THEIRS, LONGNAME, RAMFS, BPF,
    DEV_NONE, DEV_NOPERM, UG, line, mounted, refused, mo, mountWithC, stackTmpfs, withDevice, fuseCount,
    fam, families, run, withConf, clearMounts, newMounts,
  };
}
export type Fixtures = ReturnType<typeof setup>;

// One differential test file: `define` adds its families of cases with
// x.fam(name, cases); then every case runs through both helpers.
export function differential(title: string, define: (x: Fixtures) => void): void {
  integration(title, () => {
    const x = setup();
    const { M, families, run, withConf, clearMounts, newMounts } = x;
    define(x);

    const dump = process.env.FM_DIFF_DUMP;
    let total = 0;
    for (const [family, cases] of families) {
      total += cases.length;
      t.test(family, async (t) => {
        for (const c of cases) {
          t.test(c.name, async (t) => {
            let cOut: Outcome | undefined;
            let oOut: Outcome | undefined;
            const both = () => { cOut = run(c, C_HELPER); oOut = run(c, OURS); };
            const withConfBody = c.conf === undefined ? both
              : () => withConf(typeof c.conf === "function" ? c.conf() : c.conf!, c.confMode ?? 0o644, both);
            if (c.around) c.around(withConfBody); else withConfBody();
            const ours = oOut!;
            const ref = cOut!;
            if (dump) appendFileSync(dump, JSON.stringify({ family, name: c.name, args: c.args, diff: c.diff, c: ref, ours }) + "\n");
            if (SERVICE_MODE && c.service) {
              const d = serviceDifference(c.service.diff);
              t.comment(`service-mode difference ${d.id}: ${d.what}`);
              const e = c.service.ours;
              const skip = new Set<string>(c.service.unchecked ?? []);
              const at = c.at ?? M;
              if (!skip.has("code")) t.equal(ours.code, e.code, "ours: exit code");
              if (!skip.has("stderr")) t.equal(ours.stderr, e.stderr, "ours: stderr");
              if (!skip.has("stdout")) t.equal(ours.stdout, e.stdout ?? "", "ours: stdout");
              t.equal(ours.gotFd, e.gotFd, "ours: fd received");
              if (!skip.has("mount")) t.equal(ours.mount, e.mount, "ours: mountinfo line");
              if (!skip.has("mounts")) t.same(ours.mounts, e.mounts ?? (e.mount ? [`${at} ${e.mount}`] : []), "ours: mounts left");
            } else if (c.diff) {
              if (!c.ours) throw new Error(`${c.name}: a deliberate difference needs our expected outcome`);
              const d = difference(c.diff);
              t.comment(`deliberate difference ${d.id}: ${d.what}`);
              const e = c.ours;
              const at = c.at ?? M;
              t.equal(ours.code, e.code, "ours: exit code");
              t.equal(ours.signal, null, "ours: no signal");
              t.equal(ours.stderr, e.stderr, "ours: stderr");
              t.equal(ours.stdout, e.stdout ?? "", "ours: stdout");
              t.equal(ours.gotFd, e.gotFd, "ours: fd received");
              t.equal(ours.mount, e.mount, "ours: mountinfo line");
              t.same(ours.mounts, e.mounts ?? (e.mount ? [`${at} ${e.mount}`] : []), "ours: mounts left");
              // The documented 3.14 behaviour, so the table stays true.
              const ce = c.c ?? {};
              if ("code" in ce) t.equal(ref.code, ce.code, "C: exit code");
              if ("stderr" in ce) t.equal(ref.stderr, ce.stderr, "C: stderr");
              if ("stdout" in ce) t.equal(ref.stdout, ce.stdout, "C: stdout");
              if ("gotFd" in ce) t.equal(ref.gotFd, ce.gotFd, "C: fd received");
              if ("mount" in ce) t.equal(ref.mount, ce.mount, "C: mountinfo line");
              t.notSame(ours, ref, "the difference is real");
            } else {
              t.equal(ours.code, ref.code, "exit code");
              t.equal(ours.signal, ref.signal, "signal");
              t.equal(ours.stderr, ref.stderr, "stderr");
              t.equal(ours.stdout, ref.stdout, "stdout");
              t.equal(ours.gotFd, ref.gotFd, "fd received");
              t.equal(ours.mount, ref.mount, "mountinfo line");
              t.same(ours.mounts, ref.mounts, "mounts left");
            }
          });
        }
      });
    }
    t.test("nothing left mounted", async (t) => {
      clearMounts();
      t.same(newMounts(), [], `no mounts left by the ${total} cases`);
    });
  });
}
