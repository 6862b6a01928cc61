// Entry point of the (never set-uid) Bun binary that the set-uid launcher execs.
//
// Order matters and is deliberate:
//   1. take the allow-listed variables, then empty the environment both in JS
//      and in libc (deleting from process.env does not touch environ);
//   2. refuse to run if this binary itself carries set-uid/set-gid bits or file
//      capabilities, or if it is privileged with an environment the launcher
//      would never have passed: then the runtime has already read attacker
//      input (BUN_OPTIONS, BUN_INSPECT, …) and nothing here can be trusted;
//   3. fix the inherited process state (umask, signals, rlimits);
//   4. run: main() lowers this thread to the caller's credentials before it
//      looks at anything the caller controls (src/sys/creds.ts), and leaves
//      through _exit() so no runtime exit hook runs as root.
// At load time the imported modules only define constants and functions, with
// one exception: src/sys/libc.ts dlopen()s libc.so.6, binds its symbols and
// takes errno's address. None of them reads the environment, argv or a file.

import * as c from "../src/sys/libc.ts";
import { main } from "../src/main.ts";
// The service modes are loaded only when asked for (see below): every other
// run would pay for their code at start-up.
const SERVICE_ARG = "--service";
const SERVICE_REQUEST_ARG = "--service-request";
const SERVICE_ENTERED_ARG = "--service-request-entered";
const SERVICE_UNWATCH_ARG = "--service-unwatch";

// _FUSERMOUNT3_CWD_FD is set by the launcher itself (never passed through):
// the directory to return to when the caller's cwd had been deleted.
const LAUNCHER_VARIABLES = new Set(["_FUSE_COMMFD", "_FUSE_COMMFD2", "FUSE_KERN_DEVICE", "_FUSERMOUNT3_CWD_FD"]);

// The service (src/service.ts) and its per-request children (never through
// the launcher: both refuse unless real and effective uid are 0). Only the
// service looks at systemd's socket-activation variables.
const serviceMode = process.argv[2] === SERVICE_ARG ? "service" : process.argv[2] === SERVICE_REQUEST_ARG ? "request"
  : process.argv[2] === SERVICE_ENTERED_ARG ? "entered" : process.argv[2] === SERVICE_UNWATCH_ARG ? "unwatch" : undefined;
const activated = serviceMode === "service" && process.env.LISTEN_PID === String(process.pid) && process.env.LISTEN_FDS === "1" ? 3 : undefined;
const commFd = process.env._FUSE_COMMFD;
const device = process.env.FUSE_KERN_DEVICE;
const cwdFd = process.env._FUSERMOUNT3_CWD_FD;
const foreign = Object.keys(process.env).filter((k) => !LAUNCHER_VARIABLES.has(k));
for (const k of Object.keys(process.env)) delete process.env[k];
c.clearenv();

const progname = process.argv0 || "fusermount";
function refuse(why: string): never {
  c.writeAll(2, `${progname}: ${why}\n`);
  return c.exit(1);
}

const self = c.stat(process.execPath);
if (typeof self === "number") refuse(`cannot inspect ${process.execPath}: ${c.strerror(-self)}`);
if (self.mode & (c.S.ISUID | c.S.ISGID) || c.hasFileCapabilities(process.execPath)) {
  refuse(`refusing to run: ${process.execPath} is set-uid, set-gid or has file capabilities; ` +
    "only the fusermount3 launcher may be set-uid (reinstall with ./install.sh)");
}
if (c.geteuid() === 0 && c.getuid() !== 0 && foreign.length > 0) {
  refuse(`refusing to run privileged with a foreign environment (${foreign[0]}); ` +
    "run it through the fusermount3 launcher");
}

if (cwdFd !== undefined && /^[0-9]{1,9}$/.test(cwdFd)) {
  const fd = Number(cwdFd);
  const st = c.fstat(fd);
  if (typeof st !== "number" && (st.mode & c.S.IFMT) === c.S.IFDIR) c.fchdir(fd);
  c.close(fd);
}

c.umask(0o033);
c.signal(c.SIG.CHLD, c.SIG_DFL); // an inherited SIG_IGN breaks waiting for /bin/mount
c.signal(c.SIG.ALRM, c.SIG_DFL);
c.unblockAllSignals();
if (c.geteuid() === 0) c.setRlimit(c.RLIMIT.FSIZE, c.RLIM_INFINITY, c.RLIM_INFINITY);
c.setRlimit(c.RLIMIT.CORE, 0n, 0n);

try {
  if (serviceMode === "service") (require("../src/service.ts") as typeof import("../src/service.ts")).serviceMain(process.argv.slice(3), activated);
  if (serviceMode === "request") (require("../src/servicerequest.ts") as typeof import("../src/servicerequest.ts")).serveOneRequest();
  if (serviceMode === "entered") (require("../src/servicerequest.ts") as typeof import("../src/servicerequest.ts")).serveEnteredRequest();
  if (serviceMode === "unwatch") (require("../src/servicerequest.ts") as typeof import("../src/servicerequest.ts")).unwatch(process.argv.slice(3));
  main(process.argv0 || undefined, process.argv.slice(2), { commFd, device });
} catch (e) {
  // A bug must still end in one line and exit 1, never a stack trace.
  c.writeAll(2, `${progname}: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
  c.exit(1);
}
