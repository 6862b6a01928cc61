// The hello filesystem mounted by an unprivileged user through fusermount3 with
// synchronous FUSE_INIT (the client module falls back to the classic protocol
// when the helper or the kernel cannot do it).
//
//   bun examples/hello/main.ts MOUNTPOINT [--helper PATH] [--classic] [--auto-unmount]
//
// Prints one JSON line once mounted, then serves until the filesystem is
// unmounted (fusermount3 -u MOUNTPOINT) or the process gets SIGINT/SIGTERM.

import { mount, unmount } from "../../src/client/index.ts";
import { serve, type Session } from "./fuse.ts";
import { HelloFs } from "./hellofs.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const helperAt = args.indexOf("--helper");
const helper = helperAt >= 0 ? args[helperAt + 1] : undefined;
const mountpoint = args.find((a, i) => !a.startsWith("--") && args[i - 1] !== "--helper");
if (!mountpoint) {
  process.stderr.write("usage: bun examples/hello/main.ts MOUNTPOINT [--helper PATH] [--classic] [--auto-unmount]\n");
  process.exit(2);
}

let session: Session | undefined;
let mounted = false;
let initBeforeMounted = false;
try {
  const m = await mount(mountpoint, {
    options: ["fsname=hello", "subtype=hello"],
    syncInit: flag("--classic") ? false : "auto",
    autoUnmount: flag("--auto-unmount"),
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
