/*
 * Plugin discovery and loading. The supervisor and the CLI list plugins by
 * running `mimamori probe FILE` in a child for each file, so a plugin whose
 * constructor crashes or hangs costs one child, never the supervisor. The
 * worker (and the in-process modes) call mm_plugin_open() directly.
 *
 * Every refusal names the file and the reason in one line, and refused files
 * are never retried in a loop: they stay refused until the next scan.
 */
#include "loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <msgpack.h>

#include "mimamori/error.h"
#include "util.h"

#define PROBE_TIMEOUT_MS 10000
#define PROBE_MAX_BYTES (1024 * 1024)

void
mm_plugin_info_free(struct mm_plugin_info *info)
{
	size_t i;

	if (info == NULL)
		return;
	for (i = 0; i < info->nkeys; i++) {
		free((char *)info->keys[i].name);
		free((char *)info->keys[i].def);
		free((char *)info->keys[i].help);
	}
	free(info->keys);
	free(info->path);
	free(info->name);
	free(info->version);
	free(info->vendor);
	free(info->description);
	free(info->refused);
	free(info);
}

static char *
dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct mm_plugin_info *
mm_plugin_info_refused(const char *path, const char *reason)
{
	struct mm_plugin_info *info = calloc(1, sizeof(*info));

	if (info == NULL)
		return NULL;
	info->path = strdup(path);
	info->refused = strdup(reason);
	if (info->path == NULL || info->refused == NULL) {
		mm_plugin_info_free(info);
		return NULL;
	}
	return info;
}

static int
check_one(const char *path, const struct stat *st, unsigned service_uid, int is_dir, char *reason,
          size_t n)
{
	if (!is_dir && !S_ISREG(st->st_mode)) {
		snprintf(reason, n, "not a regular file");
		return MM_ERR_PERM;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(reason, n, "%s %s is writable by group or others (mode %04o)",
		         is_dir ? "directory" : "file", path, (unsigned)(st->st_mode & 07777));
		return MM_ERR_PERM;
	}
	if (st->st_uid != 0 && st->st_uid != service_uid) {
		snprintf(reason, n,
		         "%s %s is owned by uid %u, not root or the service user (uid %u)",
		         is_dir ? "directory" : "file", path, (unsigned)st->st_uid, service_uid);
		return MM_ERR_PERM;
	}
	return MM_OK;
}

/* The configured service user (host.user), whose files are trusted too. */
static unsigned configured_service_uid = (unsigned)-1;

void
mm_loader_set_service_user(const char *user)
{
	struct passwd *pw = (user && *user) ? getpwnam(user) : NULL;

	configured_service_uid = pw ? (unsigned)pw->pw_uid : (unsigned)-1;
}

int
mm_plugin_check_file(const char *path, unsigned service_uid, char *reason, size_t n)
{
	char dir[MM_PATH_MAX];
	struct stat st;
	char *slash;
	int rc;

	if (service_uid == (unsigned)-1)
		service_uid = configured_service_uid;
	if (service_uid == (unsigned)-1)
		service_uid = (unsigned)geteuid();
	if (stat(path, &st) != 0) {
		snprintf(reason, n, "cannot stat: %s", strerror(errno));
		return MM_ERR_IO;
	}
	rc = check_one(path, &st, service_uid, 0, reason, n);
	if (rc != MM_OK)
		return rc;
	mm_strlcpy(dir, path, sizeof(dir));
	slash = strrchr(dir, '/');
	if (slash == NULL)
		mm_strlcpy(dir, ".", sizeof(dir));
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) != 0) {
		snprintf(reason, n, "cannot stat directory %s: %s", dir, strerror(errno));
		return MM_ERR_IO;
	}
	return check_one(dir, &st, service_uid, 1, reason, n);
}

static int
valid_name(const char *name)
{
	size_t i;

	if (name == NULL || name[0] == '\0')
		return 0;
	for (i = 0; name[i]; i++) {
		char c = name[i];
		if (i >= 31 || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

int
mm_plugin_open(const char *path, void **out_dl, const struct mm_plugin **out, char *reason,
               size_t n)
{
	const struct mm_plugin *p;
	mm_plugin_entry_fn entry;
	void *dl, *sym;
	uint32_t major, minor;

	*out_dl = NULL;
	*out = NULL;
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (dl == NULL) {
		snprintf(reason, n, "cannot load: %s", dlerror());
		return MM_ERR_NOTFOUND;
	}
	sym = dlsym(dl, MM_PLUGIN_ENTRY_SYMBOL);
	if (sym == NULL) {
		snprintf(reason, n, "no entry symbol %s() (not a mimamori plugin?)",
		         MM_PLUGIN_ENTRY_SYMBOL);
		dlclose(dl);
		return MM_ERR_NOTFOUND;
	}
	/* POSIX guarantees that a dlsym() result converts to a function pointer. */
	memcpy(&entry, &sym, sizeof(entry));
	p = entry();
	if (p == NULL) {
		snprintf(reason, n, "%s() returned NULL", MM_PLUGIN_ENTRY_SYMBOL);
		dlclose(dl);
		return MM_ERR_ABI;
	}
	major = MM_ABI_VERSION_MAJOR(p->abi_version);
	minor = MM_ABI_VERSION_MINOR(p->abi_version);
	if (major != MM_ABI_MAJOR) {
		snprintf(reason, n,
		         "ABI version %u.%u is not supported: this host speaks ABI %u.%u", major,
		         minor, MM_ABI_MAJOR, MM_ABI_MINOR);
		dlclose(dl);
		return MM_ERR_ABI;
	}
	if (p->size < MM_PLUGIN_MIN_SIZE) {
		snprintf(reason, n,
		         "descriptor too small: struct mm_plugin is %u bytes, ABI %u.%u needs at "
		         "least %zu (plugin ABI %u.%u)",
		         p->size, MM_ABI_MAJOR, MM_ABI_MINOR, (size_t)MM_PLUGIN_MIN_SIZE, major,
		         minor);
		dlclose(dl);
		return MM_ERR_ABI;
	}
	if (!valid_name(p->name)) {
		snprintf(reason, n, "invalid plugin name (must be [a-z0-9_]{1,31})");
		dlclose(dl);
		return MM_ERR_ABI;
	}
	if (p->init == NULL || p->start == NULL || p->stop == NULL || p->fini == NULL) {
		snprintf(reason, n, "plugin %s lacks one of init/start/stop/fini", p->name);
		dlclose(dl);
		return MM_ERR_ABI;
	}
	*out_dl = dl;
	*out = p;
	return MM_OK;
}

int
mm_plugin_describe(struct mm_plugin_info **out, const char *path, const struct mm_plugin *p)
{
	struct mm_plugin_info *info;
	size_t i, n = 0;

	*out = NULL;
	info = calloc(1, sizeof(*info));
	if (info == NULL)
		return MM_ERR_NOMEM;
	info->path = strdup(path);
	info->name = dup_or_null(p->name);
	info->version = dup_or_null(p->version ? p->version : "");
	info->vendor = dup_or_null(p->vendor ? p->vendor : "");
	info->description = dup_or_null(p->description ? p->description : "");
	info->abi_version = p->abi_version;
	info->size = p->size;
	info->roles = p->roles;
	info->caps = p->caps;
	if (p->config)
		while (p->config[n].name && n < 1024)
			n++;
	if (n) {
		info->keys = calloc(n, sizeof(*info->keys));
		if (info->keys == NULL)
			goto nomem;
	}
	for (i = 0; i < n; i++) {
		const struct mm_cfg_key *k = &p->config[i];
		info->keys[i] = *k;
		info->keys[i].name = strdup(k->name);
		info->keys[i].def = dup_or_null(k->def);
		info->keys[i].help = dup_or_null(k->help ? k->help : "");
		info->nkeys = i + 1;
		if (info->keys[i].name == NULL || info->keys[i].help == NULL ||
		    (k->def && info->keys[i].def == NULL))
			goto nomem;
	}
	if (info->path == NULL || info->name == NULL || info->version == NULL ||
	    info->vendor == NULL || info->description == NULL)
		goto nomem;
	*out = info;
	return MM_OK;
nomem:
	mm_plugin_info_free(info);
	return MM_ERR_NOMEM;
}

/* Probe encoding: a msgpack array, fields in a fixed order. */

static int
buf_write(void *data, const char *buf, size_t len)
{
	return mm_buf_append(data, buf, len) == MM_OK ? 0 : -1;
}

static void
pack_str(msgpack_packer *pk, const char *s)
{
	if (s == NULL) {
		msgpack_pack_nil(pk);
		return;
	}
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

int
mm_plugin_info_encode(const struct mm_plugin_info *info, struct mm_buf *out)
{
	msgpack_packer pk;
	size_t i;

	msgpack_packer_init(&pk, out, buf_write);
	msgpack_pack_array(&pk, 11);
	pack_str(&pk, info->path);
	pack_str(&pk, info->refused);
	pack_str(&pk, info->name);
	pack_str(&pk, info->version);
	pack_str(&pk, info->vendor);
	pack_str(&pk, info->description);
	msgpack_pack_uint32(&pk, info->abi_version);
	msgpack_pack_uint32(&pk, info->size);
	msgpack_pack_uint32(&pk, info->roles);
	msgpack_pack_uint32(&pk, info->caps);
	msgpack_pack_array(&pk, (uint32_t)info->nkeys);
	for (i = 0; i < info->nkeys; i++) {
		const struct mm_cfg_key *k = &info->keys[i];
		msgpack_pack_array(&pk, 7);
		pack_str(&pk, k->name);
		msgpack_pack_int(&pk, k->type);
		pack_str(&pk, k->def);
		msgpack_pack_double(&pk, k->min);
		msgpack_pack_double(&pk, k->max);
		msgpack_pack_uint32(&pk, k->flags);
		pack_str(&pk, k->help);
	}
	return MM_OK;
}

static int
get_str(char **out, const msgpack_object *o)
{
	*out = NULL;
	if (o->type == MSGPACK_OBJECT_NIL)
		return MM_OK;
	if (o->type != MSGPACK_OBJECT_STR)
		return MM_ERR_PARSE;
	*out = strndup(o->via.str.ptr, o->via.str.size);
	return *out ? MM_OK : MM_ERR_NOMEM;
}

static int
get_u32(uint32_t *out, const msgpack_object *o)
{
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER || o->via.u64 > UINT32_MAX)
		return MM_ERR_PARSE;
	*out = (uint32_t)o->via.u64;
	return MM_OK;
}

static int
get_double(double *out, const msgpack_object *o)
{
	if (o->type == MSGPACK_OBJECT_FLOAT64 || o->type == MSGPACK_OBJECT_FLOAT32)
		*out = o->via.f64;
	else if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
		*out = (double)o->via.u64;
	else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		*out = (double)o->via.i64;
	else
		return MM_ERR_PARSE;
	return MM_OK;
}

int
mm_plugin_info_decode(struct mm_plugin_info **out, const void *data, size_t len)
{
	struct mm_plugin_info *info = NULL;
	msgpack_unpacked u;
	const msgpack_object *a, *keys;
	size_t off = 0, i;
	int rc = MM_ERR_PARSE;

	*out = NULL;
	msgpack_unpacked_init(&u);
	if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len)
		goto out;
	if (u.data.type != MSGPACK_OBJECT_ARRAY || u.data.via.array.size != 11)
		goto out;
	a = u.data.via.array.ptr;
	info = calloc(1, sizeof(*info));
	if (info == NULL) {
		rc = MM_ERR_NOMEM;
		goto out;
	}
	if (get_str(&info->path, &a[0]) || get_str(&info->refused, &a[1]) ||
	    get_str(&info->name, &a[2]) || get_str(&info->version, &a[3]) ||
	    get_str(&info->vendor, &a[4]) || get_str(&info->description, &a[5]) ||
	    get_u32(&info->abi_version, &a[6]) || get_u32(&info->size, &a[7]) ||
	    get_u32(&info->roles, &a[8]) || get_u32(&info->caps, &a[9]))
		goto out;
	if (info->path == NULL || (info->refused == NULL && !valid_name(info->name)))
		goto out;
	keys = &a[10];
	if (keys->type != MSGPACK_OBJECT_ARRAY || keys->via.array.size > 1024)
		goto out;
	if (keys->via.array.size) {
		info->keys = calloc(keys->via.array.size, sizeof(*info->keys));
		if (info->keys == NULL) {
			rc = MM_ERR_NOMEM;
			goto out;
		}
	}
	for (i = 0; i < keys->via.array.size; i++) {
		const msgpack_object *k = &keys->via.array.ptr[i];
		struct mm_cfg_key *dst = &info->keys[i];
		char *name = NULL, *def = NULL, *help = NULL;
		uint32_t flags = 0;
		int ok;

		if (k->type != MSGPACK_OBJECT_ARRAY || k->via.array.size != 7)
			goto out;
		ok = get_str(&name, &k->via.array.ptr[0]) == MM_OK &&
		     get_str(&def, &k->via.array.ptr[2]) == MM_OK &&
		     get_str(&help, &k->via.array.ptr[6]) == MM_OK;
		dst->name = name;
		dst->def = def;
		dst->help = help;
		info->nkeys = i + 1;
		if (!ok || name == NULL ||
		    k->via.array.ptr[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    get_double(&dst->min, &k->via.array.ptr[3]) ||
		    get_double(&dst->max, &k->via.array.ptr[4]) ||
		    get_u32(&flags, &k->via.array.ptr[5]))
			goto out;
		dst->type = (int)k->via.array.ptr[1].via.u64;
		dst->flags = flags;
	}
	*out = info;
	info = NULL;
	rc = MM_OK;
out:
	mm_plugin_info_free(info);
	msgpack_unpacked_destroy(&u);
	return rc;
}

int
mm_probe_main(int argc, char **argv)
{
	struct mm_buf b = MM_BUF_INIT;
	struct mm_plugin_info *info = NULL;
	const struct mm_plugin *p;
	char reason[512];
	void *dl;
	size_t off = 0;

	if (argc != 2) {
		fprintf(stderr,
		        "usage: mimamori probe PLUGIN.so\n"
		        "Load one plugin and print its descriptor (used by the supervisor).\n");
		return 2;
	}
	if (mm_plugin_open(argv[1], &dl, &p, reason, sizeof(reason)) != MM_OK)
		info = mm_plugin_info_refused(argv[1], reason);
	else if (mm_plugin_describe(&info, argv[1], p) != MM_OK)
		info = NULL;
	if (info == NULL || mm_plugin_info_encode(info, &b) != MM_OK)
		return 1;
	while (off < b.len) {
		ssize_t w = write(STDOUT_FILENO, b.data + off, b.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 1;
		off += (size_t)w;
	}
	mm_buf_free(&b);
	mm_plugin_info_free(info);
	/* No dlclose: the process ends here and some plugins dislike unloading. */
	return 0;
}

static struct mm_plugin_info *
probe_child(const char *exe, const char *path)
{
	struct mm_buf b = MM_BUF_INIT;
	struct mm_plugin_info *info = NULL;
	char reason[512];
	uint64_t deadline = mm_monotonic_ms() + PROBE_TIMEOUT_MS;
	int fds[2], status = 0, timed_out = 0;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) != 0)
		return mm_plugin_info_refused(path, "cannot probe: pipe failed");
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return mm_plugin_info_refused(path, "cannot probe: fork failed");
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);
		dup2(fds[1], STDOUT_FILENO);
		if (devnull >= 0)
			dup2(devnull, STDIN_FILENO);
		execl(exe, exe, "probe", path, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		struct pollfd pfd = {fds[0], POLLIN, 0};
		uint64_t now = mm_monotonic_ms();
		char chunk[4096];
		ssize_t r;
		int prc;

		if (now >= deadline) {
			timed_out = 1;
			break;
		}
		prc = poll(&pfd, 1, (int)(deadline - now));
		if (prc < 0 && errno == EINTR)
			continue;
		if (prc <= 0) {
			timed_out = prc == 0;
			break;
		}
		r = read(fds[0], chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (b.len + (size_t)r > PROBE_MAX_BYTES || mm_buf_append(&b, chunk, (size_t)r)) {
			timed_out = 0;
			break;
		}
	}
	close(fds[0]);
	if (timed_out)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (timed_out)
		snprintf(reason, sizeof(reason), "hung while loading (killed after %d s)",
		         PROBE_TIMEOUT_MS / 1000);
	else if (WIFSIGNALED(status))
		snprintf(reason, sizeof(reason), "crashed while loading (signal %d, %s)",
		         WTERMSIG(status), strsignal(WTERMSIG(status)));
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	         mm_plugin_info_decode(&info, b.data, b.len) != MM_OK)
		snprintf(reason, sizeof(reason), "probe failed (exit status %d)",
		         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	mm_buf_free(&b);
	if (info)
		return info;
	return mm_plugin_info_refused(path, reason);
}

static int
is_plugin_file(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 3 && strcmp(de->d_name + n - 3, ".so") == 0;
}

void
mm_plugins_free(struct mm_plugin_info **infos, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		mm_plugin_info_free(infos[i]);
	free(infos);
}

struct mm_plugin_info *
mm_plugins_find(struct mm_plugin_info **infos, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (infos[i]->refused == NULL && infos[i]->name &&
		    strcmp(infos[i]->name, name) == 0)
			return infos[i];
	return NULL;
}

int
mm_plugins_scan(struct mm_plugin_info ***out, size_t *out_n, const char *dir, const char *probe_exe)
{
	struct mm_plugin_info **infos = NULL;
	struct dirent **list = NULL;
	int n, i;
	size_t count = 0;

	*out = NULL;
	*out_n = 0;
	n = scandir(dir, &list, is_plugin_file, alphasort);
	if (n < 0) {
		mm_log_host(MM_LOG_ERROR, "loader", "cannot read plugin directory %s: %s", dir,
		            strerror(errno));
		return MM_ERR_IO;
	}
	infos = calloc((size_t)n + 1, sizeof(*infos));
	if (infos == NULL) {
		for (i = 0; i < n; i++)
			free(list[i]);
		free(list);
		return MM_ERR_NOMEM;
	}
	for (i = 0; i < n; i++) {
		char path[MM_PATH_MAX], reason[512];
		struct mm_plugin_info *info = NULL, *prev;

		snprintf(path, sizeof(path), "%s/%s", dir, list[i]->d_name);
		free(list[i]);
		if (mm_plugin_check_file(path, (unsigned)-1, reason, sizeof(reason)) != MM_OK) {
			info = mm_plugin_info_refused(path, reason);
		} else if (probe_exe) {
			info = probe_child(probe_exe, path);
		} else {
			const struct mm_plugin *p;
			void *dl;
			if (mm_plugin_open(path, &dl, &p, reason, sizeof(reason)) != MM_OK)
				info = mm_plugin_info_refused(path, reason);
			else if (mm_plugin_describe(&info, path, p) != MM_OK)
				info = NULL;
			/* The in-process modes keep the handle: they load it again. */
		}
		if (info == NULL)
			continue;
		if (info->refused == NULL && (prev = mm_plugins_find(infos, count, info->name))) {
			snprintf(reason, sizeof(reason),
			         "duplicate plugin name '%s' (already in %s)", info->name,
			         prev->path);
			free(info->refused);
			info->refused = strdup(reason);
		}
		if (info->refused)
			mm_log_host(MM_LOG_WARN, "loader", "%s: refused: %s", path, info->refused);
		infos[count++] = info;
	}
	free(list);
	*out = infos;
	*out_n = count;
	return MM_OK;
}
