/*
 * fusermount3 launcher: the only set-uid code of this project.
 *
 * The Bun runtime reads BUN_OPTIONS, BUN_INSPECT, BUN_BE_BUN, BUN_JSC_* ... before
 * any of our code runs, so a set-uid Bun binary hands root to any user. This
 * program builds a new environment from scratch and execs the non-set-uid Bun
 * binary at a fixed root-owned path. It keeps three variables, each validated,
 * passes argv unchanged, and changes nothing else except two things the
 * runtime cannot start without: a cwd it can resolve (a deleted or over-long
 * cwd is kept open as an fd for the helper to return to, and passed as
 * _FUSERMOUNT3_CWD_FD), and soft stack/address-space limits large enough for
 * it (raised up to the hard limit; below the minimum, one line and exit 1).
 * No uid changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#ifndef HELPER_PATH
#error "build with -DHELPER_PATH=\"/absolute/path/to/fusermount3-bun\""
#endif

static int all_digits(const char *v, size_t max)
{
	size_t n = strlen(v);
	if (n == 0 || n > max)
		return 0;
	return strspn(v, "0123456789") == n;
}

static int device_path(const char *v)
{
	size_t n = strlen(v);
	if (n <= 5 || n > 255 || strncmp(v, "/dev/", 5) != 0)
		return 0;
	for (const char *p = v; *p; p++)
		if (*p <= ' ' || *p > '~')
			return 0;
	return 1;
}

/*
 * Measured: the helper's runtime fails to start below ~256 KiB of stack or
 * ~4 GiB of address space (it reserves its heap and JIT regions up front).
 * Only a soft limit below the minimum is raised (to `want`, or the hard limit);
 * a hard limit below the minimum is refused with one line.
 */
static int ensure_limit(const char *prog, int resource, const char *what, rlim_t minimum, rlim_t want)
{
	struct rlimit rl;
	if (getrlimit(resource, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= minimum)
		return 0;
	rlim_t target = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= want ? want : rl.rlim_max;
	if (target < minimum) {
		fprintf(stderr, "%s: the %s limit (hard %llu KiB) is below the %llu KiB the helper needs: raise it\n",
			prog, what, (unsigned long long)(rl.rlim_max / 1024), (unsigned long long)(minimum / 1024));
		return -1;
	}
	rl.rlim_cur = target;
	return setrlimit(resource, &rl) == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	static char *fallback_argv[] = { "fusermount", NULL };
	char *commfd = NULL, *commfd2 = NULL, *device = NULL;
	static char cwdfd[40];
	char *envp[5];
	int n = 0;

	/* First occurrence of each name wins, as with getenv(). */
	for (char **e = __environ; e && *e; e++) {
		if (!strncmp(*e, "_FUSE_COMMFD=", 13))
			commfd = commfd ? commfd : *e;
		else if (!strncmp(*e, "_FUSE_COMMFD2=", 14))
			commfd2 = commfd2 ? commfd2 : *e;
		else if (!strncmp(*e, "FUSE_KERN_DEVICE=", 17))
			device = device ? device : *e;
	}
	if (commfd && all_digits(commfd + 13, 10))
		envp[n++] = commfd;
	if (commfd2 && all_digits(commfd2 + 14, 10))
		envp[n++] = commfd2;
	if (device && device_path(device + 17))
		envp[n++] = device;
	char **args = argc > 0 ? argv : fallback_argv;
	if (ensure_limit(args[0], RLIMIT_STACK, "stack size (ulimit -s)", 1024 * 1024, 8 * 1024 * 1024) < 0 ||
	    ensure_limit(args[0], RLIMIT_AS, "address space (ulimit -v)", 8ULL << 30, RLIM_INFINITY) < 0)
		return 1;
	/*
	 * Bun will not start in a deleted directory, nor in one whose path is
	 * longer than PATH_MAX. Only then: keep the old cwd open, start in "/", and
	 * tell the helper which fd to return to, so that relative mountpoints
	 * resolve (or fail) there exactly as they do for libfuse.
	 */
	char buf[PATH_MAX];
	if (!getcwd(buf, sizeof buf) && (errno == ENOENT || errno == ENAMETOOLONG || errno == ERANGE)) {
		int fd = open(".", O_PATH | O_DIRECTORY);
		if (fd >= 0 && chdir("/") == 0) {
			snprintf(cwdfd, sizeof cwdfd, "_FUSERMOUNT3_CWD_FD=%d", fd);
			envp[n++] = cwdfd;
		}
	}
	envp[n] = NULL;

	execve(HELPER_PATH, args, envp);
	fprintf(stderr, "%s: failed to execute %s: %s\n", args[0], HELPER_PATH, strerror(errno));
	return 1;
}
