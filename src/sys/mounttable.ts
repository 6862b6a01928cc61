// The kernel's mount table, read whole: /proc/self/mountinfo can be many MiB
// (thousands of mounts, names of 4 KiB with every byte escaped), and a table we
// failed to read is never an empty one. A read failure is a Refusal.

import * as c from "./libc.ts";
import { parseMountinfo, type MountEntry } from "../policy/mountinfo.ts";
import { Refusal } from "../policy/refusal.ts";

export const MOUNTINFO = "/proc/self/mountinfo";

export function readMountTable(): MountEntry[] {
  const text = c.readFile(MOUNTINFO);
  if (typeof text === "number") throw new Refusal(`failed to read ${MOUNTINFO}: ${c.strerror(-text)}`);
  return parseMountinfo(text.toString("utf8"));
}

// The mount an fd sits on, without asking a FUSE server anything.
export function mountIdOfFd(fd: number): number | undefined {
  const id = c.mountIdOf(fd);
  return typeof id === "number" ? undefined : Number(id);
}

// The mount a walk from `dirFd` to `last` ends on, without following a final
// symlink.
export function mountIdAt(dirFd: number, last: string): number | undefined {
  const fd = c.tryOpenat(dirFd, last, c.O.PATH | c.O.NOFOLLOW);
  if (fd < 0) return undefined;
  const id = mountIdOfFd(fd);
  c.close(fd);
  return id;
}
