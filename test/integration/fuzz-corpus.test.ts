// The fixed-seed differential fuzz corpus: 2,000 generated cases (test/fuzz/gen.ts,
// seed below) run through the reference C helper and ours as the test user by
// the fuzzer (test/fuzz/run.ts, compiled into $FM_TEST_PREFIX/tools/fuzz by
// test/run.sh). Every divergence must be a documented deliberate difference
// (test/integration/differences.ts) that the case's inputs contain, with the
// outcome that difference allows; our helper must never crash or hang.
// Reproduce one case: npm run fuzz -- --seed 20261124 --only <index>.

import t from "tap";
import { spawnSync } from "node:child_process";
import { integration, PREFIX } from "../lib/harness.ts";
import { DIFFERENCES } from "./differences.ts";

const SEED = 20261124;
const CASES = 2000;
const FUZZ = `${PREFIX}/tools/fuzz`;

type Finding = {
  kind: string; index: number; why: string; args?: string[]; conf?: string; utab?: boolean;
  c?: { code: number | null; stderr: string }; ours?: { code: number | null; signal: string | null; stderr: string };
};
// Long runs of a repeated unit shown as «unit×count», for reading.
const abbr = (s: string): string => s.replace(/((.{1,24}?)\2{7,})/gsu, (all, _r: string, unit: string) => `«${unit}×${all.length / unit.length}»`);
type Summary = {
  cases: number; agree: number; explained: number; byId: Record<string, number>; unexplained: number;
  crashes: number; errors: number; fdC: number; fdOurs: number; seconds: number; rate: number; findings: Finding[];
};

integration("fuzz corpus", () => {
  t.test(`fuzz corpus: seed ${SEED}, ${CASES} cases`, async (t) => {
    const r = spawnSync(FUZZ, ["--seed", String(SEED), "--cases", String(CASES), "--json"], {
      encoding: "utf8", timeout: 280_000, env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", FM_TEST_PREFIX: PREFIX },
      maxBuffer: 64 << 20,
    });
    t.equal(r.signal, null, "the fuzzer was not killed");
    const line = (r.stdout ?? "").trim().split("\n").pop() ?? "";
    let s: Summary;
    try { s = JSON.parse(line) as Summary; } catch {
      t.fail(`no summary from the fuzzer (status ${r.status}): ${r.stderr}`);
      return;
    }
    t.comment(`${s.cases} cases in ${s.seconds.toFixed(1)} s (${s.rate.toFixed(1)} cases/s): ${s.agree} agreements, ` +
      `${s.explained} explained (${Object.entries(s.byId).map(([k, n]) => `${k} ${n}`).join(", ")}), fd handed over: C ${s.fdC}, ours ${s.fdOurs}`);
    for (const f of s.findings) {
      t.comment(`${f.kind} at index ${f.index} (npm run fuzz -- --seed ${SEED} --only ${f.index}): ${f.why}\n` +
        `  argv ${abbr(JSON.stringify(f.args))}, fuse.conf ${f.conf}, utab ${f.utab ? "present" : "absent"}\n` +
        `  C: exit ${f.c?.code}, stderr ${JSON.stringify(f.c?.stderr)}\n` +
        `  ours: exit ${f.ours?.code}${f.ours?.signal ? ` (${f.ours.signal})` : ""}, stderr ${JSON.stringify(f.ours?.stderr)}`);
    }
    t.equal(s.cases, CASES, "every case ran");
    t.equal(s.unexplained, 0, "no unexplained divergence");
    t.equal(s.crashes, 0, "no crash or hang of our helper");
    t.equal(s.errors, 0, "no driver error (setup mount, clean-up)");
    t.equal(r.status, 0, "the fuzzer exits 0");
    // The corpus is not vacuous: it mounts, and it meets the main documented differences.
    t.ok(s.fdC > 50 && s.fdOurs > 50, "cases reach the mount and the fd hand-over in both helpers");
    for (const id of ["x-options", "long-options", "flag-name-union", "leading-empty-token", "version-string"]) {
      t.ok((s.byId[id] ?? 0) > 0, `cases exercise the documented difference ${id}`);
    }
    const known = new Set<string>(DIFFERENCES.map((d) => d.id));
    for (const id of Object.keys(s.byId)) t.ok(known.has(id), `${id} is a documented difference`);
  });
}, { files: [FUZZ], setuid: "the fuzzer compares the set-uid launcher with C (test/fuzz/run.ts --ours); the service pass runs the differential suite" });
