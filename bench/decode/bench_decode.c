/*
 * Benchmark of the frame decoder. Reads capture files with libpcap and
 * decodes every frame with mm_packet_decode(), and, in the same run, reads
 * the same files with a bare pcap_next_ex() loop; prints packets per second
 * of both and their ratio, plus the decoder alone on frames held in memory.
 * A stand-alone tool, run by hand: bench_decode [-r ROUNDS] [FILE...];
 * without files it takes every capture under tests/data and, when present,
 * ../shared/data.
 */
#define _XOPEN_SOURCE 700
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_util.h"
#include "mimamori/packet.h"

#define MAX_FILES 4096

static char *files[MAX_FILES];
static int nfiles;

/* One pass over every file; decode or only touch each frame. Returns the
 * number of frames. */
static unsigned long
pass(int decode, unsigned long *sink)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	struct mm_packet p;
	unsigned long n = 0;

	for (int i = 0; i < nfiles; i++) {
		pcap_t *pc = pcap_open_offline(files[i], ebuf);
		int lt;

		if (pc == NULL)
			continue;
		lt = pcap_datalink(pc);
		while (pcap_next_ex(pc, &h, &d) == 1) {
			if (decode) {
				mm_packet_decode(&p, lt, 0, d, h->caplen, h->len);
				*sink += p.layers + p.payload_len;
			} else {
				*sink += h->caplen ? d[0] : 0;
			}
			n++;
		}
		pcap_close(pc);
	}
	return n;
}

struct frame {
	int linktype;
	uint32_t caplen, wirelen;
	uint8_t *data;
};

/* Frames of every file in memory, for the decoder on its own. */
static struct frame *
load_all(unsigned long *out_n)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	struct frame *v = NULL;
	unsigned long n = 0, cap = 0;

	for (int i = 0; i < nfiles; i++) {
		pcap_t *pc = pcap_open_offline(files[i], ebuf);

		if (pc == NULL)
			continue;
		while (pcap_next_ex(pc, &h, &d) == 1) {
			if (n == cap) {
				struct frame *nv;

				cap = cap ? cap * 2 : 1024;
				nv = realloc(v, cap * sizeof(*v));
				if (nv == NULL)
					exit(1);
				v = nv;
			}
			v[n].linktype = pcap_datalink(pc);
			v[n].caplen = h->caplen;
			v[n].wirelen = h->len;
			v[n].data = malloc(h->caplen ? h->caplen : 1);
			if (v[n].data == NULL)
				exit(1);
			memcpy(v[n].data, d, h->caplen);
			n++;
		}
		pcap_close(pc);
	}
	*out_n = n;
	return v;
}

/*
 * The decoder alone per link type, frames in memory: the shortest of the
 * rounds, since interference on a shared machine only ever makes a round
 * slower. Shows which path a change helped or hurt.
 */
static void
by_link(const struct frame *v, unsigned long n, int rounds, unsigned long *sink)
{
	static const int links[] = {0, 1, 12, 101, 105, 113, 127, 228, 229};
	struct mm_packet p;
	unsigned long k, j, cnt;
	unsigned long *idx = malloc((n ? n : 1) * sizeof(*idx));
	double t, best;

	if (idx == NULL)
		exit(1);
	for (size_t l = 0; l < sizeof(links) / sizeof(links[0]); l++) {
		cnt = 0;
		for (k = 0; k < n; k++)
			if (v[k].linktype == links[l])
				idx[cnt++] = k;
		if (cnt == 0)
			continue;
		best = 1e9;
		for (int r = 0; r < rounds; r++) {
			t = mm_bench_now();
			for (j = 0; j < cnt; j++) {
				k = idx[j];
				mm_packet_decode(&p, v[k].linktype, 0, v[k].data, v[k].caplen,
				                 v[k].wirelen);
				*sink += p.layers;
			}
			t = mm_bench_now() - t;
			if (t < best)
				best = t;
		}
		printf("  link type %3d: %6lu frames, decode alone %6.1f ns/packet (best round)\n",
		       links[l], cnt, best * 1e9 / (double)cnt);
	}
	free(idx);
}

int
main(int argc, char **argv)
{
	int rounds = 20, i = 1;
	unsigned long sink = 0, per_pass = 0, nframes, k;
	double t, base = 0, dec = 0, mem;
	struct frame *v;
	struct mm_packet p;

	if (argc > 2 && strcmp(argv[1], "-r") == 0) {
		rounds = atoi(argv[2]);
		i = 3;
		if (rounds < 1)
			rounds = 1;
	}
	for (; i < argc && nfiles < MAX_FILES; i++)
		files[nfiles++] = strdup(argv[i]);
	if (nfiles == 0) {
		mm_bench_add_captures(files, &nfiles, MAX_FILES, MM_BENCH_DATA);
		mm_bench_add_captures(files, &nfiles, MAX_FILES, MM_BENCH_SHARED);
	}
	if (nfiles == 0) {
		fprintf(stderr, "bench_decode: no capture files\n");
		return 1;
	}
	/* Warm the page cache, then alternate the two loops so that drift in
	 * the machine's speed hits both alike. */
	per_pass = pass(0, &sink);
	for (int r = 0; r < rounds; r++) {
		t = mm_bench_now();
		pass(0, &sink);
		base += mm_bench_now() - t;
		t = mm_bench_now();
		pass(1, &sink);
		dec += mm_bench_now() - t;
	}
	v = load_all(&nframes);
	t = mm_bench_now();
	for (int r = 0; r < rounds; r++)
		for (k = 0; k < nframes; k++) {
			mm_packet_decode(&p, v[k].linktype, 0, v[k].data, v[k].caplen,
			                 v[k].wirelen);
			sink += p.layers;
		}
	mem = mm_bench_now() - t;

	printf("files: %d, frames per pass: %lu, rounds: %d\n", nfiles, per_pass, rounds);
	printf("pcap_next_ex only:        %12.0f packets/s\n", per_pass * rounds / base);
	printf("pcap_next_ex + decode:    %12.0f packets/s\n", per_pass * rounds / dec);
	printf("ratio (decode / bare):    %12.3f\n", base / dec);
	printf("decode alone (in memory): %12.0f packets/s, %.1f ns/packet\n",
	       nframes * rounds / mem, mem * 1e9 / ((double)nframes * rounds));
	by_link(v, nframes, rounds, &sink);
	for (k = 0; k < nframes; k++)
		free(v[k].data);
	free(v);
	for (i = 0; i < nfiles; i++)
		free(files[i]);
	/* Keeps the loops from being optimised away. */
	return sink == 42 ? 2 : 0;
}
