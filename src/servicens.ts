// Callers in another mount namespace or under another root. A set-uid
// fusermount3 runs where its caller runs; the service's request child runs in
// the service's namespace, where an attach onto the caller's directory fails
// (EINVAL) and /etc/fuse.conf, utab and /bin/mount are the wrong ones. So the
// request child takes the caller's place FROM THE KERNEL (the connecting
// process's /proc/<pid>/ns/mnt and /proc/<pid>/root, pinned by its pidfd; never
// fds or paths the caller sends: any user can send an O_PATH fd of a directory
// holding a binary of their own as "my root") and becomes the request there:
//
//   execve /usr/bin/nsenter --mount=/proc/self/fd/N [--root=/proc/self/fd/6]
//          -- <this helper> --service-request-entered
//
// (setns(CLONE_NEWNS) needs a single-threaded process, which no Bun process
// is.) nsenter opens the namespace and root, setns()es, chroot()s, then execs;
// the entered helper takes the request from a sealed memfd and runs main().
// That is the set-uid path's trust only where the caller could not have made
// that place itself:
//   - the mount namespace must be owned by the initial user namespace (made by
//     root): in one of its own user namespace the caller could have mounted
//     over /etc/fuse.conf, /bin/mount or /run/mount/utab;
//   - a root other than the namespace's must have been set by root, i.e. the
//     caller is in the initial user namespace. In a user namespace of its own
//     a caller may chroot() anywhere, so then the helper is executed from the
//     namespace's root (no --root) and the entered helper refuses unless the
//     caller's root is that root.

import * as c from "./sys/libc.ts";
import type { Credentials } from "./sys/creds.ts";
import type { ServiceRequest } from "../protocol/service.ts";

export const ENTERED_ARG = "--service-request-entered";
const NSENTER = "/usr/bin/nsenter";
const CLONE_NEWNS = 0x00020000;
const NS_GET_USERNS = 0xb701; // _IO(0xb7, 0x1): an fd of the owning user namespace
const NS_GET_NSTYPE = 0xb703; // _IO(0xb7, 0x3): the CLONE_NEW* type of an nsfs fd
const NSFS_MAGIC = 0x6e736673n;
const HANDOVER_VERSION = 1;

// The entered helper's fds (nsenter passes them on; the namespace fd comes
// last, for nsenter, and the entered helper closes it).
const F = { MEMFD: 3, NOTICE: 4, CWD: 5, ROOT: 6, COMM: 7 } as const;

// What the entered helper needs, written by the request child (root) into a
// sealed memfd: the request as parsed and the caller as the kernel named it.
export type Handover = {
  v: number;
  request: ServiceRequest;
  caller: Credentials;
  pid: number;
  comm: boolean; // the comm fd is fd 7
  rootEntered: boolean; // nsenter already chroot()ed to the caller's root
};

export type Here = {
  argv0: string;
  request: ServiceRequest;
  caller: Credentials;
  pid: number;
  pidfd: number; // SO_PEERPIDFD, or -errno where the kernel has none (< 6.5)
  cwd: number;
  comm: number | undefined;
  notice: number;
};

const sameFile = (a: c.Stat | number, b: c.Stat | number): boolean =>
  typeof a !== "number" && typeof b !== "number" && a.dev === b.dev && a.ino === b.ino;
// A root is a directory on a particular mount: a bind of / at /srv/x is the
// same inode as / but another place.
const samePlace = (a: c.Stat | number, b: c.Stat | number): boolean =>
  sameFile(a, b) && typeof a !== "number" && typeof b !== "number" && a.mntId === b.mntId;

// The caller's mount namespace, root and user namespace, read through
// /proc/<pid> once the pidfd shows that pid is still the connecting process
// (a /proc/<pid> directory fd keeps naming that process: a reused pid makes
// every lookup under it fail). The user namespace is read last: a process
// can leave the initial one but never come back, so "initial" then also held
// when the namespace and root were read.
type Place = { ns: number; root: number; userns: number };
function callersPlace(pid: number, pidfd: number): Place | string {
  const proc = c.tryOpen(`/proc/${pid}`, c.O.PATH | c.O.DIRECTORY);
  if (proc < 0 || (pidfd >= 0 && c.pidfdAlive(pidfd) !== 0)) {
    if (proc >= 0) c.close(proc);
    return "the caller exited before its request ran";
  }
  const ns = c.tryOpenat(proc, "ns/mnt", c.O.RDONLY);
  const root = c.tryOpenat(proc, "root", c.O.PATH | c.O.DIRECTORY);
  const userns = c.tryOpenat(proc, "ns/user", c.O.RDONLY);
  c.close(proc);
  if (ns < 0 || root < 0 || userns < 0) {
    for (const fd of [ns, root, userns]) if (fd >= 0) c.close(fd);
    return "the caller exited before its request ran";
  }
  return { ns, root, userns };
}

const isHere = (p: Place): boolean => sameFile(c.fstat(p.ns), c.stat("/proc/self/ns/mnt")) && samePlace(c.fstat(p.root), c.stat("/"));

// For the service's request threads, which cannot go anywhere else: true when
// the caller shares the service's mount namespace and root, false when not,
// or why it cannot be told.
export function callerIsHere(pid: number, pidfd: number): boolean | string {
  const place = callersPlace(pid, pidfd);
  if (typeof place === "string") return place;
  const here = isHere(place);
  for (const fd of [place.ns, place.root, place.userns]) c.close(fd);
  return here;
}

// An nsfs fd of a mount namespace (what /proc gave us must be one; checked
// anyway before it is handed to setns()).
export function isMountNamespace(fd: number): boolean {
  return c.statfsType(fd) === NSFS_MAGIC && c.ioctlValue(fd, NS_GET_NSTYPE) === CLONE_NEWNS;
}

// Called by the request child once the request is parsed. Returns undefined
// when the caller shares the service's namespace and root (served here, as
// ever), a refusal for main() to report and audit, or never (this process
// became the request in the caller's namespace). Fails with one line on the
// caller's stderr when the service itself is broken.
export function serveWhereTheCallerIs(h: Here): string | undefined {
  const fail = (what: string): never => {
    c.writeAll(2, `${h.argv0}: ${what}\n`);
    return c.exit(1);
  };
  const place = callersPlace(h.pid, h.pidfd);
  if (typeof place === "string") return fail(place);
  const { ns, root, userns } = place;
  const closeAll = () => { for (const fd of [ns, root, userns]) c.close(fd); };
  if (isHere(place)) {
    closeAll();
    return undefined;
  }
  if (h.pidfd < 0) {
    closeAll();
    return "serving a caller in another mount namespace or root needs Linux 6.5 or later (SO_PEERPIDFD): use the set-uid fusermount3 there";
  }
  if (!isMountNamespace(ns)) { closeAll(); return fail("the caller's /proc/<pid>/ns/mnt is not a mount namespace"); }
  const owner = c.ioctlValue(ns, NS_GET_USERNS);
  const ownUserns = c.stat("/proc/self/ns/user");
  const rootsNamespace = owner >= 0 && sameFile(c.fstat(owner), ownUserns);
  if (owner >= 0) c.close(owner);
  const callerInInitialUserns = sameFile(c.fstat(userns), ownUserns);
  c.close(userns);
  if (!rootsNamespace) {
    c.close(ns); c.close(root);
    return "your mount namespace belongs to a user namespace (unshare -Urm, a rootless container), where fusermount3 is not trusted: mount FUSE directly inside that user namespace, which you own";
  }
  // The helper must be this very file at the same path in the caller's root:
  // that is what nsenter executes there (never a file the caller could have
  // put in our place).
  const self = process.execPath;
  const there = c.openat2(root, self, c.O.PATH | c.O.CLOEXEC, c.RESOLVE.IN_ROOT | c.RESOLVE.NO_MAGICLINKS);
  const theirs = there >= 0 ? c.fstat(there) : there;
  if (there >= 0) c.close(there);
  if (!sameFile(theirs, c.stat(self))) {
    c.close(ns); c.close(root);
    const dir = self.slice(0, self.lastIndexOf("/"));
    return typeof theirs === "number"
      ? `this service's helper ${self} is not visible in your mount namespace or root: bind-mount ${dir} there at the same path`
      : `${self} in your mount namespace or root is not this service's helper: bind-mount the service's ${dir} there at the same path`;
  }
  const memfd = writeHandover({
    v: HANDOVER_VERSION, request: h.request, caller: h.caller, pid: h.pid,
    comm: h.comm !== undefined, rootEntered: callerInInitialUserns,
  });
  if (memfd < 0) return fail(`cannot hand the request over: ${c.strerror(-memfd)}`);
  const fds = [0, 1, 2, memfd, h.notice, h.cwd, root, ...(h.comm !== undefined ? [h.comm] : []), ns];
  if (!placeFds(fds)) return fail(`cannot hand the request over: ${c.strerror(c.errno())}`);
  const nsAt = fds.length - 1;
  const argv = ["nsenter", `--mount=/proc/self/fd/${nsAt}`, ...(callerInInitialUserns ? [`--root=/proc/self/fd/${F.ROOT}`] : []),
    "--", self, ENTERED_ARG];
  const rc = c.execve(NSENTER, argv, []);
  return fail(`cannot run ${NSENTER} to serve a caller in another mount namespace: ${c.strerror(-rc)} (install util-linux)`);
}

function writeHandover(h: Handover): number {
  const fd = c.memfdCreate("fusermount3-request");
  if (fd < 0) return fd;
  c.writeAll(fd, JSON.stringify(h));
  const sealed = c.addSeals(fd, c.SEALS_ALL);
  const rewound = sealed < 0 ? sealed : c.lseekStart(fd);
  if (rewound < 0) { c.close(fd); return rewound; }
  return fd;
}

// fds[i] becomes fd i (inheritable); everything else, the runtime's own fds
// included, is marked close-on-exec.
function placeFds(fds: readonly number[]): boolean {
  const high = fds.map((fd) => c.fcntl(fd, 1030 /* F_DUPFD_CLOEXEC */, 100));
  if (high.some((fd) => fd < 0)) return false;
  for (let i = 0; i < high.length; i++) if (c.dup2(high[i]!, i) !== i) return false;
  for (const fd of high) c.close(fd);
  return c.closeRange(fds.length, 0xffffffff, c.CLOSE_RANGE_CLOEXEC) === 0;
}

// The caller's cwd, for a relative mountpoint (main() goes to "/" once the
// mountpoint is resolved). A cwd on the caller's own FUSE mount (without
// allow_other) cannot be entered by root: the kernel lets only the mount's
// owner in (fuse_allow_current_process compares real, effective and saved
// uid). The set-uid helper never enters it (it inherits it, and realpath()
// reads only its path), so neither must this: its path, from the kernel, is
// what a relative mountpoint is resolved against then. Closes cwdFd.
export function enterCwd(cwdFd: number): { cd: number; cwdPath?: string } {
  let cd = c.fchdir(cwdFd);
  let cwdPath: string | undefined;
  if (cd === -c.E.EACCES) {
    const path = c.readlink(c.fdPath(cwdFd));
    if (typeof path === "string" && path.startsWith("/") && !path.endsWith(" (deleted)")) {
      cwdPath = path;
      cd = c.chdir("/");
    }
  }
  c.close(cwdFd);
  return cwdPath !== undefined ? { cd, cwdPath } : { cd };
}

// The entered helper, in the caller's mount namespace (and root, when nsenter
// set it): checks it was started by the service, takes the request over and
// returns what serveOneRequest's common ending needs.
export type Entered = {
  request: ServiceRequest; caller: Credentials; pid: number; comm: number | undefined; notice: number; elsewhere?: string;
  cwdPath?: string;
};
export function takeHandover(): Entered {
  const fail = (what: string): never => {
    c.writeAll(2, `fusermount3: ${what}\n`);
    return c.exit(1);
  };
  if (c.getuid() !== 0 || c.geteuid() !== 0) return fail(`${ENTERED_ARG} is for the service only`);
  // Only a memfd sealed against every change is the service's handover.
  if (c.getSeals(F.MEMFD) !== c.SEALS_ALL) return fail(`${ENTERED_ARG} is for the service only`);
  const chunks: Buffer[] = [];
  for (;;) {
    const b = c.readFd(F.MEMFD, 65536 * 4);
    if (typeof b === "number") return fail(`cannot read the service's handover: ${c.strerror(-b)}`);
    if (b.length === 0) break;
    chunks.push(Buffer.from(b));
  }
  c.close(F.MEMFD);
  let h: Handover;
  try {
    h = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Handover;
  } catch {
    return fail("the service's handover is not readable");
  }
  if (h.v !== HANDOVER_VERSION) return fail(`the helper in your mount namespace is not the service's version (handover ${h.v})`);
  for (const fd of [F.NOTICE, F.CWD, F.ROOT, ...(h.comm ? [F.COMM] : [])]) c.fcntl(fd, c.F.SETFD, 1);
  c.close(h.comm ? F.COMM + 1 : F.COMM); // the namespace, nsenter's
  // Without --root (a caller in a user namespace of its own) the root must be
  // the namespace's, which setns() gave this process.
  let elsewhere: string | undefined;
  if (!h.rootEntered && !samePlace(c.fstat(F.ROOT), c.stat("/"))) {
    elsewhere = "you are chroot()ed inside a user namespace, where fusermount3 is not trusted: run it outside the chroot, or mount FUSE directly inside that user namespace";
  }
  c.close(F.ROOT);
  const { cd, cwdPath } = enterCwd(F.CWD);
  if (cd < 0) return fail(`cannot enter the caller's working directory: ${c.strerror(-cd)}`);
  return {
    request: h.request, caller: h.caller, pid: h.pid, comm: h.comm ? F.COMM : undefined, notice: F.NOTICE,
    ...(elsewhere !== undefined ? { elsewhere } : {}), ...(cwdPath !== undefined ? { cwdPath } : {}),
  };
}
