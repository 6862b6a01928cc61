// Client side of fusermount3 for FUSE servers running on Bun: spawn the helper,
// receive the /dev/fuse fd, and, with sync init, arm FUSE_DEV_IOC_SYNC_INIT,
// let the server start serving, send proceed and await the mount status, all
// without blocking the event loop (the same process must answer FUSE_INIT while
// the helper waits inside the mount).
//
//   import { mount, unmount } from "fusermount3-ts/client";
//   const m = await mount("/home/me/mnt", {
//     options: ["fsname=hello", "subtype=hello"],
//     serve: (fd) => startMyServer(fd),     // called before the kernel sends FUSE_INIT
//   });
//   ...
//   await unmount("/home/me/mnt");

import { existsSync } from "node:fs";
import * as c from "../sys/libc.ts";
import { decodeStatus, FD_MESSAGE_BYTE, FUSE_DEV_IOC_SYNC_INIT, PROCEED_BYTE, STATUS_SIZE } from "../../protocol/wire.ts";

export type Server = { stop(): void } | void;

export type MountOptions = {
  /** Mount options for -o (fsname=, subtype=, ro, default_permissions, x-… …). */
  options?: string | readonly string[];
  /** "auto" (default): synchronous FUSE_INIT when the helper and kernel support it, the classic protocol otherwise. true: fail rather than fall back. false: classic protocol only. */
  syncInit?: boolean | "auto";
  /** Ask the helper to unmount the filesystem if this process dies. The comm socket is then kept open for the life of the mount (close() releases it). */
  autoUnmount?: boolean;
  /** Path of fusermount3; default /usr/bin/fusermount3, then fusermount3 on PATH. */
  helper?: string;
  /** Start serving the fd. With sync init this runs before the mount completes: the kernel's FUSE_INIT arrives while mount() is still awaiting the status. */
  serve?: (fd: number) => Server;
  /** Give up waiting for the helper after this long (default 330 s: beyond the helper's own 300 s bounds). */
  timeoutMs?: number;
};

export type FuseMount = {
  mountpoint: string;
  /** The /dev/fuse fd (close-on-exec), owned by the caller. */
  fd: number;
  /** FUSE_INIT happened inside the mount (synchronous init). */
  syncInit: boolean;
  protocol: "sync-init" | "classic" | "inherited";
  /** Close the comm socket (auto-unmount: the helper then unmounts a dead fs). */
  close(): void;
};

export type FailureKind = "spawn" | "refused" | "mount" | "protocol" | "timeout";

export class FusermountError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    readonly stderr = "",
    readonly errno?: number,
    readonly exitCode?: number | null,
  ) {
    super(stderr.trim() ? `${message}: ${stderr.trim().split("\n").pop()}` : message);
    this.name = "FusermountError";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// Wait until the socket is readable (data, fd or EOF) without blocking the loop.
async function readable(fd: number, deadline: number): Promise<boolean> {
  for (let delay = 1; ; delay = Math.min(delay * 2, 20)) {
    const ev = c.pollOne(fd, c.POLL.IN, 0);
    if (ev !== 0 && ev !== -c.E.EINTR) return true;
    if (Date.now() > deadline) return false;
    await sleep(delay);
  }
}

function defaultHelper(): string {
  if (existsSync("/usr/bin/fusermount3")) return "/usr/bin/fusermount3";
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
    if (dir && existsSync(`${dir}/fusermount3`)) return `${dir}/fusermount3`;
  }
  return "fusermount3";
}

type Run = { sock: number; child: ReturnType<typeof Bun.spawn>; stderr: Promise<string> };

function spawnHelper(helper: string, args: string[]): Run {
  const pair = c.socketpair(c.SOCK.STREAM);
  if (typeof pair === "number") throw new FusermountError("spawn", `socketpair: ${c.strerror(-pair)}`);
  const [sock, theirs] = pair;
  try {
    // Bun dup2()s `theirs` onto fd 3 in the child; our end stays close-on-exec.
    const child = Bun.spawn([helper, ...args], {
      env: { _FUSE_COMMFD: "3", _FUSE_COMMFD2: String(sock) },
      stdio: ["ignore", "ignore", "pipe", theirs],
    });
    return { sock, child, stderr: new Response(child.stderr as ReadableStream).text() };
  } catch (e) {
    c.close(sock);
    throw new FusermountError("spawn", `cannot run ${helper}: ${(e as Error).message}`);
  } finally {
    c.close(theirs);
  }
}

// The helper's one message: a data byte with the fd attached, or EOF.
async function receiveFd(run: Run, deadline: number): Promise<number | undefined> {
  if (!(await readable(run.sock, deadline))) throw new FusermountError("timeout", "no answer from fusermount3");
  const r = c.recvFd(run.sock, 1);
  if (typeof r === "number" || r.data.length === 0) return undefined;
  if (r.fd < 0 || r.data[0] !== FD_MESSAGE_BYTE) {
    if (r.fd >= 0) c.close(r.fd);
    throw new FusermountError("protocol", "fusermount3 sent a message without a file descriptor");
  }
  return r.fd;
}

async function receiveStatus(run: Run, deadline: number): Promise<number | undefined> {
  const got: number[] = [];
  while (got.length < STATUS_SIZE) {
    if (!(await readable(run.sock, deadline))) throw new FusermountError("timeout", "no mount status from fusermount3");
    const r = c.recvBytes(run.sock, STATUS_SIZE - got.length, 0x40 /* MSG_DONTWAIT */);
    if (r === -c.E.EAGAIN || r === -c.E.EINTR) continue;
    if (typeof r === "number" || r.length === 0) return undefined;
    got.push(...r);
  }
  return decodeStatus(new Uint8Array(got));
}

async function failure(run: Run, kind: FailureKind, message: string, errno?: number): Promise<never> {
  c.close(run.sock);
  const exitCode = await run.child.exited;
  throw new FusermountError(kind, message, await run.stderr, errno, exitCode);
}

function finish(run: Run, mountpoint: string, fd: number, protocol: FuseMount["protocol"], autoUnmount: boolean): FuseMount {
  let open = true;
  const close = () => { if (open) { open = false; c.close(run.sock); } };
  if (!autoUnmount) close();
  void run.child.exited; // reaped by the runtime when it exits
  return { mountpoint, fd, syncInit: protocol === "sync-init", protocol, close };
}

async function classic(helper: string, mountpoint: string, opts: string, o: MountOptions, deadline: number): Promise<FuseMount> {
  const run = spawnHelper(helper, ["-o", opts, "--", mountpoint]);
  const fd = await receiveFd(run, deadline);
  if (fd === undefined) return failure(run, "refused", "fusermount3 did not mount");
  o.serve?.(fd);
  return finish(run, mountpoint, fd, "classic", !!o.autoUnmount);
}

/**
 * Mount a FUSE filesystem at `mountpoint` through fusermount3 and return the
 * /dev/fuse fd. Rejects with a FusermountError; never leaves a half-made mount.
 */
export async function mount(mountpoint: string, o: MountOptions = {}): Promise<FuseMount> {
  // libfuse convention: a privileged parent already mounted and passed the fd.
  const inherited = /^\/dev\/fd\/(\d+)$/.exec(mountpoint);
  if (inherited) {
    const fd = Number(inherited[1]);
    o.serve?.(fd);
    return { mountpoint, fd, syncInit: false, protocol: "inherited", close() {} };
  }
  const helper = o.helper ?? defaultHelper();
  const list = typeof o.options === "string" ? (o.options ? [o.options] : []) : [...(o.options ?? [])];
  if (o.autoUnmount && !list.includes("auto_unmount")) list.push("auto_unmount");
  const opts = list.join(",");
  const deadline = Date.now() + (o.timeoutMs ?? 330_000);
  const mode = o.syncInit ?? "auto";
  if (mode === false) return classic(helper, mountpoint, opts, o, deadline);

  const run = spawnHelper(helper, ["--sync-init", "-o", opts, "--", mountpoint]);
  const fd = await receiveFd(run, deadline);
  if (fd === undefined) {
    // An older helper rejects --sync-init before sending anything; so does any
    // refusal, which the classic run will then report again.
    c.close(run.sock);
    const stderr = await run.stderr;
    await run.child.exited;
    if (mode === true) throw new FusermountError("refused", "fusermount3 --sync-init did not mount", stderr);
    return classic(helper, mountpoint, opts, o, deadline);
  }

  // Without a server to answer it, FUSE_INIT must stay asynchronous.
  const armed = o.serve ? c.ioctl(fd, FUSE_DEV_IOC_SYNC_INIT) : -c.E.ENOTTY;
  if (armed < 0 && armed !== -c.E.ENOTTY) {
    c.close(fd);
    return failure(run, "protocol", `cannot enable synchronous FUSE_INIT: ${c.strerror(-armed)}`);
  }
  const sync = armed === 0;
  // An armed fd may be read before the mount (reads wait for it); an unarmed
  // one fails with EPERM until then, so its server starts after the status.
  const server = sync ? o.serve?.(fd) : undefined;
  const stopServer = () => { if (server) server.stop(); c.close(fd); };

  if (c.sendBytes(run.sock, new Uint8Array([PROCEED_BYTE])) !== 1) {
    stopServer();
    return failure(run, "protocol", "fusermount3 went away before proceed");
  }
  let status: number | undefined;
  try {
    status = await receiveStatus(run, deadline);
  } catch (e) {
    stopServer();
    c.close(run.sock);
    throw e;
  }
  if (status === undefined) {
    stopServer();
    return failure(run, "protocol", "fusermount3 closed the connection before the mount status");
  }
  if (status !== 0) {
    stopServer();
    return failure(run, "mount", `mount failed: ${c.strerror(-status)}`, -status);
  }
  if (!sync) o.serve?.(fd);
  return finish(run, mountpoint, fd, "sync-init", !!o.autoUnmount);
}

export type UnmountOptions = { lazy?: boolean; quiet?: boolean; helper?: string };

/** Unmount with `fusermount3 -u` (the caller must own the mount). */
export async function unmount(mountpoint: string, o: UnmountOptions = {}): Promise<void> {
  const args = ["-u", ...(o.lazy ? ["-z"] : []), ...(o.quiet ? ["-q"] : []), "--", mountpoint];
  const child = Bun.spawn([o.helper ?? defaultHelper(), ...args], { env: {}, stdio: ["ignore", "ignore", "pipe"] });
  const stderr = await new Response(child.stderr as ReadableStream).text();
  const code = await child.exited;
  if (code !== 0) throw new FusermountError("refused", `unmounting ${mountpoint} failed`, stderr, undefined, code);
}
