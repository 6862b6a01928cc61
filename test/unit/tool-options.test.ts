// The command lines of the example server and the fuzz and benchmark tools
// (commander): --help prints the usage and exits 0, a usage error exits 2
// with one line naming it, and the flags test/run.sh, the fuzz corpus test,
// scripts/bench.sh and the README pass are all known.
import t from "tap";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../lib/harness.ts";

const BUN = join(ROOT, "node_modules", ".bin", "bun");
const run = (script: string, args: string[]) => {
  const r = spawnSync(BUN, [script, ...args], { cwd: ROOT, encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, timeout: 30000 });
  return { code: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
};

const tools: Array<{ script: string; name: string; flags: string[] }> = [
  { script: "examples/hello/main.ts", name: "hello", flags: ["--helper <path>", "--classic", "--auto-unmount"] },
  {
    script: "test/fuzz/run.ts", name: "fuzz",
    flags: ["--seed <N>", "--cases <M>", "--start <I>", "--workers <W>", "--only <I>", "--case <JSON>", "--json", "--report <FILE>",
      "--show <K>", "--ours <PATH>", "--c <PATH>", "--user <NAME>", "--other <NAME>"],
  },
  {
    script: "scripts/bench/run.ts", name: "bench",
    flags: ["--prefix <DIR>", "--user <NAME>", "--out <DIR>", "--variant <NAME>", "--quick", "-n <N>", "--rss-runs <N>", "--dir <SCRATCH>",
      "--phases <LIST>", "--extra-v <NAME=PATH>", "--from-json <FILE>"],
  },
];

for (const tool of tools) {
  t.test(`${tool.script}: --help, and usage errors exit 2`, async (t) => {
    const help = run(tool.script, ["--help"]);
    t.equal(help.code, 0, help.stderr);
    t.match(help.stdout, new RegExp(`^Usage: ${tool.name} \\[options\\]`));
    for (const f of [...tool.flags, "-h, --help"]) t.ok(help.stdout.includes(`  ${f} `), `--help lists ${f}`);
    const bad = run(tool.script, ["--no-such-option"]);
    t.equal(bad.code, 2, "an unknown option exits 2");
    t.match(bad.stderr, /^error: unknown option '--no-such-option'\n/);
    t.equal(bad.stdout, "");
  });
}

t.test("hello: the mountpoint is required, and only one", async (t) => {
  t.match(run("examples/hello/main.ts", []), { code: 2, stderr: /^error: missing required argument 'mountpoint'/ });
  t.match(run("examples/hello/main.ts", ["/a", "/b"]), { code: 2, stderr: /^error: too many arguments/ });
});

t.test("fuzz and bench: counts must be non-negative integers", async (t) => {
  t.match(run("test/fuzz/run.ts", ["--seed", "x"]), { code: 2, stderr: /argument 'x' is invalid\. It must be a non-negative integer\./ });
  t.match(run("test/fuzz/run.ts", ["--cases=-1"]), { code: 2, stderr: /argument '-1' is invalid/ });
  t.match(run("scripts/bench/run.ts", ["-n", "1.5"]), { code: 2, stderr: /argument '1\.5' is invalid/ });
});
