/*
 * Exec a program with a chosen argv[0] and exactly the given environment, for
 * the service pass of the tests (test/lib/harness.ts runs it under
 * `setpriv --no-new-privs`, which has no way to set the argv[0] of what it
 * runs). Static, and the environment travels in its arguments, so that no
 * dynamic loader or shell in between ever sees the test's LD_PRELOAD and the
 * like, nor adds PWD or SHLVL as bash's `exec -a` would.
 *
 *   argv0 <program> <argv0> <n> <NAME=VALUE>*n [args...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: argv0 PROGRAM ARGV0 N NAME=VALUE... [ARG...]\n");
		return 127;
	}
	int n = atoi(argv[3]);
	if (n < 0 || 4 + n > argc) {
		fprintf(stderr, "argv0: bad environment count\n");
		return 127;
	}
	char *env[n + 1];
	for (int i = 0; i < n; i++)
		env[i] = argv[4 + i];
	env[n] = NULL;
	char *prog = argv[1];
	argv[3 + n] = argv[2]; /* the new argv: ARGV0 then the args */
	execve(prog, argv + 3 + n, env);
	perror(prog);
	return 127;
}
