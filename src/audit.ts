// Audit trail: each mount, unmount and refusal requested by a non-root user goes
// to syslog (authpriv, like sudo and doas) through /dev/log. Never blocks and
// never fails an operation: no /dev/log, a full or absent reader, any error,
// and the record is dropped. Values the user controls (paths, options) are
// JSON-quoted, so they cannot forge fields or lines.

import * as c from "./sys/libc.ts";
import { caller, getProgname, setDieHook, lastWarning } from "./sys/process.ts";
import { formatAuditRecord, type AuditEvent, type AuditResult } from "./auditformat.ts";

const LOG_SOCKET = "/dev/log";
let event: AuditEvent | undefined;

export function auditBegin(e: AuditEvent): void {
  if (caller.isRoot) return;
  event = e;
  setDieHook((reason) => auditEnd("refused", reason));
}

export function auditUpdate(more: Partial<AuditEvent>): void {
  if (event) event = { ...event, ...more };
}

export function auditEnd(result: AuditResult, reason?: string): void {
  if (!event) return;
  const e = event;
  event = undefined;
  const fd = c.connectDatagram(LOG_SOCKET);
  if (fd < 0) return;
  const ident = (getProgname().split("/").pop() || "fusermount3").slice(0, 32);
  const record = formatAuditRecord({
    ident, pid: process.pid, now: new Date(), user: c.userName(caller.uid), uid: caller.uid,
    event: e, result, reason: result === "ok" ? undefined : (reason ?? lastWarning()),
  });
  c.sendBytes(fd, Buffer.from(record, "utf8"), 0x40 /* MSG_DONTWAIT */);
  c.close(fd);
}
