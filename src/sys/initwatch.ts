// Bounding FSCONFIG_CMD_CREATE. With sync init armed, the kernel sends FUSE_INIT
// inside CMD_CREATE and waits for the answer in a wait that only a fatal signal
// ends; the server dying does not end it, because we hold the same /dev/fuse
// file. Left alone, a caller could park a root process forever.
//
// Two bounds, both ending the process before anything is attached (no mount
// exists until move_mount, so nothing is left behind):
//  - the server side of the comm socket hangs up (the server died): a Worker
//    thread polls the socket every 100 ms and SIGKILLs the process;
//  - nobody answers for INIT_TIMEOUT_SECONDS: alarm() with SIGALRM at its default
//    (fatal) disposition, set at start-up.
// The Worker is a separate thread, so it runs while the main thread is blocked
// inside the synchronous FFI call.

import * as c from "./libc.ts";

const WATCHER = `
import { dlopen, FFIType } from "bun:ffi";
const L = dlopen("libc.so.6", {
  poll: { args: [FFIType.ptr, FFIType.u64, FFIType.i32], returns: FFIType.i32 },
  kill: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
}).symbols;
self.onmessage = (e) => {
  const { pid, fd, flag } = e.data;
  const pending = new Int32Array(flag);
  const pfd = new Uint8Array(new ArrayBuffer(8));
  const view = new DataView(pfd.buffer);
  while (Atomics.load(pending, 0) === 1) {
    view.setInt32(0, fd, true); view.setInt16(4, 0, true); view.setInt16(6, 0, true);
    const rc = L.poll(pfd, 1, 100);
    if (rc > 0 && (view.getInt16(6, true) & 0x18) !== 0 && Atomics.load(pending, 0) === 1) {
      L.kill(pid, 9); // POLLHUP or POLLERR: the server is gone
    }
  }
  self.close();
};
`;

export type InitWatch = { done(): void };

export function watchInit(commFd: number, timeoutSeconds: number): InitWatch {
  const flag = new SharedArrayBuffer(4);
  const pending = new Int32Array(flag);
  Atomics.store(pending, 0, 1);
  let worker: Worker | undefined;
  try {
    worker = new Worker(URL.createObjectURL(new Blob([WATCHER], { type: "application/javascript" })));
    worker.postMessage({ pid: process.pid, fd: commFd, flag });
  } catch {
    // No thread to be had (RLIMIT_NPROC): the alarm still bounds the wait.
  }
  c.alarm(timeoutSeconds);
  return {
    done() {
      c.alarm(0);
      Atomics.store(pending, 0, 0);
    },
  };
}
