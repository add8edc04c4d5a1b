/*
 * Benchmark of the attach plugin's mail scan (a standalone program, not
 * part of any mimamori process). It builds a set of mails in a temporary
 * directory: every .eml of tests/data/mail-* plus mails carrying the
 * oletools Office samples, copied N times. Then, in one run, it measures:
 *   1. mm_attach_scan over the .eml files (parse, unpack, YARA): MB/s of mail;
 *   2. `yara -r` with the same rules over the attachments already
 *      extracted from those mails (YARA alone: the ceiling);
 *   3. `clamscan -d RULES` over the same .eml files (ClamAV decodes the
 *      mails itself).
 * and prints the ratios.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <mimamori/error.h>

#include "bench_util.h"
#include "attach_core.h"
#include "../../tests/plugins/attach/attach_test_util.h"

#define MAX_FILES 4096

static char *files[MAX_FILES];
static size_t nfiles;

static void
quiet(void *user, const char *file, int line, const char *msg)
{
	(void)user;
	fprintf(stderr, "rule problem: %s:%d: %s\n", file, line, msg);
}

static void
write_file(const char *path, const void *d, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f == NULL)
		return;
	fwrite(d, 1, n, f);
	fclose(f);
}

static void
add_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL && nfiles < MAX_FILES) {
		char p[2048];
		struct stat st;
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (stat(p, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode))
			add_dir(p);
		else if (strstr(de->d_name, ".eml") != NULL)
			files[nfiles++] = strdup(p);
	}
	closedir(d);
}

static double
run_timed(const char *cmd)
{
	double t0 = mm_bench_now();
	int rc = system(cmd);
	double t = mm_bench_now() - t0;
	if (rc == -1 || (WIFEXITED(rc) && WEXITSTATUS(rc) == 127))
		return -1;
	return t;
}

int
main(int argc, char **argv)
{
	int copies = argc > 1 ? atoi(argv[1]) : 20;
	const char *src = getenv("MM_SOURCE_DIR") ? getenv("MM_SOURCE_DIR") : MM_SOURCE_DIR;
	char tmp[] = "/tmp/mm_bench_mailXXXXXX", rulesdir[1024], dir[2048], mdir[1200], adir[1200];
	static const char *samples[] = {"oleform_oleform-PR314.docm",
	                                "excel4-macros_excel4_sample_macro.xlsm",
	                                "excel4-macros_excel4_sample_macro.xls",
	                                "msodde_harmless-clean.doc", "msodde_dde-test.docm"};
	struct mm_rules *rules = NULL;
	const char *rp = rulesdir;
	struct mm_attach_opts o;
	uint64_t mail_bytes = 0, att_bytes = 0;
	size_t nmails = 0, natt = 0, findings = 0;
	double t_ours, t_yara, t_clam, cpu_ours = 0;
	char cmd[4096];

	if (mkdtemp(tmp) == NULL)
		return 1;
	snprintf(mdir, sizeof(mdir), "%s/mails", tmp);
	snprintf(adir, sizeof(adir), "%s/attachments", tmp);
	mkdir(mdir, 0700);
	mkdir(adir, 0700);
	snprintf(rulesdir, sizeof(rulesdir), "%s/data/attach/rules", src);
	if (mm_rules_load(&rules, &rp, 1, NULL, 0, quiet, NULL) != MM_OK) {
		fprintf(stderr, "rules did not load\n");
		return 1;
	}
	/* The mail set: the corpora plus the Office samples, N copies. */
	for (int i = 0; i < 3; i++) {
		static const char *dirs[] = {"mail-mailparser", "mail-mikel", "mail-rspamd"};
		snprintf(dir, sizeof(dir), "%s/tests/data/%s", src, dirs[i]);
		add_dir(dir);
	}
	for (size_t k = 0; k < sizeof(samples) / sizeof(samples[0]) && nfiles < MAX_FILES; k++) {
		size_t n, ml;
		uint8_t *d;
		char *m;
		snprintf(dir, sizeof(dir), "%s/tests/data/oletools-office-samples/%s", src,
		         samples[k]);
		d = tu_read(dir, &n);
		if (d == NULL)
			continue;
		m = tu_mail(&ml, "請求書", "a@example.co.jp", "see attached", samples[k],
		            "application/octet-stream", d, n);
		snprintf(dir, sizeof(dir), "%s/sample%zu.eml", tmp, k);
		write_file(dir, m, ml);
		files[nfiles++] = strdup(dir);
		free(m);
		free(d);
	}
	mm_attach_opts_default(&o);
	{
		size_t base = nfiles;
		for (int c = 0; c < copies; c++) {
			for (size_t i = 0; i < base; i++) {
				size_t n;
				uint8_t *d = tu_read(files[i], &n);
				struct mm_mime_mail *r = NULL;
				if (d == NULL)
					continue;
				snprintf(dir, sizeof(dir), "%s/%d_%zu.eml", mdir, c, i);
				write_file(dir, d, n);
				/* The attachments, extracted once, for `yara`. */
				if (c == 0 && mm_mime_parse(&r, d, n) == MM_OK) {
					struct mm_mime_mail *mm = r;
					for (size_t p = 0; p < mm->nparts; p++) {
						for (int cc = 0; cc < copies; cc++) {
							snprintf(dir, sizeof(dir),
							         "%s/%d_%zu_%zu.bin", adir, cc, i,
							         p);
							write_file(dir, mm->parts[p].data,
							           mm->parts[p].len);
							att_bytes += mm->parts[p].len;
							natt++;
						}
					}
					mm_mime_free(mm);
				}
				free(d);
			}
		}
	}
	/* 1. Ours, over the .eml files (read from disk like the others). */
	{
		DIR *d = opendir(mdir);
		struct dirent *de;
		double t0 = mm_bench_now();
		double c0 = (double)clock() / CLOCKS_PER_SEC;
		while ((de = readdir(d)) != NULL) {
			size_t n;
			uint8_t *m;
			struct mm_attach_result *r = NULL;
			if (de->d_name[0] == '.')
				continue;
			snprintf(dir, sizeof(dir), "%s/%s", mdir, de->d_name);
			m = tu_read(dir, &n);
			if (m == NULL)
				continue;
			if (mm_attach_scan(&r, rules, &o, m, n) == MM_OK) {
				findings += r->nfindings;
				mm_attach_result_free(r);
			}
			mail_bytes += n;
			nmails++;
			free(m);
		}
		closedir(d);
		t_ours = mm_bench_now() - t0;
		cpu_ours = (double)clock() / CLOCKS_PER_SEC - c0;
	}
	/* 2. yara over the extracted attachments (externals defined empty). */
	snprintf(
	        cmd, sizeof(cmd),
	        "cat %s/*.yar > %s/all.yar && yara -w -p 1 -d filename= -d filepath= -d extension= "
	        "-d filetype= -d owner= -d mime= -d container_path= -d mail_subject= "
	        "%s/all.yar %s > /dev/null 2>&1",
	        rulesdir, tmp, tmp, adir);
	t_yara = run_timed(cmd);
	/* 3. clamscan with the same rules, no signatures of its own. */
	snprintf(cmd, sizeof(cmd),
	         "clamscan --no-summary --infected -d %s/all.yar -r %s > %s/clam.out 2>&1", tmp,
	         mdir, tmp);
	t_clam = run_timed(cmd);

	printf("bench/mail: %zu mails, %.2f MB of mail, %zu attachments (%.2f MB), %zu findings\n",
	       nmails, (double)mail_bytes / 1e6, natt, (double)att_bytes / 1e6, findings);
	printf("attach scan : %8.3f s  %8.2f MB/s of mail (cpu %.3f s)\n", t_ours,
	       (double)mail_bytes / 1e6 / t_ours, cpu_ours);
	if (t_yara > 0)
		printf("yara alone  : %8.3f s  %8.2f MB/s of attachments, one thread (ratio of "
		       "MB/s attach/yara: %.2f; of time for the same mails: %.2f)\n",
		       t_yara, (double)att_bytes / 1e6 / t_yara,
		       ((double)mail_bytes / t_ours) / ((double)att_bytes / t_yara),
		       t_yara / t_ours);
	else
		printf("yara alone  : not run (the yara command is missing)\n");
	if (getenv("MM_BENCH_SHOW_CLAM") != NULL) {
		snprintf(cmd, sizeof(cmd), "tail -n 5 %s/clam.out", tmp);
		if (system(cmd) != 0)
			fprintf(stderr, "no clamscan output\n");
	}
	if (t_clam > 0)
		printf("clamscan    : %8.3f s  %8.2f MB/s of mail (attach is %.2fx faster)\n",
		       t_clam, (double)mail_bytes / 1e6 / t_clam, t_clam / t_ours);
	else
		printf("clamscan    : not run (clamscan is missing)\n");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	mm_rules_free(rules);
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	return 0;
}
