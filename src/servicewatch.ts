// Auto-unmount watches held by the service itself: a record and two fds per
// watched mount instead of a watchdog process (≈11 MiB each).
//
//   request child    mounts, then hands the watch over: "H" + the record, with
//                    the comm fd (SCM_RIGHTS), on its notice socket; it exits
//                    once the service acknowledges ("A"), else it becomes the
//                    watchdog itself, as before;
//   service          keeps the comm fd and the launcher's connection, writes
//                    the record to WATCH_DIR (root 0700), and waits (one poll
//                    with everything else) for EOF on the comm fd or for the
//                    mount to go (fanotify FAN_MNT_DETACH, else a check once a
//                    second); on EOF it starts `--service-unwatch` with the
//                    record, which does what the watchdog does after EOF: as
//                    the caller, only that mount (by unique ID), only if dead;
//                    its exit status is the launcher's;
//   restart          the launcher keeps its copy of the comm fd while it waits
//                    (it is the caller's own socket, and holding it changes
//                    nothing the server sees), so when the service goes away it
//                    connects again and resends its request with FLAG_RESUME;
//                    a request child finds the record by the caller's uid and
//                    the comm socket's inode and hands the watch over again.
//                    A watch whose service AND launcher are both gone is lost,
//                    as a C watchdog killed by root is.
// Only watches of callers in the service's own mount namespace come here (a
// caller elsewhere keeps its watchdog there); a kernel without unique mount
// IDs keeps watchdogs too.

import { mkdirSync, readdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import * as c from "./sys/libc.ts";
import type { Credentials } from "./sys/creds.ts";

export type WatchRecord = {
  v: 1;
  uid: number; gid: number; groups: number[]; pid: number;
  unique: string; // the mount's unique ID (decimal)
  mountpoint: string; type: string;
  commDev: string; commIno: string; // the comm socket (decimal), to know it again on resume
};

export const WATCH_DIR_ARG = "--watches=";
const ACK_TIMEOUT_MS = 5000;
const MAX_RECORD = 16384;

const isId = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) < 0xffffffff;
export function parseRecord(text: string): WatchRecord | undefined {
  let r: WatchRecord;
  try { r = JSON.parse(text) as WatchRecord; } catch { return undefined; }
  if (!r || r.v !== 1 || !isId(r.uid) || !isId(r.gid) || !Array.isArray(r.groups) || !r.groups.every(isId) || !Number.isInteger(r.pid)) return undefined;
  if (typeof r.unique !== "string" || !/^[0-9]{1,20}$/.test(r.unique) || typeof r.mountpoint !== "string" || !r.mountpoint.startsWith("/")) return undefined;
  if (typeof r.type !== "string" || typeof r.commDev !== "string" || typeof r.commIno !== "string") return undefined;
  return r;
}

export const recordCaller = (r: WatchRecord): Credentials => ({ uid: r.uid, gid: r.gid, groups: r.groups });

// ---- the request child's side -----------------------------------------------

export function handOver(notice: number, commFd: number, rec: WatchRecord): boolean {
  if (c.sendMessageFds(notice, Buffer.from(`H${JSON.stringify(rec)}`), [commFd]) < 0) return false;
  for (;;) {
    const ev = c.pollOne(notice, c.POLL.IN, ACK_TIMEOUT_MS);
    if (ev === -c.E.EINTR) continue;
    if (ev <= 0) return false;
    const b = c.recvBytes(notice, 1, c.MSG_DONTWAIT);
    return typeof b !== "number" && b.toString("latin1") === "A";
  }
}

export function newRecord(caller: Credentials, pid: number, commFd: number, w: { unique: bigint; mountpoint: string; type: string }): WatchRecord | undefined {
  const st = c.fstat(commFd);
  if (typeof st === "number") return undefined;
  return {
    v: 1, uid: caller.uid, gid: caller.gid, groups: [...caller.groups], pid,
    unique: w.unique.toString(), mountpoint: w.mountpoint, type: w.type, commDev: st.dev.toString(), commIno: st.ino.toString(),
  };
}

// A resumed request: the record of this caller's watch on this very comm socket.
export function findRecord(dir: string, caller: Credentials, commFd: number): WatchRecord | undefined {
  const st = c.fstat(commFd);
  if (typeof st === "number" || (st.mode & c.S.IFMT) !== c.S.IFSOCK) return undefined;
  let names: string[];
  try { names = readdirSync(dir); } catch { return undefined; }
  for (const name of names) {
    if (!/^[0-9]{1,20}$/.test(name)) continue;
    let text: string;
    try { text = readFileSync(`${dir}/${name}`, "utf8").slice(0, MAX_RECORD); } catch { continue; }
    const r = parseRecord(text);
    if (r && r.unique === name && r.uid === caller.uid && r.commDev === st.dev.toString() && r.commIno === st.ino.toString()) return r;
  }
  return undefined;
}

// ---- the service's side ------------------------------------------------------

export function prepareDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  c.chmod(dir, 0o700);
}

export function saveRecord(dir: string, r: WatchRecord): void {
  const tmp = `${dir}/.${r.unique}.new`;
  writeFileSync(tmp, JSON.stringify(r), { mode: 0o600 });
  renameSync(tmp, `${dir}/${r.unique}`);
}

export function dropRecord(dir: string, unique: string): void {
  try { unlinkSync(`${dir}/${unique}`); } catch { /* already gone */ }
}

// Records whose mount is gone (their watch ended while no service ran).
export function sweepRecords(dir: string, isGone: (unique: bigint) => boolean, held: (unique: string) => boolean): void {
  let names: string[];
  try { names = readdirSync(dir); } catch { return; }
  for (const name of names) {
    if (name.startsWith(".")) { try { unlinkSync(`${dir}/${name}`); } catch { /* */ } continue; }
    if (!/^[0-9]{1,20}$/.test(name) || held(name)) continue;
    if (isGone(BigInt(name))) dropRecord(dir, name);
  }
}
