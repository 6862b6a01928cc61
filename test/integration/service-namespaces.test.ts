// The service serves callers where a set-uid fusermount3 would run for them:
// in another mount namespace (made by root: `unshare -m`, systemd's
// PrivateTmp=), or chroot()ed by root, with the launcher NOT set-uid and the
// callers under no-new-privs; and refuses a mount namespace a user namespace
// owns, a chroot made inside one, and fds a client picks as its "namespace".
// Set-up as service.test.ts: a private /run/fusermount3 on an overlay of /run
// in this test's namespace; the service is stopped by PID at the end.
import t from "tap";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { copyFileSync, chmodSync, writeFileSync, mkdirSync, rmSync, chownSync } from "node:fs";
import { privateRun, sh, SOCKET } from "../lib/service.ts";
import {
  integration, PREFIX, OURS, OURS_HELPER, FAKE_CLIENT, user, scratch, mkdirAs, runAs, mountsAt, cleanupDir,
  rootScratch, have, waitFor, inNamespace as harnessInNamespace, type Run,
} from "../lib/harness.ts";

const SERVICE_CLIENT = `${PREFIX}/tools/serviceclient`;
const USERNS_REFUSAL = "fusermount3: your mount namespace belongs to a user namespace (unshare -Urm, a rootless container), where fusermount3 is not trusted: mount FUSE directly inside that user namespace, which you own\n";

integration("service namespace tests", () => {
  const u = user("fmtest");
  const base = scratch(u);
  const tools = rootScratch();
  const NNP = `${tools}/fusermount3`; // the installed launcher, without the set-uid bit
  copyFileSync(OURS, NNP);
  chmodSync(NNP, 0o755);
  const env = { PATH: "/usr/bin:/bin", HOME: "/" };
  const as = `setpriv --reuid ${u.uid} --regid ${u.gid} --init-groups --no-new-privs -- env -i PATH=/usr/bin:/bin`;
  const spec = (args: string[], mode = "wait") => `'${JSON.stringify({ helper: NNP, argv0: "fusermount3", args, mode })}'`;
  const lastJson = (s: string) => JSON.parse(s.trim().split("\n").pop()!) as Record<string, unknown>;

  const undoRun = privateRun(); // a private /run with its own /run/fusermount3 (test/lib/service.ts)
  // A root of / for chroot()ed callers: the helper and the socket are visible
  // there at the same paths, on other mounts.
  const jail = `${tools}/jail`;
  mkdirSync(jail);
  sh(["mount", "--rbind", "/", jail]);

  let service: ChildProcess | undefined;
  let serviceErr = "";
  t.before(async () => {
    service = spawn(OURS_HELPER, ["--service"], { env: {}, cwd: "/", stdio: ["ignore", "ignore", "pipe"] });
    service.stderr!.on("data", (d: Buffer) => { serviceErr += d.toString(); });
    if (!(await waitFor(() => serviceErr.includes("listening"), 10000))) throw new Error(`service did not start: ${serviceErr}`);
  });
  t.teardown(async () => {
    if (service?.pid) {
      process.kill(service.pid, "SIGTERM");
      await waitFor(() => service!.exitCode !== null || service!.signalCode !== null, 5000);
    }
    cleanupDir(base);
    // Lazily, the bind of / goes with every mount under it (its copy of this
    // test's /run and of its tmpfs included, which would keep that busy).
    spawnSync("umount", ["-l", jail]);
    undoRun();
    rmSync(tools, { recursive: true, force: true });
  });
  // A bash script in a mount namespace of its own, the same in both passes:
  // its callers pick no-new-privs themselves (`as`), root's steps run without.
  const inNamespace = (script: string): Run => harnessInNamespace(script, {}, 60000, { nnp: false });
  // How many mounts a process sees at `path` (its /proc/<pid>/mountinfo).
  const count = (pid: string, path: string) => `$(grep -c ' ${path} ' /proc/${pid}/mountinfo || true)`;

  t.test("a caller in another mount namespace mounts there, reads, and unmounts with -u from there", async (t) => {
    const mnt = mkdirAs(u, `${base}/other-ns`);
    const r = inNamespace(`
      ${as} ${FAKE_CLIENT} ${spec(["-o", "fsname=nsfs", "--", mnt])}
      echo "here: ${count("self", mnt)}"
      echo "service: ${count(String(service!.pid), mnt)}"
      grep ' ${mnt} ' /proc/self/mountinfo || true
      ${as} ${NNP} -u ${mnt}; echo "unmount: $?"
      echo "after: ${count("self", mnt)}"`);
    t.equal(r.code, 0, r.stderr);
    const report = lastJson(r.stdout.split("here:")[0]!);
    t.equal(report.exitCode, 0, String(report.stderr));
    t.equal(report.stderr, "", "no message");
    t.ok(report.gotFd, "the client got its fd");
    t.match(r.stdout, /^here: 1$/m, "mounted in the caller's namespace");
    t.match(r.stdout, /^service: 0$/m, "not in the service's");
    t.match(r.stdout, new RegExp(`nsfs rw,user_id=${u.uid},group_id=${u.gid}`), "owned by the caller");
    t.match(r.stdout, /^unmount: 0$/m, "-u from that namespace");
    t.match(r.stdout, /^after: 0$/m, "gone there");
    t.equal(mountsAt(mnt).length, 0, "never in the service's namespace");
  });

  t.test("bindfs reads through the service in another mount namespace", { skip: have("bindfs") ? false : "bindfs is not installed" }, async (t) => {
    const src = mkdirAs(u, `${base}/bind-src`);
    writeFileSync(`${src}/hello`, "hi from the other namespace\n");
    chownSync(`${src}/hello`, u.uid, u.gid);
    const mnt = mkdirAs(u, `${base}/bind-mnt`);
    const r = inNamespace(`
      mount --bind ${NNP} /usr/bin/fusermount3
      ${as} /usr/bin/bindfs --no-allow-other ${src} ${mnt}
      echo "service: ${count(String(service!.pid), mnt)}"
      ${as} /bin/cat ${mnt}/hello
      ${as} /usr/bin/fusermount -u ${mnt}; echo "unmount: $?"
      for i in $(seq 100); do grep -q ' ${mnt} ' /proc/self/mountinfo || break; sleep 0.05; done
      echo "after: ${count("self", mnt)}"`);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^hi from the other namespace$/m, "read through the mount");
    t.match(r.stdout, /^service: 0$/m, "not in the service's namespace");
    t.match(r.stdout, /^unmount: 0$/m);
    t.match(r.stdout, /^after: 0$/m);
  });

  t.test("auto_unmount in another mount namespace: the watch unmounts there after kill -9 of the server", async (t) => {
    const mnt = mkdirAs(u, `${base}/auto`);
    const r = inNamespace(`
      ${as} ${FAKE_CLIENT} ${spec(["-o", "auto_unmount", "--", mnt], "hold")} > /dev/null &
      cl=$!
      for i in $(seq 300); do grep -q ' ${mnt} ' /proc/self/mountinfo && break; sleep 0.05; done
      echo "mounted: ${count("self", mnt)}"
      echo "service: ${count(String(service!.pid), mnt)}"
      sleep 0.5
      echo "still: ${count("self", mnt)}"
      kill -9 $cl
      for i in $(seq 300); do grep -q ' ${mnt} ' /proc/self/mountinfo || break; sleep 0.05; done
      echo "after: ${count("self", mnt)}"`);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /^mounted: 1$/m);
    t.match(r.stdout, /^service: 0$/m);
    t.match(r.stdout, /^still: 1$/m, "the watch leaves it while the server lives");
    t.match(r.stdout, /^after: 0$/m, "unmounted in that namespace by the watch");
  });

  t.test("a caller chroot()ed by root: paths resolve in its root, -u works there", async (t) => {
    const mnt = mkdirAs(u, `${base}/jailed`);
    const m = spawnSync("chroot", [jail, ...as.split(" "), FAKE_CLIENT, JSON.stringify({ helper: NNP, argv0: "fusermount3", args: ["--", mnt] })],
      { encoding: "utf8", timeout: 30000 });
    t.equal(m.status, 0, m.stderr);
    const report = lastJson(m.stdout);
    t.equal(report.exitCode, 0, String(report.stderr));
    t.ok(report.gotFd);
    t.equal(mountsAt(`${jail}${mnt}`).length, 1, "mounted on the directory of the caller's root");
    t.equal(mountsAt(mnt).length, 0, "not on the same path outside it");
    const un = spawnSync("chroot", [jail, ...as.split(" "), NNP, "-u", mnt], { encoding: "utf8", timeout: 30000 });
    t.equal(un.status, 0, un.stderr);
    t.equal(un.stderr, "");
    t.equal(mountsAt(`${jail}${mnt}`).length, 0, "unmounted");
  });

  t.test("a caller in a mount namespace of its own user namespace is refused, nothing mounted", async (t) => {
    const mnt = mkdirAs(u, `${base}/userns`);
    const r = runAs(u, ["/usr/bin/setpriv", "--no-new-privs", "/usr/bin/unshare", "-Urm", FAKE_CLIENT, JSON.stringify({ helper: NNP, argv0: "fusermount3", args: ["--", mnt] })], { env });
    t.equal(r.code, 0, r.stderr);
    const report = lastJson(r.stdout);
    t.equal(report.exitCode, 1);
    t.notOk(report.gotFd, "no fd");
    t.equal(report.stderr, USERNS_REFUSAL, "one line that names the fix");
    t.equal(mountsAt(mnt).length, 0);
    const un = runAs(u, ["/usr/bin/setpriv", "--no-new-privs", "/usr/bin/unshare", "-Urm", NNP, "-u", mnt], { env });
    t.equal(un.code, 1);
    t.equal(un.stderr.replace(NNP, "fusermount3"), USERNS_REFUSAL, "-u too");
  });

  t.test("a caller only in another user namespace (same mount namespace) is served as the uid the kernel reports", async (t) => {
    const mnt = mkdirAs(u, `${base}/userns-only`);
    const r = runAs(u, ["/usr/bin/setpriv", "--no-new-privs", "/usr/bin/unshare", "-Ur", FAKE_CLIENT, JSON.stringify({ helper: NNP, argv0: "fusermount3", args: ["--", mnt] })], { env });
    t.equal(r.code, 0, r.stderr);
    const report = lastJson(r.stdout);
    t.equal(report.exitCode, 0, String(report.stderr));
    t.match(mountsAt(mnt)[0]?.superOptions ?? "", `user_id=${u.uid},`, "mounted for the caller's own uid");
    const un = runAs(u, ["/usr/bin/setpriv", "--no-new-privs", "/usr/bin/unshare", "-Ur", NNP, "-u", mnt], { env });
    t.equal(un.code, 0, un.stderr);
    t.equal(mountsAt(mnt).length, 0);
  });

  t.test("a chroot() made inside the caller's own user namespace is refused before anything runs from it", async (t) => {
    const mnt = mkdirAs(u, `${base}/userns-chroot`);
    const raw = (chroot: string): Run => runAs(u, ["/usr/bin/setpriv", "--no-new-privs", "/usr/bin/unshare", "-Ur", SERVICE_CLIENT,
      JSON.stringify({ socket: SOCKET, mode: "request", argv: ["fusermount3", "--", mnt], chroot })], { env });
    // A root that shows the service's helper (the bind of /): executed from
    // the namespace's root, which then sees the caller's root is another.
    const viaJail = raw(jail);
    t.same(lastJson(viaJail.stdout).reply, { kind: "status", status: 1 }, "a root that shows the helper: exit 1");
    t.equal(viaJail.stderr, "fusermount3: you are chroot()ed inside a user namespace, where fusermount3 is not trusted: run it outside the chroot, or mount FUSE directly inside that user namespace\n");
    t.equal(mountsAt(`${jail}${mnt}`).length + mountsAt(mnt).length, 0, "nothing mounted");
    // A root of the caller's own making, with a "helper" of its own at the
    // helper's path: never executed.
    const own = mkdirAs(u, `${base}/own-root`);
    const fake = `${own}${OURS_HELPER}`;
    mkdirAs(u, fake.slice(0, fake.lastIndexOf("/")));
    const marker = `${base}/own-root-ran`;
    writeFileSync(fake, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
    chownSync(fake, u.uid, u.gid);
    const viaOwn = raw(own);
    t.same(lastJson(viaOwn.stdout).reply, { kind: "status", status: 1 }, "a root of its own: exit 1");
    t.match(viaOwn.stderr, /^fusermount3: .* in your mount namespace or root is not this service's helper: bind-mount/);
    t.notOk(spawnSync("test", ["-e", marker]).status === 0, "the caller's file never ran");
  });

  t.test("fds a client adds as its namespace or root are no part of the request", async (t) => {
    for (const extra of [["/proc/self/ns/mnt", "/"], ["/proc/self/ns/net"], ["/etc/passwd"]]) {
      const r = runAs(u, ["/usr/bin/setpriv", "--no-new-privs", SERVICE_CLIENT, JSON.stringify({ socket: SOCKET, mode: "request", argv: ["fusermount3", "-V"], extraFds: extra })], { env });
      t.same(lastJson(r.stdout).reply, { kind: "status", status: 1 }, `${extra.join(", ")}: refused`);
      t.equal(r.stderr, `fusermount3: malformed service request: ${4 + extra.length} fds, expected 4\n`);
    }
  });

  t.test("--service-request-entered is for the service only", async (t) => {
    const r = runAs(u, [OURS_HELPER, "--service-request-entered"], { env });
    t.equal(r.code, 1);
    t.equal(r.stderr, "fusermount3: --service-request-entered is for the service only\n");
    // As root, only a sealed memfd at fd 3 is a handover.
    const root = spawnSync(OURS_HELPER, ["--service-request-entered"], { env: {}, encoding: "utf8", stdio: ["ignore", "pipe", "pipe", "pipe"] });
    t.equal(root.status, 1);
    t.equal(root.stderr, "fusermount3: --service-request-entered is for the service only\n");
  });
}, { files: [FAKE_CLIENT, SERVICE_CLIENT], commands: ["setpriv", "unshare", "nsenter", "chroot"] });
