/*
 * The service pass's launcher (test/run.sh installs it as
 * $FM_TEST_PREFIX/service/fusermount3): refuses to run unless no-new-privs is
 * set, then execs the real non-set-uid launcher with argv and environment
 * unchanged. So a test that runs our launcher without setpriv --no-new-privs
 * in the service pass fails loudly instead of silently testing less (a
 * launcher that is not set-uid asks the service either way).
 *
 * Built with -DLAUNCHER="\"/path/to/the/non-set-uid/launcher\"".
 */
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	(void)argc;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) {
		fprintf(stderr, "test harness: our launcher was run without no-new-privs in the service pass "
				"(use runAs/fakeMount/ours() from test/lib/harness.ts)\n");
		return 99;
	}
	execve(LAUNCHER, argv, environ);
	perror(LAUNCHER);
	return 127;
}
