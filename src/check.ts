// `fusermount3 --check [--json]`: what a user needs to know when a mount is
// refused, and nothing they could not learn anyway. Every problem is one line
// that names its fix. Exit 0 when healthy, 1 otherwise.

import * as c from "./sys/libc.ts";
import type { Ctx } from "./context.ts";
import type { Credentials } from "./sys/creds.ts";
import { readConfQuiet } from "./mount.ts";
import { readMountTable } from "./sys/mounttable.ts";
import { countFuseMounts, countsAgainstMountMax, type MountEntry } from "./policy/mountinfo.ts";
import { FUSE_CONF } from "./policy/fuseconf.ts";
import { Refusal } from "./policy/refusal.ts";
import { VERSION } from "./version.ts";
import { FUSE_DEV_IOC_SYNC_INIT } from "../protocol/wire.ts";

type Report = {
  version: string;
  launcher: string;
  helper: string;
  privileged: boolean;
  kernel: string;
  fuseProtocol: string | null;
  syncInit: "supported" | "not supported" | "unknown";
  device: { path: string; present: boolean; mode: string | null; usable: boolean };
  fuseConf: { mountMax: number; userAllowOther: boolean; ignoredLines: number[] };
  mounts: { yours: number; counted: number; mountMax: number };
  problems: string[];
};

// The kernel's FUSE protocol version, from the FUSE_INIT it queues for a
// superblock that is created and dropped without ever being attached.
function probeProtocol(caller: Credentials, fd: number): string | null {
  if (c.geteuid() !== 0) return null;
  const fs = c.fsopen("fuse");
  if (fs < 0) return null;
  try {
    for (const [k, v] of [["source", "fusermount3-check"], ["fd", String(fd)], ["rootmode", "40000"],
      ["user_id", String(caller.uid)], ["group_id", String(caller.gid)]] as const) {
      if (c.fsconfig(fs, c.FSCONFIG.SET_STRING, k, v) < 0) return null;
    }
    if (c.fsconfig(fs, c.FSCONFIG.CMD_CREATE) < 0) return null;
    if (c.pollOne(fd, c.POLL.IN, 1000) <= 0) return null;
    const req = c.readFd(fd, (1 << 20) + 8192);
    if (typeof req === "number" || req.length < 48 || req.readUInt32LE(4) !== 26 /* FUSE_INIT */) return null;
    return `${req.readUInt32LE(40)}.${req.readUInt32LE(44)}`;
  } finally {
    c.close(fs);
  }
}

function installProblems(caller: Credentials, launcher: string, helper: string, privileged: boolean): string[] {
  const problems: string[] = [];
  const h = c.stat(helper);
  if (typeof h !== "number") {
    if (h.mode & (c.S.ISUID | c.S.ISGID)) problems.push(`${helper} is set-uid or set-gid: only the launcher may be (chmod 0755 ${helper})`);
    if (h.uid !== 0 || (h.mode & 0o022)) problems.push(`${helper} must be owned by root and writable only by root (chown root:root; chmod 0755)`);
  }
  const l = c.stat(launcher);
  if (typeof l === "number") {
    problems.push(`launcher ${launcher} not found next to the helper: reinstall with ./install.sh`);
  } else if (l.uid !== 0 || (l.mode & 0o7777) !== 0o4755) {
    problems.push(`${launcher} must be owned by root with mode 4755 (chown root:root ${launcher}; chmod 4755 ${launcher})`);
  }
  if (!privileged && caller.uid !== 0) {
    const nosuid = c.mountFlags(launcher);
    problems.push(typeof nosuid === "number" && (nosuid & 2 /* ST_NOSUID */)
      ? `${launcher} is on a filesystem mounted nosuid, so it cannot run as root: install it elsewhere (./install.sh --prefix DIR)`
      : `not running as root: run fusermount3 through its set-uid launcher ${launcher} (not with NoNewPrivileges)`);
  }
  return problems;
}

export function check(ctx: Ctx, json: boolean): number {
  const caller = ctx.who.caller;
  const helper = process.execPath;
  const prefix = helper.split("/").slice(0, -3).join("/");
  const launcher = `${prefix}/bin/fusermount3`;
  const privileged = c.geteuid() === 0;
  const problems: string[] = [];

  const device = "/dev/fuse";
  const st = c.stat(device);
  const present = typeof st !== "number" && (st.mode & c.S.IFMT) === c.S.IFCHR;
  const fd = present ? c.tryOpen(device, c.O.RDWR | c.O.NONBLOCK) : -c.E.ENOENT;
  if (!present) problems.push(`${device} is missing: load the FUSE module (modprobe fuse)`);
  else if (fd < 0) problems.push(`you cannot open ${device} (${c.strerror(-fd)}): make it mode 0666 (chmod 0666 ${device})`);

  let syncInit: Report["syncInit"] = "unknown";
  let fuseProtocol: string | null = null;
  if (fd >= 0) {
    const armed = c.ioctl(fd, FUSE_DEV_IOC_SYNC_INIT);
    syncInit = armed === 0 ? "supported" : armed === -c.E.ENOTTY ? "not supported" : "unknown";
    c.close(fd);
    const probe = c.tryOpen(device, c.O.RDWR | c.O.NONBLOCK);
    if (probe >= 0) { fuseProtocol = ctx.who.withAdmin(() => probeProtocol(caller, probe)); c.close(probe); }
  }

  const conf = readConfQuiet();
  for (const m of conf.messages) problems.push(`${m}: fix or remove that line`);
  let table: MountEntry[] = [];
  try {
    table = readMountTable();
  } catch (e) {
    if (!(e instanceof Refusal)) throw e;
    problems.push(`${e.message}: mount_max cannot be enforced and -u cannot find mounts until it can be read`);
  }
  const counted = countFuseMounts(table);
  const yours = table.filter((e) => countsAgainstMountMax(e) &&
    e.superOptions.split(",").includes(`user_id=${caller.uid}`)).length;
  if (caller.uid !== 0 && conf.mountMax !== -1 && counted >= conf.mountMax) {
    problems.push(`mount_max reached (${counted} FUSE mounts, mount_max = ${conf.mountMax}): unmount some or raise mount_max in ${FUSE_CONF}`);
  }
  problems.push(...installProblems(caller, launcher, helper, privileged));

  const report: Report = {
    version: VERSION, launcher, helper, privileged, kernel: c.kernelRelease(), fuseProtocol, syncInit,
    device: { path: device, present, mode: present && typeof st !== "number" ? (st.mode & 0o7777).toString(8).padStart(4, "0") : null, usable: fd >= 0 },
    fuseConf: { mountMax: conf.mountMax, userAllowOther: conf.userAllowOther, ignoredLines: conf.ignoredLines },
    mounts: { yours, counted, mountMax: conf.mountMax },
    problems,
  };
  ctx.say.out(json ? JSON.stringify(report, null, 2) + "\n" : formatReport(ctx.say.progname, report));
  return problems.length === 0 ? 0 : 1;
}

function formatReport(progname: string, r: Report): string {
  const lines = [
    `fusermount3 ${r.version}: launcher ${r.launcher}, helper ${r.helper}${r.privileged ? "" : " (not running as root)"}`,
    `kernel ${r.kernel}; FUSE protocol ${r.fuseProtocol ?? "unknown"}; synchronous FUSE_INIT ${r.syncInit}`,
    `${r.device.path}: ${r.device.present ? `mode ${r.device.mode}, ${r.device.usable ? "usable by you" : "not usable by you"}` : "missing"}`,
    `${FUSE_CONF}: mount_max = ${r.fuseConf.mountMax}, user_allow_other ${r.fuseConf.userAllowOther ? "set" : "not set"}` +
      (r.fuseConf.ignoredLines.length ? `, ignored lines ${r.fuseConf.ignoredLines.join(", ")}` : ""),
    `FUSE mounts: ${r.mounts.yours} yours, ${r.mounts.counted} counted against mount_max`,
  ];
  if (r.problems.length === 0) lines.push("no problems found");
  for (const p of r.problems) lines.push(`${progname}: ${p}`);
  return lines.join("\n") + "\n";
}
