// Who is asking, and the only ways this process's main thread may change what
// it is allowed to do. Every privileged step names the state it needs:
//
//   lowered (the default)  the caller's fsuid/fsgid and groups, and an EMPTY
//                          effective capability set: a check, an open or a walk
//                          made here can do nothing the caller could not
//                          (no CAP_DAC_*, no CAP_SYS_PTRACE through /proc magic
//                          links);
//   withAdmin(fn)          the same identity plus CAP_SYS_ADMIN only: mount,
//                          fsconfig, move_mount and umount2 of paths walked as
//                          the caller;
//   asRoot(fn)             fsuid 0 and the full capability set: files of our own
//                          in root-owned places (the mount_max lock), children
//                          (/bin/mount, /bin/umount).
//
// Unsignalable for the whole run: start() makes the real uid 0 (saved and
// effective already are) and ignores the terminal's stop signals, before the
// first lowering. A caller cannot send any signal to a process whose real and
// saved uids are 0, so it cannot SIGSTOP a helper that holds the mount_max
// lock or waits for a child other users wait behind. It is done once and never
// undone because it cannot be undone safely: the real uid is per thread, glibc
// changes it on every thread (nptl setxid broadcast), and a thread the runtime
// starts while we are lowered has no CAP_SETUID to change it back, so glibc
// would abort; changing it on the main thread only would leave the runtime's
// other threads open to tgkill(SIGSTOP), which stops the whole process. What
// a real uid decided is therefore never asked of the kernel: access() becomes
// faccessat(AT_EACCESS) under the lowered state, and the caller is a value.
//
// Capabilities, fsuid/fsgid and the raw setgroups syscall are per thread, and
// only the main thread runs our code: every step of a bracket is synchronous.
// Each bracket restores the state it found in `finally` and verifies it.

import * as c from "./libc.ts";

export type Credentials = { readonly uid: number; readonly gid: number; readonly groups: readonly number[] };
export const isRootCaller = (who: Credentials): boolean => who.uid === 0;

export class CredentialError extends Error {}

type ThreadState = { fsuid: number; fsgid: number; effective: bigint; groups?: readonly number[] };

// A terminal may stop its foreground process group whatever the uids.
const STOP_SIGNALS = [c.SIG.TSTP, c.SIG.TTIN, c.SIG.TTOU];

export class Privileges {
  readonly caller: Credentials;
  // Running with euid 0 (through the set-uid launcher, or as root).
  readonly privileged: boolean;
  private readonly permitted: bigint;
  private readonly startGroups: readonly number[];

  constructor(caller: Credentials) {
    this.caller = caller;
    this.privileged = c.geteuid() === 0;
    const caps = c.capget();
    this.permitted = typeof caps === "number" ? 0n : caps.permitted;
    const g = c.getgroups();
    this.startGroups = typeof g === "number" ? [] : g;
  }

  // The caller as the kernel sees this process: real ids and groups.
  static callerOfThisProcess(): Credentials {
    const g = c.getgroups();
    return { uid: c.getuid(), gid: c.getgid(), groups: typeof g === "number" ? [] : g };
  }

  // A caller other than this process's, for the service's per-request child:
  // the ids come from SO_PEERCRED / SO_PEERGROUPS of the caller's connection.
  // Only in a process whose real, effective and saved uids are already 0 (the
  // service spawned it): then start() changes no process-wide id, and every
  // lowering is per thread (setfsuid/setfsgid, the raw setgroups syscall and
  // capset), exactly as for the set-uid path once its real uid is 0.
  static forPeer(peer: Credentials): Privileges {
    const valid = (id: number) => Number.isInteger(id) && id >= 0 && id < 0xffffffff;
    if (!valid(peer.uid) || !valid(peer.gid) || !peer.groups.every(valid) || peer.groups.length > 65536) {
      throw new CredentialError("invalid peer credentials");
    }
    if (c.getuid() !== 0 || c.geteuid() !== 0) throw new CredentialError("peer credentials need real and effective uid 0");
    return new Privileges({ uid: peer.uid, gid: peer.gid, groups: [...peer.groups] });
  }

  // The service's request threads, between requests: back to root's state
  // (fsuid/fsgid 0, `groups`, the whole permitted set effective), read back
  // from the kernel. A thread that cannot be brought back serves no more.
  static resetThread(groups: readonly number[]): void {
    const caps = c.capget();
    if (typeof caps === "number") throw new CredentialError("capget failed");
    if (c.capset({ effective: caps.permitted, permitted: caps.permitted, inheritable: 0n }) < 0) {
      throw new CredentialError(`capset: ${c.strerror(c.errno())}`);
    }
    if (!sameGroups(groups) && c.setgroupsThisThread(groups) < 0) throw new CredentialError(`setgroups: ${c.strerror(c.errno())}`);
    c.setFsIds(0, 0);
    const ids = c.setFsIds(-1 >>> 0, -1 >>> 0);
    const now = c.capget();
    if (ids.uid !== 0 || ids.gid !== 0 || typeof now === "number" || now.effective !== caps.permitted || !sameGroups(groups)) {
      throw new CredentialError("this thread's credentials could not be restored");
    }
  }

  // The default state.
  private lower(): void {
    this.apply(this.loweredState(0n));
  }

  withAdmin<T>(fn: () => T): T {
    return this.bracket(this.loweredState(c.capBit(c.CAP.SYS_ADMIN) & this.permitted), fn);
  }

  asRoot<T>(fn: () => T): T {
    return this.bracket({ fsuid: 0, fsgid: 0, effective: this.permitted, groups: this.startGroups }, fn);
  }

  // Once, first thing, while every thread of the process still has the full
  // capability set (see the header for why it is never undone).
  start(): void {
    for (const sig of STOP_SIGNALS) c.ignoreSignal(sig);
    if (this.privileged && c.getuid() !== 0) {
      if (c.setreuid(0, -1 >>> 0) !== 0 || c.getuid() !== 0) {
        throw new CredentialError(`failed to set real uid: ${c.strerror(c.errno())}`);
      }
    }
    this.lower();
  }

  // What this thread is now, read back from the kernel.
  current(): ThreadState {
    const caps = c.capget();
    const ids = c.setFsIds(-1 >>> 0, -1 >>> 0); // an invalid id only reads back the current one
    return { fsuid: ids.uid, fsgid: ids.gid, effective: typeof caps === "number" ? -1n : caps.effective };
  }

  // Root's own requests keep root's capabilities: the caller's credentials.
  private loweredState(effective: bigint): ThreadState {
    const caps = isRootCaller(this.caller) ? this.permitted : effective;
    return { fsuid: this.caller.uid, fsgid: this.caller.gid, effective: caps, groups: this.caller.groups };
  }

  private bracket<T>(state: ThreadState, fn: () => T): T {
    const before = this.current();
    const beforeGroups = c.getgroups();
    this.apply(state);
    try {
      return fn();
    } finally {
      this.apply({ ...before, ...(typeof beforeGroups === "number" ? {} : { groups: beforeGroups }) });
    }
  }

  // Order matters: groups and fs ids need CAP_SETGID/CAP_SETUID, so they change
  // while the full set is still effective, and the capability set comes last.
  private apply(s: ThreadState): void {
    if (!this.privileged) {
      // Nothing to raise; lowering what little we have is still right.
      c.capset({ effective: 0n, permitted: this.permitted, inheritable: 0n });
      return;
    }
    const full = { effective: this.permitted, permitted: this.permitted, inheritable: 0n };
    if (c.capset(full) < 0) throw new CredentialError(`capset: ${c.strerror(c.errno())}`);
    if (s.groups && !sameGroups(s.groups) && c.setgroupsThisThread(s.groups) < 0) {
      throw new CredentialError(`setgroups: ${c.strerror(c.errno())}`);
    }
    c.setFsIds(s.fsuid, s.fsgid);
    if (c.capset({ effective: s.effective, permitted: this.permitted, inheritable: 0n }) < 0) {
      throw new CredentialError(`capset: ${c.strerror(c.errno())}`);
    }
    const now = this.current();
    if (now.fsuid !== s.fsuid || now.fsgid !== s.fsgid || now.effective !== s.effective) {
      throw new CredentialError(`credentials not as expected (fsuid ${now.fsuid}, fsgid ${now.fsgid})`);
    }
  }
}

function sameGroups(want: readonly number[]): boolean {
  const now = c.getgroups();
  if (typeof now === "number" || now.length !== want.length) return false;
  const a = [...now].sort((x, y) => x - y);
  const b = [...want].sort((x, y) => x - y);
  return a.every((v, i) => v === b[i]);
}
