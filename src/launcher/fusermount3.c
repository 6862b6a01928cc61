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
 * No uid changes on that path.
 *
 * First, though, it asks the root service (fusermount3-bun --service) if one
 * listens at SERVICE_SOCKET: that works where set-uid does not (NoNewPrivileges).
 * It connects with its effective ids lowered to the real ones (SO_PEERCRED
 * records them at connect(); the saved uid keeps 0 for the fallback), sends
 * argv, the three variables and its fds 0, 1, 2, cwd and comm fd in one
 * message (protocol/README.md), and exits with the status the service returns;
 * while the service holds its auto-unmount watch it keeps the comm fd and, if
 * the service restarts, hands the watch back. If connect() fails (no
 * service), it goes on as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef HELPER_PATH
#error "build with -DHELPER_PATH=\"/absolute/path/to/fusermount3-bun\""
#endif

#ifndef SERVICE_SOCKET
#define SERVICE_SOCKET "/run/fusermount3/service.sock"
#endif
/* Longer than the service's own bounded waits (proceed: 300 s). */
#define SERVICE_TIMEOUT_MS (330 * 1000)

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

static int append(char *msg, size_t size, size_t *len, const char *str)
{
	size_t n = strlen(str) + 1;
	if (*len + n > size)
		return 0;
	memcpy(msg + *len, str, n);
	*len += n;
	return 1;
}

static int connect_service(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = SERVICE_SOCKET };
	_Static_assert(sizeof SERVICE_SOCKET <= sizeof sa.sun_path, "SERVICE_SOCKET too long");
	int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof sa) != 0)
		close(s), s = -1;
	return s;
}

static int send_request(int s, char *msg, size_t len, const int *fds, int nfds)
{
	char control[CMSG_SPACE(5 * sizeof(int))] = { 0 };
	struct iovec iov = { msg, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
			     .msg_controllen = CMSG_SPACE(nfds * sizeof(int)) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET, cm->cmsg_type = SCM_RIGHTS, cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	return sendmsg(s, &mh, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/*
 * The exit status from the service, or -1 when there is none (connect fails).
 * A request that goes on as an auto-unmount watch ("FM3W") keeps the comm fd
 * (which the watch holds too, so the server's end sees EOF no sooner and no
 * later than with the C helper's watchdog) and waits for the end of the watch;
 * if the service goes away meanwhile (a restart), it connects again, once a
 * second, and hands the watch back (FLAG_RESUME, the same request).
 */
static int via_service(char **args, char **vars, int nvars, const char *commfd)
{
	static char msg[65536];
	uid_t euid = geteuid();
	/* fds 0-2 open (glibc already does this for set-uid programs), so that
	 * the socket is not one of them */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			return -1;
	if (setresgid(getgid(), getgid(), -1) != 0 || setresuid(getuid(), getuid(), -1) != 0)
		return -1;
	int s = connect_service();
	if (s < 0)
		return setresuid(-1, euid, -1) == 0 ? -1 : 1;
	int fds[5] = { 0, 1, 2, open(".", O_PATH | O_DIRECTORY | O_CLOEXEC), -1 }, nfds = 4;
	long comm = commfd ? strtol(commfd + 13, NULL, 10) : -1;
	if (comm >= 0 && comm <= INT_MAX && fcntl((int)comm, F_GETFD) >= 0)
		fds[nfds++] = (int)comm;
	unsigned int head[4] = { 0, 1, nfds == 5, 0 };
	size_t len = sizeof head;
	for (char **a = args; *a; a++, head[3]++)
		if (!append(msg, sizeof msg, &len, *a))
			return fprintf(stderr, "%s: arguments too long for the service\n", args[0]), 1;
	for (int i = 0; i < nvars; i++)
		if (!append(msg, sizeof msg, &len, vars[i]))
			return fprintf(stderr, "%s: arguments too long for the service\n", args[0]), 1;
	memcpy(head, "FM3Q", 4);
	memcpy(msg, head, sizeof head);
	if (fds[3] < 0)
		return fprintf(stderr, "%s: cannot open the current directory: %s\n", args[0], strerror(errno)), 1;
	if (send_request(s, msg, len, fds, nfds) != 0)
		return fprintf(stderr, "%s: cannot send the request to the service: %s\n", args[0], strerror(errno)), 1;
	close(fds[3]);
	/* Bounded, until the request goes on as an auto-unmount watch. */
	for (int timeout = SERVICE_TIMEOUT_MS;;) {
		struct pollfd p = { s, POLLIN, 0 };
		int rc = poll(&p, 1, timeout);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return fprintf(stderr, "%s: no answer from the service at %s\n", args[0], SERVICE_SOCKET), 1;
		char r[16];
		ssize_t n = recv(s, r, sizeof r, MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 4 && !memcmp(r, "FM3W", 4)) { /* as the watchdog: hold none of the caller's pipes */
			int null = open("/dev/null", O_RDWR | O_CLOEXEC);
			for (int fd = 0; fd < 3 && null >= 0; fd++)
				dup2(null, fd);
			/* Keep only the socket (as fd 3) and the comm fd (as fd 4). */
			int a = fcntl(s, F_DUPFD_CLOEXEC, 100), b = nfds == 5 ? fcntl(fds[4], F_DUPFD_CLOEXEC, 100) : -1;
			if (a >= 0 && (nfds != 5 || b >= 0)) {
				s = dup3(a, 3, O_CLOEXEC);
				if (b >= 0)
					fds[4] = dup3(b, 4, O_CLOEXEC);
				close_range(b >= 0 ? 5 : 4, ~0U, 0);
			}
			timeout = -1;
			continue;
		}
		if (n == 8 && !memcmp(r, "FM3S", 4)) {
			int status;
			memcpy(&status, r + 4, sizeof status);
			return status & 0xff;
		}
		if (timeout >= 0 || nfds != 5)
			return fprintf(stderr, "%s: the service ended the request without a status\n", args[0]), 1;
		/* The service went away while it held our watch. */
		close(s);
		for (;;) {
			sleep(1);
			if ((s = connect_service()) < 0)
				continue;
			head[2] |= 2; /* FLAG_RESUME */
			memcpy(msg, head, sizeof head);
			int again[5] = { 0, 1, 2, open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), fds[4] };
			if (again[3] >= 0 && send_request(s, msg, len, again, 5) == 0) {
				close(again[3]);
				break;
			}
			if (again[3] >= 0)
				close(again[3]);
			close(s);
		}
	}
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
	int status = via_service(args, envp, n, commfd && all_digits(commfd + 13, 10) ? commfd : NULL);
	if (status >= 0)
		return status;
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
