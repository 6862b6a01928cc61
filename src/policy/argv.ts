// Command-line parsing with glibc getopt_long("hVo:uzq") semantics.
//
// Clients and scripts depend on getopt details that general CLI libraries do not
// reproduce: permutation (mountpoint before options), bundling (-uqz, -oro),
// unambiguous long-option prefixes (--unm, --vers), `--`, and "first action wins"
// from left to right (-V -h prints the version, -x -h reports the error). So this
// is a small left-to-right clone for our fixed option set. Pure: no I/O.

export type LongOption = { name: string; hasArg: boolean; key: string; exactOnly?: boolean };

// Order matters: it is the order glibc lists them in the ambiguity message.
export const LONG_OPTIONS: readonly LongOption[] = [
  { name: "unmount", hasArg: false, key: "u" },
  { name: "lazy", hasArg: false, key: "z" },
  { name: "quiet", hasArg: false, key: "q" },
  { name: "help", hasArg: false, key: "h" },
  { name: "version", hasArg: false, key: "V" },
  { name: "options", hasArg: true, key: "o" },
  { name: "auto-unmount", hasArg: false, key: "auto-unmount" },
  { name: "comm-fd", hasArg: true, key: "comm-fd" },
  { name: "sync-init", hasArg: false, key: "sync-init" },
  // Ours only, and only when spelled out, so that libfuse's abbreviations
  // (`--c` for --comm-fd) and its ambiguity message stay exactly as they were.
  { name: "check", hasArg: false, key: "check", exactOnly: true },
  { name: "json", hasArg: false, key: "json", exactOnly: true },
];

const SHORT_WITH_ARG = new Set(["o"]);
const SHORT_FLAGS = new Set(["h", "V", "u", "z", "q"]);

export type Parsed = {
  // The first terminating event reached left to right; "run" when none.
  action: "run" | "help" | "version" | "error";
  error?: string; // getopt's message without the "<progname>: " prefix
  options: string; // last -o wins; "" when none
  unmount: boolean;
  lazy: boolean;
  quiet: boolean;
  autoUnmount: boolean; // --auto-unmount (setup-only watchdog)
  syncInit: boolean;
  commFd?: string;
  check: boolean; // --check: diagnosis (ours only)
  json: boolean;
  operands: string[];
};

export function parseArgv(args: readonly string[], posixlyCorrect = false): Parsed {
  const p: Parsed = {
    action: "run", options: "", unmount: false, lazy: false, quiet: false,
    autoUnmount: false, syncInit: false, check: false, json: false, operands: [],
  };
  const stop = (action: Parsed["action"], error?: string): Parsed => {
    p.action = action;
    if (error !== undefined) p.error = error;
    return p;
  };
  const apply = (key: string, arg?: string): Parsed["action"] | undefined => {
    switch (key) {
      case "h": return "help";
      case "V": return "version";
      case "o": p.options = arg ?? ""; break;
      case "u": p.unmount = true; break;
      case "z": p.lazy = true; break;
      case "q": p.quiet = true; break;
      case "auto-unmount": p.unmount = true; p.autoUnmount = true; break;
      case "comm-fd": p.commFd = arg ?? ""; break;
      case "sync-init": p.syncInit = true; break;
      case "check": p.check = true; break;
      case "json": p.json = true; break;
    }
    return undefined;
  };

  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--") { i++; break; }
    if (a.length < 2 || a[0] !== "-") {
      if (posixlyCorrect) break;
      p.operands.push(a);
      continue;
    }
    if (a.startsWith("--")) {
      const body = a.slice(2);
      const eq = body.indexOf("=");
      const name = eq < 0 ? body : body.slice(0, eq);
      const exact = LONG_OPTIONS.find((o) => o.name === name);
      const matches = exact ? [exact] : LONG_OPTIONS.filter((o) => !o.exactOnly && o.name.startsWith(name));
      if (matches.length === 0) return stop("error", `unrecognized option '${a}'`);
      if (matches.length > 1) {
        const list = matches.filter((o) => !o.exactOnly).map((o) => `'--${o.name}'`).join(" ");
        return stop("error", `option '${a}' is ambiguous; possibilities: ${list}`);
      }
      const opt = matches[0]!;
      let arg: string | undefined;
      if (opt.hasArg) {
        if (eq >= 0) arg = body.slice(eq + 1);
        else if (i + 1 < args.length) arg = args[++i];
        else return stop("error", `option '--${opt.name}' requires an argument`);
      } else if (eq >= 0) {
        return stop("error", `option '--${opt.name}' doesn't allow an argument`);
      }
      const act = apply(opt.key, arg);
      if (act) return stop(act);
      continue;
    }
    // A bundle of short options: -uqz, -oro, -uo ro.
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      if (SHORT_WITH_ARG.has(c)) {
        let arg: string;
        if (j + 1 < a.length) arg = a.slice(j + 1);
        else if (i + 1 < args.length) arg = args[++i]!;
        else return stop("error", `option requires an argument -- '${c}'`);
        apply(c, arg);
        break;
      }
      if (!SHORT_FLAGS.has(c)) return stop("error", `invalid option -- '${c}'`);
      const act = apply(c);
      if (act) return stop(act);
    }
  }
  for (; i < args.length; i++) p.operands.push(args[i]!);
  return p;
}

// Rules applied after option parsing, in libfuse's order.
export function checkOperands(p: Parsed): string | undefined {
  if (p.lazy && !p.unmount) return "-z can only be used with -u";
  if (p.operands.length === 0) return "missing mountpoint argument";
  if (p.operands.length > 1) return "extra arguments after the mountpoint";
  return undefined;
}

export function usage(progname: string): string {
  return (
    `${progname}: [options] mountpoint\n` +
    "Options:\n" +
    " -h\t\t    print help\n" +
    " -V\t\t    print version\n" +
    " -o opt[,opt...]    mount options\n" +
    " -u\t\t    unmount\n" +
    " -q\t\t    quiet\n" +
    " -z\t\t    lazy unmount\n"
  );
}
