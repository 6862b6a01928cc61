// Formatting of audit records (pure). One syslog datagram in the BSD format
// glibc's syslog() sends: "<PRI>Mmm dd hh:mm:ss ident[pid]: message".

export type AuditEvent = {
  action: "mount" | "unmount" | "auto-unmount";
  mountpoint: string;
  options?: string;
  fstype?: string;
  source?: string;
};
export type AuditResult = "ok" | "refused" | "failed";

const AUTHPRIV = 10;
const NOTICE = 5;
const INFO = 6;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MAX_VALUE = 1024;
// The syslog tag of every record: fixed, so that no caller can make a record
// look like another program's (argv[0] is the caller's to choose).
export const AUDIT_IDENT = "fusermount3";

// Characters a log reader could be fooled by: C0 and C1 controls, format
// characters (bidi overrides and isolates, zero-width marks), line and
// paragraph separators, private-use and unassigned code points, and lone
// surrogates (JSON.stringify already escapes those).
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}]/gu;
const escapeUnit = (ch: string): string =>
  Array.from({ length: ch.length }, (_, i) => `\\u${ch.charCodeAt(i).toString(16).padStart(4, "0")}`).join("");

// JSON quoting escapes quotes, backslashes and C0 controls; everything else a
// reader could misread is escaped as \uXXXX; long values are cut so that one
// record stays one datagram.
export function quote(v: string): string {
  return JSON.stringify(v.length > MAX_VALUE ? `${v.slice(0, MAX_VALUE)}…` : v).replace(UNSAFE, escapeUnit);
}

export function formatAuditRecord(r: {
  ident: string; pid: number; now: Date; user: string | undefined; uid: number;
  event: AuditEvent; result: AuditResult; reason?: string | undefined;
}): string {
  const pri = AUTHPRIV * 8 + (r.result === "ok" ? INFO : NOTICE);
  const d = r.now;
  const two = (n: number) => String(n).padStart(2, "0");
  const stamp = `${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
  const fields = [
    `user=${quote(r.user ?? "?")}`, `uid=${r.uid}`, `action=${r.event.action}`,
    `mountpoint=${quote(r.event.mountpoint)}`,
  ];
  if (r.event.fstype !== undefined) fields.push(`fstype=${quote(r.event.fstype)}`);
  if (r.event.source !== undefined) fields.push(`source=${quote(r.event.source)}`);
  if (r.event.options !== undefined) fields.push(`options=${quote(r.event.options)}`);
  fields.push(`result=${r.result}`);
  if (r.reason !== undefined) fields.push(`reason=${quote(r.reason)}`);
  const ident = r.ident.replace(/[^\x21-\x7e]/g, "?");
  return `<${pri}>${stamp} ${ident}[${r.pid}]: ${fields.join(" ")}`;
}
