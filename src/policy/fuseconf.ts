// /etc/fuse.conf parsing, byte-compatible with libfuse's fgets()-based reader:
// 256-byte line buffer, lines too long skipped with a message, a last line without
// newline not parsed, `#` comments anywhere, scanf("mount_max = %i") semantics.
// Pure: takes the file's bytes, returns the settings and the messages to print.

export const FUSE_CONF = "/etc/fuse.conf";
const LINE_BUFFER = 256;

export type FuseConf = {
  userAllowOther: boolean;
  mountMax: number; // -1 = unlimited
  messages: string[]; // without the "<progname>: " prefix
  ignoredLines: number[]; // line numbers reported as unknown, invalid or too long
};

const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);

// scanf's whitespace skipping: skip C-locale isspace() characters.
function skipSpace(s: string, i: number): number {
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  return i;
}

// glibc scanf %i: optional sign, 0x/0X hex, leading 0 octal, else decimal;
// trailing garbage ignored; converted as a C long (saturating) then to int.
export function scanInt(s: string, i: number): number | undefined {
  i = skipSpace(s, i);
  let neg = false;
  if (s[i] === "+" || s[i] === "-") { neg = s[i] === "-"; i++; }
  let base = 10;
  let digits = "";
  if (s[i] === "0") {
    if ((s[i + 1] === "x" || s[i + 1] === "X") && /[0-9a-fA-F]/.test(s[i + 2] ?? "")) {
      base = 16; i += 2;
    } else {
      base = 8;
    }
  }
  const valid = base === 16 ? /[0-9a-fA-F]/ : base === 8 ? /[0-7]/ : /[0-9]/;
  while (i < s.length && valid.test(s[i]!)) digits += s[i++];
  if (digits === "") return undefined;
  let v = BigInt(base === 10 ? digits : (base === 16 ? "0x" : "0o") + digits);
  if (neg) v = -v;
  const LONG_MAX = (1n << 63n) - 1n;
  const LONG_MIN = -(1n << 63n);
  if (v > LONG_MAX) v = LONG_MAX;
  if (v < LONG_MIN) v = LONG_MIN;
  return Number(BigInt.asIntN(32, v));
}

// sscanf(line, "mount_max = %i", &n) == 1
function scanMountMax(line: string): number | undefined {
  if (!line.startsWith("mount_max")) return undefined;
  let i = skipSpace(line, "mount_max".length);
  if (line[i] !== "=") return undefined;
  i = skipSpace(line, i + 1);
  return scanInt(line, i);
}

function strip(line: string): string {
  const hash = line.indexOf("#");
  if (hash >= 0) line = line.slice(0, hash);
  let a = 0;
  let b = line.length;
  while (b > a && isSpace(line.charCodeAt(b - 1))) b--;
  while (a < b && isSpace(line.charCodeAt(a))) a++;
  return line.slice(a, b);
}

export function parseFuseConf(bytes: Uint8Array, path = FUSE_CONF): FuseConf {
  const conf: FuseConf = { userAllowOther: false, mountMax: 1000, messages: [], ignoredLines: [] };
  // latin1 keeps one character per byte, so lengths match the C buffer.
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
  let lineNo = 1;
  let atLineStart = true;
  let pos = 0;
  while (pos < text.length) {
    // fgets: up to LINE_BUFFER-1 bytes, stopping after a newline.
    const nl = text.indexOf("\n", pos);
    const end = Math.min(nl < 0 ? text.length : nl + 1, pos + LINE_BUFFER - 1);
    let chunk = text.slice(pos, end);
    pos = end;
    const nul = chunk.indexOf("\0"); // C string functions stop at NUL
    if (nul >= 0) chunk = chunk.slice(0, nul);
    const endsLine = chunk.endsWith("\n");
    if (atLineStart) {
      if (endsLine) parseLine(conf, strip(chunk.slice(0, -1)), lineNo, path);
      else atLineStart = false;
    } else if (endsLine) {
      conf.messages.push(`reading ${path}: line ${lineNo} too long`);
      conf.ignoredLines.push(lineNo);
      atLineStart = true;
    }
    if (atLineStart) lineNo++;
  }
  if (!atLineStart) conf.messages.push(`reading ${path}: missing newline at end of file`);
  return conf;
}

function parseLine(conf: FuseConf, line: string, lineNo: number, path: string): void {
  if (line === "user_allow_other") { conf.userAllowOther = true; return; }
  const n = scanMountMax(line);
  if (n !== undefined) {
    if (n < -1) {
      conf.messages.push(`invalid mount_max = ${n} in ${path} at line ${lineNo}`);
      conf.ignoredLines.push(lineNo);
    } else {
      conf.mountMax = n;
    }
    return;
  }
  if (line !== "") {
    conf.messages.push(`unknown parameter in ${path} at line ${lineNo}: '${line}'`);
    conf.ignoredLines.push(lineNo);
  }
}

// errno values after which libfuse goes on with the defaults (with a message);
// any other open error is fatal so that a transient failure (EMFILE, ENOMEM, EIO)
// cannot silently reset the administrator's policy.
export const CONF_OPEN_SOFT_ERRNOS = new Set([13 /* EACCES */, 40 /* ELOOP */,
  36 /* ENAMETOOLONG */, 20 /* ENOTDIR */, 75 /* EOVERFLOW */]);
