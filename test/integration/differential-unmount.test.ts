// Differential cases of unmounting as the user (-u, -q, -z): own and other
// users' mounts, path forms, stacked mounts, forged user_id= in fsname/subtype,
// system paths. Method: test/lib/differential.ts.

import { differential, P, type Case } from "../lib/differential.ts";

differential("differential: unmount", (x) => {
  const {
    u, u2, B, M, FILE, ROOTDIR_W, LINK_M, REAL_M, LINKDIR, NOSEARCH, STACKBASE, XONLY_M, SPECIAL, THEIRS,
    RAMFS, line, refused, mountWithC, stackTmpfs, fam,
  } = x;

  // Unmounting as the user (§12).
  const um = (name: string, args: string[], setup?: () => void, extra: Partial<Case> = {}): Case =>
    ({ name, args, setup, commFd: false, ...extra });
  fam("unmount", [
    um("-u own mount", ["-u", M], mountWithC(u, M)),
    um("-u own mount with a comm fd", ["-u", M], mountWithC(u, M), { commFd: true }),
    um("-u own mount, subtype and fsname", ["-u", M], mountWithC(u, M, "fsname=a,subtype=b")),
    um("-u own read-only mount", ["-u", M], mountWithC(u, M, "ro")),
    um("-u own mount, trailing slash", ["-u", `${M}/`], mountWithC(u, M)),
    um("-u own mount, path with ..", ["-u", `${B}/d1/../m`], mountWithC(u, M)),
    um("-u own mount, relative path", ["-u", B.slice(1) + "/m"], mountWithC(u, M)),
    um("-u own mount through a symlink", ["-u", LINK_M], mountWithC(u, M)),
    um("-u own mount through a symlinked parent", ["-u", `${LINKDIR}/m`], mountWithC(u, REAL_M), { at: REAL_M }),
    um("-u own mount on a regular file", ["-u", FILE], mountWithC(u, FILE), { at: FILE }),
    um("-u own mount inside a search-only (0711) root directory", ["-u", XONLY_M], mountWithC(u, XONLY_M), { at: XONLY_M }),
    um("-u own mount in a root-owned 0777 directory", ["-u", ROOTDIR_W], mountWithC(u, ROOTDIR_W), { at: ROOTDIR_W }),
    um("-uz own mount", ["-uz", M], mountWithC(u, M)),
    um("-u -z own mount", ["-u", "-z", M], mountWithC(u, M)),
    um("-u -q own mount", ["-u", "-q", M], mountWithC(u, M)),
    um("-u -o bogus own mount (options ignored)", ["-u", "-o", "bogus", M], mountWithC(u, M)),
    um("-u not mounted", ["-u", M]),
    um("-u -q not mounted", ["-u", "-q", M]),
    um("-uz not mounted", ["-uz", M]),
    um("-u nonexistent", ["-u", `${B}/missing`]),
    um("-u -q nonexistent", ["-u", "-q", `${B}/missing`]),
    um("-u nonexistent parent", ["-u", `${B}/missing/deeper`]),
    um("-u -q nonexistent parent", ["-u", "-q", `${B}/missing/deeper`]),
    um("-u below a directory without search permission", ["-u", `${NOSEARCH}/inner`]),
    um("-u -q below a directory without search permission", ["-u", "-q", `${NOSEARCH}/inner`]),
    um("-u own mount, last component .", ["-u", `${M}/.`], mountWithC(u, M)),
    um("-u own mount on a regular file, trailing slash", ["-u", `${FILE}/`], mountWithC(u, FILE), { at: FILE }),
    um("-u own mount with root's tmpfs stacked on it", ["-u", M], () => { mountWithC(u, M)(); stackTmpfs(M); }, {
      diff: "unmount-checks-top-mount",
      ours: {
        ...refused(`${P}entry for ${M} not found in /etc/mtab\n`), mount: line(),
        mounts: [`${M} ${line()}`, `${M} rw,relatime - tmpfs none rw`].sort(),
      },
      c: { code: 0, stderr: "", mount: line(), mounts: [`${M} ${line()}`] },
    }),
    um("-u own mount stacked on root's tmpfs", ["-u", STACKBASE], () => { stackTmpfs(STACKBASE, "mode=0777"); mountWithC(u, STACKBASE)(); }, { at: STACKBASE }),
    um("-u another user's mount whose fsname is user_id=<uid>", ["-u", THEIRS], mountWithC(u2, THEIRS, `fsname=user_id=${u.uid}`), { at: THEIRS }),
    um("-u another user's mount whose subtype carries ,user_id=<uid>", ["-u", THEIRS], mountWithC(u2, THEIRS, `subtype=x\\,user_id=${u.uid}`), { at: THEIRS }),
    um("-u another user's mount whose fsname contains ' - '", ["-u", THEIRS], mountWithC(u2, THEIRS, `fsname=a - fuse b user_id=${u.uid}`), { at: THEIRS }),
    um("-u -q own mount with root's tmpfs stacked on it", ["-u", "-q", M], () => { mountWithC(u, M)(); stackTmpfs(M); }, {
      diff: "unmount-checks-top-mount",
      ours: { ...refused(""), mount: line(), mounts: [`${M} ${line()}`, `${M} rw,relatime - tmpfs none rw`].sort() },
      c: { code: 0, stderr: "", mount: line(), mounts: [`${M} ${line()}`] },
    }),
    um("-u another user's mount", ["-u", THEIRS], mountWithC(u2, THEIRS), { at: THEIRS }),
    um("-u -q another user's mount", ["-u", "-q", THEIRS], mountWithC(u2, THEIRS), { at: THEIRS }),
    um("-uz another user's mount", ["-uz", THEIRS], mountWithC(u2, THEIRS), { at: THEIRS }),
    um("-u own mount as the other user", ["-u", M], mountWithC(u, M), { as: u2 }),
    um("-u /tmp", ["-u", "/tmp"], undefined, { at: "/tmp" }),
    um("-u /proc", ["-u", "/proc"], undefined, { at: "/proc" }),
    um("-u /", ["-u", "/"], undefined, { at: "/" }),
    um("-u /dev/fuse", ["-u", "/dev/fuse"], undefined, { at: "/dev/fuse" }),
    um("-u /etc/fuse.conf", ["-u", "/etc/fuse.conf"], undefined, { at: "/etc/fuse.conf" }),
    ...(RAMFS ? [um("-u a ramfs mountpoint (not FUSE)", ["-u", RAMFS], undefined, { at: RAMFS })] : []),
    um("-u with a bogus fuse.conf (conf not read)", ["-u", M], undefined, { conf: "bogus\nmount_max = 0\n" }),
    ...["space", "tab", "newline", "backslash", "printf directives"].map((w) =>
      um(`-u own mount, name with ${w}`, ["-u", `${B}/${SPECIAL[w]}`], mountWithC(u, `${B}/${SPECIAL[w]}`), { at: `${B}/${SPECIAL[w]}` })),
  ]);

});
