/*
 * Helpers shared by the benchmarks under bench/ (one process each, single
 * threaded while they use these).
 */
#include "bench_util.h"

#include <ftw.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double
mm_bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Where nftw's callback appends: it takes no user pointer. */
static char **walk_list;
static int *walk_n, walk_max;

static int
is_capture(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot != NULL && (strcmp(dot, ".pcap") == 0 || strcmp(dot, ".pcapng") == 0 ||
	                       strcmp(dot, ".cap") == 0);
}

static int
add_file(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_F && is_capture(path) && *walk_n < walk_max)
		walk_list[(*walk_n)++] = strdup(path);
	return 0;
}

void
mm_bench_add_captures(char **list, int *n, int max, const char *dir)
{
	walk_list = list;
	walk_n = n;
	walk_max = max;
	nftw(dir, add_file, 16, FTW_PHYS);
}
