// Process-wide state of one helper run: who called us, how to speak, and the
// two privilege switches. Everything privileged reads the real uid from here.

import * as c from "./libc.ts";

export const caller = {
  uid: c.getuid(),
  gid: c.getgid(),
  // "root" in libfuse's sense: the real uid, never capabilities.
  get isRoot(): boolean { return this.uid === 0; },
};

let progname = "fusermount";
export function setProgname(name: string): void { progname = name; }
export function getProgname(): string { return progname; }

// The last message printed: the reason an audit record gives for a failure.
let lastMessage = "";
export const lastWarning = (): string => lastMessage;

export function warn(msg: string): void { lastMessage = msg; c.writeAll(2, `${progname}: ${msg}\n`); }
// Messages from the shared mount code keep libfuse's "fuse: " prefix.
export function warnFuse(msg: string): void { lastMessage = msg; c.writeAll(2, `fuse: ${msg}\n`); }

// A second line that names the fix, for a person reading a terminal. libfuse's
// first line stays byte-identical because clients parse it; programs reading
// our stderr through a pipe never see the hint.
export function dieWithHint(msg: string, hint: string): never {
  warn(msg);
  if (c.isatty(2)) c.writeAll(2, `${progname}: ${hint}\n`);
  onDie?.(msg);
  return c.exit(1);
}

// Every refusal ends here; the audit trail records it before the exit.
let onDie: ((msg: string) => void) | undefined;
export function setDieHook(hook: (msg: string) => void): void { onDie = hook; }
export function die(msg: string): never {
  warn(msg);
  onDie?.(msg);
  return c.exit(1);
}

// Work as the caller for filesystem access. Only the fsuid/fsgid change (euid
// stays 0), so this is cheap and reversible, and per thread: every check made in
// between must be a synchronous call on this thread.
let saved: { uid: number; gid: number } | undefined;
export function dropPrivs(): void {
  if (caller.isRoot || saved) return;
  saved = c.setFsIds(caller.uid, caller.gid);
}
export function restorePrivs(): void {
  if (!saved) return;
  c.setFsIds(saved.uid, saved.gid);
  saved = undefined;
}
export function asCaller<T>(fn: () => T): T {
  dropPrivs();
  try { return fn(); } finally { restorePrivs(); }
}

export const privileged = (): boolean => c.geteuid() === 0;
