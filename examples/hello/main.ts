// The hello filesystem mounted by an unprivileged user through fusermount3 with
// synchronous FUSE_INIT (the client module falls back to the classic protocol
// when the helper or the kernel cannot do it).
//
//   bun examples/hello/main.ts MOUNTPOINT [--helper PATH] [--classic] [--auto-unmount]
//   bun examples/hello/main.ts --help
//
// Prints one JSON line once mounted, then serves until the filesystem is
// unmounted (fusermount3 -u MOUNTPOINT) or the process gets SIGINT/SIGTERM.
// Exit status: 0 after a clean unmount, 1 when mounting fails, 2 for a usage error.
// The command line is parsed with commander (a development dependency: this
// entry point is run from a checkout or compiled with `bun build --compile`;
// the published modules fuse.ts and hellofs.ts do not use it).

import { Command } from "commander";
import { mount, unmount } from "../../src/client/index.ts";
import { serve, type Session } from "./fuse.ts";
import { HelloFs } from "./hellofs.ts";

const program = new Command("hello")
  .description("Serve a read-only file `hello` (\"Hello, world!\") at MOUNTPOINT, mounted through fusermount3.")
  .argument("<mountpoint>", "where to mount (a directory you own)")
  .option("--helper <path>", "the fusermount3 to run (default: the client module's search)")
  .option("--classic", "use the classic protocol, not synchronous FUSE_INIT")
  .option("--auto-unmount", "ask the helper to unmount when this process dies")
  .showHelpAfterError("(hello --help shows the usage)")
  .exitOverride((e) => process.exit(e.exitCode === 0 ? 0 : 2))
  .parse();
const mountpoint = program.args[0]!;
const { helper, classic, autoUnmount } = program.opts<{ helper?: string; classic?: boolean; autoUnmount?: boolean }>();

let session: Session | undefined;
let mounted = false;
let initBeforeMounted = false;
try {
  const m = await mount(mountpoint, {
    options: ["fsname=hello", "subtype=hello"],
    syncInit: classic ? false : "auto",
    autoUnmount: autoUnmount === true,
    helper,
    serve: (fd) => {
      session = serve(fd, new HelloFs());
      void session.initialized.then(() => { initBeforeMounted = !mounted; }, () => {});
      return session;
    },
  });
  mounted = true;
  const statusAt = performance.now();
  // With sync init, INIT was answered inside the mount, before the status came.
  const init = await session!.initialized;
  process.stdout.write(JSON.stringify({
    ready: true, protocol: m.protocol, syncInit: m.syncInit,
    initAnsweredAt: init.answeredAt, statusAt, initBeforeMounted,
  }) + "\n");
  const stop = () => { void unmount(mountpoint, { lazy: true, helper }).catch(() => {}); };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  await session!.closed;
  m.close();
  process.exit(0);
} catch (e) {
  process.stderr.write(`hello: ${(e as Error).message}\n`);
  process.exit(1);
}
