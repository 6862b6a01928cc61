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

// The entry point's names for the service modes must be the modules' own.
t.test("the service mode arguments the entry point checks are the modules'", async (t) => {
  const bin = readFileSync(join(dir, "..", "..", "bin", "fusermount3.ts"), "utf8");
  const svc = readFileSync(join(dir, "..", "service.ts"), "utf8");
  const req = readFileSync(join(dir, "..", "servicerequest.ts"), "utf8");
  const arg = (src: string, name: string) => new RegExp(`${name} = "([^"]+)"`).exec(src)?.[1];
  t.equal(arg(bin, "SERVICE_ARG"), arg(svc, "SERVICE_ARG"));
  t.equal(arg(bin, "SERVICE_REQUEST_ARG"), arg(req, "SERVICE_REQUEST_ARG"));
});
