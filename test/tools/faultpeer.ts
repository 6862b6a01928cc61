// A FUSE server's mount call that fails on purpose, for the fault-injection
// tests, run with Bun as the test user. It spawns the helper with the comm
// socket as fd 3 (like test/tools/fakeclient.ts) and then misbehaves:
//
//   faultpeer '<json spec>'
//
// spec: { helper, args, argv0?, env?, fault, delayMs? }
// fault:
//   "close"  close the comm socket after delayMs (default 0) without ever
//            reading it, keep the helper's stdout/stderr, wait for the helper
//            and report { helperPid, exitCode, signal, stderr };
//   "die"    close the comm socket before the helper starts (so the helper
//            can never queue the fd on it, however fast it is), print
//            { helperPid } and exit after delayMs: the helper's stdout/stderr
//            pipes close too (a server killed before the helper sent the fd);
//   "die-after-fd"  wait for the fd (up to 20 s), print { helperPid, gotFd }
//            and exit at once: a server that dies right after the hand-off,
//            before the helper's watchdog (auto_unmount) started waiting, and
//            without ever sending the sync-init proceed byte.
// The first line printed is always { "helperPid": N }.

import * as c from "../../src/sys/libc.ts";

type Spec = {
  helper: string; args: string[]; argv0?: string; env?: Record<string, string>;
  fault: "close" | "die" | "die-after-fd"; delayMs?: number;
};
const spec = JSON.parse(process.argv[2] ?? "{}") as Spec;
const say = (o: unknown) => c.writeAll(1, JSON.stringify(o) + "\n");

const pair = c.socketpair(c.SOCK.STREAM);
if (typeof pair === "number") throw new Error(`socketpair: ${c.strerror(-pair)}`);
const [mine, theirs] = pair;
if (spec.fault === "die") c.close(mine);
const child = Bun.spawn([spec.helper, ...spec.args], {
  argv0: spec.argv0 ?? "fusermount3",
  env: { _FUSE_COMMFD: "3", ...(spec.env ?? {}) },
  stdio: ["ignore", "pipe", "pipe", theirs],
});
c.close(theirs);
say({ helperPid: child.pid });
if (spec.delayMs) await new Promise((r) => setTimeout(r, spec.delayMs));

if (spec.fault === "die") {
  c.exit(0);
}
if (spec.fault === "die-after-fd") {
  const got = c.pollOne(mine, c.POLL.IN, 20000) > 0 ? c.recvFd(mine, 1) : -c.E.ETIMEDOUT;
  say({ helperPid: child.pid, gotFd: typeof got !== "number" && got.fd >= 0 });
  c.exit(0);
}
c.close(mine);
const killer = setTimeout(() => child.kill(9), 20000);
const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
const exitCode = await child.exited;
clearTimeout(killer);
say({ helperPid: child.pid, exitCode, signal: child.signalCode, stdout, stderr });
c.exit(0);
