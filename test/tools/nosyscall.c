/*
 * Run a program as a user with one system call failing with a chosen errno,
 * the way a seccomp policy or an old kernel makes it fail: root installs the
 * filter (allowed without NoNewPrivileges for root), drops to the user and
 * execs the program; the filter is inherited by everything it runs, set-uid
 * programs included.
 *
 *   nosyscall <syscall-nr> <errno> <uid> <gid> <program> [args...]
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stddef.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#endif

int main(int argc, char **argv)
{
	if (argc < 6)
		return 2;
	unsigned nr = (unsigned)atoi(argv[1]), err = (unsigned)atoi(argv[2]);
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { sizeof f / sizeof f[0], f };
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog))
		return 3;
	uid_t uid = (uid_t)atoi(argv[3]);
	gid_t gid = (gid_t)atoi(argv[4]);
	if (setgroups(0, NULL) || setresgid(gid, gid, gid) || setresuid(uid, uid, uid))
		return 4;
	execv(argv[5], argv + 5);
	return 5;
}
