// The service's systemd units and `install.sh --service --no-setuid`: the
// installed units with the prefix's paths pass `systemd-analyze verify`;
// install.sh enables and starts them where systemd runs and stops them before
// removing them (a stub systemctl, a fake /run/systemd/system in a namespace
// of its own); --uninstall leaves nothing behind; and the service runs as the
// unit runs it, without systemd as PID 1: systemd-socket-activate, the
// ExecStart= command, capability bounding set and NoNewPrivileges= read from
// the installed unit, serving a user under setpriv --no-new-privs through the
// launcher that is not set-uid. Its /run/fusermount3 is private (a tmpfs on an
// overlay of /run, as in service.test.ts). Not exercised: the unit's
// seccomp, device and namespace restrictions, which only systemd applies.
import t from "tap";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync, existsSync, statSync, mkdtempSync, rmSync, chmodSync, realpathSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { privateRun, sh, SOCKET } from "../lib/service.ts";
import {
  integration, ROOT, FAKE_CLIENT, user, scratch, mkdirAs, runAs, mountsAt, cleanupDir, inNamespace, waitFor, have,
} from "../lib/harness.ts";

const SETPRIV = "/usr/bin/setpriv";
const UNITS = ["fusermount3.socket", "fusermount3.service"];
// capability(7) numbers of the names a unit may list.
const CAP_NUMBERS: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5, CAP_SETGID: 6,
  CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_SYS_CHROOT: 18, CAP_SYS_PTRACE: 19, CAP_SYS_ADMIN: 21, CAP_SYS_RESOURCE: 24,
};

const install = (...args: string[]) =>
  spawnSync("bash", [join(ROOT, "install.sh"), ...args], { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });

// One setting of a unit file (the last one wins, as in systemd).
function setting(unitText: string, key: string): string | undefined {
  const lines = unitText.split("\n").filter((l) => l.startsWith(`${key}=`));
  return lines.length ? lines[lines.length - 1]!.slice(key.length + 1) : undefined;
}

integration("systemd unit tests", () => {
  const prefix = realpathSync(mkdtempSync("/var/tmp/fm-units-"));
  chmodSync(prefix, 0o755);
  const unitDir = `${prefix}/lib/systemd/system`;
  const helper = `${prefix}/lib/fusermount3/fusermount3-bun`;
  const launcher = `${prefix}/bin/fusermount3`;
  const installed = install("--service", "--no-setuid", "--prefix", prefix);
  t.teardown(() => {
    install("--uninstall", "--prefix", prefix);
    rmSync(prefix, { recursive: true, force: true });
  });

  t.test("install.sh --service --no-setuid: the launcher is not set-uid, the units name this prefix", async (t) => {
    t.equal(installed.status, 0, installed.stderr);
    t.match(installed.stdout, new RegExp(`install.sh: systemd is not running: start the service with systemd-socket-activate --seqpacket -l ${SOCKET} ${helper} --service \\(or as root: ${helper} --service\\)\\n`));
    t.match(installed.stdout, new RegExp(`install.sh: ${launcher} is not set-uid: users can mount only while the service answers at ${SOCKET}\\n`));
    t.equal(statSync(launcher).mode & 0o7777, 0o755, "launcher 0755");
    t.equal(statSync(helper).mode & 0o7777, 0o755);
    for (const u of UNITS) {
      const st = statSync(`${unitDir}/${u}`);
      t.equal(st.mode & 0o7777, 0o644, `${u} 0644`);
      t.equal(st.uid, 0);
      t.notMatch(readFileSync(`${unitDir}/${u}`, "utf8"), /@[A-Z]+@/, `${u}: every placeholder substituted`);
    }
    const service = readFileSync(`${unitDir}/fusermount3.service`, "utf8");
    t.equal(setting(service, "ExecStart"), `${helper} --service`);
    t.equal(setting(service, "KillMode"), "process");
    t.equal(setting(service, "NoNewPrivileges"), "yes");
    for (const key of ["ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices", "PrivateMounts", "ReadOnlyPaths",
      "ProtectKernelTunables", "ProtectControlGroups", "ProtectHostname", "MountFlags"]) {
      t.equal(setting(service, key), undefined, `no ${key}=: the service mounts in the host's mount namespace`);
    }
    const socket = readFileSync(`${unitDir}/fusermount3.socket`, "utf8");
    t.equal(setting(socket, "ListenSequentialPacket"), SOCKET, "the path compiled into the launcher");
    t.equal(setting(socket, "SocketMode"), "0666");
    t.equal(setting(socket, "DirectoryMode"), "0755");
    t.equal(setting(socket, "Accept"), "no");
    const manifest = readFileSync(`${prefix}/lib/fusermount3/installed-files`, "utf8");
    for (const u of UNITS) t.match(manifest, `unit:${unitDir}/${u}\n`, `${u} in the manifest`);
  });

  t.test("systemd-analyze verify accepts the installed units", { skip: have("systemd-analyze") ? false : "systemd-analyze is not installed" }, async (t) => {
    const r = spawnSync("systemd-analyze", ["verify", ...UNITS.map((u) => `${unitDir}/${u}`)], { encoding: "utf8" });
    t.equal(r.status, 0, r.stderr);
    t.equal(r.stderr, "", "no warning");
    // It does check: a unit whose command is missing fails.
    const bad = mkdtempSync("/tmp/fm-units-bad-");
    t.teardown(() => rmSync(bad, { recursive: true, force: true }));
    writeFileSync(`${bad}/fusermount3.service`, readFileSync(`${unitDir}/fusermount3.service`, "utf8").replace(helper, "/nonexistent/fusermount3-bun"));
    writeFileSync(`${bad}/fusermount3.socket`, readFileSync(`${unitDir}/fusermount3.socket`, "utf8"));
    const failed = spawnSync("systemd-analyze", ["verify", `${bad}/fusermount3.socket`, `${bad}/fusermount3.service`], { encoding: "utf8" });
    t.not(failed.status, 0);
    t.match(failed.stderr, /\/nonexistent\/fusermount3-bun is not executable/);
  });

  t.test("where systemd runs: install enables and starts the socket, uninstall stops and disables first", async (t) => {
    const stubs = mkdtempSync("/tmp/fm-units-stub-");
    const other = mkdtempSync("/var/tmp/fm-units-other-");
    chmodSync(other, 0o755);
    t.teardown(() => { rmSync(stubs, { recursive: true, force: true }); rmSync(other, { recursive: true, force: true }); });
    // Each call with whether the unit files exist at that moment.
    writeFileSync(`${stubs}/systemctl`, `#!/bin/sh\nf=; [ -e "${other}/lib/systemd/system/fusermount3.service" ] && f=present || f=absent\necho "$* ($f)" >> ${stubs}/log\n`);
    chmodSync(`${stubs}/systemctl`, 0o755);
    const r = inNamespace(`
      mount -t tmpfs tmpfs /run/systemd 2>/dev/null || { t=$(mktemp -d); mount -t tmpfs tmpfs "$t"; mkdir "$t/u" "$t/w"
        mount -t overlay overlay -o lowerdir=/run,upperdir="$t/u",workdir="$t/w" /run; mkdir -p /run/systemd; }
      mkdir /run/systemd/system
      export PATH=${stubs}:$PATH
      bash ${ROOT}/install.sh --service --prefix ${other}
      echo "---"
      bash ${ROOT}/install.sh --prefix ${other}
      echo "---"
      bash ${ROOT}/install.sh --uninstall --prefix ${other}`, { PATH: process.env.PATH ?? "/usr/bin:/bin" }, 300000);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, `install.sh: fusermount3.socket enabled and started (${SOCKET})\n`);
    const calls = readFileSync(`${stubs}/log`, "utf8");
    const dir = `${other}/lib/systemd/system`;
    const start = [`link ${dir}/fusermount3.socket (present)`, `link ${dir}/fusermount3.service (present)`, "daemon-reload (present)",
      "enable --now fusermount3.socket (present)", "try-restart fusermount3.service (present)"];
    t.same(calls.trim().split("\n"), [...start, ...start, "disable --now fusermount3.socket fusermount3.service (present)", "daemon-reload (absent)"],
      "units outside systemd's search path linked; a reinstall keeps the units and restarts the service; stopped while the files exist, reloaded after");
    t.notOk(existsSync(`${dir}/fusermount3.service`));
  });

  t.test("the service as the unit runs it: socket activation, the unit's capabilities, NoNewPrivileges; a user mounts through the launcher that is not set-uid", { skip: have("systemd-socket-activate") ? false : "systemd-socket-activate is not installed" }, async (t) => {
    const u = user("fmtest");
    const base = scratch(u);
    const service = readFileSync(`${unitDir}/fusermount3.service`, "utf8");
    const socketUnit = readFileSync(`${unitDir}/fusermount3.socket`, "utf8");
    const execStart = setting(service, "ExecStart")!.split(/\s+/);
    const capNames = setting(service, "CapabilityBoundingSet")!.split(/\s+/);
    const caps = capNames.map((c) => `+${c.replace(/^CAP_/, "").toLowerCase()}`);
    const capMask = capNames.reduce((m, c) => m | (1n << BigInt(CAP_NUMBERS[c] ?? 63)), 0n).toString(16).padStart(16, "0");
    const dirMode = setting(socketUnit, "DirectoryMode");
    if (dirMode === undefined) throw new Error("fusermount3.socket has no DirectoryMode=");
    const undoRun = privateRun(dirMode);
    // A utab, so that the record is written too (by /bin/mount -f, as root).
    sh(["mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", "/run/mount"]);
    writeFileSync("/run/mount/utab", "");

    const started: ChildProcess[] = [];
    const clients: ChildProcess[] = [];
    let log = "";
    const activate = async () => {
      rmSync(SOCKET, { force: true });
      const p = spawn(SETPRIV, [`--bounding-set=-all,${caps.join(",")}`, "--no-new-privs", "--",
        "systemd-socket-activate", "--seqpacket", "-l", SOCKET, ...execStart],
      { env: { PATH: "/usr/bin:/bin" }, cwd: "/", stdio: ["ignore", "ignore", "pipe"] });
      p.stderr!.on("data", (d: Buffer) => { log += d.toString(); });
      started.push(p);
      if (!(await waitFor(() => existsSync(SOCKET), 5000))) throw new Error(`no socket: ${log}`);
      chmodSync(SOCKET, Number.parseInt(setting(socketUnit, "SocketMode")!, 8)); // SocketMode=, which systemd-socket-activate lacks
      return p;
    };
    const gone = (p: ChildProcess) => p.exitCode !== null || p.signalCode !== null;
    t.teardown(async () => {
      for (const p of [...clients, ...started]) if (p.pid && !gone(p)) process.kill(p.pid, "SIGKILL");
      await waitFor(() => [...clients, ...started].every(gone), 5000);
      cleanupDir(base);
      spawnSync("umount", ["-l", "/run/mount"]);
      undoRun();
    });

    const env = { PATH: "/usr/bin:/bin", HOME: "/" };
    const nnp = (argv: string[]) => runAs(u, [SETPRIV, "--no-new-privs", ...argv], { env });
    const first = await activate();
    const svcStatus = readFileSync(`/proc/${first.pid}/status`, "utf8");
    t.match(svcStatus, /\nNoNewPrivs:\s+1\n/, "the service runs with NoNewPrivileges");
    t.match(svcStatus, new RegExp(`\nCapBnd:\\s+${capMask}\n`), `and the unit's bounding set (${capNames.join(" ")})`);

    const mnt = mkdirAs(u, `${base}/home/mnt`);
    spawnSync("chmod", ["0700", `${base}/home`]);
    spawnSync("chown", [`${u.uid}:${u.gid}`, `${base}/home`]);
    const spec = JSON.stringify({ helper: launcher, argv0: "fusermount3", args: ["-o", "fsname=unitfs,x-unit=1", "--", mnt] });
    const m = nnp([FAKE_CLIENT, spec]);
    const report = JSON.parse(m.stdout.trim().split("\n").pop() ?? "{}") as { gotFd?: boolean; exitCode?: number; stderr?: string };
    t.ok(report.gotFd, m.stdout + m.stderr);
    t.equal(report.exitCode, 0);
    t.equal(report.stderr, "", "no message (the utab record was written: the mount is found under a 0700 home)");
    t.equal(mountsAt(mnt).length, 1, "mounted, in this (the service's) mount namespace");
    t.match(readFileSync("/run/mount/utab", "utf8"), new RegExp(`TARGET=${mnt} .*OPTS=user=${u.name},x-unit=1`));
    const check = nnp([launcher, "--check"]);
    t.match(check.stdout, /\nmode: the service first \(the service at \/run\/fusermount3\/service\.sock answers \(fusermount3 version: [\d.]+\); this report came through it\); set-uid fallback none \(the launcher is not set-uid root\)\n/);
    const un = nnp([launcher, "-u", mnt]);
    t.equal(un.code, 0, un.stderr);
    t.equal(mountsAt(mnt).length, 0, "unmounted");

    // auto_unmount: the watch is a child of the service; with KillMode=process
    // a restart of the service leaves it, and it still unmounts.
    const auto = mkdirAs(u, `${base}/auto`);
    const client = spawn(SETPRIV, ["--no-new-privs", FAKE_CLIENT, JSON.stringify({ helper: launcher, argv0: "fusermount3", args: ["-o", "auto_unmount", "--", auto], mode: "hold" })],
      { env, uid: u.uid, gid: u.gid, stdio: ["ignore", "pipe", "pipe"] });
    clients.push(client);
    let out = "";
    client.stdout!.on("data", (d: Buffer) => { out += d.toString(); });
    t.ok(await waitFor(() => out.includes("\n"), 20000), "the client got its answer");
    t.match(out, /"gotFd":true/);
    t.equal(mountsAt(auto).length, 1);
    process.kill(first.pid!, "SIGTERM");
    t.ok(await waitFor(() => gone(first), 5000), "the service stopped");
    await activate();
    await new Promise((r) => setTimeout(r, 300));
    t.equal(mountsAt(auto).length, 1, "still mounted after the restart (the watch outlived it)");
    process.kill(client.pid!, "SIGKILL");
    t.ok(await waitFor(() => mountsAt(auto).length === 0, 15000), "unmounted by the watch after the server died");
    t.notMatch(log, /internal error|Operation not permitted|no CAP_|did not start|cannot start/, "the service logged no failure (request threads run under the unit's capabilities)");
  });

  t.test("--uninstall leaves nothing behind", async (t) => {
    const r = install("--uninstall", "--prefix", prefix);
    t.equal(r.status, 0, r.stderr);
    const left = spawnSync("find", [prefix, "!", "-type", "d"], { encoding: "utf8" }).stdout;
    t.equal(left, "", "no file left");
    t.notOk(existsSync(`${prefix}/lib/systemd`), "no unit directory left");
    t.notOk(existsSync(`${prefix}/lib/fusermount3`));
  });
}, { files: [FAKE_CLIENT], commands: ["setpriv"] });
