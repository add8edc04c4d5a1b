/*
 * Driver for the short fuzz runs in CI: feeds LLVMFuzzerTestOneInput every
 * file of a corpus directory, then MM_FUZZ_ITERATIONS (default 2000)
 * mutations of each: bit flips, byte sets to edge values, truncations,
 * insertions and splices with another seed. The mutations come from a
 * fixed-seed generator so a failure reproduces; the seed and iteration are
 * printed before each input when MM_FUZZ_VERBOSE is set. A crash, a
 * sanitizer report or a hang (ctest's timeout) fails the test.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seed {
	uint8_t *data;
	size_t len;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t
rnd(void)
{
	/* xorshift64*: small, fast and reproducible. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static int
load(struct seed *out, const char *path)
{
	FILE *f = fopen(path, "rb");
	long n;

	if (f == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return -1;
	}
	out->len = (size_t)n;
	out->data = malloc(out->len ? out->len : 1);
	if (out->data == NULL || fread(out->data, 1, out->len, f) != out->len) {
		free(out->data);
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static size_t
mutate(uint8_t *buf, size_t len, size_t cap, const struct seed *other)
{
	static const uint8_t edge[] = {0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff};
	unsigned rounds = 1 + (unsigned)(rnd() % 4), i;

	for (i = 0; i < rounds; i++) {
		switch (rnd() % 6) {
		case 0: /* flip a bit */
			if (len)
				buf[rnd() % len] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 1: /* set a byte to an edge value */
			if (len)
				buf[rnd() % len] = edge[rnd() % sizeof(edge)];
			break;
		case 2: /* truncate */
			if (len)
				len = (size_t)(rnd() % len);
			break;
		case 3: /* insert random bytes */
			if (len < cap) {
				size_t at = len ? (size_t)(rnd() % len) : 0;
				size_t n = 1 + (size_t)(rnd() % 16);
				size_t k;
				if (n > cap - len)
					n = cap - len;
				memmove(buf + at + n, buf + at, len - at);
				for (k = 0; k < n; k++)
					buf[at + k] = (uint8_t)rnd();
				len += n;
			}
			break;
		case 4: /* overwrite a 16/32-bit field with an edge value */
			if (len >= 4) {
				size_t at = (size_t)(rnd() % (len - 3));
				uint32_t v =
				        (rnd() & 1) ? 0xffffffffu : (uint32_t)(rnd() % 0x10000);
				memcpy(buf + at, &v, (rnd() & 1) ? 2 : 4);
			}
			break;
		default: /* splice the tail of another seed */
			if (other->len && len) {
				size_t at = (size_t)(rnd() % len);
				size_t from = (size_t)(rnd() % other->len);
				size_t n = other->len - from;
				if (n > cap - at)
					n = cap - at;
				memcpy(buf + at, other->data + from, n);
				len = at + n;
			}
			break;
		}
	}
	return len;
}

int
main(int argc, char **argv)
{
	struct seed *seeds = NULL;
	size_t nseeds = 0, i, cap = 0;
	long iterations = 2000;
	const char *env = getenv("MM_FUZZ_ITERATIONS");
	int verbose = getenv("MM_FUZZ_VERBOSE") != NULL;
	uint8_t *buf;
	DIR *d;
	struct dirent *de;
	unsigned long long runs = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	if (env)
		iterations = strtol(env, NULL, 10);
	d = opendir(argv[1]);
	if (d == NULL) {
		fprintf(stderr, "%s: cannot open corpus %s\n", argv[0], argv[1]);
		return 2;
	}
	while ((de = readdir(d)) != NULL) {
		char path[4096];
		struct stat st;
		struct seed s, *grown;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || load(&s, path) != 0)
			continue;
		grown = realloc(seeds, (nseeds + 1) * sizeof(*seeds));
		if (grown == NULL)
			return 2;
		seeds = grown;
		seeds[nseeds++] = s;
		if (s.len > cap)
			cap = s.len;
	}
	closedir(d);
	if (nseeds == 0) {
		fprintf(stderr, "%s: corpus %s is empty\n", argv[0], argv[1]);
		return 2;
	}
	cap = cap * 2 + 64;
	buf = malloc(cap);
	if (buf == NULL)
		return 2;
	for (i = 0; i < nseeds; i++) {
		long it;

		LLVMFuzzerTestOneInput(seeds[i].data, seeds[i].len);
		runs++;
		for (it = 0; it < iterations; it++) {
			size_t len;
			uint8_t *exact;

			memcpy(buf, seeds[i].data, seeds[i].len);
			len = mutate(buf, seeds[i].len, cap, &seeds[rnd() % nseeds]);
			if (verbose)
				fprintf(stderr, "seed %zu iteration %ld len %zu\n", i, it, len);
			/* An exact-size copy lets ASan catch reads one past the end. */
			exact = malloc(len ? len : 1);
			if (exact == NULL)
				return 2;
			memcpy(exact, buf, len);
			LLVMFuzzerTestOneInput(exact, len);
			free(exact);
			runs++;
		}
	}
	printf("%s: %llu inputs from %zu seeds, no crash\n", argv[0], runs, nseeds);
	for (i = 0; i < nseeds; i++)
		free(seeds[i].data);
	free(seeds);
	free(buf);
	return 0;
}
