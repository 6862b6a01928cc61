// Differential cases of what the helper gets besides argv: the comm fd
// (_FUSE_COMMFD), the device (FUSE_KERN_DEVICE, /dev/fuse without access or
// driver) and /etc/fuse.conf (user_allow_other, mount_max, line parsing,
// unreadable file). Method: test/lib/differential.ts.

import { differential, P } from "../lib/differential.ts";

differential("differential: comm fd, device and fuse.conf", (x) => {
  const {
    u, B, M, M2, DEV_NONE, DEV_NOPERM, line, mounted, refused, mo, mountWithC, withDevice, fuseCount, fam,
  } = x;

  // The comm fd (§3 steps 6–8).
  fam("comm fd", [
    { name: "no _FUSE_COMMFD", args: ["--", M], commFd: false },
    { name: "no _FUSE_COMMFD, options", args: mo("ro,bogus"), commFd: false },
    { name: "no _FUSE_COMMFD, nonexistent mountpoint", args: ["--", `${B}/missing`], commFd: false },
    { name: "no _FUSE_COMMFD, nonexistent parent (path first)", args: ["--", `${B}/missing/deeper`], commFd: false },
    { name: "no _FUSE_COMMFD, empty mountpoint", args: [""], commFd: false },
    { name: "_FUSE_COMMFD=03 (leading zero)", args: ["--", M], commFd: false, env: { _FUSE_COMMFD: "03" } },
    {
      name: "_FUSE_COMMFD=0 (not a socket)", args: ["--", M], commFd: false, env: { _FUSE_COMMFD: "0" }, diff: "comm-fd-validated-first",
      ours: refused(`${P}file descriptor 0 is not a socket, can't send fuse fd\n`),
      c: { code: 1, gotFd: false, stderr: "sending file descriptor: Socket operation on non-socket\n", mount: line() },
    },
    {
      name: "_FUSE_COMMFD=99 (closed)", args: ["--", M], commFd: false, env: { _FUSE_COMMFD: "99" }, diff: "comm-fd-validated-first",
      ours: refused(`${P}fstat of comm fd 99 failed: Bad file descriptor\n`),
      c: { code: 1, gotFd: false, stderr: "sending file descriptor: Bad file descriptor\n", mount: line() },
    },
  ]);

  // The device (§4, §10.1).
  fam("device", [
    { name: "FUSE_KERN_DEVICE outside /dev (ignored)", args: ["--", M], env: { FUSE_KERN_DEVICE: "/tmp/fuse" } },
    { name: "FUSE_KERN_DEVICE=/dev/fuse", args: ["--", M], env: { FUSE_KERN_DEVICE: "/dev/fuse" } },
    {
      name: "FUSE_KERN_DEVICE=/dev/null", args: ["--", M], env: { FUSE_KERN_DEVICE: "/dev/null" }, diff: "fuse-kern-device",
      ours: refused(`${P}invalid device from FUSE_KERN_DEVICE: /dev/null (not a FUSE device)\n`), c: { code: 0, gotFd: true, stderr: "", mount: line() },
    },
    { name: "/dev/fuse not accessible (EACCES)", args: ["--", M], around: withDevice(DEV_NOPERM) },
    {
      name: "/dev/fuse without a driver (ENODEV)", args: ["--", M], around: withDevice(DEV_NONE), diff: "device-not-found-text",
      ours: refused(`${P}fuse device /dev/fuse not found. Kernel module not loaded?\n`),
      c: { code: 1, gotFd: false, stderr: `${P}fuse device not found, try 'modprobe fuse' first\n` },
    },
  ]);

  // /etc/fuse.conf variants (§7).
  const AO = mo("allow_other");
  fam("fuse.conf", [
    { name: "empty", args: ["--", M], conf: "" },
    { name: "comments only", args: ["--", M], conf: "# a comment\n   # indented\n\n" },
    { name: "user_allow_other, surrounding blanks", args: AO, conf: "   user_allow_other  \t\n" },
    { name: "user_allow_other with a trailing comment", args: AO, conf: "user_allow_other # yes\n" },
    { name: "user_allow_other commented out", args: AO, conf: "#user_allow_other\n" },
    { name: "user_allow_other = 1 (unknown)", args: AO, conf: "user_allow_other = 1\n" },
    { name: "user_allow_other without a trailing newline", args: AO, conf: "user_allow_other" },
    { name: "CRLF line ending", args: AO, conf: "user_allow_other\r\n" },
    { name: "line too long, then user_allow_other", args: AO, conf: `# ${"x".repeat(300)}\nuser_allow_other\n` },
    { name: "long unknown line (254 chars)", args: ["--", M], conf: `${"y".repeat(254)}\n` },
    { name: "line of exactly 255 characters", args: ["--", M], conf: `${"z".repeat(255)}\n` },
    { name: "two long lines", args: ["--", M], conf: `${"a".repeat(600)}\n${"b".repeat(256)}\nbogus\n` },
    { name: "unknown parameters", args: ["--", M], conf: "foo\nbar baz\n\nmount_max\n" },
    { name: "mount_max = 0", args: ["--", M], conf: "mount_max = 0\n" },
    { name: "mount_max=0 (no blanks)", args: ["--", M], conf: "mount_max=0\n" },
    { name: "mount_max = 0x0 (hex)", args: ["--", M], conf: "mount_max = 0x0\n" },
    { name: "mount_max = 010 (octal)", args: ["--", M], conf: "mount_max = 010\n" },
    { name: "mount_max = 5abc (trailing garbage)", args: ["--", M], conf: "mount_max = 5abc\n" },
    { name: "mount_max = abc", args: ["--", M], conf: "mount_max = abc\n" },
    { name: "mount_max = -1 (unlimited)", args: ["--", M], conf: "mount_max = -1\n" },
    { name: "mount_max = 0 then 1000 (last wins)", args: ["--", M], conf: "mount_max = 0\nmount_max = 1000\n" },
    { name: "mount_max reached", args: ["--", M], conf: () => `mount_max = ${fuseCount()}\n` },
    { name: "mount_max not reached", args: ["--", M], conf: () => `mount_max = ${fuseCount() + 1}\n` },
    { name: "mount_max reached by an existing user mount", args: ["--", M2], at: M2, setup: mountWithC(u, M), conf: () => `mount_max = ${fuseCount() + 1}\n` },
    { name: "mount_max reached, fuse.conf missing newline", args: ["--", M], conf: "mount_max = 0" },
    { name: "unreadable fuse.conf (EACCES)", args: ["--", M], conf: "mount_max = 0\n", confMode: 0o600 },
    { name: "unreadable fuse.conf and allow_other", args: AO, conf: "user_allow_other\n", confMode: 0o600 },
    { name: "messages before a mountpoint error", args: ["--", `${B}/missing`], conf: "bogus\n" },
    { name: "NUL byte inside a line", args: AO, conf: "user_allow_other\0x\nmount_max = 0\nfoo\n" },
    { name: "mount_max = 99999999999 (long, truncated to a positive int)", args: ["--", M], conf: "mount_max = 99999999999\n" },
    { name: "mount_max beyond LONG_MAX (saturates, int -1: unlimited)", args: ["--", M], conf: "mount_max = 99999999999999999999\n" },
    { name: "mount_max beyond LONG_MIN (saturates, int 0)", args: ["--", M], conf: "mount_max = -99999999999999999999\n" },
    {
      name: "mount_max = -99999999999 (truncated to a negative int)", args: ["--", M], conf: "mount_max = -99999999999\n", diff: "mount-max-below-minus-one",
      ours: { ...mounted(line()), stderr: `${P}invalid mount_max = -1215752191 in /etc/fuse.conf at line 1\n` },
      c: refused(`${P}too many FUSE filesystems mounted; mount_max=N can be set in /etc/fuse.conf\n`),
    },
    { name: "mount_max = +0", args: ["--", M], conf: "mount_max = +0\n" },
    { name: "indented mount_max with a comment", args: ["--", M], conf: "   mount_max = 0   # none\n" },
    { name: "mount_max = 0, last line without newline", args: ["--", M], conf: "mount_max = 0\nuser_allow_other" },
    {
      name: "mount_max = -2", args: ["--", M], conf: "mount_max = -2\n", diff: "mount-max-below-minus-one",
      ours: { ...mounted(line()), stderr: `${P}invalid mount_max = -2 in /etc/fuse.conf at line 1\n` },
      c: refused(`${P}too many FUSE filesystems mounted; mount_max=N can be set in /etc/fuse.conf\n`),
    },
    {
      name: "mount_max = -5 after mount_max = 0", args: ["--", M], conf: "mount_max = 0\nmount_max = -5\n", diff: "mount-max-below-minus-one",
      ours: refused(`${P}invalid mount_max = -5 in /etc/fuse.conf at line 2\n${P}too many FUSE filesystems mounted; mount_max=N can be set in /etc/fuse.conf\n`),
      c: refused(`${P}too many FUSE filesystems mounted; mount_max=N can be set in /etc/fuse.conf\n`),
    },
  ]);

});
