// The modules under src/policy/ decide; they must not act. This test turns the
// convention into a fact: none of them may import the FFI layer (src/sys/),
// the actions (src/*.ts), a runtime module (bun:*) or a Node built-in.
import t from "tap";
import { readdirSync, readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "src", "policy");
const files = readdirSync(dir).filter((f) => f.endsWith(".ts"));

t.ok(files.length >= 8, `policy modules found: ${files.join(", ")}`);
for (const f of files) {
  const src = readFileSync(join(dir, f), "utf8");
  const specifiers = [...src.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/g), ...src.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g), ...src.matchAll(/require\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!);
  const bad = specifiers.filter((s) => !/^\.\/[a-z]+\.ts$/.test(s));
  t.same(bad, [], `${f} imports only other policy modules`);
  t.notMatch(src, /\bBun\.|\bprocess\.(?!arch)/, `${f} touches no runtime global`);
}
