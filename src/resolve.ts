// The mountpoint argument, resolved as the caller (lowered: no capabilities, so
// no /proc/<pid>/cwd magic link of another user's process can be walked), then
// pinned: the parent directory is opened again from the resolved string with
// openat2(RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS), so a component swapped
// for a symlink after realpath() makes the walk fail instead of leading
// elsewhere. From here on only the fd is used.

import * as c from "./sys/libc.ts";
import { splitForResolution, joinResolved, splitParent } from "./policy/paths.ts";
import { refuse } from "./policy/refusal.ts";

export type Mountpoint = {
  path: string; // absolute, resolved: for messages, the mount table and records
  parent: string;
  last: string; // final component, "." for "/"
  // O_PATH, pinned; or -errno when the parent cannot be opened (not a
  // directory, say), reported where libfuse would report it, in its words.
  parentFd: number;
};

export const NO_LINKS = c.RESOLVE.NO_SYMLINKS | c.RESOLVE.NO_MAGICLINKS;

// A relative path under `cwd` the way realpath() treats getcwd()'s answer:
// taken as resolved (never looked at again: a cwd on the caller's own FUSE
// mount may not be), its leading "." and ".." applied to it as text.
function underCwd(cwd: string, rel: string): string {
  const base = cwd.split("/").filter((p) => p !== "");
  const parts = rel.split("/");
  let i = 0;
  for (; i < parts.length; i++) {
    if (parts[i] === "" || parts[i] === ".") continue;
    if (parts[i] === "..") { base.pop(); continue; }
    break;
  }
  return `/${[...base, ...parts.slice(i)].join("/")}`;
}

// `cwd`: the directory a relative argument is relative to, when it is not
// this process's working directory (see Env.cwd in main.ts).
export function resolveMountpoint(arg: string, cwd?: string): Mountpoint {
  if (arg === "") refuse("invalid mountpoint ''");
  const { toResolve, last } = splitForResolution(arg);
  const resolved = c.realpath(cwd !== undefined && !toResolve.startsWith("/") ? underCwd(cwd, toResolve) : toResolve);
  if (typeof resolved === "number") refuse(`bad mount point ${arg}: ${c.strerror(-resolved)}`);
  const path = joinResolved(resolved, last);
  const split = splitParent(path);
  if (!split) refuse(`bad mount point ${arg}: ${c.strerror(c.E.ENOENT)}`);
  const parentFd = c.openat2(c.AT_FDCWD, split.parent, c.O.PATH | c.O.DIRECTORY, NO_LINKS);
  // A link where realpath() saw none: the path changed under us.
  if (parentFd === -c.E.ELOOP || parentFd === -c.E.EXDEV) refuse(`bad mount point ${arg}: ${c.strerror(-parentFd)}`);
  return { path, parent: split.parent, last: split.last, parentFd };
}

// chdir into the pinned parent and make sure it is still the directory the
// path names (libfuse's chdir_to_parent, with its messages). Returns the final
// component to act on relative to ".", or the reason it cannot.
export function chdirToParent(m: Mountpoint): { last: string } | { error: string } {
  const rc = m.parentFd < 0 ? m.parentFd : c.fchdir(m.parentFd);
  if (rc < 0) return { error: `failed to chdir to ${m.parent}: ${c.strerror(-rc)}` };
  const cwd = c.getcwd();
  if (typeof cwd === "number") return { error: `failed to obtain current directory: ${c.strerror(-cwd)}` };
  if (cwd !== m.parent) return { error: `mountpoint moved (${m.parent} -> ${cwd})` };
  return { last: m.last };
}
