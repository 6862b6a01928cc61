// /proc/self/mountinfo parsing and the questions asked of the kernel mount table:
// how many FUSE mounts there are, which mount is on top at a path, and whether a
// caller owns it. Pure: takes the file's text.

export type MountEntry = {
  id: number;
  parentId: number;
  root: string;
  mountPoint: string; // unescaped
  mountOptions: string;
  fsType: string;
  source: string; // unescaped
  superOptions: string;
};

// The kernel escapes space, tab, newline and backslash as \ooo.
export function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (sep < 0 || f.length < sep + 4) continue;
    entries.push({
      id: Number(f[0]),
      parentId: Number(f[1]),
      root: unescapeOctal(f[3]!),
      mountPoint: unescapeOctal(f[4]!),
      mountOptions: f[5]!,
      fsType: unescapeOctal(f[sep + 1]!),
      source: unescapeOctal(f[sep + 2]!),
      superOptions: f[sep + 3]!,
    });
  }
  return entries;
}

export function isFuseType(type: string): boolean {
  return type === "fuse" || type === "fuseblk" || type.startsWith("fuse.") || type.startsWith("fuseblk.");
}

// What mount_max limits: fuse and fuse.* mounts of all users (never fuseblk).
export const countsAgainstMountMax = (e: MountEntry): boolean => e.fsType === "fuse" || e.fsType.startsWith("fuse.");
export function countFuseMounts(entries: readonly MountEntry[]): number {
  return entries.filter(countsAgainstMountMax).length;
}

// The mount that a path walk to `mountPoint` ends on: among the entries mounted
// there, the one no other entry there is stacked on.
export function topMountAt(entries: readonly MountEntry[], mountPoint: string): MountEntry | undefined {
  const here = entries.filter((e) => e.mountPoint === mountPoint);
  return here.find((e) => !here.some((o) => o.parentId === e.id && o.id !== e.id)) ?? here[here.length - 1];
}

// libfuse's ownership rule: `user_id=<uid>` as a whole option (uid 100 must not
// match user_id=1000), or a legacy `user=<name>` record running to the end.
export function ownedBy(e: MountEntry, uid: number, userName: string | undefined): boolean {
  if (!isFuseType(e.fsType)) return false;
  const opts = e.superOptions.split(",");
  if (opts.includes(`user_id=${uid}`)) return true;
  if (userName === undefined) return false;
  const all = `${e.mountOptions},${e.superOptions}`;
  const rec = `user=${userName}`;
  return all.endsWith(`,${rec}`) || all === rec;
}

// `user_id=<uid>` as a whole option of a superblock option string (statmount's
// mnt_opts or mountinfo's super options): uid 100 must not match user_id=1000.
export function ownsByOptions(fsOptions: string, uid: number): boolean {
  return fsOptions.split(",").includes(`user_id=${uid}`);
}

// The type as mountinfo shows it, from statmount's type and subtype.
export const fullFsType = (fsType: string, subtype?: string): string => (subtype ? `${fsType}.${subtype}` : fsType);

// countFuseMounts(parseMountinfo(text)) without parsing: in mountinfo the
// separator " - " appears once per line, right before the type (spaces in
// every other field are escaped as \040), so counting " - fuse " and
// " - fuse." is exact. Cheap enough for tables of tens of thousands of mounts.
export function countFuseMountsInText(text: string): number {
  let n = 0;
  for (let i = text.indexOf(" - fuse"); i >= 0; i = text.indexOf(" - fuse", i + 7)) {
    const next = text[i + 7];
    if (next === " " || next === ".") n++;
  }
  return n;
}
