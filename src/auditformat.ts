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

// JSON quoting escapes quotes, backslashes and control characters; long values
// are cut so that one record stays one datagram.
export function quote(v: string): string {
  return JSON.stringify(v.length > MAX_VALUE ? `${v.slice(0, MAX_VALUE)}…` : v);
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
