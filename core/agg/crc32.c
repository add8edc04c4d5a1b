/*
 * CRC-32 (IEEE 802.3, reflected, the one zlib and gzip use) for the spool's
 * records. Every event stored and read back goes through it, so on x86-64
 * processors with carry-less multiplication the bulk of a buffer is folded
 * 64 bytes at a time with PCLMULQDQ, the method of Intel's white paper "Fast
 * CRC Computation for Generic Polynomials Using PCLMULQDQ Instruction"
 * (Gopal et al., 2009); the fold keeps the remainder modulo the polynomial,
 * so the last 16 folded bytes and the tail then go through the table. Other
 * processors, and buffers under 64 bytes, use the table alone (eight bytes
 * per step).
 *
 * Runs wherever the spool does: aggregator, `events tail`, `status`.
 */
#include "crc32.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define MM_CRC_CLMUL 1
#endif

static uint32_t tab[8][256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void
tab_init(void)
{
	uint32_t i;
	int k;

	for (i = 0; i < 256; i++) {
		uint32_t v = i;
		for (k = 0; k < 8; k++)
			v = (v & 1) ? 0xedb88320u ^ (v >> 1) : v >> 1;
		tab[0][i] = v;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			tab[k][i] = (tab[k - 1][i] >> 8) ^ tab[0][tab[k - 1][i] & 0xff];
}

/* The register (not inverted) carried over n more bytes. */
static uint32_t
by_table(uint32_t c, const uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		                   (uint32_t)p[3] << 24);
		c = tab[7][lo & 0xff] ^ tab[6][(lo >> 8) & 0xff] ^ tab[5][(lo >> 16) & 0xff] ^
		    tab[4][lo >> 24] ^ tab[3][p[4]] ^ tab[2][p[5]] ^ tab[1][p[6]] ^ tab[0][p[7]];
		p += 8;
		n -= 8;
	}
	while (n-- > 0)
		c = tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

#ifdef MM_CRC_CLMUL
/*
 * Folding constants for the reflected polynomial, each x^k mod P(x)
 * bit-reflected and shifted left by one: 512 bits ahead (fold by four
 * 128-bit lanes) and 128 bits ahead (fold one lane into the next).
 */
#define K_512_LO 0x154442bd4ull
#define K_512_HI 0x1c6e41596ull
#define K_128_LO 0x1751997d0ull
#define K_128_HI 0x0ccaa009eull

__attribute__((target("pclmul,sse2"))) static inline __m128i
fold(__m128i x, __m128i k, __m128i next)
{
	__m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
	__m128i hi = _mm_clmulepi64_si128(x, k, 0x11);

	return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* n >= 64. The register (not inverted) carried over n more bytes. */
__attribute__((target("pclmul,sse2"))) static uint32_t
by_clmul(uint32_t c, const uint8_t *p, size_t n)
{
	const __m128i k512 = _mm_set_epi64x((long long)K_512_HI, (long long)K_512_LO);
	const __m128i k128 = _mm_set_epi64x((long long)K_128_HI, (long long)K_128_LO);
	__m128i x0, x1, x2, x3;
	uint8_t last[16];

	x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p), _mm_cvtsi32_si128((int)c));
	x1 = _mm_loadu_si128((const __m128i *)(p + 16));
	x2 = _mm_loadu_si128((const __m128i *)(p + 32));
	x3 = _mm_loadu_si128((const __m128i *)(p + 48));
	p += 64;
	n -= 64;
	while (n >= 64) {
		x0 = fold(x0, k512, _mm_loadu_si128((const __m128i *)p));
		x1 = fold(x1, k512, _mm_loadu_si128((const __m128i *)(p + 16)));
		x2 = fold(x2, k512, _mm_loadu_si128((const __m128i *)(p + 32)));
		x3 = fold(x3, k512, _mm_loadu_si128((const __m128i *)(p + 48)));
		p += 64;
		n -= 64;
	}
	x0 = fold(x0, k128, x1);
	x0 = fold(x0, k128, x2);
	x0 = fold(x0, k128, x3);
	while (n >= 16) {
		x0 = fold(x0, k128, _mm_loadu_si128((const __m128i *)p));
		p += 16;
		n -= 16;
	}
	/* x0 has the same remainder as everything folded so far. */
	_mm_storeu_si128((__m128i *)last, x0);
	return by_table(by_table(0, last, sizeof(last)), p, n);
}

static int have_clmul;

static void
clmul_probe(void)
{
	__builtin_cpu_init();
	have_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
}
#endif

static void
init(void)
{
	tab_init();
#ifdef MM_CRC_CLMUL
	clmul_probe();
#endif
}

static uint32_t
crc32_run(uint32_t crc, const void *data, size_t n, int clmul)
{
	const uint8_t *p = data;
	uint32_t c = crc ^ 0xffffffffu;

	pthread_once(&tab_once, init);
#ifdef MM_CRC_CLMUL
	if (clmul && have_clmul && n >= 64)
		return by_clmul(c, p, n) ^ 0xffffffffu;
#else
	(void)clmul;
#endif
	return by_table(c, p, n) ^ 0xffffffffu;
}

uint32_t
mm_crc32(uint32_t crc, const void *data, size_t n)
{
	return crc32_run(crc, data, n, 1);
}

uint32_t
mm_crc32_table(uint32_t crc, const void *data, size_t n)
{
	return crc32_run(crc, data, n, 0);
}

int
mm_crc32_accelerated(void)
{
	pthread_once(&tab_once, init);
#ifdef MM_CRC_CLMUL
	return have_clmul;
#else
	return 0;
#endif
}
