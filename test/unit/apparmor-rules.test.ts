// packaging/apparmor/local-fusermount3 compiles inside Ubuntu's fusermount3
// profile (test/fixtures/apparmor/fusermount3), included the way the profile
// includes it (local/fusermount3), with the system's apparmor_parser and its
// tunables and abstractions, without a kernel that has AppArmor. Negative
// controls show that a broken rule in that file fails the compile, so the
// include really is the file under test.
import t from "tap";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { findParser, parserVersion, profileForParser, ubuntuProfile, localRules, compile, SYSTEM_APPARMOR_D } from "../lib/apparmor.ts";

const parser = findParser();
if (!parser) {
  t.test("AppArmor rules compile in Ubuntu's profile", { skip: "apparmor_parser is not installed (Debian package apparmor)" }, () => {});
} else {
  const dir = mkdtempSync(join(tmpdir(), "fm-apparmor-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, "local"));
  const profile = join(dir, "fusermount3");
  const local = join(dir, "local", "fusermount3");
  const { text, edits } = profileForParser(ubuntuProfile());
  writeFileSync(profile, text);
  t.comment(`apparmor_parser ${parserVersion(parser)}; edits to the fixture for this parser: ${edits.length ? edits.join("; ") : "none"}`);

  const build = (rules: string | undefined, extra: string[] = []) => {
    rmSync(local, { force: true });
    if (rules !== undefined) writeFileSync(local, rules);
    return compile(parser, profile, [dir, SYSTEM_APPARMOR_D], extra);
  };

  t.test("the profile alone compiles", async (t) => {
    const r = build(undefined);
    t.equal(r.code, 0, r.output);
  });

  t.test("the profile with our local rules compiles", async (t) => {
    const r = build(localRules());
    t.equal(r.code, 0, r.output);
  });

  t.test("the include picks up our file, not another local/fusermount3", async (t) => {
    const r = build(localRules(), ["--preprocess"]);
    t.equal(r.code, 0, "preprocessed");
    t.match(r.output, /^# Managed by fusermount3-ts/m);
    t.match(r.output, /^\/usr\/lib\/fusermount3\/fusermount3-bun mrix,$/m);
    t.match(r.output, /^mount options=\(move\) -> \/tmp\/\*\*\/,$/m);
  });

  t.test("a broken rule in our file fails the compile", async (t) => {
    const broken: Array<[string, RegExp]> = [
      ["capability notacap,", /Invalid capability notacap/],
      ["/usr/lib/fusermount3/fusermount3-bun Px,", /conflicting x modifiers/],
      ["mount options=(nosuchflag) -> /tmp/**/,", /unsupported mount options|nosuchflag/],
      ["/tmp/x rw", /syntax error/],
    ];
    for (const [rule, why] of broken) {
      const r = build(`${localRules()}${rule}\n`);
      t.not(r.code, 0, `rejected: ${rule}`);
      t.match(r.output, why, rule);
    }
  });
}
