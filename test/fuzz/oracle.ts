// The fuzzer's oracle: which documented deliberate difference (differences.ts)
// a case touches, and what outcome that difference allows. Pure: no I/O.
//
// Method. Both helpers run the case as it is. When the outcomes differ, the case
// is classified by the features of its inputs (x- tokens, a leading empty
// token, master-only flag names, large_read, master-only long options, -V, the
// ramfs mountpoint, auto_unmount, --sync-init). For the features that have an
// exact libfuse-3.14 equivalent, a *C-equivalent* case is built (what 3.14
// would have to be given to do what master does: x- tokens and leading empty
// tokens removed by master's splitter, union flag names and large_read
// removed, `--options V` spelled `-o V`, `--comm-fd 3` dropped, the ramfs
// mountpoint replaced by its tmpfs twin) and run through the C helper; our
// outcome must then equal that one exactly, up to the masks the difference
// implies (the mount-flag field for union flag names, the version number, the
// list of long options, an auto_unmount mount that 3.14 cannot remove). The C
// helper's own outcome must also show the documented 3.14 behaviour of at least
// one of those differences, so a difference is never "explained" by a feature
// that did not matter. Features without a 3.14 equivalent (--auto-unmount, a
// --comm-fd that is not 3, --options without a value) are checked only
// against the 3.14 refusal (`unrecognized option '--…'`).
//
// The getopt model below is an independent re-implementation of glibc's
// getopt_long (permuting, prefixes, bundles) over libfuse master's option table,
// used only to find which argv elements are option values.

import { FLAGS_UNION } from "./gen.ts";
import { H } from "./fixtures.ts";
import type { DifferenceId } from "../integration/differences.ts";

// ------------------------------------------------------------- outcomes

export type Outcome = {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  gotFd: boolean;
  mounts: string[]; // new mounts after the run: "<mountpoint> <opts> - <type> <source> <superopts>", sorted
  preMounts: string[]; // new mounts before the run (the case's setup mount), same form
  timedOut?: boolean;
  syncStatus?: number | "eof"; // --sync-init: the int32 status, when one was awaited
};

export const P = "fusermount3: ";

// Fields compared between two runs (preMounts is the same for both by construction).
export function sameOutcome(a: Outcome, b: Outcome): boolean {
  return a.code === b.code && a.signal === b.signal && a.stdout === b.stdout && a.stderr === b.stderr &&
    a.gotFd === b.gotFd && a.mounts.length === b.mounts.length && a.mounts.every((m, i) => m === b.mounts[i]);
}

// A crash of our helper: a runtime error or stack trace in its stderr that the
// C helper did not print, a signal, a hang, or an exit status libfuse never uses.
const CRASH_PATTERNS: readonly RegExp[] = [
  /\n\s+at \S/, /\b(TypeError|ReferenceError|RangeError|SyntaxError|AggregateError)\b/, /internal error/i,
  /\bpanic/i, /Bun v\d+\.\d+/, /Segmentation fault/i, /oh no/i, /uncaught/i, /unreachable/i,
];
export function crashOf(ours: Outcome, c: Outcome): string | undefined {
  if (ours.timedOut) return "timed out (killed)";
  if (ours.signal) return `killed by ${ours.signal}`;
  if (ours.code !== 0 && ours.code !== 1) return `exit status ${ours.code}`;
  for (const re of CRASH_PATTERNS) if (re.test(ours.stderr) && !re.test(c.stderr)) return `stderr matches ${re}`;
  return undefined;
}

// ------------------------------------------------------------- getopt model

type LongName = "unmount" | "lazy" | "quiet" | "help" | "version" | "options" | "auto-unmount" | "comm-fd" | "sync-init";
const LONGS: ReadonlyArray<{ name: LongName; arg: boolean }> = [
  { name: "unmount", arg: false }, { name: "lazy", arg: false }, { name: "quiet", arg: false },
  { name: "help", arg: false }, { name: "version", arg: false }, { name: "options", arg: true },
  { name: "auto-unmount", arg: false }, { name: "comm-fd", arg: true }, { name: "sync-init", arg: false },
];
export const MASTER_ONLY_LONG: ReadonlySet<string> = new Set(["options", "auto-unmount", "comm-fd", "sync-init"]);

export type Item =
  | { t: "operand"; i: number }
  | { t: "dashdash"; i: number }
  // A long option; name undefined when unknown or ambiguous. value: the argument
  // and where it came from (inline after '=' or the next element).
  | { t: "long"; i: number; name?: LongName; ambiguous?: boolean; value?: string; valueAt?: number; inline: boolean; error: boolean }
  // A bundle of short options; `o` with its value, inline (rest of the word) or the next element.
  | { t: "short"; i: number; flags: string; o?: { value: string; inline: boolean; at: number }; error: boolean };

export type Parse = {
  items: Item[];
  end: "run" | "help" | "version" | "error"; // the first terminating event, left to right
  stoppedAt: number; // argv index after which nothing was looked at (argv.length when none)
  unmount: boolean; autoUnmount: boolean; syncInit: boolean; lazy: boolean; quiet: boolean;
  operands: string[];
};

export function parseMaster(argv: readonly string[]): Parse {
  const p: Parse = { items: [], end: "run", stoppedAt: argv.length, unmount: false, autoUnmount: false, syncInit: false, lazy: false, quiet: false, operands: [] };
  const stop = (end: Parse["end"], i: number): Parse => { p.end = end; p.stoppedAt = i; return p; };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      p.items.push({ t: "dashdash", i });
      for (let j = i + 1; j < argv.length; j++) { p.items.push({ t: "operand", i: j }); p.operands.push(argv[j]!); }
      return p;
    }
    if (a.length < 2 || a[0] !== "-") { p.items.push({ t: "operand", i }); p.operands.push(a); continue; }
    if (a.startsWith("--")) {
      const body = a.slice(2);
      const eq = body.indexOf("=");
      const nm = eq < 0 ? body : body.slice(0, eq);
      const exact = LONGS.find((o) => o.name === nm);
      const cands = exact ? [exact] : LONGS.filter((o) => o.name.startsWith(nm));
      if (cands.length !== 1) {
        p.items.push({ t: "long", i, ambiguous: cands.length > 1, inline: false, error: true });
        return stop("error", i);
      }
      const o = cands[0]!;
      const it: Extract<Item, { t: "long" }> = { t: "long", i, name: o.name, inline: eq >= 0, error: false };
      p.items.push(it);
      if (o.arg) {
        if (eq >= 0) it.value = body.slice(eq + 1);
        else if (i + 1 < argv.length) { it.value = argv[i + 1]!; it.valueAt = ++i; }
        else { it.error = true; return stop("error", i); }
      } else if (eq >= 0) {
        it.error = true; return stop("error", i);
      }
      switch (o.name) {
        case "help": return stop("help", i);
        case "version": return stop("version", i);
        case "unmount": p.unmount = true; break;
        case "lazy": p.lazy = true; break;
        case "quiet": p.quiet = true; break;
        case "auto-unmount": p.unmount = true; p.autoUnmount = true; break;
        case "sync-init": p.syncInit = true; break;
        default: break;
      }
      continue;
    }
    const it: Extract<Item, { t: "short" }> = { t: "short", i, flags: "", error: false };
    p.items.push(it);
    for (let j = 1; j < a.length; j++) {
      const ch = a[j]!;
      if (ch === "o") {
        if (j + 1 < a.length) it.o = { value: a.slice(j + 1), inline: true, at: i };
        else if (i + 1 < argv.length) { it.o = { value: argv[i + 1]!, inline: false, at: i + 1 }; i++; }
        else { it.error = true; return stop("error", i); }
        break;
      }
      if (!"hVuzq".includes(ch)) { it.error = true; return stop("error", i); }
      it.flags += ch;
      if (ch === "h") return stop("help", i);
      if (ch === "V") return stop("version", i);
      if (ch === "u") p.unmount = true;
      if (ch === "z") p.lazy = true;
      if (ch === "q") p.quiet = true;
    }
  }
  return p;
}

// --------------------------------------------------------- option values

// master's x- splitter (sync-init-protocol.md §11.2): every comma splits, no
// escapes; an empty token is dropped while its list is still empty.
export function masterSplit(opts: string): { regular: string; x: string[]; droppedEmpty: boolean } {
  const regular: string[] = [];
  const x: string[] = [];
  let droppedEmpty = false;
  for (const tok of opts.split(",")) {
    const dest = tok.startsWith("x-") ? x : regular;
    if (tok === "" && dest.length === 0) { droppedEmpty = true; continue; }
    dest.push(tok);
  }
  return { regular: regular.join(","), x, droppedEmpty };
}

// libfuse's option tokenizer (§8.1 step 2): escapes count only inside tokens
// that begin with fsname= or subtype=; a final comma ends the list.
export function tokens314(opts: string): string[] {
  const out: string[] = [];
  let s = 0;
  while (s < opts.length) {
    const esc = opts.startsWith("fsname=", s) || opts.startsWith("subtype=", s);
    let e = s;
    for (; e < opts.length; e++) {
      if (esc && opts[e] === "\\" && e + 1 < opts.length) e++;
      else if (opts[e] === ",") break;
    }
    out.push(opts.slice(s, e));
    s = e < opts.length ? e + 1 : e;
  }
  return out;
}

const UNION: ReadonlySet<string> = new Set(FLAGS_UNION);

// The kernel's escaping of a mount source in mountinfo.
const mangle = (s: string): string => s.replace(/[ \t\n\\#]/g, (ch) => `\\${ch.charCodeAt(0).toString(8).padStart(3, "0")}`);

// fsname=/subtype= values: `\x` is x; a final backslash stays.
export function unescape314(v: string): string {
  let out = "";
  for (let i = 0; i < v.length; i++) {
    if (v[i] === "\\" && i + 1 < v.length) i++;
    out += v[i];
  }
  return out;
}

export type ValueTransform = { value: string; ids: Set<DifferenceId>; removedUnion: string[] };

// What libfuse 3.14 must be given to treat an -o value the way master does.
export function transformValue(v: string): ValueTransform {
  const ids = new Set<DifferenceId>();
  const split = masterSplit(v);
  if (split.x.length > 0) ids.add("x-options");
  if (split.droppedEmpty) ids.add("leading-empty-token");
  const toks = tokens314(split.regular);
  const removedUnion: string[] = [];
  const kept = toks.filter((t) => {
    if (UNION.has(t)) { removedUnion.push(t); ids.add("flag-name-union"); return false; }
    if (t === "large_read") { ids.add("large-read-silent"); return false; }
    return true;
  });
  let value = kept.join(",");
  // An empty last token only counts when a comma follows it.
  if (kept.length > 0 && kept[kept.length - 1] === "") value += ",";
  if (kept.length === toks.length) value = split.regular; // nothing removed: keep the exact text
  // x- tokens that mount(8) would act on (x-mount.*) or that hold blanks or
  // control characters are refused by ours, after the regular options, with the
  // very message 3.14 gives for any x- token: keep the first one, last.
  const refusedX = split.x.find((t) => t.startsWith("x-mount.") || /[\x00-\x20\x7f]/.test(t));
  if (refusedX !== undefined) {
    ids.add("x-mount-refused");
    value = value === "" ? refusedX : value.endsWith(",") ? value + refusedX : `${value},${refusedX}`;
  }
  return { value, ids, removedUnion };
}

// ------------------------------------------------------------------ plan

export type Plan = {
  ids: Set<DifferenceId>; // differences whose features the case has
  cArgs: string[]; // the C-equivalent argv
  cCommFd: boolean; // _FUSE_COMMFD for the C-equivalent run
  twin: boolean; // the ramfs mountpoint was replaced by its tmpfs twin
  changed: boolean; // cArgs/cCommFd differ from the case
  untranslatable?: string; // a master-only feature without a 3.14 equivalent
  syncInit: boolean;
  autoUnmountToken: boolean; // some -o value has an auto_unmount token
  version: boolean;
  ambiguous: boolean;
  removedUnion: string[];
  values: string[]; // every -o value getopt saw, in order
  twinOf: Array<[string, string]>; // [ramfs operand, its tmpfs twin]
  fsconfigTooLong: boolean; // the effective options have a string fsconfig() refuses (≥ 256 bytes)
  legacySubtype?: { type: string; source: string }; // --sync-init: where a refused subtype leads (§8.5)
  stacked?: string; // the case's setup mount has root's tmpfs on top of it, here
  parse: Parse;
};

const isFd3 = (s: string): boolean => /^[ \t\n\v\f\r]*\+?0*3$/.test(s);
const RAMFS_RE = /(^|\/)ramfs(?=\/|$)/;

export function plan(args: readonly string[], commFd: boolean, pre?: { path: string; stacked?: boolean }): Plan {
  const parse = parseMaster(args);
  const ids = new Set<DifferenceId>();
  const pl: Plan = {
    ids, cArgs: [], cCommFd: commFd, twin: false, changed: false, syncInit: false, autoUnmountToken: false,
    version: parse.end === "version", ambiguous: false, removedUnion: [], values: [], twinOf: [], fsconfigTooLong: false, parse,
  };
  if (pl.version) ids.add("version-string");
  const val = (v: string): string => {
    pl.values.push(v);
    const tv = transformValue(v);
    for (const id of tv.ids) ids.add(id);
    pl.removedUnion.push(...tv.removedUnion);
    if (tokens314(masterSplit(v).regular).includes("auto_unmount")) pl.autoUnmountToken = true;
    return tv.value;
  };
  const out: string[] = [];
  const consumed = new Set<number>();
  for (const it of parse.items) {
    if (it.t === "operand") {
      const a = args[it.i]!;
      if (RAMFS_RE.test(a) && !a.startsWith("-") && (a.startsWith(H) || !a.startsWith("/"))) {
        const twin = a.replace(RAMFS_RE, "$1tmpfs");
        out.push(twin); pl.twin = true; pl.twinOf.push([a, twin]); ids.add("fs-type-whitelist-master");
      } else out.push(a);
    } else if (it.t === "dashdash") {
      out.push("--");
    } else if (it.t === "short") {
      const a = args[it.i]!;
      if (!it.o) { out.push(a); continue; }
      const v = val(it.o.value);
      if (!it.o.inline) consumed.add(it.o.at);
      if (v === it.o.value) { out.push(a); if (!it.o.inline) out.push(v); } else out.push(`-${it.flags}o`, v);
    } else {
      const a = args[it.i]!;
      if (it.ambiguous) { pl.ambiguous = true; ids.add("ambiguous-long-option"); out.push(a); continue; }
      if (!it.name || !MASTER_ONLY_LONG.has(it.name)) { out.push(a); continue; }
      ids.add("long-options");
      if (it.error) {
        pl.untranslatable ??= `a getopt error on --${it.name}`;
        out.push(a);
        if (it.valueAt !== undefined) consumed.add(it.valueAt);
        continue;
      }
      if (it.valueAt !== undefined) consumed.add(it.valueAt);
      if (it.name === "options") { out.push("-o", val(it.value!)); continue; }
      if (it.name === "comm-fd") {
        if (isFd3(it.value!)) { pl.cCommFd = true; continue; }
        pl.untranslatable ??= `--comm-fd ${JSON.stringify(it.value)}`;
        out.push(a);
        if (it.valueAt !== undefined) out.push(it.value!);
        continue;
      }
      if (it.name === "sync-init") { pl.syncInit = true; continue; }
      pl.untranslatable ??= "--auto-unmount";
      out.push(a);
    }
  }
  // Whatever getopt never looked at (after the first terminating event) stays.
  const seen = new Set<number>();
  for (const it of parse.items) seen.add(it.i);
  for (const i of consumed) seen.add(i);
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) if (!seen.has(i)) rest.push(args[i]!);
  // Items are in argv order except that unvisited elements all come after the stop.
  pl.cArgs = [...out, ...rest];
  if (pl.autoUnmountToken) ids.add("auto-unmount-as-caller");
  if (pre?.stacked) { pl.stacked = pre.path; ids.add("unmount-checks-top-mount"); }
  const last = pl.values[pl.values.length - 1];
  if (pl.syncInit && last !== undefined) {
    const toks = tokens314(masterSplit(last).regular);
    let fsname: string | undefined, subtype: string | undefined;
    for (const t of toks) {
      if (t.startsWith("fsname=")) fsname = unescape314(t.slice(7));
      if (t.startsWith("subtype=")) subtype = unescape314(t.slice(8));
    }
    const tooLong = (v: string | undefined) => v !== undefined && Buffer.byteLength(v, "utf8") >= 256;
    pl.fsconfigTooLong = tooLong(fsname) || tooLong(subtype) ||
      toks.some((t) => /^(max_read|blksize)=/.test(t) && tooLong(t.slice(t.indexOf("=") + 1)));
    // fsconfig() also refuses an empty subtype (EINVAL), where 3.14's mount(2) fails.
    if (subtype === "") pl.fsconfigTooLong = true;
    if (pl.fsconfigTooLong) ids.add("sync-init-fsconfig-limits");
    // A subtype fsconfig() refuses: master's fallback to the legacy encoding (§8.5).
    if (tooLong(subtype) || subtype === "") {
      const type = toks.includes("blkdev") ? "fuseblk" : "fuse";
      pl.legacySubtype = { type, source: mangle(fsname === undefined ? type : type === "fuseblk" ? fsname : `${subtype}#${fsname}`) };
    }
  }
  pl.changed = pl.cCommFd !== commFd || pl.cArgs.length !== args.length || pl.cArgs.some((a, i) => a !== args[i]);
  return pl;
}

// ----------------------------------------------------------------- judge

export type Verdict =
  | { kind: "agree" }
  | { kind: "explained"; ids: DifferenceId[] }
  | { kind: "unexplained"; why: string };

const MASTER_LONG_LIST = "'--unmount' '--lazy' '--quiet' '--help' '--version' '--options' '--auto-unmount' '--comm-fd' '--sync-init'";
const LONG_LIST_314 = "'--unmount' '--lazy' '--quiet' '--help' '--version'";
const isFuseLine = (m: string) => / - fuse(blk)?(\.\S*)? /.test(m);

// What C's own outcome must show for a difference to be the reason (§17, differences.ts).
function signature(id: DifferenceId, c: Outcome, ours: Outcome, pl: Plan): boolean {
  const err = c.stderr;
  switch (id) {
    // 3.14 stops at the x- token, or at an empty token the splitter made a
    // harmless trailing one (`ro,,x-a`); or an escaped comma before an x- token
    // (`fsname=a\,x-b`): master's splitter ignores escapes, so the fsname
    // token ends at the backslash and what followed x-b is a token of its own.
    case "x-options": return /unknown option 'x-/.test(err) || err.includes(`${P}unknown option ''\n`) || pl.values.some((v) => v.includes("\\,x-"));
    case "leading-empty-token": return err.includes(`${P}unknown option ''\n`);
    case "flag-name-union": return pl.removedUnion.some((f) => err.includes(`${P}unknown option '${f}'\n`));
    case "large-read-silent": return /note: 'large_read' mount option is deprecated/.test(err);
    case "long-options": {
      const m = /unrecognized option '--([^'=]*)/.exec(err);
      return !!m && m[1] !== "" && [...MASTER_ONLY_LONG].some((n) => n.startsWith(m[1]!));
    }
    case "version-string": return c.stdout === "fusermount3 version: 3.14.0\n";
    case "ambiguous-long-option": return err.includes(`possibilities: ${LONG_LIST_314}\n`);
    case "fs-type-whitelist-master": return err.includes("mounting over filesystem type 0x858458f6 is forbidden");
    case "auto-unmount-as-caller": return c.mounts.some((m) => isFuseLine(m) && !ours.mounts.includes(m));
    // 3.14 unmounted what was on top: root's tmpfs over the user's FUSE mount.
    case "unmount-checks-top-mount": return c.code === 0 && c.preMounts.some((m) => / - tmpfs /.test(m) && !c.mounts.includes(m));
    default: return false;
  }
}

type Norm = (o: Outcome) => Outcome;

// Union flag names change the mount's flags (and lazytime the superblock's).
// Line: "<mountpoint> <mount options> - <type> <source> <super options>", no raw spaces.
function unionMask(m: string): string {
  const f = m.split(" ");
  if (f.length !== 6) return m;
  const sup = f[5]!.split(",").filter((o) => o !== "lazytime").join(",");
  return `${f[0]} <flags> - ${f[3]} ${f[4]} ${sup}`;
}

function masks(pl: Plan, side: "c" | "ours"): Norm {
  return (o) => {
    let { stdout, stderr, mounts } = o;
    if (side === "c") {
      if (pl.version) stdout = stdout.replace("fusermount3 version: 3.14.0\n", "fusermount3 version: 3.19.0\n");
      if (pl.ambiguous) stderr = stderr.replace(`possibilities: ${LONG_LIST_314}\n`, `possibilities: ${MASTER_LONG_LIST}\n`);
      if (pl.twin) {
        // Messages name the operand as given or resolved; mountinfo the resolved path.
        const resolved = (s: string) => s.split(`${H}/tmpfs`).join(`${H}/ramfs`);
        for (const [orig, twin] of pl.twinOf) stderr = stderr.split(twin).join(orig);
        stderr = resolved(stderr);
        mounts = mounts.map((m) => {
          const sp = m.indexOf(" ");
          return resolved(m.slice(0, sp)) + m.slice(sp);
        });
      }
    }
    if (pl.removedUnion.length > 0) mounts = mounts.map(unionMask);
    const preMounts = pl.removedUnion.length > 0 ? o.preMounts.map(unionMask) : o.preMounts;
    return { ...o, stdout, stderr, mounts: [...mounts].sort(), preMounts };
  };
}

function diffFields(a: Outcome, b: Outcome): string {
  const d: string[] = [];
  if (a.code !== b.code) d.push(`code ${a.code}≠${b.code}`);
  if (a.signal !== b.signal) d.push(`signal ${a.signal}≠${b.signal}`);
  if (a.stdout !== b.stdout) d.push("stdout");
  if (a.stderr !== b.stderr) d.push("stderr");
  if (a.gotFd !== b.gotFd) d.push(`fd ${a.gotFd}≠${b.gotFd}`);
  if (a.mounts.join("\n") !== b.mounts.join("\n")) d.push("mounts");
  return d.join(", ");
}

// cEq: the C helper's outcome for plan.cArgs (undefined when the plan changed nothing).
export function judge(pl: Plan, c: Outcome, ours: Outcome, cEq: Outcome | undefined): Verdict {
  if (sameOutcome(c, ours)) return { kind: "agree" };
  const ids = [...pl.ids];
  if (ids.length === 0) return { kind: "unexplained", why: `no documented difference applies (${diffFields(c, ours)})` };
  // x-mount.* or a blank/control character in an x- token: ours refuses with
  // `unknown option 'x-…'` after the regular options and changes nothing. The
  // 3.14-equivalent cannot always say the same (master's splitter ignores
  // escapes, so `subtype=a\,x-mount.mkdir` has an x- token 3.14 never sees).
  const refusedLine = /(?:^|\n)fusermount3: unknown option '(x-[^']*)'\n$/.exec(ours.stderr);
  if (pl.ids.has("x-mount-refused") && refusedLine && /^x-mount\.|[\x00-\x20\x7f]/.test(refusedLine[1]!) &&
    ours.code === 1 && !ours.gotFd && ours.stdout === "" && ours.mounts.join("\n") === ours.preMounts.join("\n")) {
    return { kind: "explained", ids: ["x-mount-refused"] };
  }
  const shown = ids.filter((id) => signature(id, c, ours, pl));
  if (pl.stacked && (shown.includes("unmount-checks-top-mount") || (cEq && signature("unmount-checks-top-mount", cEq, ours, pl)))) {
    // Ours refuses: the mount on top is not the caller's; nothing changes.
    const msg = pl.parse.quiet ? "" : `${P}entry for ${pl.stacked} not found in /etc/mtab\n`;
    const ok = ours.code === 1 && !ours.gotFd && ours.stdout === "" && ours.stderr === msg && ours.mounts.join("\n") === ours.preMounts.join("\n");
    return ok ? { kind: "explained", ids: [...new Set([...shown, "unmount-checks-top-mount" as const])] }
      : { kind: "unexplained", why: `-u under root's stacked tmpfs: ours did not refuse as documented (${diffFields(c, ours)})` };
  }
  if (pl.untranslatable) {
    return shown.includes("long-options")
      ? { kind: "explained", ids: ["long-options"] }
      : { kind: "unexplained", why: `${pl.untranslatable} has no 3.14 equivalent and C did not refuse it as unrecognized (${diffFields(c, ours)})` };
  }
  if (shown.length === 0) return { kind: "unexplained", why: `C shows none of the documented 3.14 behaviours of ${ids.join(", ")} (${diffFields(c, ours)})` };
  const ref = masks(pl, "c")(cEq ?? c);
  const got = masks(pl, "ours")(ours);
  const head = (s: string) => s.replace(/[^\n]*\n$/, "");
  const lastLine = (s: string) => /[^\n]*\n$/.exec(s)?.[0] ?? "";
  const lg = pl.legacySubtype;
  if (lg && pl.syncInit && ours.gotFd && ours.syncStatus === 0 && !ref.gotFd && /^fusermount3: mount failed: /.test(lastLine(ref.stderr))) {
    // A subtype too long for fsconfig() and for 3.14's mount(2) type string:
    // ours mounts with the legacy encoding, 3.14 fails.
    const fresh = got.mounts.filter((m) => !got.preMounts.includes(m));
    const f = fresh[0]?.split(" ") ?? [];
    // (With auto_unmount, ours' watchdog has removed the dead mount again.)
    const mounted = fresh.length === 1 && f.length === 6 && f[3] === lg.type && f[4] === lg.source;
    const ok = got.code === 0 && got.stdout === ref.stdout && got.stderr === head(ref.stderr) &&
      (mounted || (pl.autoUnmountToken && fresh.length === 0)) && ref.mounts.join("\n") === ref.preMounts.join("\n");
    return ok ? { kind: "explained", ids: [...new Set([...shown, "sync-init-fsconfig-limits" as const])] }
      : { kind: "unexplained", why: `--sync-init with a long subtype differs from the legacy encoding (${diffFields(ref, got)})` };
  }
  if (pl.syncInit && ours.gotFd && typeof ours.syncStatus === "number" && ours.syncStatus !== 0) {
    // A --sync-init mount that failed after the fd went out: what was printed
    // before the failure must match 3.14's run, and nothing may stay mounted.
    const quietFail = got.code === 1 && got.stdout === ref.stdout && got.mounts.join("\n") === got.preMounts.join("\n");
    if (!ref.gotFd && /^fusermount3: mount failed: /.test(lastLine(ref.stderr))) {
      // 3.14's mount(2) failed as well.
      return quietFail && head(got.stderr) === head(ref.stderr) && /^fusermount3: mount failed: /.test(lastLine(got.stderr))
        ? { kind: "explained", ids: [...new Set(shown)] }
        : { kind: "unexplained", why: `--sync-init mount failure differs from 3.14's mount(2) failure (${diffFields(ref, got)})` };
    }
    if (pl.fsconfigTooLong && ref.gotFd && ours.syncStatus === -22) {
      return quietFail && head(got.stderr) === ref.stderr && lastLine(got.stderr) === `${P}mount failed: Invalid argument\n`
        ? { kind: "explained", ids: [...new Set([...shown, "sync-init-fsconfig-limits" as const])] }
        : { kind: "unexplained", why: `--sync-init refusal of a long fsconfig string differs from what is allowed (${diffFields(ref, got)})` };
    }
    return { kind: "unexplained", why: `--sync-init mount failed (status ${ours.syncStatus}) where 3.14's mount did not (${diffFields(ref, got)})` };
  }
  let okMounts = got.mounts.join("\n") === ref.mounts.join("\n");
  if (!okMounts && lg && ours.syncStatus === 0) {
    // "<mp> <opts> - <type> <source> <super>": type and source from the legacy encoding.
    const relabel = ref.mounts.map((m) => {
      const f = m.split(" ");
      return f.length === 6 && !ref.preMounts.includes(m) ? [f[0], f[1], "-", lg.type, lg.source, f[5]].join(" ") : m;
    });
    okMounts = got.mounts.join("\n") === [...relabel].sort().join("\n");
    if (okMounts) shown.push("sync-init-fsconfig-limits");
  }
  if (!okMounts && pl.autoUnmountToken) {
    // Allowed: ours left a subset of C's mounts, the missing ones being FUSE mounts.
    okMounts = got.mounts.every((m) => ref.mounts.includes(m)) && ref.mounts.filter((m) => !got.mounts.includes(m)).every(isFuseLine);
    if (okMounts && !shown.includes("auto-unmount-as-caller") && ref.mounts.length !== got.mounts.length) shown.push("auto-unmount-as-caller");
  }
  let okStderr = got.stderr === ref.stderr;
  if (!okStderr && pl.autoUnmountToken && ref.gotFd && ref.stderr.startsWith(got.stderr)) {
    // What 3.14's watchdog printed after the fd went out; ours has no stdio by then.
    const extra = ref.stderr.slice(got.stderr.length); // messages may hold a path with a newline
    okStderr = extra.startsWith(P) && extra.endsWith("\n");
    if (okStderr) shown.push("watchdog-stdio-closed");
  }
  const same = got.code === ref.code && got.signal === ref.signal && got.stdout === ref.stdout && okStderr && got.gotFd === ref.gotFd && okMounts;
  if (!same) return { kind: "unexplained", why: `differs from the 3.14-equivalent case as well (${diffFields(ref, got)})` };
  return { kind: "explained", ids: [...new Set(shown)] };
}
