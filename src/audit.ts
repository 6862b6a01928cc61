// Audit trail: each mount, unmount and refusal requested by a non-root user goes
// to syslog (authpriv, like sudo and doas) through /dev/log, under the fixed tag
// "fusermount3" (never argv[0], which the caller chooses). Never blocks and
// never fails an operation: no /dev/log, a full or absent reader, any error,
// and the record is dropped. Values the user controls are quoted with every
// non-printable and bidi character escaped (src/policy/auditformat.ts).

import * as c from "./sys/libc.ts";
import { isRootCaller, type Credentials } from "./sys/creds.ts";
import { formatAuditRecord, AUDIT_IDENT, type AuditEvent, type AuditResult } from "./policy/auditformat.ts";

const LOG_SOCKET = "/dev/log";

export class AuditTrail {
  private event: AuditEvent | undefined;
  // pid: the caller's process (the service's requests), else this one.
  constructor(private readonly caller: Credentials, private readonly socket = LOG_SOCKET, private readonly pid = process.pid) {}

  private name: { value: string | undefined } | undefined;

  // The caller's user name (undefined: none in the user database), looked up
  // once per request: the mount options, the unmount check and the record all
  // need it, and getpwuid_r reads the user database every time.
  callerName(): string | undefined {
    this.name ??= { value: c.userName(this.caller.uid) };
    return this.name.value;
  }

  begin(e: AuditEvent): void {
    if (!isRootCaller(this.caller)) this.event = e;
  }

  update(more: Partial<AuditEvent>): void {
    if (this.event) this.event = { ...this.event, ...more };
  }

  // Written once, by the code that decided the outcome.
  end(result: AuditResult, reason?: string): void {
    const e = this.event;
    if (!e) return;
    this.event = undefined;
    const fd = c.connectDatagram(this.socket);
    if (fd < 0) return;
    const record = formatAuditRecord({
      ident: AUDIT_IDENT, pid: this.pid, now: new Date(), user: this.callerName(), uid: this.caller.uid,
      event: e, result, reason: result === "ok" ? undefined : reason,
    });
    c.sendBytes(fd, Buffer.from(record, "utf8"), 0x40 /* MSG_DONTWAIT */);
    c.close(fd);
  }
}
