// A scriptable --sync-init client for the protocol tests, run with Bun as the
// test user. It drives the helper step by step and reports one JSON line.
//
//   syncpeer '<json spec>'
//
// spec: { helper, args, argv0?, env?,
//         arm?: boolean                 ioctl(FUSE_DEV_IOC_SYNC_INIT) on the fd (default true)
//         proceed?: "send" | "close" | "never"   what to do after the fd (default "send")
//         proceedBytes?: number[]       bytes to send as proceed (default [0])
//         init?: "answer" | "fail" | "die" | "ignore"   what to do with FUSE_INIT (default "answer")
//         hold?: boolean                after the status, keep fd and socket until killed
//         closeCommAfterMs?: number     with hold: close the comm socket after that long but keep
//                                       the /dev/fuse fd, answering nothing more (a server
//                                       dying with requests in flight, in slow motion)
//         swap?: { path, target }       before proceed: rename path to path.orig and put a
//                                       symlink to target in its place (the TOCTOU attack) }
// "die": exit at once after proceed, without answering INIT (the server crashed).
// Lines printed: {"helperPid":N} as soon as the helper runs, then the report.

import { writeSync, renameSync, symlinkSync } from "node:fs";
import * as c from "../../src/sys/libc.ts";
import { decodeStatus, FUSE_DEV_IOC_SYNC_INIT, STATUS_SIZE } from "../../protocol/wire.ts";

type Spec = {
  helper: string; args: string[]; argv0?: string; env?: Record<string, string>;
  arm?: boolean; proceed?: "send" | "close" | "never"; proceedBytes?: number[];
  init?: "answer" | "fail" | "die" | "ignore"; hold?: boolean; swap?: { path: string; target: string };
  closeCommAfterMs?: number;
};
const spec = JSON.parse(process.argv[2] ?? "{}") as Spec;
const say = (o: unknown) => c.writeAll(1, JSON.stringify(o) + "\n");

const pair = c.socketpair(c.SOCK.STREAM);
if (typeof pair === "number") throw new Error("socketpair");
const [mine, theirs] = pair;
const child = Bun.spawn([spec.helper, ...spec.args], {
  argv0: spec.argv0 ?? "fusermount3",
  env: { _FUSE_COMMFD: "3", ...(spec.env ?? {}) },
  stdio: ["ignore", "pipe", "pipe", theirs],
});
c.close(theirs);
say({ helperPid: child.pid });
const t0 = performance.now();
const report: Record<string, unknown> = {};

const finish = async () => {
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  report.exitCode = await child.exited;
  report.signal = child.signalCode;
  report.stdout = stdout;
  report.stderr = stderr;
  say(report);
  c.exit(0);
};

const got = c.pollOne(mine, c.POLL.IN, 20000) > 0 ? c.recvFd(mine, 1) : -c.E.ETIMEDOUT;
if (typeof got === "number" || got.data.length === 0 || got.fd < 0) {
  report.gotFd = false;
  await finish();
}
const { fd } = got as { fd: number };
report.gotFd = true;
report.ioctl = spec.arm === false ? "skipped" : c.ioctl(fd, FUSE_DEV_IOC_SYNC_INIT);

if (spec.proceed === "close") { c.close(mine); c.close(fd); await finish(); }
if (spec.proceed === "never") { await finish(); }
if (spec.swap) {
  renameSync(spec.swap.path, `${spec.swap.path}.orig`);
  symlinkSync(spec.swap.target, spec.swap.path);
}
c.sendBytes(mine, new Uint8Array(spec.proceedBytes ?? [0]));
report.proceedAt = performance.now() - t0;
if (spec.init === "die") c.exit(0);

// FUSE_INIT arrives while the helper is inside CMD_CREATE (only when armed).
if (report.ioctl === 0 && spec.init !== "ignore") {
  const req = c.readFd(fd, 1 << 20 | 4096);
  if (typeof req !== "number" && req.length >= 40) {
    const opcode = req.readUInt32LE(4);
    const unique = req.readBigUInt64LE(8);
    report.initOpcode = opcode;
    const out = Buffer.alloc(spec.init === "fail" ? 16 : 16 + 64);
    out.writeUInt32LE(out.length, 0);
    out.writeInt32LE(spec.init === "fail" ? -71 /* EPROTO */ : 0, 4);
    out.writeBigUInt64LE(unique, 8);
    if (spec.init !== "fail") {
      out.writeUInt32LE(7, 16); // major
      out.writeUInt32LE(31, 20); // minor
      out.writeUInt32LE(4096, 24); // max_readahead
      out.writeUInt32LE(4096, 40); // max_write
      out.writeUInt32LE(1, 44); // time_gran
      out.writeUInt16LE(1, 48); // max_pages
    }
    writeSync(fd, out); // one write: a FUSE reply must arrive whole
    report.initAnsweredAt = performance.now() - t0;
  }
}

// The status: 4 bytes, or EOF.
const buf: number[] = [];
while (buf.length < STATUS_SIZE) {
  if (c.pollOne(mine, c.POLL.IN, 20000) <= 0) break;
  const r = c.recvBytes(mine, STATUS_SIZE - buf.length);
  if (typeof r === "number" || r.length === 0) break;
  buf.push(...r);
}
report.status = buf.length === STATUS_SIZE ? decodeStatus(new Uint8Array(buf)) : "eof";
report.statusAt = performance.now() - t0;

if (spec.hold) {
  report.fd = fd;
  say(report);
  if (spec.closeCommAfterMs !== undefined) setTimeout(() => c.close(mine), spec.closeCommAfterMs);
  setInterval(() => {}, 1 << 30);
} else {
  c.close(fd);
  c.close(mine);
  await finish();
}
