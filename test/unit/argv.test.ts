// Unit tests for src/policy/argv.ts: glibc getopt_long("hVo:uzq") clone.
// Expected values come from /work/shared/spec/fusermount3.md §2.
import t from "tap";
import { parseArgv, checkOperands, usage } from "../../src/policy/argv.ts";

const ALL_LONG = "'--unmount' '--lazy' '--quiet' '--help' '--version' '--options' '--auto-unmount' '--comm-fd' '--sync-init'";

t.test("defaults", async (t) => {
  const p = parseArgv(["/mnt"]);
  t.equal(p.action, "run");
  t.equal(p.options, "", "default -o is the empty string (§2.1)");
  t.equal(p.unmount, false);
  t.equal(p.lazy, false);
  t.equal(p.quiet, false);
  t.equal(p.autoUnmount, false);
  t.equal(p.syncInit, false);
  t.equal(p.commFd, undefined);
  t.same(p.operands, ["/mnt"]);
  t.equal(checkOperands(p), undefined);
});

t.test("permutation: options may follow operands (§2.2)", async (t) => {
  const p = parseArgv(["/mnt", "-u"]);
  t.equal(p.action, "run");
  t.equal(p.unmount, true);
  t.same(p.operands, ["/mnt"]);
  t.equal(checkOperands(p), undefined);

  const q = parseArgv(["/mnt", "-o", "ro", "-q", "-u", "-z"]);
  t.equal(q.options, "ro");
  t.ok(q.unmount && q.quiet && q.lazy);
  t.same(q.operands, ["/mnt"]);

  const r = parseArgv(["a", "-u", "b"]);
  t.same(r.operands, ["a", "b"], "operand order preserved");
  t.equal(checkOperands(r), "extra arguments after the mountpoint");
});

t.test("POSIXLY_CORRECT stops at the first operand (§2.2)", async (t) => {
  const p = parseArgv(["/mnt", "-u"], true);
  t.equal(p.action, "run");
  t.equal(p.unmount, false, "-u after the operand is not an option");
  t.same(p.operands, ["/mnt", "-u"]);
  t.equal(checkOperands(p), "extra arguments after the mountpoint");

  const q = parseArgv(["-u", "/mnt"], true);
  t.equal(q.unmount, true, "options before the first operand still parse");
  t.same(q.operands, ["/mnt"]);
  t.equal(checkOperands(q), undefined);

  const r = parseArgv(["/mnt", "-x"], true);
  t.equal(r.action, "run", "no error for an invalid option after the first operand");
  t.same(r.operands, ["/mnt", "-x"]);
});

t.test("-- ends option parsing (§2.2)", async (t) => {
  const p = parseArgv(["--", "-u"]);
  t.equal(p.action, "run");
  t.equal(p.unmount, false);
  t.same(p.operands, ["-u"], "-- -u makes -u the mountpoint");
  t.equal(checkOperands(p), undefined);

  const q = parseArgv(["-u", "-q", "-z", "--", "/mnt"]);
  t.ok(q.unmount && q.quiet && q.lazy);
  t.same(q.operands, ["/mnt"]);

  const r = parseArgv(["-o", "ro", "--", "/mnt", "--", "-h"]);
  t.equal(r.action, "run", "-h after -- is not acted upon");
  t.same(r.operands, ["/mnt", "--", "-h"], "only the first -- is consumed");

  const s = parseArgv(["/mnt", "--", "-V"]);
  t.equal(s.action, "run");
  t.same(s.operands, ["/mnt", "-V"]);

  const e = parseArgv(["--"]);
  t.same(e.operands, []);
  t.equal(checkOperands(e), "missing mountpoint argument");
});

t.test("a lone - is an operand (§2.2)", async (t) => {
  const p = parseArgv(["-"]);
  t.equal(p.action, "run");
  t.same(p.operands, ["-"]);
  t.equal(checkOperands(p), undefined);

  const q = parseArgv(["-u", "-"]);
  t.equal(q.unmount, true);
  t.same(q.operands, ["-"]);
});

t.test("bundling (§2.2)", async (t) => {
  const p = parseArgv(["-uqz", "/mnt"]);
  t.equal(p.action, "run");
  t.ok(p.unmount, "u");
  t.ok(p.quiet, "q");
  t.ok(p.lazy, "z");
  t.same(p.operands, ["/mnt"]);

  const q = parseArgv(["-uoro", "/mnt"]);
  t.ok(q.unmount);
  t.equal(q.options, "ro", "-uoro = -u -o ro");
  t.same(q.operands, ["/mnt"]);

  const r = parseArgv(["-uo", "ro", "/mnt"]);
  t.ok(r.unmount);
  t.equal(r.options, "ro", "-uo ro: argument taken from the next word");
  t.same(r.operands, ["/mnt"]);

  const s = parseArgv(["-oro,nodev", "/mnt"]);
  t.equal(s.options, "ro,nodev", "-oVALUE");

  const u = parseArgv(["-ouqz", "/mnt"]);
  t.equal(u.options, "uqz", "rest of the bundle after o is the argument");
  t.notOk(u.unmount);
  t.notOk(u.quiet);
  t.notOk(u.lazy);
});

t.test("-o argument handling (§2.1, §2.2)", async (t) => {
  const p = parseArgv(["-o", "-u", "/mnt"]);
  t.equal(p.options, "-u", "-o -u takes -u as the argument");
  t.equal(p.unmount, false);
  t.same(p.operands, ["/mnt"]);

  const q = parseArgv(["-o", "ro", "-o", "rw", "/mnt"]);
  t.equal(q.options, "rw", "last -o wins, no concatenation");

  const q2 = parseArgv(["-o", "ro", "-o", "", "/mnt"]);
  t.equal(q2.options, "", "last -o wins even if empty");

  const r = parseArgv(["--options=x", "/mnt"]);
  t.equal(r.options, "x");

  const s = parseArgv(["--options", "x", "/mnt"]);
  t.equal(s.options, "x", "--name value");

  const s2 = parseArgv(["--options", "--", "/mnt"]);
  t.equal(s2.options, "--", "--options takes the next word even if it is --");
  t.same(s2.operands, ["/mnt"]);

  const u = parseArgv(["--options=", "/mnt"]);
  t.equal(u.options, "", "--options= gives the empty string");

  const v = parseArgv(["--options=a=b,c", "/mnt"]);
  t.equal(v.options, "a=b,c", "only the first = separates");

  const w = parseArgv(["-o", "ro", "--options=rw", "-oexec", "/mnt"]);
  t.equal(w.options, "exec", "last wins across short and long forms");
});

t.test("long option abbreviations (§2.2)", async (t) => {
  const u = parseArgv(["--u", "/mnt"]);
  t.equal(u.action, "run");
  t.equal(u.unmount, true, "--u");
  t.equal(u.autoUnmount, false, "--u is unmount, not auto-unmount");

  t.equal(parseArgv(["--unm", "/mnt"]).unmount, true, "--unm");
  t.equal(parseArgv(["--unmount", "/mnt"]).unmount, true, "--unmount");
  t.equal(parseArgv(["--vers"]).action, "version", "--vers");
  t.equal(parseArgv(["--v"]).action, "version", "--v");
  t.equal(parseArgv(["--version"]).action, "version");
  t.equal(parseArgv(["--he"]).action, "help", "--he");
  t.equal(parseArgv(["--help"]).action, "help");
  t.equal(parseArgv(["--l", "-u", "/mnt"]).lazy, true, "--l");
  t.equal(parseArgv(["--lazy", "-u", "/mnt"]).lazy, true);
  t.equal(parseArgv(["--q", "/mnt"]).quiet, true, "--q");
  t.equal(parseArgv(["--quiet", "/mnt"]).quiet, true);

  const a = parseArgv(["--auto", "/mnt"]);
  t.equal(a.action, "run");
  t.equal(a.autoUnmount, true, "--auto");
  t.equal(a.unmount, true, "--auto-unmount sets unmount (§2.1)");
  const a2 = parseArgv(["--auto-unmount", "/mnt"]);
  t.equal(a2.autoUnmount, true);
  t.equal(a2.unmount, true);

  const s = parseArgv(["--sync", "/mnt"]);
  t.equal(s.syncInit, true, "--sync");
  t.equal(parseArgv(["--sync-init", "/mnt"]).syncInit, true);

  const c = parseArgv(["--comm=3", "/mnt"]);
  t.equal(c.action, "run");
  t.equal(c.commFd, "3", "--comm=3");
  t.equal(parseArgv(["--comm-fd", "7", "/mnt"]).commFd, "7", "--comm-fd N");
  t.equal(parseArgv(["--c", "9", "/mnt"]).commFd, "9", "--c N");

  t.equal(parseArgv(["--opt=x", "/mnt"]).options, "x", "--opt=x");
  t.equal(parseArgv(["--o", "y", "/mnt"]).options, "y", "--o y");
});

t.test("--=x is ambiguous and lists the 9 long options (§2.2)", async (t) => {
  const p = parseArgv(["--=x", "/mnt"]);
  t.equal(p.action, "error");
  t.equal(p.error, `option '--=x' is ambiguous; possibilities: ${ALL_LONG}`);
});

t.test("getopt error texts (§2.2)", async (t) => {
  const cases: Array<[string[], string]> = [
    [["-x"], "invalid option -- 'x'"],
    [["-ux", "/mnt"], "invalid option -- 'x'"],
    [["-U", "/mnt"], "invalid option -- 'U'"],
    [["-c", "/mnt"], "invalid option -- 'c'"],
    [["-S", "/mnt"], "invalid option -- 'S'"],
    [["--bogus"], "unrecognized option '--bogus'"],
    [["--bogus=1"], "unrecognized option '--bogus=1'"],
    [["/mnt", "--unmountx"], "unrecognized option '--unmountx'"],
    [["--helpme"], "unrecognized option '--helpme'"],
    [["-o"], "option requires an argument -- 'o'"],
    [["/mnt", "-o"], "option requires an argument -- 'o'"],
    [["-uo"], "option requires an argument -- 'o'"],
    [["--comm-fd"], "option '--comm-fd' requires an argument"],
    [["/mnt", "--comm"], "option '--comm-fd' requires an argument"],
    [["--options"], "option '--options' requires an argument"],
    [["--opt"], "option '--options' requires an argument"],
    [["--unmount=1"], "option '--unmount' doesn't allow an argument"],
    [["--unm=x"], "option '--unmount' doesn't allow an argument"],
    [["--u="], "option '--unmount' doesn't allow an argument"],
    [["--version=3"], "option '--version' doesn't allow an argument"],
    [["--vers=3"], "option '--version' doesn't allow an argument"],
    [["--help=1"], "option '--help' doesn't allow an argument"],
    [["--lazy=1"], "option '--lazy' doesn't allow an argument"],
    [["--quiet=1"], "option '--quiet' doesn't allow an argument"],
    [["--auto=1"], "option '--auto-unmount' doesn't allow an argument"],
    [["--sync=1"], "option '--sync-init' doesn't allow an argument"],
  ];
  for (const [args, msg] of cases) {
    const p = parseArgv(args);
    t.equal(p.action, "error", `${JSON.stringify(args)} is an error`);
    t.equal(p.error, msg, `${JSON.stringify(args)} message`);
  }
});

t.test("first action wins, left to right (§2.2)", async (t) => {
  t.equal(parseArgv(["-V", "-h"]).action, "version", "-V -h → version");
  t.equal(parseArgv(["-h", "-V"]).action, "help", "-h -V → usage");
  const xh = parseArgv(["-x", "-h"]);
  t.equal(xh.action, "error", "-x -h → error");
  t.equal(xh.error, "invalid option -- 'x'");
  t.equal(parseArgv(["-h", "-x"]).action, "help", "-h -x → usage");
  t.equal(parseArgv(["-Vx"]).action, "version", "-Vx → version");
  const xV = parseArgv(["-xV"]);
  t.equal(xV.action, "error", "-xV → error");
  t.equal(xV.error, "invalid option -- 'x'");
  t.equal(parseArgv(["-hV"]).action, "help", "-hV → usage");
  t.equal(parseArgv(["-Vh"]).action, "version", "-Vh → version");
  t.equal(parseArgv(["--version", "--bogus"]).action, "version");
  t.equal(parseArgv(["--bogus", "--version"]).action, "error");
  t.equal(parseArgv(["/mnt", "-V", "-x"]).action, "version", "permuted -V still acts when reached");
  t.equal(parseArgv(["-o", "-h", "/mnt"]).action, "run", "-o -h: -h is the option argument");
  t.equal(parseArgv(["-V", "-o"]).action, "version", "missing -o argument after -V not reached");
  t.equal(parseArgv(["-o"]).action, "error");
  t.equal(parseArgv(["-h", "--comm-fd"]).action, "help");
  // Actions ignore the operand rules
  t.equal(parseArgv(["-V"]).action, "version", "-V without operand");
  t.equal(parseArgv(["-h", "a", "b"]).action, "help");
  t.equal(parseArgv(["-z", "-V"]).action, "version", "-z without -u does not matter for -V");
});

t.test("operand rules in order (§2.4)", async (t) => {
  t.equal(checkOperands(parseArgv(["-z", "/mnt"])), "-z can only be used with -u");
  t.equal(checkOperands(parseArgv(["-z"])), "-z can only be used with -u", "lazy check comes before missing mountpoint");
  t.equal(checkOperands(parseArgv(["-z", "a", "b"])), "-z can only be used with -u", "lazy check comes before extra arguments");
  t.equal(checkOperands(parseArgv(["-z", "-u", "/mnt"])), undefined);
  t.equal(checkOperands(parseArgv(["--lazy", "--unmount", "/mnt"])), undefined);
  t.equal(checkOperands(parseArgv(["-z", "--auto-unmount", "/mnt"])), undefined, "--auto-unmount counts as unmount");
  t.equal(checkOperands(parseArgv(["--auto", "-z", "/mnt"])), undefined);
  t.equal(checkOperands(parseArgv([])), "missing mountpoint argument");
  t.equal(checkOperands(parseArgv(["-u"])), "missing mountpoint argument");
  t.equal(checkOperands(parseArgv(["-o", "ro"])), "missing mountpoint argument");
  t.equal(checkOperands(parseArgv(["a", "b"])), "extra arguments after the mountpoint");
  t.equal(checkOperands(parseArgv(["-u", "--", "a", "b"])), "extra arguments after the mountpoint");
  t.equal(checkOperands(parseArgv(["/mnt"])), undefined);
});

t.test("an empty argument is an operand", async (t) => {
  const p = parseArgv([""]);
  t.equal(p.action, "run");
  t.same(p.operands, [""]);
  t.equal(checkOperands(p), undefined, "the empty mountpoint is rejected later (§6), not here");
});

t.test("exact usage text (§2.3)", async (t) => {
  const expected =
    "fusermount3: [options] mountpoint\n" +
    "Options:\n" +
    " -h\t\t    print help\n" +
    " -V\t\t    print version\n" +
    " -o opt[,opt...]    mount options\n" +
    " -u\t\t    unmount\n" +
    " -q\t\t    quiet\n" +
    " -z\t\t    lazy unmount\n";
  t.equal(usage("fusermount3"), expected);
  t.ok(usage("/usr/bin/fusermount").startsWith("/usr/bin/fusermount: [options] mountpoint\n"), "progname verbatim");
  t.ok(usage("").startsWith(": [options] mountpoint\n"), "empty progname");
  for (const hidden of ["sync-init", "auto-unmount", "comm-fd"]) {
    t.notOk(usage("x").includes(hidden), `${hidden} not in the usage text`);
  }
});

t.test("hostile inputs do not throw", async (t) => {
  const big = "a".repeat(1 << 20);
  const p = parseArgv(["-o", big, "/mnt"]);
  t.equal(p.options.length, 1 << 20, "1 MiB -o argument kept");
  t.equal(parseArgv([`-o${big}`, "/mnt"]).options.length, 1 << 20);
  t.equal(parseArgv([`--options=${big}`]).options.length, 1 << 20);
  const longName = parseArgv(["--" + "z".repeat(100000)]);
  t.equal(longName.action, "error");
  t.equal(longName.error, `unrecognized option '--${"z".repeat(100000)}'`);
  const manyOps = Array.from({ length: 10000 }, (_, i) => `/m${i}`);
  t.equal(parseArgv(manyOps).operands.length, 10000);
  const uni = parseArgv(["-o", "fsname=Ünïcødé✓,subtype=日本", "/mnt/ä ö"]);
  t.equal(uni.options, "fsname=Ünïcødé✓,subtype=日本");
  t.same(uni.operands, ["/mnt/ä ö"]);
  const bad = parseArgv(["-é"]);
  t.equal(bad.action, "error", "non-ASCII short option is invalid");
  t.match(bad.error ?? "", /^invalid option -- /);
  const flags = parseArgv(["-" + "u".repeat(100000), "/mnt"]);
  t.equal(flags.unmount, true);
  t.doesNotThrow(() => parseArgv(["\0", "-\0", "--\0", "-o\0"]));
  t.doesNotThrow(() => parseArgv(["--\uD800"]));
});

t.test("--check and --json are ours, exact spelling only", async (t) => {
  const p = parseArgv(["--check", "--json"]);
  t.equal(p.check, true);
  t.equal(p.json, true);
  t.equal(parseArgv(["--c=3", "/m"]).commFd, "3", "--c still abbreviates --comm-fd");
  t.equal(parseArgv(["--che"]).error, "unrecognized option '--che'");
  t.equal(parseArgv(["--j"]).error, "unrecognized option '--j'");
  t.equal(parseArgv(["--=x"]).error,
    "option '--=x' is ambiguous; possibilities: '--unmount' '--lazy' '--quiet' '--help' '--version' '--options' '--auto-unmount' '--comm-fd' '--sync-init'");
});
