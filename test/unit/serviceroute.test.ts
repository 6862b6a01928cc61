// Which requests the service may serve in a thread (src/policy/serviceroute.ts).
import t from "tap";
import { runsInThread } from "../../src/policy/serviceroute.ts";

t.test("requests that end when they are done run in a thread", async (t) => {
  for (const args of [["-V"], ["-h"], ["--bogus"], ["-u", "/mnt"], ["-uz", "/mnt"], ["/mnt"], ["-o", "ro,fsname=x", "/mnt"],
    ["-o", "x-gvfs-show,auto_unmountx", "/mnt"], ["-o", "fsname=auto_unmount", "/mnt"], ["/mnt", "-o", "allow_other"]]) {
    t.ok(runsInThread(args), args.join(" "));
  }
});

t.test("anything that waits on a server, lives on or uses alarm() gets a process", async (t) => {
  for (const args of [["--sync-init", "/mnt"], ["-o", "auto_unmount", "/mnt"], ["-o", "ro,auto_unmount", "/mnt"],
    ["/mnt", "-o", "auto_unmount"], ["-oauto_unmount", "/mnt"], ["--auto-unmount", "/mnt"], ["--check"], ["--check", "--json"],
    ["-o", "ro", "-o", "auto_unmount", "/mnt"]]) {
    t.notOk(runsInThread(args), args.join(" "));
  }
});

t.test("the last -o wins, as in the option policy", async (t) => {
  t.ok(runsInThread(["-o", "auto_unmount", "-o", "ro", "/mnt"]), "an earlier auto_unmount is replaced");
});
