// The AppArmor side of the tests: Ubuntu's fusermount3 profile (a fixture),
// our local rules, and apparmor_parser to compile them without a kernel that
// has AppArmor. See test/fixtures/apparmor/README.md.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const UBUNTU_PROFILE = join(ROOT, "test/fixtures/apparmor/fusermount3");
export const LOCAL_RULES = join(ROOT, "packaging/apparmor/local-fusermount3");
export const SYSTEM_APPARMOR_D = "/etc/apparmor.d";

export function findParser(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(":").concat(["/usr/sbin", "/sbin"])) {
    if (dir !== "" && existsSync(join(dir, "apparmor_parser"))) return join(dir, "apparmor_parser");
  }
  return undefined;
}

export function parserVersion(parser: string): string {
  const r = spawnSync(parser, ["--version"], { encoding: "utf8" });
  return /version (\S+)/.exec(r.stdout ?? "")?.[1] ?? "unknown";
}

// Ubuntu's profile as this parser can read it. It declares abi 5.0 and uses
// @{exec_path}, which parsers from AppArmor 4 on define for each profile. With
// an older parser (no abi/5.0 among its ABIs) exactly two lines change, each
// asserted to be there: the ABI becomes the newest one the parser has, and
// @{exec_path} is defined as the profile's attachment.
export function profileForParser(text: string, apparmorD = SYSTEM_APPARMOR_D): { text: string; edits: string[] } {
  const abis = existsSync(join(apparmorD, "abi")) ? readdirSync(join(apparmorD, "abi")).filter((n) => /^[0-9]+\.[0-9]+$/.test(n)) : [];
  if (abis.includes("5.0")) return { text, edits: [] };
  const newest = abis.sort((a, b) => Number(a) - Number(b)).pop();
  if (newest === undefined) throw new Error(`no ABI files in ${apparmorD}/abi`);
  const abiLine = "abi <abi/5.0>,\n";
  const profileLine = "profile fusermount3 /usr/bin/fusermount3 {\n";
  if (!text.includes(abiLine) || !text.includes(profileLine) || !text.includes("@{exec_path} mr,")) {
    throw new Error("the fixture no longer has the lines the compatibility edits expect");
  }
  return {
    text: text.replace(abiLine, `abi <abi/${newest}>,\n`)
      .replace(profileLine, `@{exec_path} = /usr/bin/fusermount3\n${profileLine}`),
    edits: [`abi <abi/5.0> -> abi <abi/${newest}>`, "@{exec_path} = /usr/bin/fusermount3 (defined before the profile)"],
  };
}

export const ubuntuProfile = (): string => readFileSync(UBUNTU_PROFILE, "utf8");
export const localRules = (): string => readFileSync(LOCAL_RULES, "utf8");

export type Compiled = { code: number | null; output: string };

// Compile a profile without loading it. Include directories are searched in
// order, then the system's /etc/apparmor.d (tunables, abstractions, ABIs).
export function compile(parser: string, profile: string, includeDirs: string[], extra: string[] = []): Compiled {
  const args = ["--skip-kernel-load", "--skip-cache", ...includeDirs.flatMap((d) => ["-I", d]), ...extra, profile];
  const r = spawnSync(parser, args, { encoding: "utf8" });
  // Without an AppArmor kernel the parser notes that it has no cache interface.
  const output = `${r.stdout ?? ""}${r.stderr ?? ""}`.split("\n")
    .filter((l) => l !== "" && !l.startsWith("Cache read/write disabled")).join("\n");
  return { code: r.status, output };
}
