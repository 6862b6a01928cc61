// Where a run's messages go: one line each, "<progname>: <what>", written
// synchronously so that they are out before _exit(). A value, so that a request
// served for someone else writes to that caller's own stderr.

import * as c from "./libc.ts";

export class Reporter {
  constructor(readonly progname: string, readonly errFd = 2, readonly outFd = 1) {}
  warn(msg: string): void { c.writeAll(this.errFd, `${this.progname}: ${msg}\n`); }
  // Messages from libfuse's shared mount code keep its "fuse: " prefix.
  fuse(msg: string): void { c.writeAll(this.errFd, `fuse: ${msg}\n`); }
  line(text: string): void { c.writeAll(this.errFd, `${text}\n`); }
  out(text: string): void { c.writeAll(this.outFd, text); }
  // libfuse's first line stays byte-identical because clients parse it; a
  // program reading our stderr through a pipe never sees the hint.
  hint(msg: string): void { if (c.isatty(this.errFd)) this.warn(msg); }
}
