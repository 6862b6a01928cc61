// The repository's own rules, checked: the README's layout table names every
// file (`git ls-files`), except under the directory rows allowed for generated
// data; every integration test file starts through the harness's
// integration(); commander stays out of the helper, the client and everything
// the package publishes.
import t from "tap";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "../lib/harness.ts";

// Directory rows the table may use instead of naming each file: generated data.
const GENERATED_DIRS = ["bench/proposals/"];

const git = spawnSync("git", ["-C", ROOT, "ls-files", "-z"], { encoding: "utf8" });
const tracked = git.status === 0 ? git.stdout.split("\0").filter((f) => f !== "") : undefined;

t.test("the README layout table lists every file", { skip: tracked ? false : "not a git checkout" }, async (t) => {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("\n## Layout\n"));
  t.ok(section.length > 20, "README has a Layout section");
  const body = section.slice(1).split(/\n## /)[0]!;
  const named: string[] = [];
  for (const row of body.split("\n").filter((l) => l.startsWith("| `"))) {
    const first = row.split("|")[1]!;
    for (const m of first.matchAll(/`([^`]+)`/g)) named.push(m[1]!);
  }
  const dirs = named.filter((p) => p.endsWith("/"));
  const files = named.filter((p) => !p.endsWith("/"));
  for (const d of dirs) t.ok(GENERATED_DIRS.includes(d), `directory row ${d} is one allowed for generated data`);
  t.same(files.filter((f, i) => files.indexOf(f) !== i), [], "no file is listed twice");
  t.same(files.filter((f) => !existsSync(join(ROOT, f))), [], "every file the table names exists");
  const missing = tracked!.filter((f) => !files.includes(f) && !dirs.some((d) => f.startsWith(d)));
  t.same(missing, [], "every file of the repository is in the table");
});

t.test("every integration test file starts through integration()", async (t) => {
  const dir = join(ROOT, "test", "integration");
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".test.ts"))) {
    const text = readFileSync(join(dir, f), "utf8");
    t.ok(/^(integration|differential)\(/m.test(text), `${f} calls integration() (or differential(), which does)`);
    t.notOk(/canIntegrate\(\)/.test(text), `${f} has no skip-or-run preamble of its own`);
  }
});

t.test("commander stays out of the helper, the client and the package", async (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    dependencies?: Record<string, string>; devDependencies?: Record<string, string>; files: string[];
  };
  t.notOk(pkg.dependencies?.commander, "not a runtime dependency");
  t.ok(pkg.devDependencies?.commander, "a development dependency");
  const shipped = pkg.files.flatMap((p) => (statSync(join(ROOT, p), { throwIfNoEntry: false })?.isDirectory()
    ? readdirSync(join(ROOT, p), { recursive: true, encoding: "utf8" }).map((f) => `${p}/${f}`) : [p])).filter((f) => f.endsWith(".ts"));
  t.ok(shipped.includes("src/client/index.ts") && shipped.includes("bin/fusermount3.ts"), "the published files are known");
  for (const f of shipped) t.notMatch(readFileSync(join(ROOT, f), "utf8"), /from\s+["']commander["']|require\(["']commander["']\)/, `${f} does not import commander`);
});
