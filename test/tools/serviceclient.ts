// A raw client of the service socket, for the service's hostile tests. Run as a
// test user; prints one JSON line { reply, ms } (reply: the decoded answer,
// "eof", or an error), or "connected" first in the idle mode.
//
//   serviceclient '<json spec>'
//   spec: { socket, mode: "request"|"garbage"|"idle"|"truncated"|"nofds",
//           argv?, env?, chroot?, extraFds? }
//   request: a well-formed request with fds 0, 1, 2 and cwd (the caller's own)
//   garbage: bytes that are no request, with the same fds
//   truncated: a header that promises more strings than it carries
//   nofds: a well-formed request without any fd
//   idle: connect, send nothing, report the answer (60 s at most)
//   flood: open `count` connections, send nothing, and report after 1.5 s
//     { connected, refusedAtConnect, answered } (answered: how many the service
//     already answered and closed); then exit, closing them all
//   fdflood: a well-formed request with `count` fds (dups of fd 0) after the
//     request's own
//   chroot: after connect(), chroot() there (in a user namespace of the
//     caller's own: unshare -Ur) and chdir("/"), then send
//   extraFds: paths opened (O_RDONLY) and sent after the request's own fds,
//     as a client would send a namespace or root fd of its choosing

import * as c from "../../src/sys/libc.ts";
import { encodeRequest, decodeReply } from "../../protocol/service.ts";

type Spec = { socket: string; mode: string; argv?: string[]; env?: Record<string, string>; chroot?: string; extraFds?: string[]; count?: number };
const spec = JSON.parse(process.argv[2] ?? "{}") as Spec;
const started = Date.now();
function done(reply: unknown): never {
  process.stdout.write(`${JSON.stringify({ reply, ms: Date.now() - started })}\n`);
  return c.exit(0);
}

if (spec.mode === "flood") {
  c.setRlimit(7 /* RLIMIT_NOFILE */, 4096n, 4096n); // where the hard limit allows
  const conns: number[] = [];
  let refusedAtConnect = 0;
  for (let i = 0; i < (spec.count ?? 1000); i++) {
    const fd = c.connectUnix(spec.socket, c.SOCK.SEQPACKET);
    if (fd < 0) refusedAtConnect++; else conns.push(fd);
  }
  const deadline = Date.now() + 1500;
  const answered = new Set<number>();
  while (Date.now() < deadline && answered.size < conns.length) {
    const ready = c.pollMany(conns, c.POLL.IN, Math.max(0, deadline - Date.now()));
    if (typeof ready === "number") break;
    conns.forEach((fd, i) => { if (ready[i]) answered.add(fd); });
  }
  process.stdout.write(`${JSON.stringify({ reply: { connected: conns.length, refusedAtConnect, answered: answered.size }, ms: Date.now() - started })}\n`);
  c.exit(0);
}

const s = c.connectUnix(spec.socket, c.SOCK.SEQPACKET);
if (s < 0) done(`connect: ${c.strerror(-s)}`);
if (spec.chroot !== undefined) {
  const r = c.chroot(spec.chroot);
  if (r < 0) done(`chroot: ${c.strerror(-r)}`);
  c.chdir("/");
}
const cwd = c.open(".", c.O.PATH | c.O.DIRECTORY | c.O.CLOEXEC);
const fds = [0, 1, 2, cwd, ...(spec.extraFds ?? []).map((p) => c.open(p, c.O.RDONLY)),
  ...(spec.mode === "fdflood" ? Array.from({ length: spec.count ?? 250 }, () => c.fcntl(0, 1030 /* F_DUPFD_CLOEXEC */, 3)) : [])];
const argv = spec.argv ?? ["fusermount3", "-V"];
let sent = 0;
if (spec.mode === "idle") {
  process.stdout.write("connected\n"); // and send nothing: wait for the service's answer
} else if (spec.mode === "garbage") {
  sent = c.sendMessageFds(s, Buffer.from("GET / HTTP/1.0\r\n\r\n\u0000\u0001\u0002garbage"), fds);
} else if (spec.mode === "truncated") {
  const full = Buffer.from(encodeRequest(argv, spec.env ?? {}));
  full.writeUInt32LE(argv.length + 5, 12);
  sent = c.sendMessageFds(s, full, fds);
} else if (spec.mode === "nofds") {
  sent = c.sendMessageFds(s, encodeRequest(argv, spec.env ?? {}), []);
} else {
  sent = c.sendMessageFds(s, encodeRequest(argv, spec.env ?? {}), fds);
}
if (sent < 0) done(`send: ${c.strerror(-sent)}`);
c.close(cwd);
let watching = false;
for (;;) {
  const ev = c.pollOne(s, c.POLL.IN, 60000);
  if (ev === 0) done("timeout");
  const r = c.recvBytes(s, 64);
  if (typeof r === "number") done(`recv: ${c.strerror(-r)}`);
  if (r.length === 0) done(watching ? "watching, then eof" : "eof");
  const d = decodeReply(r);
  if (d?.kind === "watching") { watching = true; continue; }
  done(d ?? `unknown reply of ${r.length} bytes`);
}
