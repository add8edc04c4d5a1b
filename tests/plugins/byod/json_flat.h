/*
 * Test helper: flattens one JSON object (a line printed by `mimamori
 * replay`) into (path, value) pairs, "dev.mac" -> "00:11:...", so the
 * end-to-end tests can check fields without a JSON library. Strings are
 * unescaped; numbers, true/false/null keep their text.
 */
#ifndef BYOD_TEST_JSON_FLAT_H
#define BYOD_TEST_JSON_FLAT_H

#include <stddef.h>

#define JF_MAX 128

struct jf_pair {
	char path[96];
	char value[1024];
};

struct jflat {
	struct jf_pair v[JF_MAX];
	size_t n;
};

/* Returns 0 on success, -1 when the text is not one JSON object. */
int jf_parse(struct jflat *out, const char *text);
/* The value at path, or NULL. */
const char *jf_get(const struct jflat *j, const char *path);

#endif
