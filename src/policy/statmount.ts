// Decoding of struct statmount (Linux 6.8+, uapi linux/mount.h) as the kernel
// fills it: fixed fields, then strings at offsets into str[] (offset 512).
// Pure: takes the bytes statmount(2) wrote.

export const STATMOUNT = {
  SB_BASIC: 0x1n, MNT_BASIC: 0x2n, MNT_ROOT: 0x8n, MNT_POINT: 0x10n, FS_TYPE: 0x20n,
  MNT_OPTS: 0x80n, FS_SUBTYPE: 0x100n, SB_SOURCE: 0x200n,
} as const;
export const STATMOUNT_WANT = Object.values(STATMOUNT).reduce((a, b) => a | b, 0n);
const STR = 512; // offsetof(struct statmount, str)

export type DecodedMount = {
  id: bigint; parentId: bigint; oldId: number; fsType: string; subtype?: string;
  source: string; mountPoint: string; root: string; fsOptions: string;
};

export function decodeStatmount(b: Uint8Array): DecodedMount {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const mask = v.getBigUint64(8, true);
  const text = new TextDecoder();
  const str = (off: number, bit: bigint): string | undefined => {
    if (!(mask & bit)) return undefined;
    const start = STR + v.getUint32(off, true);
    let end = start;
    while (end < b.length && b[end] !== 0) end++;
    return text.decode(b.subarray(start, end));
  };
  const subtype = str(120, STATMOUNT.FS_SUBTYPE);
  return {
    id: v.getBigUint64(40, true), parentId: v.getBigUint64(48, true), oldId: v.getUint32(56, true),
    fsType: str(36, STATMOUNT.FS_TYPE) ?? "", ...(subtype ? { subtype } : {}),
    source: str(124, STATMOUNT.SB_SOURCE) ?? "", mountPoint: str(108, STATMOUNT.MNT_POINT) ?? "",
    root: str(104, STATMOUNT.MNT_ROOT) ?? "", fsOptions: str(4, STATMOUNT.MNT_OPTS) ?? "",
  };
}
