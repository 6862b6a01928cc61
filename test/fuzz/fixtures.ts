// The fixed set of prepared mountpoints the fuzzer chooses from (pure data,
// shared by the generator and the driver). Every worker builds the same tree at
// the same absolute paths inside its own mount namespace (a private tmpfs over
// /tmp), so a case's argv, messages and mount table are the same on every
// worker and every run: seed + index reproduce a case exactly.

export const BASE = "/tmp"; // a private tmpfs (mode 1777, root) in each worker's namespace
export const FZ = `${BASE}/fz`; // root, 0755
export const H = `${FZ}/h`; // the user's directory and the cwd of every helper run

export type Owner = "user" | "root" | "other";
export type Fixture = {
  path: string; // relative to H
  kind: "dir" | "file" | "symlink" | "fifo" | "ramfs" | "tmpfs";
  owner?: Owner; // default user
  mode?: number; // default 0755 (dir), 0644 (file)
  target?: string; // symlink target
};

// Directory names with characters that need care in argv, messages and mountinfo.
export const SPECIAL_NAMES: readonly string[] = [
  "sp ace", "ta\tb", "new\nline", "back\\slash", "ha#sh", "com,ma", "ünïcødé-日本", "-dash",
  "q'u\"ote", "%s%n%x", "a:b=c", "trail ", " lead", "x-opt", "...", "fsname=x", "-o",
];

export const L255 = "L".repeat(255);
export const DEEP_NAME = "D".repeat(200);
export const DEEP_LEVELS = 19;
// deep/D…/D…/… (19 levels of 200 characters): the innermost directory is
// H + 3,824 bytes, close to PATH_MAX.
export const DEEP = ["deep", ...Array<string>(DEEP_LEVELS).fill(DEEP_NAME)].join("/");

export const FIXTURES: readonly Fixture[] = [
  { path: "m", kind: "dir" },
  { path: "m2", kind: "dir" },
  { path: "d1", kind: "dir" },
  { path: "d1/d2", kind: "dir" },
  { path: "file", kind: "file" },
  { path: "file-ro", kind: "file", mode: 0o444 },
  { path: "file-root", kind: "file", owner: "root" },
  { path: "file-root-w", kind: "file", owner: "root", mode: 0o666 },
  { path: "rootdir", kind: "dir", owner: "root" },
  { path: "rootdir-w", kind: "dir", owner: "root", mode: 0o777 },
  { path: "otherdir", kind: "dir", owner: "other" },
  { path: "otherdir-w", kind: "dir", owner: "other", mode: 0o777 },
  { path: "sticky-root", kind: "dir", owner: "root", mode: 0o1777 },
  { path: "sticky-mine", kind: "dir", mode: 0o1777 },
  { path: "sticky-other", kind: "dir", owner: "other", mode: 0o1777 },
  { path: "link", kind: "symlink", target: "m" },
  { path: "link-abs", kind: "symlink", target: `${H}/m2` },
  { path: "dangling", kind: "symlink", target: "nowhere" },
  { path: "loop", kind: "symlink", target: "loop" },
  { path: "real", kind: "dir" },
  { path: "real/m", kind: "dir" },
  { path: "linkdir", kind: "symlink", target: "real" },
  { path: "fifo", kind: "fifo" },
  { path: "nosearch", kind: "dir", mode: 0o600 }, // made 0600 after its child
  { path: "nosearch/inner", kind: "dir" },
  { path: "nowrite", kind: "dir", mode: 0o555 },
  { path: "xonly", kind: "dir", owner: "root", mode: 0o711 },
  { path: "xonly/m", kind: "dir" },
  { path: L255, kind: "dir" },
  // A ramfs (allowed by master's list, forbidden by 3.14's) and its twin on
  // tmpfs (allowed by both), same name length: see the fs-type difference.
  { path: "ramfs", kind: "ramfs" },
  { path: "tmpfs", kind: "tmpfs" },
  ...SPECIAL_NAMES.map((n): Fixture => ({ path: n, kind: "dir" })),
  ...Array.from({ length: DEEP_LEVELS + 1 }, (_, i): Fixture => ({
    path: ["deep", ...Array<string>(i).fill(DEEP_NAME)].join("/"), kind: "dir",
  })),
  { path: `${DEEP}/m`, kind: "dir" },
];

// Fixtures a dead FUSE mount of the user may be put on before a run (made with
// the C helper, like a FUSE server that died).
export const PRE_MOUNTABLE: readonly string[] = ["m", "m2", "file", "sp ace", "new\nline", "back\\slash", "real/m", L255, "d1"];

// Where the other user's dead FUSE mount may be (directories that user may write).
export const PRE_MOUNTABLE_OTHER: readonly string[] = ["otherdir", "otherdir-w"];

// /etc/fuse.conf variants (bound over the file in the worker's namespace).
export const CONFS = {
  plain: "# /etc/fuse.conf\n",
  allow: "user_allow_other\n",
  max1: "user_allow_other\nmount_max = 1\n",
  noisy: "bogus\nmount_max = 1000\n",
} as const;
export type ConfId = keyof typeof CONFS;
