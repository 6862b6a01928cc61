// Differential cases of the -o option string: mount flags, fsname and subtype,
// kernel options and the user policy (allow_other, blkdev, dropped and unknown
// options, kernel data at the page boundary), x- options and empty tokens.
// Method: test/lib/differential.ts.

import { readFileSync } from "node:fs";
import { differential, P, type Case, type Expect } from "../lib/differential.ts";

differential("differential: mount options", (x) => {
  const { u, B, UG, line, mounted, refused, mo, fuseCount, fam } = x;

  // Options whose kernel data ("<opts>,fd=N,rootmode=40000,user_id=U,group_id=G")
  // is `len` bytes long when the helper's /dev/fuse fd has one digit.
  const kernelDataOf = (len: number): string => {
    const suffix = `,fd=4,rootmode=40000,user_id=${u.uid},group_id=${u.gid}`.length;
    const want = len - suffix; // length of the option string
    const dp = "default_permissions";
    const k = Math.floor((want - 20) / (dp.length + 1)); // leave room for max_read=
    const head = Array(k).fill(dp).join(",");
    const pad = want - head.length - ",max_read=".length - 4;
    return `${head},max_read=${"0".repeat(pad)}4000`; // octal for the kernel: 2048
  };

  // Mount options (§8): each flag name alone and combined.
  const RO = { mopts: "ro,nosuid,nodev,relatime", sopts: `ro,${UG}` };
  const unknown = (tok: string) => refused(`${P}unknown option '${tok}'\n`);
  fam("mount flags", [
    ...["rw", "ro", "suid", "nosuid", "dev", "nodev", "exec", "noexec", "async", "sync", "atime", "noatime", "dirsync"]
      .map((f): Case => ({ name: f, args: mo(f) })),
    { name: "ro,noexec,sync,dirsync,noatime", args: mo("ro,noexec,sync,dirsync,noatime") },
    { name: "ro,rw (last wins)", args: mo("ro,rw") },
    { name: "rw,ro (last wins)", args: mo("rw,ro") },
    { name: "noexec,exec", args: mo("noexec,exec") },
    { name: "sync,async", args: mo("sync,async") },
    { name: "noatime,atime", args: mo("noatime,atime") },
    { name: "dev,suid,exec (unsafe ones warned)", args: mo("dev,suid,exec") },
    { name: "suid,bogus (warning, then error)", args: mo("suid,bogus") },
    { name: "nosuid,nodev explicit", args: mo("nosuid,nodev") },
    { name: "RO (case sensitive)", args: mo("RO") },
    { name: "ro= (flag with a value)", args: mo("ro=1") },
    { name: "noatim (prefix of a flag)", args: mo("noatim") },
    { name: "mand", args: mo("mand") },
    { name: "remount", args: mo("remount") },
    { name: "bind", args: mo("bind") },
    ...["diratime", "nodiratime", "lazytime", "nolazytime", "relatime", "norelatime", "strictatime", "nostrictatime", "symfollow", "nosymfollow"]
      .map((f): Case => ({
        name: `${f} (master/3.14.1+ name)`, args: mo(f), diff: "flag-name-union",
        ours: mounted(line({
          mopts: ({ nodiratime: "rw,nosuid,nodev,nodiratime,relatime", strictatime: "rw,nosuid,nodev", nosymfollow: "rw,nosuid,nodev,relatime,nosymfollow" } as Record<string, string>)[f],
          sopts: f === "lazytime" ? `rw,lazytime,${UG}` : undefined,
        })),
        c: unknown(f),
      })),
    {
      name: "ro,nodiratime,nosymfollow (union names combined)", args: mo("ro,nodiratime,nosymfollow"), diff: "flag-name-union",
      ours: mounted(line({ mopts: "ro,nosuid,nodev,nodiratime,relatime,nosymfollow", sopts: `ro,${UG}` })), c: unknown("nodiratime"),
    },
    {
      name: "large_read", args: mo("large_read"), diff: "large-read-silent",
      ours: mounted(line()),
      c: { code: 0, gotFd: true, mount: line(), stderr: `${P}note: 'large_read' mount option is deprecated for ${kernelMajorMinor()} kernels\n` },
    },
  ]);

  function kernelMajorMinor(): string {
    const m = /^(\d+)\.(\d+)/.exec(readFileSync("/proc/sys/kernel/osrelease", "utf8"));
    return m ? `${m[1]}.${m[2]}` : "?";
  }

  const long255 = "f".repeat(255); // the longest string fsconfig() takes
  fam("fsname and subtype", [
    { name: "fsname=foo", args: mo("fsname=foo") },
    { name: "fsname= (empty)", args: mo("fsname=") },
    { name: "fsname with escaped comma", args: mo("fsname=a\\,b") },
    { name: "fsname with escaped comma hiding allow_other", args: mo("fsname=a\\,allow_other") },
    { name: "fsname with escaped backslash", args: mo("fsname=a\\\\b") },
    { name: "fsname with backslash before a letter", args: mo("fsname=a\\b") },
    { name: "fsname with trailing backslash", args: mo("fsname=a\\") },
    { name: "fsname with space", args: mo("fsname=a b") },
    { name: "fsname with tab and newline", args: mo("fsname=a\tb\nc") },
    { name: "fsname with leading dash", args: mo("fsname=-foo") },
    { name: "fsname with leading --", args: mo("fsname=--bind") },
    { name: "fsname with #", args: mo("fsname=a#b") },
    { name: "fsname non-ASCII", args: mo("fsname=ünï") },
    { name: "fsname with = and :", args: mo("fsname=user@host:/a=b") },
    { name: "fsname twice (last wins)", args: mo("fsname=x,fsname=y") },
    { name: "fsname with escaped comma before ro", args: mo("fsname=a\\,ro") },
    { name: "fsname then an unknown option", args: mo("fsname=a,bogus") },
    { name: "fsname of 255 characters", args: mo(`fsname=${long255}`) },
    { name: "fsname of 256 characters", args: mo(`fsname=${"g".repeat(256)}`) },
    { name: "fsname of 300 characters", args: mo(`fsname=${"h".repeat(300)}`) },
    { name: "fsname of 5000 characters", args: mo(`fsname=${"i".repeat(5000)}`) },
    { name: "subtype=foo", args: mo("subtype=foo") },
    { name: "subtype= (empty)", args: mo("subtype=") },
    { name: "subtype with escaped comma", args: mo("subtype=a\\,b") },
    { name: "subtype with space", args: mo("subtype=a b") },
    { name: "subtype with leading dash", args: mo("subtype=-x") },
    { name: "subtype with a dot", args: mo("subtype=a.b") },
    { name: "subtype twice (last wins)", args: mo("subtype=x,subtype=y") },
    { name: "subtype of 300 characters", args: mo(`subtype=${"s".repeat(300)}`) },
    { name: "fsname and subtype", args: mo("fsname=f,subtype=s") },
    { name: "subtype and fsname", args: mo("subtype=s,fsname=f") },
    { name: "escape outside fsname/subtype is literal", args: mo("default_permissions\\,allow_other") },
    {
      name: "fsname=a\\,x-b (x- split ignores escapes)", args: mo("fsname=a\\,x-b"), diff: "x-options",
      ours: mounted(line({ src: "a\\134" })), c: { code: 0, gotFd: true, stderr: "", mount: line({ src: "a,x-b" }) },
    },
  ]);

  fam("kernel options and policy", [
    { name: "default_permissions", args: mo("default_permissions") },
    { name: "default_permissions twice", args: mo("default_permissions,default_permissions") },
    { name: "default_permissions=1", args: mo("default_permissions=1") },
    { name: "max_read=4096", args: mo("max_read=4096") },
    { name: "max_read=0", args: mo("max_read=0") },
    { name: "max_read=abc (kernel refuses)", args: mo("max_read=abc") },
    { name: "max_read= (empty)", args: mo("max_read=") },
    { name: "max_read=04000 (the kernel reads octal)", args: mo("max_read=04000") },
    { name: "max_read=4096 with 300 leading zeros (invalid octal)", args: mo(`max_read=${"0".repeat(300)}4096`) },
    { name: "max_read=4000 with 300 leading zeros (valid octal)", args: mo(`max_read=${"0".repeat(300)}4000`) },
    { name: "blksize=4096 (fuseblk only)", args: mo("blksize=4096") },
    { name: "allow_other without user_allow_other", args: mo("allow_other") },
    { name: "allow_root without user_allow_other", args: mo("allow_root") },
    { name: "ro,allow_other (error after a flag)", args: mo("ro,allow_other") },
    { name: "allow_other with user_allow_other", args: mo("allow_other"), conf: "user_allow_other\n" },
    { name: "allow_root with user_allow_other", args: mo("allow_root"), conf: "user_allow_other\n" },
    { name: "allow_other,default_permissions with user_allow_other", args: mo("allow_other,default_permissions"), conf: "user_allow_other\n" },
    { name: "blkdev", args: mo("blkdev") },
    { name: "blkdev,fsname=/dev/loop0", args: mo("blkdev,fsname=/dev/loop0") },
    { name: "nonempty", args: mo("nonempty") },
    {
      // The client gives up after 1.5 s and kills the helper: 3.14's watchdog
      // dies of it; ours cannot be signalled by its caller and ends by itself
      // once the socket is closed (the filesystem is still held, so it stays).
      name: "auto_unmount (watchdog until the client is gone)", args: mo("auto_unmount,subtype=au"), timeoutMs: 1500,
      diff: "caller-cannot-signal",
      ours: { code: 0, stderr: "", gotFd: true, mount: line({ type: "fuse.au", src: "au" }) },
      c: { gotFd: true, mount: line({ type: "fuse.au", src: "au" }) },
      // Through the service the client's SIGKILL can end the launcher (137)
      // unless the watch has already ended (0), and the watch, which goes on
      // in the service, unmounts if the fd is closed before its probe: both
      // race with the client's close and kill, so only the fd and stderr are
      // compared (mount.test.ts and service.test.ts check the watch after
      // kill -9 deterministically).
      service: { diff: "launcher-is-the-callers", ours: { code: 0, stderr: "", gotFd: true }, unchecked: ["code", "mount", "mounts"] },
    },
    { name: "fd=5 dropped", args: mo("fd=5") },
    { name: "fd (no value) unknown", args: mo("fd") },
    { name: "rootmode=0 dropped", args: mo("rootmode=0") },
    { name: "user_id=0 dropped", args: mo("user_id=0") },
    { name: "group_id=0 dropped", args: mo("group_id=0") },
    { name: "fd=,rootmode=,user_id=,group_id= all dropped", args: mo("fd=99,rootmode=100000,user_id=0,group_id=0,default_permissions") },
    { name: "unknown option", args: mo("bogus") },
    { name: "context=", args: mo("context=system_u:object_r:tmp_t:s0") },
    { name: "uid=0", args: mo("uid=0") },
    { name: "user=root", args: mo("user=root") },
    { name: "noauto", args: mo("noauto") },
    { name: "nofail", args: mo("nofail") },
    { name: "defaults", args: mo("defaults") },
    { name: "X-foo (upper-case X is not an x- option)", args: mo("X-foo") },
    { name: "empty option string", args: mo("") },
    { name: "trailing comma", args: mo("ro,") },
    { name: "double trailing comma", args: mo("ro,,") },
    { name: "double comma in the middle", args: mo("ro,,nodev") },
    { name: "option with a space", args: mo("ro, nodev") },
    { name: "-u as an option", args: mo("-u") },
    { name: "option string longer than a page, short kernel data", args: mo(Array(1500).fill("ro").join(",")) },
    { name: "kernel data longer than a page", args: mo(Array(250).fill("default_permissions").join(",")) },
    {
      name: "kernel data of exactly 4095 bytes (with a one-digit fd)", args: mo(kernelDataOf(4095)),
      service: { diff: "thread-fd-number", ours: { code: 1, stderr: `${P}mount options too long\n${P}mount failed: Invalid argument\n`, gotFd: false } },
    },
    { name: "kernel data of exactly 4096 bytes (with a one-digit fd)", args: mo(kernelDataOf(4096)) },
    { name: "unknown option longer than a page", args: mo("a".repeat(5000)) },
    { name: "dev,suid,nodev,nosuid warnings", args: mo("dev,suid,nodev,nosuid") },
    { name: "options then bad mountpoint (mountpoint checked first)", args: mo("bogus", `${B}/missing`) },
    { name: "x- option then bad mountpoint (mountpoint checked first)", args: mo("x-foo", `${B}/missing`) },
    { name: "bad options with mount_max reached (mount_max first)", args: mo("bogus", `${B}/missing`), conf: () => `mount_max = ${fuseCount()}\n` },
  ]);

  const XO = (name: string, opts: string, ours: Expect, cTok: string): Case =>
    ({ name, args: mo(opts), diff: "x-options", ours, c: unknown(cTok) });
  fam("x- options and empty tokens (deliberate differences)", [
    XO("x-gvfs-hide", "x-gvfs-hide", mounted(line()), "x-gvfs-hide"),
    XO("ro,x-gvfs-hide", "ro,x-gvfs-hide", mounted(line(RO)), "x-gvfs-hide"),
    XO("x-a,ro,x-b", "x-a,ro,x-b", mounted(line(RO)), "x-a"),
    XO("x- alone", "x-", mounted(line()), "x-"),
    XO("x-a, (trailing comma)", "x-a,", mounted(line()), "x-a"),
    { name: "ro,,x-a (single trailing empty element)", args: mo("ro,,x-a"), diff: "x-options", ours: mounted(line(RO)), c: unknown("") },
    XO("x-user=root (not an ownership claim)", "x-user=root,default_permissions", mounted(line({ sopts: `rw,${UG},default_permissions` })), "x-user=root"),
    XO("x- option longer than a page", `x-${"a".repeat(5000)}`, mounted(line()), `x-${"a".repeat(5000)}`),
    XO("x- option with a backslash and =", "x-a\\b=c", mounted(line()), "x-a\\b=c"),
    XO("x-a,bogus (regular options still checked)", "x-a,bogus", unknown("bogus"), "x-a"),
    XO("x-a,allow_other (still needs user_allow_other)", "x-a,allow_other", refused(`${P}option allow_other only allowed if 'user_allow_other' is set in /etc/fuse.conf\n`), "x-a"),
    { name: ",ro (leading empty token)", args: mo(",ro"), diff: "leading-empty-token", ours: mounted(line(RO)), c: unknown("") },
    { name: ", (only a comma)", args: mo(","), diff: "leading-empty-token", ours: mounted(line()), c: unknown("") },
    { name: ",,ro (two leading empty tokens)", args: mo(",,ro"), diff: "leading-empty-token", ours: mounted(line(RO)), c: unknown("") },
  ]);

});
