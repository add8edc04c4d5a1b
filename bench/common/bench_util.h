/*
 * Small pieces every benchmark needs: a monotonic clock in seconds and the
 * list of capture files under a directory.
 */
#ifndef MM_BENCH_UTIL_H
#define MM_BENCH_UTIL_H

/* Seconds of CLOCK_MONOTONIC. */
double mm_bench_now(void);

/* Append the capture files (.pcap, .pcapng, .cap) found under dir to
 * list[*n .. max), as strdup()ed paths. A missing dir adds nothing. */
void mm_bench_add_captures(char **list, int *n, int max, const char *dir);

#endif
