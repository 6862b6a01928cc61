// Deliberate differences between our fusermount3 and Debian 12's C fusermount3
// (libfuse 3.14), as exercised by differential-*.test.ts. Every differential case
// that behaves differently on purpose names one of these ids and asserts our
// expected behaviour explicitly; every other case must match the C tool exactly.
//
// Section numbers refer to /work/shared/spec/fusermount3.md unless noted.

export type Difference = {
  id: string;
  what: string; // one line: what differs
  why: string; // one line: why, with the spec section
};

export const DIFFERENCES = [
  {
    id: "version-string",
    what: "-V / --version print `fusermount3 version: 3.19.0` instead of `fusermount3 version: 3.14.0`.",
    why: "The line names the libfuse behaviour level implemented, which is master's (§2.4 recommendation, §17 general rule).",
  },
  {
    id: "long-options",
    what: "--options, --auto-unmount, --comm-fd, --sync-init (and their prefixes) are recognised; 3.14 says `unrecognized option '--…'`.",
    why: "They exist since 3.15/3.17/master and libfuse passes some of them (§2.1, §17 row 'long options': follow master).",
  },
  {
    id: "ambiguous-long-option",
    what: "`--=x` lists nine possibilities (master's long options), 3.14 lists five.",
    why: "glibc lists every long option of the table; ours is master's table (§2.2 ambiguity note, §17).",
  },
  {
    id: "x-options",
    what: "Tokens starting with `x-` are split off before validation and never reach the kernel; 3.14 rejects them with `unknown option 'x-…'`.",
    why: "x- options are accepted since 3.17 (sync-init-protocol.md §11.2–11.3, §8.1 step 1, §17 row 'x- options': master).",
  },
  {
    id: "leading-empty-token",
    what: "A leading empty option token (`,ro`, `,`) is dropped; 3.14 fails with `unknown option ''`.",
    why: "Master's x- splitter drops empty tokens while the regular list is empty (§8.1 step 2, sync-init-protocol.md §11.2, §17).",
  },
  {
    id: "flag-name-union",
    what: "diratime nodiratime lazytime nolazytime relatime norelatime strictatime nostrictatime symfollow nosymfollow are accepted mount flags; 3.14 says `unknown option`.",
    why: "We accept the union of 3.14.1+ and master flag names; none is privilege-relevant (§8.3 'accept in replacement', §17 row 'flag names').",
  },
  {
    id: "large-read-silent",
    what: "`large_read` is accepted and ignored silently; 3.14 prints `note: 'large_read' mount option is deprecated for X.Y kernels`.",
    why: "§8.3 last row and §17 row 'large_read': accept and ignore, the 3.14 note is optional.",
  },
  {
    id: "mount-max-below-minus-one",
    what: "`mount_max` < -1 in fuse.conf is reported as `invalid mount_max = N in /etc/fuse.conf at line L` and ignored; 3.14 accepts it and refuses every user mount.",
    why: "Master's check (§7 parsing rules, §17 row 'mount_max < -1': master).",
  },
  {
    id: "device-not-found-text",
    what: "ENODEV/ENOENT opening the device prints `fuse device /dev/fuse not found. Kernel module not loaded?` instead of `fuse device not found, try 'modprobe fuse' first`.",
    why: "Master's message (§10.1 step 2, §16, §17 row 'device-open message').",
  },
  {
    id: "comm-fd-validated-first",
    what: "A `_FUSE_COMMFD` that is not an open socket is refused before mounting (`fstat of comm fd …` / `… is not a socket`); 3.14 mounts, fails in send_fd and leaves the mount behind.",
    why: "Master validates the comm fd first (§3 steps 7–8, §17 row 'comm fd': master).",
  },
  {
    id: "fs-type-whitelist-master",
    what: "Mounting over ramfs is allowed; 3.14 says `mounting over filesystem type 0x858458f6 is forbidden`.",
    why: "We use master's mountpoint filesystem whitelist, which adds RAMFS, NTFS3, PANFS, WEKAFS (§9 table, §17 row 'fs-type whitelist').",
  },
  {
    id: "caller-cannot-signal",
    what: "The caller cannot stop, kill or otherwise signal the helper (its real uid is root's for the whole run); an auto_unmount watchdog ends when the server's end of the socket closes. 3.14 runs with the caller's real uid, so the caller may signal it.",
    why: "A caller that SIGSTOPs its helper while it holds the mount_max lock stalls every user's mount (review finding 1); security.md §9 (signals) asks that no wait in a root process can be stretched by the user, and the kernel allows no signal to a process whose real and saved uids are 0.",
  },
  {
    id: "dead-mount-recovery",
    what: "Mounting where the caller's own FUSE filesystem is mounted with a dead connection detaches the dead mount first (one `note:` line) and mounts; 3.14 refuses (`failed to access mountpoint …`) until the user runs `fusermount3 -uz`.",
    why: "libfuse #41 and its users ask for it; it grants nothing the caller could not do with -uz first (owner and type from the kernel, dead judged by the probe run as the caller, as for auto-unmount: fusermount3.md §13).",
  },
  {
    id: "unmount-checks-top-mount",
    what: "-u refuses (`entry for … not found`) when the mount on top of the path is not the caller's FUSE mount; 3.14 checks the first table entry and unmounts whatever is on top (e.g. root's tmpfs stacked on the user's FUSE mount).",
    why: "security.md §5 item 7 (stacked mounts) asks for a decision; ours checks ownership of the mount umount2 would remove (§12.3 last bullet).",
  },
  {
    id: "posixly-correct-ignored",
    what: "POSIXLY_CORRECT does not stop option parsing at the first operand (`mnt -u` unmounts); 3.14 says `extra arguments after the mountpoint`.",
    why: "The launcher passes only _FUSE_COMMFD, _FUSE_COMMFD2 and FUSE_KERN_DEVICE to the privileged runtime (the drop-in issue; security.md §7.1 makes POSIXLY_CORRECT optional); libfuse never sets it.",
  },
  {
    id: "fuse-kern-device",
    what: "FUSE_KERN_DEVICE (starting with /dev/) selects the device that is opened; 3.14 ignores the variable and always opens /dev/fuse. Ours walks it as the caller without following any link and opens it only if it is the FUSE character device (10:229): a symlink falls back to /dev/fuse with a warning, another character device is refused.",
    why: "Master honours and validates it (§4, §10.1 step 1, §17 row 'device'); the review showed that a stat-then-open by path hands out root-opened fds to other files (finding 5).",
  },
  {
    id: "x-mount-refused",
    what: "x- options that mount(8) itself interprets (`x-mount.*`) or that contain blanks or control characters are refused with `unknown option '…'` (after the regular options); master accepts every x- option.",
    why: "They are handed to /bin/mount -f as root, and libmount acts on x-mount.mkdir/owner/mode even when only recording (the fuzzer found a root mkdir and a deadlock); sync-init-protocol.md §11.4 recommends restricting x- options.",
  },
  {
    id: "auto-unmount-as-caller",
    what: "With auto_unmount, a plain user's dead filesystem (server gone, no allow_other) is unmounted when the comm socket closes; 3.14 probes it as root, gets EACCES and leaves it mounted.",
    why: "libfuse issue #586; the liveness probe runs entirely as the caller (§13 step 6c, §17 row 'auto_unmount, non-root, no allow_other': 3.18.3).",
  },
  {
    id: "sync-init-fsconfig-limits",
    what: "With --sync-init the mount is made with fsopen/fsconfig/fsmount, so a string parameter (fsname, max_read=, blksize=) of 256 bytes or more is refused by fsconfig() (status -22, `mount failed: Invalid argument`, nothing mounted) and such a subtype falls back to the legacy encoding (type `fuse`, source `subtype#fsname` or `fuse`); 3.14 has no --sync-init and mounts the same options with mount(2).",
    why: "Master's sync-init path uses the new mount API, whose fsconfig() takes strings of at most 255 bytes, and falls back on a refused subtype (§11 steps 2–5, §8.5; §17 row 'sync-init': master).",
  },
  {
    id: "watchdog-stdio-closed",
    what: "The auto_unmount watchdog closes what it inherited and points stdin/stdout/stderr at /dev/null before waiting, so its later messages (e.g. `<mnt> not mounted`) are not seen; 3.14 keeps stdio and prints them after the fd was sent.",
    why: "Master's close_inherited_fds (§13 step 1, §17 row 'watchdog fds/stdio': master).",
  },
] as const satisfies readonly Difference[];

export type DifferenceId = (typeof DIFFERENCES)[number]["id"];

export function difference(id: DifferenceId): Difference {
  const d = DIFFERENCES.find((x) => x.id === id);
  if (!d) throw new Error(`unknown difference ${id}`);
  return d;
}

// Where the service path (the launcher not set-uid, the caller under
// NoNewPrivileges, a root `fusermount3-bun --service` doing the work: the
// second pass of npm test, FM_TEST_MODE=service) differs from the set-uid
// path on purpose or for now. A test that meets one names it and asserts the
// service's behaviour in service mode; everything else must be the same in
// both modes. `why` cites protocol/README.md ("The service protocol") or
// /work/shared/spec/service.md.
export const SERVICE_DIFFERENCES = [
  {
    id: "launcher-is-the-callers",
    what: "The launcher is the caller's own process (not set-uid): the caller may stop or kill it; SIGKILL ends it with the signal while the request (an auto_unmount watch included) goes on in the service, which is unaffected. The set-uid helper cannot be signalled by its caller (caller-cannot-signal).",
    why: "protocol/README.md, Limits and failures: 'client disconnects meanwhile: the request still completes; its reply is dropped'; what runs as root is the service's child.",
  },
  {
    id: "killed-request-status",
    what: "When the root process doing the work (the service's request child) is killed by a signal, the launcher exits with 128 + the signal number (137 for SIGKILL) instead of dying of the signal as the set-uid helper does.",
    why: "protocol/README.md, Limits and failures: 'the request crashes or is killed: FM3S (signal: 128 + signal)'; the launcher turns the status into its exit code.",
  },
  {
    id: "comm-fd-option-not-passed",
    what: "The fd named by --comm-fd N in argv (rather than by _FUSE_COMMFD) is not passed to the service: the request fails as for a closed fd (`fstat of comm fd N failed: Bad file descriptor`), and `--comm-fd N` with a closed _FUSE_COMMFD fails on that one; the set-uid path uses fd N.",
    why: "protocol/README.md, Not yet: 'The comm fd named by --comm-fd N in argv (rather than _FUSE_COMMFD) is not passed'.",
  },
  {
    id: "request-size-limit",
    what: "A request whose argv and variables exceed 65,536 bytes is refused by the launcher (`arguments too long for the service`, exit 1, nothing sent); the set-uid path takes what execve() takes.",
    why: "protocol/README.md, Request: 'At most 65,536 bytes' (one SEQPACKET message, MAX_REQUEST_BYTES).",
  },
  {
    id: "caller-limits-not-inherited",
    what: "The caller's seccomp filter (e.g. fsopen() failing with ENOSYS, as in containers) and its stack and address-space limits do not apply to the service's request child: --sync-init mounts, and -V answers, where the set-uid helper inherits them and refuses (--sync-init before the fd; `the stack size (ulimit -s) limit … is below …`).",
    why: "service.md §2-3: the work is done by a fresh child of the service; only the caller's identity (SO_PEERCRED) and fds travel with the request (protocol/README.md, How the service runs a request).",
  },
  {
    id: "thread-fd-number",
    what: "A classic mount served in one of the service's request threads opens /dev/fuse in the thread's own fd table, where the lowest free number has two digits; the kernel data (`fd=NN,…`) is one byte longer than the set-uid helper's (`fd=N`), so an option string within one byte of the page limit is refused (`mount options too long`) where the set-uid path mounts.",
    why: "protocol/README.md, How the service runs a request: a request thread has its own fd table (CLONE_FILES) holding the runtime's fds and the request's; the kernel reads fd=N from the mounting thread's table.",
  },
  {
    id: "proc-self-is-the-service",
    what: "A mountpoint through /proc/self (`-u /proc/self/cwd/.`) names the process that resolves it: through the service that is the service, whose cwd is /, not the caller's launcher; `/proc/<pid>/…` of the caller's own processes names the same as on the set-uid path.",
    why: "protocol/README.md, How the service runs a request: the request runs in the service (a request thread or a child), and /proc/self is the resolving process.",
  },
  {
    id: "watch-in-the-service",
    what: "An auto-unmount watch of a caller in the service's namespace is held by the service itself: there is no watchdog process per mount (the mount, its unmount after the server dies, and the end of the watch on a manual -u behave as on the set-uid path).",
    why: "protocol/README.md, Auto-unmount watches.",
  },
] as const satisfies readonly Difference[];

export type ServiceDifferenceId = (typeof SERVICE_DIFFERENCES)[number]["id"];

export function serviceDifference(id: ServiceDifferenceId): Difference {
  const d = SERVICE_DIFFERENCES.find((x) => x.id === id);
  if (!d) throw new Error(`unknown service difference ${id}`);
  return d;
}

// Run directly (tap runs every file of test/integration): check the table itself.
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const t = (await import("tap")).default;
  t.test("deliberate-difference table is well formed", async (t) => {
    const ids = DIFFERENCES.map((d) => d.id);
    t.equal(new Set(ids).size, ids.length, "ids are unique");
    for (const d of DIFFERENCES) {
      t.match(d.id, /^[a-z0-9-]+$/, `${d.id}: id is a slug`);
      t.ok(d.what.length > 10 && !d.what.includes("\n"), `${d.id}: one-line what`);
      t.ok(d.why.length > 10 && !d.why.includes("\n"), `${d.id}: one-line why`);
      t.match(d.why, /§\d/, `${d.id}: why cites a spec section`);
    }
    const sids = SERVICE_DIFFERENCES.map((d) => d.id);
    t.equal(new Set([...ids, ...sids]).size, ids.length + sids.length, "service ids are unique, and not those of the C comparison");
    for (const d of SERVICE_DIFFERENCES) {
      t.match(d.id, /^[a-z0-9-]+$/, `${d.id}: id is a slug`);
      t.ok(d.what.length > 10 && !d.what.includes("\n"), `${d.id}: one-line what`);
      t.ok(d.why.length > 10 && !d.why.includes("\n"), `${d.id}: one-line why`);
      t.match(d.why, /protocol\/README\.md|service\.md §\d/, `${d.id}: why cites the service protocol or spec`);
    }
  });
}
