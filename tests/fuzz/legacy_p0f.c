/*
 * Fuzz target of the legacy plugin's text parsers: p0f v3 signatures (with
 * a match of a fixed observation against whatever parsed), the signal
 * table, the end-of-life table and os-release. Runs in the fuzzer process.
 */
#include "legacy.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t xp[] = {2, 4, 5, 0xb4, 1, 1, 4, 2};
	const char *text = (const char *)data;
	struct legacy_p0f db;
	struct legacy_sigtab tab;
	struct legacy_eol *eol = NULL;
	struct legacy_os_info os;
	struct legacy_tcp_obs o;
	int fuzzy;

	memset(&db, 0, sizeof(db));
	legacy_p0f_parse(&db, text, size);
	memset(&o, 0, sizeof(o));
	o.ver = 4;
	o.ttl = 120;
	o.win = 65535;
	o.quirks = Q_DF | Q_NZ_ID;
	legacy_tcp_parse_options(&o, xp, sizeof(xp), 0);
	legacy_p0f_match(&db, &o, &fuzzy);
	o.response = 1;
	legacy_p0f_match(&db, &o, &fuzzy);
	legacy_p0f_clear(&db);

	memset(&tab, 0, sizeof(tab));
	legacy_sigtab_parse(&tab, text, size);
	legacy_sigtab_find(&tab, "ua", "Windows NT 5.1");
	legacy_sigtab_find(&tab, "p0f", "Windows:XP");
	legacy_sigtab_clear(&tab);

	if (legacy_eol_parse(&eol, text, size) == 0) {
		legacy_eol_find(eol, "windows", "xp");
		legacy_eol_free(eol);
	}

	memset(&os, 0, sizeof(os));
	legacy_os_release_parse(&os, text, size);
	return 0;
}
