// Stands in for syslogd in the audit tests: binds a datagram socket at the given
// path (made writable for everyone, like /dev/log) and appends each datagram it
// receives as one line to the output file, until killed.
//
//   syslogsink SOCKET-PATH OUTPUT-FILE

import { appendFileSync, chmodSync, writeFileSync } from "node:fs";
import * as c from "../../src/sys/libc.ts";

const [path, out] = process.argv.slice(2);
if (!path || !out) {
  process.stderr.write("usage: syslogsink SOCKET-PATH OUTPUT-FILE\n");
  process.exit(2);
}
const fd = c.bindDatagram(path);
if (fd < 0) throw new Error(`bind ${path}: ${c.strerror(-fd)}`);
chmodSync(path, 0o666);
writeFileSync(out, "");
process.stdout.write("ready\n");
for (;;) {
  if (c.pollOne(fd, c.POLL.IN, 1000) <= 0) continue;
  const d = c.recvBytes(fd, 65536);
  if (typeof d !== "number") appendFileSync(out, d.toString("utf8").replace(/\n/g, "\\n") + "\n");
}
