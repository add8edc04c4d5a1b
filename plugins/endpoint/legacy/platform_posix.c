/*
 * The platform layer of the PC checks on Linux and other POSIX systems:
 * the OS identity from os-release and the kernel release, read below a root
 * directory so that tests use fixture trees. A Windows build provides the
 * same legacy_platform_os() from the version API instead (platform_win.c).
 * Runs in the legacy module's worker process.
 */
#include "legacy.h"

#include <mimamori/error.h>

#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#define OS_RELEASE_MAX 65536

/* Unquote an os-release value in place: "..." or '...' with backslash
 * escapes, as the os-release(5) format allows. */
static char *
unquote(char *v)
{
	char q = v[0], *r, *w;

	if (q != '"' && q != '\'')
		return legacy_trim(v);
	for (r = v + 1, w = v; *r != '\0' && *r != q; r++) {
		if (*r == '\\' && r[1] != '\0')
			r++;
		*w++ = *r;
	}
	*w = '\0';
	return v;
}

int
legacy_os_release_parse(struct legacy_os_info *out, const char *text, size_t len)
{
	char line[512];
	size_t pos = 0;
	int found = 0;

	while (legacy_next_line(line, sizeof(line), text, len, &pos)) {
		char *s = legacy_trim(line), *eq, *v;

		if (s[0] == '#' || (eq = strchr(s, '=')) == NULL)
			continue;
		*eq = '\0';
		v = unquote(eq + 1);
		if (strcmp(s, "ID") == 0) {
			legacy_strlcpy(out->id, v, sizeof(out->id));
			found = 1;
		} else if (strcmp(s, "ID_LIKE") == 0) {
			legacy_strlcpy(out->id_like, v, sizeof(out->id_like));
		} else if (strcmp(s, "VERSION_ID") == 0) {
			legacy_strlcpy(out->version_id, v, sizeof(out->version_id));
		} else if (strcmp(s, "PRETTY_NAME") == 0) {
			legacy_strlcpy(out->pretty, v, sizeof(out->pretty));
		}
	}
	return found ? MM_OK : MM_ERR_NOTFOUND;
}

int
legacy_platform_os(struct legacy_os_info *out, const char *root)
{
	static const char *const candidates[] = {"etc/os-release", "usr/lib/os-release"};
	char path[4096];
	char *text = NULL;
	size_t len = 0, i;
	int rc = MM_ERR_NOTFOUND;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
		legacy_path(path, sizeof(path), root, candidates[i]);
		if (legacy_read_file(&text, &len, path, OS_RELEASE_MAX) == MM_OK)
			break;
	}
	if (text != NULL) {
		rc = legacy_os_release_parse(out, text, len);
		free(text);
		text = NULL;
	}
	if (out->id[0] == '\0')
		legacy_strlcpy(out->id, "linux", sizeof(out->id));

	/* The kernel release: the fixture's proc file, else uname on the live
	 * system. Never uname below a fixture root: that would leak the test
	 * machine's kernel into the result. */
	legacy_path(path, sizeof(path), root, "proc/sys/kernel/osrelease");
	if (legacy_read_file(&text, &len, path, 256) == MM_OK) {
		char *nl = strchr(text, '\n');
		if (nl != NULL)
			*nl = '\0';
		legacy_strlcpy(out->kernel, legacy_trim(text), sizeof(out->kernel));
		free(text);
	} else if (root == NULL || strcmp(root, "/") == 0) {
		struct utsname u;
		if (uname(&u) == 0) {
			legacy_strlcpy(out->kernel, u.release, sizeof(out->kernel));
			legacy_strlcpy(out->machine, u.machine, sizeof(out->machine));
		}
	}
	return rc;
}
