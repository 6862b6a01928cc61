// Differential cases of the command line: getopt_long's behaviour (options,
// bundling, permutation, `--`, abbreviations, argument errors, which of -h/-V/an
// error wins) and operand rules, then the deliberate differences (version
// string, master's long options). Method: test/lib/differential.ts.

import { differential, P, type Case, type Expect } from "../lib/differential.ts";

differential("differential: the command line", (x) => {
  const { u, B, M, M2, UG, line, mounted, refused, mountWithC, fam } = x;

  // getopt behaviour (§2.1–2.4). A valid mountpoint is always present, so a
  // parser that wrongly goes on would mount.
  fam("getopt", [
    { name: "-h", args: ["-h"] },
    { name: "--help", args: ["--help"] },
    { name: "--he (prefix)", args: ["--he", M] },
    { name: "-h with mountpoint", args: ["-h", M] },
    { name: "-h -V (usage wins)", args: ["-h", "-V"] },
    { name: "-h -x (usage wins)", args: ["-h", "-x"] },
    { name: "-hu", args: ["-hu", M] },
    { name: "-uh", args: ["-uh", M] },
    { name: "-h a b (usage before operand rules)", args: ["-h", "a", "b"] },
    { name: "-x -h (error wins)", args: ["-x", "-h"] },
    { name: "-xV (error wins)", args: ["-xV"] },
    { name: "--bogus -V", args: ["--bogus", "-V"] },
    { name: "--help=1", args: ["--help=1"] },
    { name: "-x", args: ["-x", M] },
    { name: "-U (no short option)", args: ["-U", M] },
    { name: "-c (no short option)", args: ["-c", M] },
    { name: "-S (no short option)", args: ["-S", M] },
    { name: "--bogus", args: ["--bogus", M] },
    { name: "--bogus=1", args: ["--bogus=1", M] },
    { name: "--- (empty long name with dash)", args: ["---", M] },
    { name: "--unmount=1", args: ["--unmount=1", M] },
    { name: "--unm=x", args: ["--unm=x", M] },
    { name: "--lazy=1", args: ["--lazy=1", M] },
    { name: "--quiet=", args: ["--quiet=", M] },
    { name: "-o missing argument", args: ["-o"] },
    { name: "-o missing argument after mountpoint", args: [M, "-o"] },
    { name: "-o takes -u as its argument", args: ["-o", "-u", M] },
    { name: "-o takes -- as its argument", args: ["-o", "--", M] },
    { name: "-o -h: missing mountpoint", args: ["-o", "-h"] },
    { name: "-ou (bundled argument u)", args: ["-ou", M] },
    { name: "-oro (bundled argument)", args: ["-oro", M] },
    { name: "-o ro -o rw (last wins)", args: ["-o", "ro", "-o", "rw", M] },
    { name: "-o bogus -o ro (last wins)", args: ["-o", "bogus", "-o", "ro", M] },
    { name: "-o ro -o bogus (last wins)", args: ["-o", "ro", "-o", "bogus", M] },
    { name: "-q on a mount", args: ["-q", M] },
    { name: "-uoro (bundle: -u -o ro)", args: ["-uoro", M] },
    { name: "-uo ro (argument in next word)", args: ["-uo", "ro", M] },
    { name: "-uqz, not mounted", args: ["-uqz", M] },
    { name: "-uqz, mounted", args: ["-uqz", M], setup: mountWithC(u, M) },
    { name: "-uu (repeated)", args: ["-uu", M], setup: mountWithC(u, M) },
    { name: "permutation: mnt -u", args: [M, "-u"], setup: mountWithC(u, M) },
    { name: "permutation: mnt -o ro", args: [M, "-o", "ro"] },
    { name: "--u (prefix of --unmount)", args: ["--u", M], setup: mountWithC(u, M) },
    { name: "--q --l --u (prefixes)", args: ["--q", "--l", "--u", M], setup: mountWithC(u, M) },
    { name: "--unmount --quiet --lazy -- mnt (libfuse 3.17 form)", args: ["--unmount", "--quiet", "--lazy", "--", M], setup: mountWithC(u, M) },
    { name: "-u -q -z -- mnt (libfuse 3.14 form)", args: ["-u", "-q", "-z", "--", M], setup: mountWithC(u, M) },
    { name: "-- mnt", args: ["--", M] },
    { name: "mnt --", args: [M, "--"] },
    { name: "-- -u (operand)", args: ["--", "-u"] },
    { name: "-- -- (operand)", args: ["--", "--"] },
    { name: "-- alone", args: ["--"] },
    { name: "- as operand", args: ["-"] },
    { name: "-u -", args: ["-u", "-"] },
    { name: "empty operand", args: [""] },
    { name: "-u empty operand", args: ["-u", ""] },
    { name: "no arguments", args: [] },
    { name: "-u alone", args: ["-u"] },
    { name: "-u -z alone", args: ["-u", "-z"] },
    { name: "-q alone", args: ["-q"] },
    { name: "extra operand", args: [M, M2] },
    { name: "extra operand after --", args: ["--", M, M2] },
    { name: "-u with extra operand", args: ["-u", M, M2] },
    { name: "-z without -u", args: ["-z", M] },
    { name: "-z alone (rule 1 before rule 2)", args: ["-z"] },
    { name: "-z with two operands (rule 1 first)", args: ["-z", M, M2] },
    { name: "--lazy without -u", args: ["--lazy", M] },
    { name: "-z -h", args: ["-z", "-h"] },
    { name: "--h (prefix of --help)", args: ["--h", M] },
    { name: "--help --bogus (usage wins)", args: ["--help", "--bogus"] },
    { name: "-o ro -h (usage after an option)", args: ["-o", "ro", "-h", M] },
    { name: "-- -h (operand)", args: ["--", "-h"] },
    { name: "-o=ro (= is part of the value)", args: ["-o=ro", M] },
    { name: "-o ro -o '' (last wins, empty)", args: ["-o", "ro", "-o", "", M] },
    {
      name: "POSIXLY_CORRECT: mnt -u", args: [M, "-u"], env: { POSIXLY_CORRECT: "1" }, setup: mountWithC(u, M),
      diff: "posixly-correct-ignored",
      ours: { code: 0, stderr: "", gotFd: false, mounts: [] },
      c: { code: 1, stderr: P + "extra arguments after the mountpoint\n" },
    },
  ]);

  // Deliberate getopt differences: version string, master's long options.
  const VERSION_OURS: Partial<Case> = {
    diff: "version-string",
    ours: { code: 0, stdout: "fusermount3 version: 3.19.0\n", stderr: "", gotFd: false, mounts: [] },
    c: { code: 0, stdout: "fusermount3 version: 3.14.0\n", stderr: "" },
  };
  // Service mode: the fd named by --comm-fd is not sent to the service.
  const NOT_PASSED = refused(`${P}fstat of comm fd 3 failed: Bad file descriptor\n`);
  const unrecognized = (opt: string): Partial<Expect> => ({ code: 1, stderr: `${P}unrecognized option '${opt}'\n`, gotFd: false });
  fam("getopt (deliberate differences)", [
    { name: "-V", args: ["-V"], ...VERSION_OURS },
    { name: "--version", args: ["--version"], ...VERSION_OURS },
    { name: "--vers (prefix)", args: ["--vers"], ...VERSION_OURS },
    { name: "-V -h (version wins)", args: ["-V", "-h"], ...VERSION_OURS },
    { name: "-Vx (version wins)", args: ["-Vx"], ...VERSION_OURS },
    { name: "-V --bogus", args: ["-V", "--bogus"], ...VERSION_OURS },
    { name: "-V a b (no operand rules)", args: ["-V", "a", "b"], ...VERSION_OURS },
    { name: "-uV", args: ["-uV", M], ...VERSION_OURS },
    { name: "--version=3 (same refusal in both)", args: ["--version=3"] },
    { name: "--vers=3", args: ["--vers=3"] },
    {
      name: "--=x (ambiguous)", args: ["--=x", M], diff: "ambiguous-long-option",
      ours: refused(`${P}option '--=x' is ambiguous; possibilities: '--unmount' '--lazy' '--quiet' '--help' '--version' '--options' '--auto-unmount' '--comm-fd' '--sync-init'\n`),
      c: { code: 1, stderr: `${P}option '--=x' is ambiguous; possibilities: '--unmount' '--lazy' '--quiet' '--help' '--version'\n` },
    },
    {
      name: "--options=ro", args: ["--options=ro", "--", M], diff: "long-options",
      ours: mounted(line({ mopts: "ro,nosuid,nodev,relatime", sopts: `ro,${UG}` })), c: unrecognized("--options=ro"),
    },
    {
      name: "--opt ro (prefix, separate argument)", args: ["--opt", "ro", M], diff: "long-options",
      ours: mounted(line({ mopts: "ro,nosuid,nodev,relatime", sopts: `ro,${UG}` })), c: unrecognized("--opt"),
    },
    {
      name: "--options at the end", args: [M, "--options"], diff: "long-options",
      ours: refused(`${P}option '--options' requires an argument\n`), c: unrecognized("--options"),
    },
    {
      name: "--comm-fd 3 without _FUSE_COMMFD", args: ["--comm-fd", "3", "--", M], commFd: false, diff: "long-options",
      ours: mounted(line()), c: unrecognized("--comm-fd"),
      service: { diff: "comm-fd-option-not-passed", ours: NOT_PASSED },
    },
    {
      name: "--comm=3 (prefix) without _FUSE_COMMFD", args: ["--comm=3", M], commFd: false, diff: "long-options",
      ours: mounted(line()), c: unrecognized("--comm=3"),
      service: { diff: "comm-fd-option-not-passed", ours: NOT_PASSED },
    },
    {
      name: "--comm-fd 3 overrides a closed _FUSE_COMMFD=99", args: ["--comm-fd=3", "--", M], commFd: false, env: { _FUSE_COMMFD: "99" }, diff: "long-options",
      ours: mounted(line()), c: unrecognized("--comm-fd=3"),
      service: { diff: "comm-fd-option-not-passed", ours: NOT_PASSED },
    },
    {
      name: "--comm-fd at the end", args: [M, "--comm-fd"], diff: "long-options",
      ours: refused(`${P}option '--comm-fd' requires an argument\n`), c: unrecognized("--comm-fd"),
    },
    {
      name: "--comm-fd=abc", args: ["--comm-fd=abc", M], diff: "long-options",
      ours: refused(`${P}invalid _FUSE_COMMFD: abc\n`), c: unrecognized("--comm-fd=abc"),
    },
    {
      name: "--auto-unmount without a comm fd", args: ["--auto-unmount", "--", M], commFd: false, diff: "long-options",
      ours: refused(`${P}old style mounting not supported\n`), c: unrecognized("--auto-unmount"),
    },
    {
      name: "--auto -z (prefix; -z allowed with --auto-unmount) without a comm fd", args: ["--auto", "-z", M], commFd: false, diff: "long-options",
      ours: refused(`${P}old style mounting not supported\n`), c: unrecognized("--auto"),
    },
    // (A full --sync-init run needs a client that speaks the protocol; these
    // fail before anything is sent.)
    {
      name: "--sync-init with an unknown option", args: ["--sync-init", "-o", "bogus", "--", M], diff: "long-options",
      ours: refused(`${P}unknown option 'bogus'\n`), c: unrecognized("--sync-init"),
    },
    {
      name: "--sync (prefix) with a nonexistent mountpoint", args: ["--sync", "--", `${B}/missing`], diff: "long-options",
      ours: refused(`${P}failed to access mountpoint ${B}/missing: No such file or directory\n`), c: unrecognized("--sync"),
    },
    {
      name: "--sync-init without a comm fd", args: ["--sync-init", "--", M], commFd: false, diff: "long-options",
      ours: refused(`${P}old style mounting not supported\n`), c: unrecognized("--sync-init"),
    },
  ]);

});
