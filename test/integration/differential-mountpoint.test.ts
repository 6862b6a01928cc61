// Differential cases of the mountpoint: path forms, file types, ownership and
// permissions, sticky directories, symlinks, system paths, special characters,
// filesystem types. Method: test/lib/differential.ts.

import { differential, P, type Case } from "../lib/differential.ts";

differential("differential: mountpoints", (x) => {
  const {
    u, B, M, FILE, FILE_RO, FILE_ROOT, FILE_ROOT_W, ROOTDIR, ROOTDIR_W, OTHERDIR, OTHERDIR_W, STICKY_ROOT,
    STICKY_OTHER, STICKY_MINE, LINK, DANGLING, REAL_M, LINKDIR, FIFO, NOSEARCH, NOWRITE, D1, LOOP, XONLY_M,
    SPECIAL, LONGNAME, RAMFS, BPF, line, refused, mountWithC, fam,
  } = x;

  // Mountpoints (§6, §9).
  const mp = (name: string, mnt: string, extra: Partial<Case> = {}): Case => ({ name, args: ["--", mnt], at: mnt, ...extra });
  fam("mountpoints", [
    mp("user's directory", M),
    mp("path with ..", `${B}/d1/../m`, { at: M }),
    mp("path with .", `${B}/./m`, { at: M }),
    mp("trailing slash", `${M}/`, { at: M }),
    mp("two trailing slashes", `${M}//`, { at: M }),
    mp("double slash inside", `${B}//m`, { at: M }),
    mp("last component ..", `${D1}/..`, { at: `${B}/d1` }),
    mp("last component .", `${M}/.`, { at: M }),
    mp("relative path (cwd /)", B.slice(1) + "/m", { at: M }),
    mp("relative .", "."),
    mp("relative tmp", "tmp"),
    mp("relative nonexistent", "no-such-dir"),
    mp("nonexistent", `${B}/missing`),
    mp("nonexistent parent", `${B}/missing/deeper`),
    mp("component too long", LONGNAME),
    mp("parent too long", `${B}/${"d/".repeat(2100)}x`),
    mp("path through a regular file", `${FILE}/x`),
    mp("path through a regular file, deeper", `${FILE}/x/y`),
    mp("regular file owned by the user", FILE),
    mp("regular file owned by the user, mode 0444", FILE_RO),
    mp("root's regular file, mode 0644", FILE_ROOT),
    mp("root's regular file, mode 0666", FILE_ROOT_W),
    mp("root's directory, mode 0755", ROOTDIR),
    mp("root's directory, mode 0777", ROOTDIR_W),
    mp("other user's directory, mode 0755", OTHERDIR),
    mp("other user's directory, mode 0777", OTHERDIR_W),
    mp("sticky directory owned by root", STICKY_ROOT),
    mp("sticky directory owned by another user", STICKY_OTHER),
    mp("sticky directory owned by the user", STICKY_MINE),
    mp("symlink as last component", LINK),
    mp("dangling symlink as last component", DANGLING),
    mp("symlink to the mountpoint, trailing slash", `${LINK}/`, { at: LINK }),
    mp("symlink in the parent", `${LINKDIR}/m`, { at: REAL_M }),
    mp("symlink in the parent, missing last component", `${LINKDIR}/missing`),
    mp("FIFO", FIFO),
    mp("character device /dev/null", "/dev/null"),
    mp("directory under a directory without search permission", `${NOSEARCH}/inner`),
    mp("below a directory without search permission", `${NOSEARCH}/inner/x`),
    mp("directory without search permission", NOSEARCH),
    mp("directory without write permission", NOWRITE),
    mp("/", "/"),
    mp("/tmp", "/tmp"),
    mp("/proc", "/proc"),
    mp("/proc/self (symlink)", "/proc/self"),
    mp("/proc/sys", "/proc/sys"),
    mp("/sys", "/sys"),
    mp("/etc/passwd", "/etc/passwd"),
    mp("/dev/shm", "/dev/shm"),
    mp("nonexistent name with printf directives", `${B}/%s%n%x-missing`),
    mp("over a dead FUSE mount", M, {
      setup: mountWithC(u, M), diff: "dead-mount-recovery",
      ours: { code: 0, stderr: `${P}note: detached your dead FUSE filesystem at ${M} (its server is gone) before mounting\n`, gotFd: true, mount: line(), mounts: [`${M} ${line()}`] },
      c: { code: 1, stderr: `${P}failed to access mountpoint ${M}: Permission denied\n`, gotFd: false },
    }),
    mp("non-empty directory", `${B}/d1`),
    mp("symlink followed by ..", `${LINK}/..`, { at: B }),
    mp("symlink loop in the parent", `${LOOP}/x`),
    mp("symlink loop as last component", LOOP),
    mp("directory inside a search-only (0711) root directory", XONLY_M),
    ...Object.entries(SPECIAL).map(([what, n]) => mp(`name with ${what}`, `${B}/${n}`)),
    ...(BPF ? [mp("directory on bpf (forbidden fs type)", BPF)] : []),
    ...(RAMFS ? [mp("directory on ramfs", RAMFS, {
      // mountsAt(RAMFS)[0] is the ramfs itself; the FUSE mount is stacked on it.
      diff: "fs-type-whitelist-master",
      ours: { code: 0, stderr: "", gotFd: true, mount: "rw,relatime - ramfs ramfs rw", mounts: [`${RAMFS} ${line()}`] },
      c: { ...refused(`${P}mounting over filesystem type 0x858458f6 is forbidden\n`), mount: "rw,relatime - ramfs ramfs rw" },
    })] : []),
  ]);

});
