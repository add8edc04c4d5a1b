/*
 * libFuzzer target for the ips rule parser: each input line is parsed as a
 * rule (variables, address and port lists, options, content hex, pcre),
 * then the set is compiled into the prefilter, so a rule that parses but
 * breaks the engine is found too.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ips_engine.h"
#include "ips_rule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ips_ruleset *rs = NULL;
	struct ips_engine *e = NULL;
	struct ips_vars v;
	char *text, *line, *save = NULL;

	if (size > 65536)
		return 0;
	text = malloc(size + 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	ips_vars_init(&v);
	ips_ruleset_new(&rs);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		ips_ruleset_add_line(rs, &v, line, "fuzz", 1);
	if (ips_engine_new(&e, NULL, NULL, NULL) == 0)
		ips_engine_set_rules(e, rs);
	else
		ips_ruleset_free(rs);
	ips_engine_free(e);
	ips_vars_free(&v);
	free(text);
	return 0;
}
