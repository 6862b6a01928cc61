// Mount-option policy: x- splitting, the tokenizer, the whitelist, and what a
// mount is built from (kernel options, flags, source, type, mount-table record).
// Pure: the caller supplies who is asking and what fuse.conf allows.

export const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, DIRSYNC: 128,
  NOSYMFOLLOW: 256, NOATIME: 1024, NODIRATIME: 2048, RELATIME: 1 << 21,
  STRICTATIME: 1 << 24, LAZYTIME: 1 << 25,
} as const;

type MountFlag = { name: string; on: boolean; flag: number; safe: boolean };

// The union of libfuse 3.14's and master's names (both only restrict the user's
// own mount or change its timestamps). `suid` and `dev` stay unsafe: honouring
// them for users is a local-root hole (libfuse PR #1566).
// Order is the mount-table record order for the flags that are set.
export const MOUNT_FLAGS: readonly MountFlag[] = [
  { name: "rw", on: false, flag: MS.RDONLY, safe: true },
  { name: "ro", on: true, flag: MS.RDONLY, safe: true },
  { name: "suid", on: false, flag: MS.NOSUID, safe: false },
  { name: "nosuid", on: true, flag: MS.NOSUID, safe: true },
  { name: "dev", on: false, flag: MS.NODEV, safe: false },
  { name: "nodev", on: true, flag: MS.NODEV, safe: true },
  { name: "exec", on: false, flag: MS.NOEXEC, safe: true },
  { name: "noexec", on: true, flag: MS.NOEXEC, safe: true },
  { name: "async", on: false, flag: MS.SYNCHRONOUS, safe: true },
  { name: "sync", on: true, flag: MS.SYNCHRONOUS, safe: true },
  { name: "atime", on: false, flag: MS.NOATIME, safe: true },
  { name: "noatime", on: true, flag: MS.NOATIME, safe: true },
  { name: "diratime", on: false, flag: MS.NODIRATIME, safe: true },
  { name: "nodiratime", on: true, flag: MS.NODIRATIME, safe: true },
  { name: "lazytime", on: true, flag: MS.LAZYTIME, safe: true },
  { name: "nolazytime", on: false, flag: MS.LAZYTIME, safe: true },
  { name: "relatime", on: true, flag: MS.RELATIME, safe: true },
  { name: "norelatime", on: false, flag: MS.RELATIME, safe: true },
  { name: "strictatime", on: true, flag: MS.STRICTATIME, safe: true },
  { name: "nostrictatime", on: false, flag: MS.STRICTATIME, safe: true },
  { name: "symfollow", on: false, flag: MS.NOSYMFOLLOW, safe: true },
  { name: "nosymfollow", on: true, flag: MS.NOSYMFOLLOW, safe: true },
  { name: "dirsync", on: true, flag: MS.DIRSYNC, safe: true },
];

// Split `-o` into regular and `x-` options (libfuse 3.17+ rules): split on every
// comma, no escapes; an empty token is dropped while its list is still empty.
export function splitXOptions(opts: string): { regular: string; x: string } {
  const regular: string[] = [];
  const x: string[] = [];
  for (const tok of opts.split(",")) {
    const dest = tok.startsWith("x-") ? x : regular;
    if (tok === "" && dest.length === 0) continue;
    dest.push(tok);
  }
  return { regular: regular.join(","), x: x.join(",") };
}

// x- options go to /bin/mount -f, which runs as root. libmount acts on its own
// `x-mount.*` options even when only recording (x-mount.mkdir creates the
// target's missing directories as root; x-mount.owner/mode change it), so a user
// must not be able to pass them. Control characters and blanks have no business
// in a table record either. Returns the refusal, in libfuse's words for an
// option it does not take.
export function checkXOptions(x: string): string | undefined {
  if (x === "") return undefined;
  for (const tok of x.split(",")) {
    if (tok.startsWith("x-mount.") || /[\x00-\x20\x7f]/.test(tok)) return `unknown option '${tok}'`;
  }
  return undefined;
}

// Tokenize at commas. Backslash escapes count only inside tokens that begin
// with fsname= or subtype= (the CVE-2018-10906 fix): anywhere else a backslash is
// literal and the comma still splits, as it will for the kernel.
export function tokenize(opts: string): string[] {
  const tokens: string[] = [];
  let s = 0;
  while (s < opts.length) {
    const escapeOk = opts.startsWith("fsname=", s) || opts.startsWith("subtype=", s);
    let e = s;
    for (; e < opts.length; e++) {
      if (escapeOk && opts[e] === "\\" && e + 1 < opts.length) e++;
      else if (opts[e] === ",") break;
    }
    tokens.push(opts.slice(s, e));
    s = e < opts.length ? e + 1 : e;
  }
  return tokens;
}

function unescape(value: string): string {
  let out = "";
  for (let i = 0; i < value.length; i++) {
    if (value[i] === "\\" && i + 1 < value.length) i++;
    out += value[i];
  }
  return out;
}

export type Caller = { isRoot: boolean; userAllowOther: boolean; confPath: string };

export type MountRequest = {
  fsname?: string;
  subtype?: string;
  blkdev: boolean;
  autoUnmount: boolean;
  flags: number; // MS_* flags, starting from nosuid,nodev
  kernelOptions: string[]; // whitelisted options passed verbatim to the kernel
};

export type PolicyResult =
  | { ok: true; request: MountRequest; warnings: string[] }
  | { ok: false; error: string; warnings: string[]; needsUserAllowOther?: true };

const DROPPED_PREFIXES = ["fd=", "rootmode=", "user_id=", "group_id="];
const KERNEL_PREFIXES = ["max_read=", "blksize="];
const KERNEL_WORDS = new Set(["default_permissions", "allow_other"]);

// Decide the regular (non x-) option string for a caller. Stops at the first
// refusal, like libfuse; warnings already produced are returned alongside.
export function applyOptionPolicy(regular: string, caller: Caller): PolicyResult {
  const warnings: string[] = [];
  const request: MountRequest = {
    blkdev: false, autoUnmount: false, flags: MS.NOSUID | MS.NODEV, kernelOptions: [],
  };
  const fail = (error: string): PolicyResult => ({ ok: false, error, warnings });
  for (const tok of tokenize(regular)) {
    if (tok.startsWith("fsname=")) { request.fsname = unescape(tok.slice(7)); continue; }
    if (tok.startsWith("subtype=")) { request.subtype = unescape(tok.slice(8)); continue; }
    if (tok === "blkdev") {
      if (!caller.isRoot) return fail("option blkdev is privileged");
      request.blkdev = true;
      continue;
    }
    if (tok === "auto_unmount") { request.autoUnmount = true; continue; }
    // Accepted for old clients (nonempty) or generated by us (the rest).
    if (tok === "nonempty" || DROPPED_PREFIXES.some((p) => tok.startsWith(p))) continue;
    // Removed from fuse3; accepted so that libfuse 2 programs keep mounting.
    if (tok === "large_read") continue;
    if (!caller.isRoot && !caller.userAllowOther && (tok === "allow_other" || tok === "allow_root")) {
      return { ...fail(`option ${tok} only allowed if 'user_allow_other' is set in ${caller.confPath}`), needsUserAllowOther: true } as PolicyResult;
    }
    const mf = MOUNT_FLAGS.find((f) => f.name === tok);
    if (mf) {
      if (!mf.safe && !caller.isRoot) { warnings.push(`unsafe option ${tok} ignored`); continue; }
      request.flags = mf.on ? request.flags | mf.flag : request.flags & ~mf.flag;
      continue;
    }
    if (KERNEL_WORDS.has(tok) || KERNEL_PREFIXES.some((p) => tok.startsWith(p))) {
      request.kernelOptions.push(tok);
      continue;
    }
    return fail(`unknown option '${tok}'`);
  }
  return { ok: true, request, warnings };
}

export type MountIdentity = { fd: number; rootmode: number; uid: number; gid: number };

// The kernel option string, exactly as libfuse builds it for mount(2).
export function kernelData(req: MountRequest, id: MountIdentity): string {
  const generated = `fd=${id.fd},rootmode=${id.rootmode.toString(8)},user_id=${id.uid},group_id=${id.gid}`;
  return [...req.kernelOptions, generated].join(",");
}

// The kernel's parameters as (key, value) pairs for fsconfig(); value undefined
// for a flag.
export function kernelParams(req: MountRequest, id: MountIdentity): Array<[string, string | undefined]> {
  const params: Array<[string, string | undefined]> = [];
  for (const opt of req.kernelOptions) {
    const eq = opt.indexOf("=");
    params.push(eq < 0 ? [opt, undefined] : [opt.slice(0, eq), opt.slice(eq + 1)]);
  }
  params.push(["fd", String(id.fd)], ["rootmode", id.rootmode.toString(8)],
    ["user_id", String(id.uid)], ["group_id", String(id.gid)]);
  return params;
}

export function fsType(req: MountRequest): string {
  return (req.blkdev ? "fuseblk" : "fuse") + (req.subtype !== undefined ? `.${req.subtype}` : "");
}

export function fsSource(req: MountRequest, device: string): string {
  return req.fsname ?? req.subtype ?? device;
}

// The legacy encoding for kernels that reject a subtype: the type loses its
// subtype and the source carries it.
export function legacySubtypeFallback(req: MountRequest): { type: string; source: string } {
  const type = req.blkdev ? "fuseblk" : "fuse";
  if (req.fsname === undefined) return { type, source: type };
  return { type, source: req.blkdev ? req.fsname : `${req.subtype}#${req.fsname}` };
}

// The mount-table record given to `mount -f` (libmount keeps only the user-space
// part, `user=` and x- options, in /run/mount/utab).
export function mountRecord(req: MountRequest, userName: string | undefined, xOptions: string): string {
  const parts: string[] = [];
  if (!(req.flags & MS.RDONLY)) parts.push("rw");
  for (const f of MOUNT_FLAGS) if (f.on && (req.flags & f.flag)) parts.push(f.name);
  parts.push(...req.kernelOptions);
  if (userName !== undefined) parts.push(`user=${userName}`);
  if (xOptions !== "") parts.push(xOptions);
  return parts.join(",");
}

export const PAGE_SIZE_DEFAULT = 4096;

// fsmount() attributes for the MS_* flags of a request (new mount API).
export const MOUNT_ATTR = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, NOATIME: 0x10, STRICTATIME: 0x20,
  NODIRATIME: 0x80, NOSYMFOLLOW: 0x200000,
} as const;

export function mountAttributes(flags: number): number {
  let a = 0;
  if (flags & MS.RDONLY) a |= MOUNT_ATTR.RDONLY;
  if (flags & MS.NOSUID) a |= MOUNT_ATTR.NOSUID;
  if (flags & MS.NODEV) a |= MOUNT_ATTR.NODEV;
  if (flags & MS.NOEXEC) a |= MOUNT_ATTR.NOEXEC;
  // libfuse master's precedence: noatime, else relatime (attribute 0), else strictatime.
  if (flags & MS.NOATIME) a |= MOUNT_ATTR.NOATIME;
  else if (!(flags & MS.RELATIME) && (flags & MS.STRICTATIME)) a |= MOUNT_ATTR.STRICTATIME;
  if (flags & MS.NODIRATIME) a |= MOUNT_ATTR.NODIRATIME;
  if (flags & MS.NOSYMFOLLOW) a |= MOUNT_ATTR.NOSYMFOLLOW;
  return a;
}

// Superblock flags that fsconfig() takes by name.
export function superblockFlags(flags: number): string[] {
  const out: string[] = [];
  if (flags & MS.RDONLY) out.push("ro");
  if (flags & MS.SYNCHRONOUS) out.push("sync");
  if (flags & MS.DIRSYNC) out.push("dirsync");
  if (flags & MS.LAZYTIME) out.push("lazytime");
  return out;
}
