// The fuzz-case generator: pure and seedable. Case `index` of seed `seed` is
// drawn from its own PRNG stream (mulberry32 seeded from a hash of both), so a
// case is reproduced from (seed, index) alone, whatever ran before it, on any
// worker. No Math.random, no clock, no I/O.
//
// A case is an argv for the helper plus its environment: whether _FUSE_COMMFD
// is set (the comm socket is always fd 3), which /etc/fuse.conf is bound,
// whether /run/mount/utab exists, and optionally a dead FUSE mount of the user
// put at a fixture before each run.

import { H, FZ, L255, DEEP, DEEP_NAME, SPECIAL_NAMES, PRE_MOUNTABLE, PRE_MOUNTABLE_OTHER, CONFS, type ConfId } from "./fixtures.ts";

export type FuzzCase = {
  seed: number;
  index: number;
  shape: string; // which generator produced it (for statistics)
  args: string[];
  commFd: boolean; // _FUSE_COMMFD=3 in the environment
  conf: ConfId;
  utab: boolean; // /run/mount/utab exists (our helper then records mounts with /bin/mount -f)
  pre?: PreMount;
};

// A dead FUSE mount made with the C helper before each run (a server that
// died): the user's, the other test user's, or the user's with a tmpfs of
// root's stacked on top of it.
export type PreMount = { path: string; opts: string; owner?: "other"; stacked?: boolean };

// ------------------------------------------------------------------ PRNG

const fmix32 = (h: number): number => {
  h ^= h >>> 16; h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13; h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
};

export class Rng {
  private s: number;
  constructor(seed: number) { this.s = seed >>> 0; }
  // mulberry32
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(n: number): number { return Math.floor(this.next() * n); }
  range(lo: number, hi: number): number { return lo + this.int(hi - lo + 1); }
  chance(p: number): boolean { return this.next() < p; }
  pick<T>(a: readonly T[]): T {
    if (a.length === 0) throw new Error("pick from an empty list");
    return a[this.int(a.length)]!;
  }
  weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
    let total = 0;
    for (const [w] of choices) total += w;
    let r = this.next() * total;
    for (const [w, v] of choices) { if ((r -= w) < 0) return v; }
    return choices[choices.length - 1]![1];
  }
  // Geometric-ish small count: 0 with probability p0, else 1 + geometric.
  count(max: number, p = 0.45): number {
    let n = 0;
    while (n < max && this.chance(p)) n++;
    return n;
  }
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j]!, a[i]!];
    }
    return a;
  }
}

// Seeds are integers in [0, 2^53); the case stream depends on both halves.
export function caseRng(seed: number, index: number): Rng {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  return new Rng(fmix32(fmix32(lo ^ 0x9e3779b9) ^ fmix32(hi + 0x7f4a7c15) ^ fmix32(index * 2 + 1)));
}

// ------------------------------------------------------------ vocabulary

export const FLAGS_314 = ["rw", "ro", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "async", "sync", "atime", "noatime", "dirsync"] as const;
export const FLAGS_UNION = ["diratime", "nodiratime", "lazytime", "nolazytime", "relatime", "norelatime", "strictatime", "nostrictatime", "symfollow", "nosymfollow"] as const;

const ODD_VALUES = [
  "", "foo", "a b", "a\tb", "a\nb", "a#b", "ünï", "日本", "-x", "--bind", "a=b", "user@host:/x", "a\\,b",
  "a\\\\b", "a\\b", "a\\", "\\", "x-foo", "user_id=0", "a - fuse b", " ", ".", "a.b", "/dev/fuse", "%s%n",
  "a\\,allow_other", "a\\,x-b", "a\\,ro", "a'b\"c", "\\\\\\,", "fuse", "fuseblk",
];
const LONG_LENGTHS = [100, 254, 255, 256, 300, 1000, 4000, 4090, 4100, 5000];
const NUMBERS = ["0", "5", "99", "abc", "", "-1", "40000", "100000", "1001", "0x10", " 1", "4096", "99999999999"];
const MAX_READ = ["4096", "0", "abc", "", "04000", "-1", "99999999999", "0x1000", `${"0".repeat(300)}4000`, "4096 ", "131072"];
const BLKSIZE = ["4096", "512", "abc", "", "0", "1024"];

const UNKNOWN = [
  "bogus", "context=system_u:object_r:tmp_t:s0", "uid=0", "gid=0", "user=root", "users", "noauto", "nofail",
  "defaults", "mand", "nomand", "remount", "bind", "rbind", "RO", "Ro", "ro=1", "rw=0", "noatim", "atim",
  "ro ", " ro", "ro\t", "a b", "nodev\\", "\\ro", "allow_other=1", "default_permissions=1", "x", "X-foo",
  "X-gvfs-hide", "_netdev", "comment=x", "loop", "errors=remount-ro", "sync=1", "-u", "--", "-o", "=", "==",
  "=ro", "max_read", "blksize", "fsname", "subtype", "FSNAME=x", "Fsname=x", "nonempty=1", "blkdev=1",
  "auto_unmount=1", "large_read=1", "auto_unmount\\", "xx-a", "x_a", "-x-a", "Large_read", "user_allow_other",
  "mount_max=5", "fd", "rootmode", "user_id", "group_id", "ro,", "nosuid\\,dev",
];
const X_TOKENS = [
  "x-", "x-gvfs-hide", "x-gvfs-show", "x-gdu.hide", "x-a=b", "x-a\\b", "x-\\", "x-=", "x-x-", "x-user=root",
  "x- sp", "x-日本", "x-allow_other", "x-ro", "x-fsname=a", "x-a\\", "x-mount.mkdir",
];

// One option token (before joining), as a FUSE library or a user might write it.
// `clean`: only tokens some helper accepts (so that more cases get to mount).
export function optionToken(r: Rng, clean = false): string {
  const cat = clean
    ? r.weighted<string>([[14, "flag"], [5, "union"], [1, "large_read"], [6, "kernel"], [5, "policy"], [8, "string"], [6, "x"]])
    : r.weighted<string>([
      [14, "flag"], [6, "union"], [2, "large_read"], [8, "kernel"], [8, "policy"], [10, "string"],
      [9, "x"], [8, "unknown"], [3, "empty"], [2, "escape"],
    ]);
  switch (cat) {
    case "flag": return r.pick(FLAGS_314);
    case "union": return r.pick(FLAGS_UNION);
    case "large_read": return "large_read";
    case "kernel":
      return r.weighted<() => string>([
        [4, () => "default_permissions"], [3, () => "allow_other"], [2, () => "allow_root"],
        [3, () => `max_read=${r.pick(MAX_READ)}`], [1, () => `blksize=${r.pick(BLKSIZE)}`],
      ])();
    case "policy":
      return r.weighted<() => string>([
        [2, () => "blkdev"], [2, () => "nonempty"], [3, () => "auto_unmount"],
        [4, () => `${r.pick(["fd", "rootmode", "user_id", "group_id"])}=${r.pick(NUMBERS)}`],
      ])();
    case "string": {
      const key = r.pick(["fsname", "subtype"]);
      const v = r.chance(0.2) ? r.pick(["v", "w", "\\,", "é"]).repeat(r.pick(LONG_LENGTHS)) : r.pick(ODD_VALUES);
      return `${key}=${v}`;
    }
    case "x": {
      const t = r.pick(X_TOKENS);
      return r.chance(0.05) ? `x-${"y".repeat(r.pick(LONG_LENGTHS))}` : t;
    }
    case "unknown": return r.pick(UNKNOWN);
    case "empty": return "";
    default: return r.pick(["\\", "\\,", "ro\\", "a\\,b", "\\\\"]);
  }
}

// Kernel data ("<opts>,fd=N,rootmode=40000,user_id=U,group_id=G") of exactly
// `len` bytes when the helper's /dev/fuse fd has `fdDigits` digits.
function kernelDataOf(len: number, uid: number, gid: number, fdDigits = 1): string {
  const suffix = `,fd=${"4".repeat(fdDigits)},rootmode=40000,user_id=${uid},group_id=${gid}`.length;
  const want = Math.max(30, len - suffix);
  const dp = "default_permissions";
  const k = Math.floor((want - 20) / (dp.length + 1));
  const head = Array<string>(k).fill(dp).join(",");
  const pad = Math.max(0, want - head.length - ",max_read=".length - 4);
  return `${head},max_read=${"0".repeat(pad)}4000`;
}

export type GenEnv = { uid: number; gid: number };

// An option string: tokens joined by commas, with empty tokens, duplicates and
// odd commas; now and then very long.
export function optionString(r: Rng, env: GenEnv): string {
  const big = r.weighted<string>([[90, "normal"], [3, "repeat"], [3, "page"], [2, "huge-token"], [2, "none"]]);
  if (big === "none") return "";
  if (big === "page") return kernelDataOf(r.range(4088, 4100), env.uid, env.gid, r.chance(0.8) ? 1 : 2);
  if (big === "huge-token") return r.pick(["a", "x-a", "ro,"]).repeat(r.range(1000, 3000));
  const toks: string[] = [];
  if (big === "repeat") {
    const t = r.pick(["ro", "default_permissions", "x-a", "relatime", "nonempty", "fd=1"]);
    for (let i = r.range(100, 1500); i > 0; i--) toks.push(t);
  } else {
    const n = r.weighted<number>([[10, 1], [20, 2], [20, 3], [15, 4], [10, 5], [8, 6], [5, 8]]);
    const clean = r.chance(0.4);
    for (let i = 0; i < n; i++) {
      if (toks.length > 0 && r.chance(0.08)) toks.push(r.pick(toks)); // duplicate
      else toks.push(optionToken(r, clean));
    }
  }
  let s = toks.join(",");
  if (r.chance(0.06)) s = "," + s;
  if (r.chance(0.03)) s = ",," + s;
  if (r.chance(0.1)) s = s + ",";
  if (r.chance(0.03)) s = s + ",,";
  if (r.chance(0.05) && s.includes(",")) {
    const i = s.indexOf(",", r.int(s.length));
    if (i >= 0) s = s.slice(0, i) + r.pick([",,", "\\,", ",\\,", ", "]) + s.slice(i + 1);
  }
  return s;
}

// ----------------------------------------------------------- mountpoints

const REL_TARGETS = [
  "m", "m", "m", "m2", "d1", "d1/d2", "file", "file-ro", "file-root", "file-root-w", "rootdir", "rootdir-w",
  "otherdir", "otherdir-w", "sticky-root", "sticky-mine", "sticky-other", "link", "link-abs", "dangling",
  "loop", "real/m", "linkdir/m", "linkdir", "fifo", "nosearch", "nosearch/inner", "nosearch/inner/x", "nowrite",
  "xonly/m", "xonly", L255, "N".repeat(256), "ramfs", "tmpfs", "missing", "missing/deeper", "file/x", "file/x/y",
  "loop/x", "link/..", "d1/..", "linkdir/missing", `${DEEP}/m`, `${DEEP}/${"E".repeat(255)}`,
  `${DEEP}/${"E".repeat(255)}/${"F".repeat(255)}/x`, `${DEEP}/${DEEP_NAME}`,
  ...SPECIAL_NAMES, ...SPECIAL_NAMES.map((n) => `${n}-missing`),
];
// Mountpoints a user may mount on (with some of them, 3.14 and master disagree).
const GOOD_TARGETS = [
  "m", "m", "m2", "d1", "file", "sp ace", "new\nline", "back\\slash", "com,ma", "ünïcødé-日本", "-dash", "%s%n%x",
  "real/m", "linkdir/m", L255, "rootdir-w", "sticky-mine", "tmpfs", "ramfs", "xonly/m", `${DEEP}/m`, "x-opt", "trail ",
];
const ABSOLUTE = [
  "/", "/tmp", FZ, `${FZ}/`, H, "/proc", "/proc/self", "/proc/sys", "/sys", "/dev/null", "/dev/fuse", "/etc/passwd",
  "/etc/fuse.conf", "/nonexistent", "/nonexistent/x", "/dev/shm", "/root", "//", "/.", "/..",
];
const ODD_OPERANDS = [".", "..", "", "-", "./", "../", "../h", "../h/m", "../../fz/h/m", "~", "$HOME", "m\\", "\\m", "*"];

// The mountpoint operand, as some path form of a fixture.
export function mountpointExpr(r: Rng, rel?: string): string {
  const kind = rel !== undefined ? "rel" : r.weighted<string>([[80, "rel"], [12, "abs"], [8, "odd"]]);
  if (kind === "abs") return r.pick(ABSOLUTE);
  if (kind === "odd") return r.pick(ODD_OPERANDS);
  const p = rel ?? (r.chance(0.4) ? r.pick(GOOD_TARGETS) : r.pick(REL_TARGETS));
  let s = r.weighted<() => string>([
    [40, () => `${H}/${p}`], [20, () => p], [5, () => `./${p}`], [5, () => `${H}//${p}`], [4, () => `${H}/./${p}`],
    [5, () => `d1/../${p}`], [4, () => `../h/${p}`], [3, () => `${H}/d1/d2/../../${p}`], [2, () => `link/../${p}`],
  ])();
  s = r.weighted<() => string>([
    [80, () => s], [8, () => `${s}/`], [3, () => `${s}//`], [4, () => `${s}/.`], [2, () => `${s}/..`], [2, () => `${s}/./`],
  ])();
  return s;
}

// ------------------------------------------------------------------- argv

const SHORT_FLAG_SOUP = ["-h", "-V", "-u", "-q", "-z", "-x", "-U", "-c", "-S", "-uqz", "-uz", "-qz", "-uu", "-zz", "-qq", "-hu", "-uh", "-Vx", "-xV", "-uV", "-qh", "-o", "-ou", "-oro", "-uoro", "-uo", "-qo", "-", "--", "---", "-o=ro"];
const LONG_SOUP = [
  "--help", "--version", "--vers", "--he", "--h", "--v", "--unmount", "--unm", "--u", "--lazy", "--l", "--quiet", "--q",
  "--bogus", "--bogus=1", "--unmount=1", "--unm=x", "--lazy=1", "--quiet=", "--help=1", "--version=3", "--=x", "--=",
  "--options", "--opt", "--o", "--options=ro", "--options=x-a,ro", "--opt=relatime", "--options=", "--auto-unmount", "--auto", "--a",
  "--auto-unmount=1", "--comm-fd", "--comm-fd=3", "--comm=3", "--comm-fd=abc", "--comm-fd=", "--comm-fd=03", "--comm-fd= 3", "--c",
  "--sync-init", "--sync", "--s", "--sync-init=1", "--Unmount", "--unmount-", "--lazyy",
];

type Piece = string[];

// -o VALUE in one of getopt's spellings (master's long forms included).
function optPiece(r: Rng, v: string): Piece {
  const form = r.weighted<string>([
    [50, "sep"], [16, "join"], [7, "long="], [6, "long"], [4, "abbr="], [4, "abbr"], [3, "bundle"], [2, "bundle-join"],
  ]);
  switch (form) {
    case "join": return v === "" ? ["-o", v] : [`-o${v}`];
    case "long=": return [`--options=${v}`];
    case "long": return ["--options", v];
    case "abbr=": return [`--${"options".slice(0, r.range(1, 6))}=${v}`];
    case "abbr": return [`--${"options".slice(0, r.range(1, 6))}`, v];
    case "bundle": return [`-${r.pick(["q", "qq"])}o`, v];
    case "bundle-join": return v === "" ? ["-qo", v] : [`-qo${v}`];
    default: return ["-o", v];
  }
}

function assemble(r: Rng, pieces: Piece[], mnt: Piece): string[] {
  // Permutation: the mountpoint is usually last, sometimes first or between options.
  const pos = r.weighted<string>([[70, "last"], [15, "first"], [15, "middle"]]);
  const out: Piece[] = [...pieces];
  const useDashDash = r.chance(0.2);
  if (pos === "last") {
    if (useDashDash) out.push(["--", ...mnt]); else out.push(mnt);
  } else if (pos === "first") {
    out.unshift(mnt);
  } else {
    out.splice(r.int(out.length + 1), 0, mnt);
  }
  if (r.chance(0.03)) out.splice(r.int(out.length + 1), 0, ["--"]);
  return out.flat();
}

function mountCase(r: Rng, env: GenEnv): Omit<FuzzCase, "seed" | "index" | "conf" | "utab"> {
  const pieces: Piece[] = [];
  const nOpt = r.weighted<number>([[8, 0], [70, 1], [15, 2], [7, 3]]);
  for (let i = 0; i < nOpt; i++) pieces.push(optPiece(r, optionString(r, env)));
  if (r.chance(0.15)) pieces.push([r.pick(["-q", "--quiet", "--q"])]);
  if (r.chance(0.04)) pieces.push([r.pick(["-z", "--lazy", "-qz"])]);
  if (r.chance(0.1)) pieces.push(r.pick([["--sync-init"], ["--sync-init"], ["--sync"], ["--comm-fd", "3"], ["--comm-fd=3"], ["--comm=3"], ["--auto-unmount"]]));
  r.shuffle(pieces);
  const pre = r.chance(0.08) ? preMount(r) : undefined;
  const mnt = pre && r.chance(0.7) ? mountpointExpr(r, relOf(pre.path)) : mountpointExpr(r);
  return { shape: "mount", args: assemble(r, pieces, [mnt]), commFd: r.chance(0.96), ...(pre ? { pre } : {}) };
}

function optionsCase(r: Rng, env: GenEnv): Omit<FuzzCase, "seed" | "index" | "conf" | "utab"> {
  // Many tokens, one -o, at the main mountpoint: the option policy at depth.
  const toks: string[] = [];
  for (let i = r.range(3, 14); i > 0; i--) toks.push(optionToken(r));
  let v = toks.join(r.chance(0.9) ? "," : ",,");
  if (r.chance(0.2)) v = optionString(r, env) + "," + v;
  return { shape: "options", args: ["-o", v, "--", r.chance(0.8) ? `${H}/m` : mountpointExpr(r)], commFd: true };
}

function preMount(r: Rng): PreMount {
  const kind = r.weighted<string>([[80, "own"], [12, "other"], [8, "stacked"]]);
  const opts = r.pick(["", "", "ro", "fsname=pre", "subtype=pre", "default_permissions", "fsname=a b,subtype=c"]);
  if (kind === "other") return { path: `${H}/${r.pick(PRE_MOUNTABLE_OTHER)}`, opts, owner: "other" };
  const p: PreMount = { path: `${H}/${r.pick(PRE_MOUNTABLE)}`, opts };
  if (kind === "stacked") p.stacked = true;
  return p;
}
const relOf = (abs: string) => abs.slice(H.length + 1);

function unmountCase(r: Rng, env: GenEnv): Omit<FuzzCase, "seed" | "index" | "conf" | "utab"> {
  const pre = r.chance(0.6) ? preMount(r) : undefined;
  const flagSets: Piece[][] = [
    [["-u"]], [["--unmount"]], [["--unm"]], [["--u"]], [["-uz"]], [["-u"], ["-z"]], [["-uq"]], [["-uqz"]],
    [["-u"], ["-q"]], [["--unmount"], ["--quiet"], ["--lazy"]], [["-zu"]], [["-qu"]], [["-u"], ["--lazy"]],
  ];
  const pieces = [...r.pick(flagSets)];
  if (r.chance(0.15)) pieces.push(optPiece(r, optionString(r, env))); // ignored by -u
  if (r.chance(0.05)) pieces.push([r.pick(["--auto-unmount", "--sync-init", "-x", "-h", "-V", "--bogus"])]);
  r.shuffle(pieces);
  const mnt = pre && r.chance(0.8) ? mountpointExpr(r, relOf(pre.path)) : mountpointExpr(r);
  return { shape: "unmount", args: assemble(r, pieces, [mnt]), commFd: r.chance(0.3), ...(pre ? { pre } : {}) };
}

function soupCase(r: Rng, env: GenEnv): Omit<FuzzCase, "seed" | "index" | "conf" | "utab"> {
  const n = r.weighted<number>([[5, 0], [25, 1], [30, 2], [20, 3], [12, 4], [8, 6]]);
  const args: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = r.weighted<string>([[30, "short"], [30, "long"], [15, "opt"], [25, "operand"]]);
    if (k === "short") args.push(r.pick(SHORT_FLAG_SOUP));
    else if (k === "long") args.push(r.pick(LONG_SOUP));
    else if (k === "opt") args.push(...optPiece(r, optionString(r, env)));
    else args.push(r.chance(0.7) ? mountpointExpr(r) : r.pick(["a", "b", "", "-", "ro"]));
  }
  const pre = r.chance(0.1) ? preMount(r) : undefined;
  return { shape: "getopt", args, commFd: r.chance(0.85), ...(pre ? { pre } : {}) };
}

export function generateCase(seed: number, index: number, env: GenEnv): FuzzCase {
  const r = caseRng(seed, index);
  const shape = r.weighted<(r: Rng, env: GenEnv) => Omit<FuzzCase, "seed" | "index" | "conf" | "utab">>([
    [50, mountCase], [12, optionsCase], [18, unmountCase], [20, soupCase],
  ]);
  const c = shape(r, env);
  const conf = r.weighted<ConfId>([[55, "plain"], [30, "allow"], [10, "max1"], [5, "noisy"]]);
  if (!(conf in CONFS)) throw new Error(`unknown conf ${conf}`);
  const utab = r.chance(0.3);
  return { seed, index, conf, utab, ...c };
}
