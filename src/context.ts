// What one run (one request) carries: who asks and the privilege states this
// thread may enter for them, where its messages go, and its audit record.
// Passed to every step; nothing of it lives in module globals.

import type { Privileges } from "./sys/creds.ts";
import type { Reporter } from "./sys/report.ts";
import type { AuditTrail } from "./audit.ts";

export type Ctx = {
  readonly who: Privileges;
  readonly say: Reporter;
  readonly audit: AuditTrail;
  // Served by the service: called once when the request goes on as an
  // auto-unmount watch (the service tells the caller's launcher to stop its
  // deadline). Absent on the set-uid path.
  readonly watching?: () => void;
  // Served in one of the service's request threads (src/serviceworker.ts):
  // nothing here may wait on a FUSE server, use alarm() or end the process
  // (src/policy/serviceroute.ts decides what comes here).
  readonly inThread?: boolean;
  // Served by the service: give an auto-unmount watch to the service itself
  // (src/servicewatch.ts); false when it did not take it.
  readonly handOverWatch?: (commFd: number, w: { unique: bigint; mountpoint: string; type: string }) => boolean;
  // Served by the service: the caller's process (SO_PEERCRED), alive while
  // its launcher waits for the reply. Absent on the set-uid path.
  readonly peerPid?: number;
};
