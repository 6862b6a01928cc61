// A stand-in for a FUSE server's mount call, run with Bun as the test user:
// creates the comm socket, spawns a helper (ours or libfuse's) the way libfuse
// does, receives the /dev/fuse fd, and reports what happened as one JSON line.
//
//   bun test/tools/fakeclient.ts '<json spec>'
//
// spec: { helper, args, argv0?, env?, sock?: "stream"|"seqpacket", commFdEnv?: boolean,
//         mode?: "wait"|"hold", timeoutMs?, extraPipe?: boolean }
// extraPipe: the helper also inherits the write end of a pipe as fd 4; in
//         "hold" mode the report says whether it (and the helper's stdout)
//         reached EOF, i.e. whether the watchdog closed what it inherited.
// "wait": wait for the helper to exit, then close the fd.
// "hold": print the report as soon as the fd arrives, keep fd and socket open
//         until killed (what a FUSE server with auto_unmount does).

import * as c from "../../src/sys/libc.ts";

type Spec = {
  helper: string; args: string[]; argv0?: string; env?: Record<string, string>;
  sock?: "stream" | "seqpacket"; commFdEnv?: boolean; mode?: "wait" | "hold"; timeoutMs?: number;
  extraPipe?: boolean;
  inheritStderr?: boolean; // the helper writes to our stderr (a terminal in the hint tests)
};

const spec = JSON.parse(process.argv[2] ?? "{}") as Spec;
const pair = c.socketpair(spec.sock === "seqpacket" ? c.SOCK.SEQPACKET : c.SOCK.STREAM);
if (typeof pair === "number") throw new Error(`socketpair: ${c.strerror(-pair)}`);
const [mine, theirs] = pair;

const env: Record<string, string> = { ...(spec.env ?? {}) };
if (spec.commFdEnv !== false) env._FUSE_COMMFD = "3";
let extra: [number, number] | undefined;
if (spec.extraPipe) {
  const p = c.pipe();
  if (typeof p === "number") throw new Error(`pipe: ${c.strerror(-p)}`);
  extra = p;
}
const child = Bun.spawn([spec.helper, ...spec.args], {
  argv0: spec.argv0 ?? spec.helper,
  env,
  stdio: extra ? ["ignore", "pipe", "pipe", theirs, extra[1]]
    : ["ignore", "pipe", spec.inheritStderr ? "inherit" : "pipe", theirs],
});
c.close(theirs);
if (extra) c.close(extra[1]);

const report: Record<string, unknown> = { gotFd: false };
const timeout = spec.timeoutMs ?? 20000;
const revents = c.pollOne(mine, c.POLL.IN, timeout);
if (revents > 0) {
  const r = c.recvFd(mine, 1);
  if (typeof r !== "number" && r.data.length === 1) {
    report.gotFd = r.fd >= 0;
    report.dataByte = r.data[0];
    if (r.fd >= 0) {
      try { report.fdTarget = (await import("node:fs")).readlinkSync(`/proc/self/fd/${r.fd}`); } catch { /* */ }
      report.fd = r.fd;
    }
  } else {
    report.recv = typeof r === "number" ? c.strerror(-r) : "eof";
  }
} else if (revents === 0) {
  report.recv = "timeout";
}

if (spec.mode === "hold") {
  report.pid = child.pid;
  if (extra) {
    // EOF on the pipe means every copy of its write end, the helper's too, is closed.
    const ev = c.pollOne(extra[0], c.POLL.IN, 5000);
    const data = ev > 0 ? c.readFd(extra[0], 16) : undefined;
    report.extraPipeEof = data instanceof Buffer && data.length === 0;
    const reader = child.stdout.getReader();
    const eof = await Promise.race([reader.read().then((r) => r.done), new Promise((r) => setTimeout(() => r(false), 5000))]);
    report.stdoutEof = eof === true;
  }
  process.stdout.write(JSON.stringify(report) + "\n");
  // Keep the fd and the socket for the filesystem's lifetime.
  setInterval(() => {}, 1 << 30);
} else {
  // Past the timeout: close our end of the socket (a watchdog then ends by
  // itself) and try to kill the helper (the privileged helper cannot be
  // signalled by its caller: then the socket is what ends it).
  let closed = false;
  const killer = setTimeout(() => {
    closed = true;
    c.close(mine);
    try { child.kill(9); } catch { /* not ours to signal */ }
  }, timeout);
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(),
    spec.inheritStderr ? "" : new Response(child.stderr as ReadableStream).text()]);
  const exitCode = await child.exited;
  clearTimeout(killer);
  report.exitCode = exitCode;
  report.signal = child.signalCode;
  report.stdout = stdout;
  report.stderr = stderr;
  if (typeof report.fd === "number") c.close(report.fd);
  if (!closed) c.close(mine);
  process.stdout.write(JSON.stringify(report) + "\n");
}
