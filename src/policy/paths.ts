// Mountpoint path handling that needs no system call. Pure.

// How libfuse resolves a mountpoint: the parent is canonicalised, the last
// component is kept as given (a final symlink stays a symlink and is refused
// later by the permission check, never followed as root).
export function splitForResolution(path: string): { toResolve: string; last?: string } {
  let p = path;
  while (p.length > 1 && p.endsWith("/")) p = p.slice(0, -1);
  const slash = p.lastIndexOf("/");
  const last = slash < 0 ? p : p.slice(slash + 1);
  if (last === "." || last === ".." || p === "/") return { toResolve: p };
  const parent = slash < 0 ? "." : slash === 0 ? "/" : p.slice(0, slash);
  return { toResolve: parent, last };
}

export function joinResolved(resolvedParent: string, last?: string): string {
  if (last === undefined) return resolvedParent;
  return resolvedParent === "/" ? `/${last}` : `${resolvedParent}/${last}`;
}

// Parent directory and final component of an absolute, resolved path; the
// final component of "/" is ".".
export function splitParent(abs: string): { parent: string; last: string } | undefined {
  if (!abs.startsWith("/")) return undefined;
  if (abs === "/") return { parent: "/", last: "." };
  const slash = abs.lastIndexOf("/");
  return { parent: slash === 0 ? "/" : abs.slice(0, slash), last: abs.slice(slash + 1) };
}

// printf("%#010lx") of a filesystem magic.
export function fsMagicHex(magic: bigint): string {
  return "0x" + magic.toString(16).padStart(8, "0");
}

// Mountpoint filesystems a user may mount over (libfuse master's list).
export const ALLOWED_MOUNTPOINT_FS: ReadonlySet<bigint> = new Set([
  0x61756673n, 0x00000187n, 0xca451a4en, 0x9123683en, 0x00c36400n, 0xff534d42n,
  0x0000f15fn, 0x2011bab0n, 0x0000ef53n, 0xf2f52010n, 0x65735546n, 0x01161970n,
  0x47504653n, 0x0000482bn, 0x000072b6n, 0x3153464an, 0x0bd00bd0n, 0x00004d44n,
  0x0000564cn, 0x00006969n, 0x00003434n, 0x5346544en, 0x7366746en, 0x5346414fn,
  0x794c7630n, 0xaad7aaean, 0x52654973n, 0xfe534d42n, 0x73717368n, 0x01021994n,
  0x24051905n, 0x18031977n, 0x736675005346544en, 0x58465342n, 0x2fc12fc1n, 0x858458f6n,
]);

// strtol(s, &end, 10) accepting the whole string, as libfuse validates fd numbers.
export function parseFdNumber(s: string): number | undefined {
  const m = /^[ \t\n\v\f\r]*([+-]?[0-9]+)$/.exec(s);
  if (!m) return undefined;
  const v = BigInt(m[1]!);
  if (v > (1n << 63n) - 1n || v < -(1n << 63n)) return undefined;
  return Number(v);
}
