/*
 * Put N small tmpfs mounts under DIR (DIR/0 … DIR/N-1), fast: the tests of
 * mount-table scale need 10,000 of them in a private mount namespace.
 *
 *   manymounts DIR N
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	long n = strtol(argv[2], NULL, 10);
	char path[4096];
	for (long i = 0; i < n; i++) {
		snprintf(path, sizeof path, "%s/%ld", argv[1], i);
		if (mkdir(path, 0755) != 0 || mount("none", path, "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,nr_inodes=8") != 0) {
			perror(path);
			return 1;
		}
	}
	return 0;
}
