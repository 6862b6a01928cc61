// Start-up floor for the -V benchmark: a compiled Bun program that does nothing
// but leave through libc's _exit(0), as the helper does (no runtime exit hooks).
import { dlopen, FFIType } from "bun:ffi";

dlopen("libc.so.6", { _exit: { args: [FFIType.i32], returns: FFIType.void } }).symbols._exit(0);
