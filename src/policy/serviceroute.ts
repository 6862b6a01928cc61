// Which requests the service runs in one of its request threads, and which in
// a process of their own. Pure.
//
// A thread serves requests that end when they are done: mount (classic), -u,
// -V, -h and whatever argv refuses. A process of its own serves everything
// that waits on a FUSE server or lives on (--sync-init's proceed and the
// FUSE_INIT inside CMD_CREATE, bounded with alarm(), which is process-wide; an
// auto-unmount watch) and --check (also alarm()). The shared code refuses, as
// an internal error and before anything is mounted, a request that reached a
// thread by mistake.

import { parseArgv } from "./argv.ts";
import { tokenize } from "./options.ts";

export function runsInThread(args: readonly string[]): boolean {
  const p = parseArgv(args);
  if (p.action !== "run") return true;
  if (p.check || p.syncInit || p.autoUnmount) return false;
  if (p.unmount) return true;
  // The same tokens the option policy reads (x- ones among them, harmlessly).
  return !tokenize(p.options).includes("auto_unmount");
}
