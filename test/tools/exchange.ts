// The race amplifier of the unmount/mount symlink attacks, run with Bun as the
// test user: swaps two names atomically with renameat2(RENAME_EXCHANGE) in a
// tight loop, bounded by a count AND a time limit, then leaves the names as
// they were (an even number of successful swaps) and reports one JSON line.
//
//   exchange '<json spec>'
//
// spec: { a, b, maxIterations, maxMs, stopFile? }
// stopFile: when it exists, stop early (checked every 1024 iterations).
// Report: { iterations, swaps, errors: { "<errno>": count }, ms, restored }

import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { existsSync } from "node:fs";

const { i32, u32, ptr: P } = FFIType;
const lib = dlopen("libc.so.6", {
  renameat2: { args: [i32, P, i32, P, u32], returns: i32 },
  __errno_location: { args: [], returns: P },
}).symbols;
const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;
const errnoPtr = lib.__errno_location()!;

type Spec = { a: string; b: string; maxIterations: number; maxMs: number; stopFile?: string };
const spec = JSON.parse(process.argv[2] ?? "{}") as Spec;
const a = Buffer.from(`${spec.a}\0`);
const b = Buffer.from(`${spec.b}\0`);
const exchange = (): number => (lib.renameat2(AT_FDCWD, ptr(a), AT_FDCWD, ptr(b), RENAME_EXCHANGE) < 0 ? read.i32(errnoPtr, 0) : 0);

const started = Date.now();
const errors: Record<string, number> = {};
let iterations = 0;
let swaps = 0;
while (iterations < spec.maxIterations && Date.now() - started < spec.maxMs) {
  iterations++;
  const e = exchange();
  if (e === 0) swaps++;
  else errors[String(e)] = (errors[String(e)] ?? 0) + 1;
  if ((iterations & 1023) === 0 && spec.stopFile && existsSync(spec.stopFile)) break;
}
// Put the names back: an odd number of successful swaps left them exchanged.
let restored = swaps % 2 === 0;
for (let i = 0; !restored && i < 1000; i++) {
  if (exchange() === 0) { swaps++; restored = true; }
}
process.stdout.write(JSON.stringify({ iterations, swaps, errors, ms: Date.now() - started, restored }) + "\n");
