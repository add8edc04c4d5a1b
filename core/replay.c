/*
 * Offline and in-process commands: `mimamori replay` runs the packet
 * modules over a capture on the capture's own clock and prints their
 * events as JSON lines, ending with a stat event that summarizes the
 * capture so that a replay is never silent; `mimamori scan-mail` feeds mail
 * files to the mail modules; `mimamori run --inproc` runs every enabled
 * module in one process. None of them needs the aggregator.
 */
#include "replay.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"
#include "session.h"
#include "supervisor.h"
#include "util.h"
#include "worker.h"

#define MAX_ARGS 64

/* JSON-lines outlet that also counts alerts (scan-mail's exit status). */
struct counting_outlet {
	struct mm_outlet pub;
	struct mm_outlet *inner;
	uint64_t events;
	uint64_t alerts;
};

static int
counting_put(struct mm_outlet *o, struct mm_module *m, struct mm_event *ev)
{
	struct counting_outlet *c = (struct counting_outlet *)o;

	c->events++;
	if (mm_event_kind(ev) == MM_KIND_ALERT)
		c->alerts++;
	return c->inner->put(c->inner, m, ev);
}

static void
counting_init(struct counting_outlet *c)
{
	memset(c, 0, sizeof(*c));
	c->pub.put = counting_put;
	c->pub.user = c;
	c->inner = mm_outlet_json_new(stdout);
}

static void
set_u64(struct mm_event *ev, const char *path, uint64_t v)
{
	mm_event_set_int(ev, path, (int64_t)v);
}

/* The capture summary: packets, bytes, protocols, decode errors, and what
 * each module counted. */
static void
emit_summary(struct mm_session *s, const char *file, const struct mm_capture_stats *st,
             uint64_t first_ns, uint64_t last_ns)
{
	struct mm_event *ev = mm_event_create(MM_KIND_STAT);
	char packets[32], errors[32], path[128];
	size_t i, k;

	if (ev == NULL)
		return;
	mm_event_set_str(ev, "cat", "capture");
	mm_event_set_int(ev, "sev", MM_SEV_INFO);
	mm_event_set_str(ev, "attrs.file", file);
	set_u64(ev, "attrs.packets", st->packets);
	set_u64(ev, "attrs.bytes", st->bytes);
	set_u64(ev, "attrs.duration_ms", last_ns > first_ns ? (last_ns - first_ns) / 1000000 : 0);
	set_u64(ev, "attrs.proto.ipv4", st->ipv4);
	set_u64(ev, "attrs.proto.ipv6", st->ipv6);
	set_u64(ev, "attrs.proto.arp", st->arp);
	set_u64(ev, "attrs.proto.tcp", st->tcp);
	set_u64(ev, "attrs.proto.udp", st->udp);
	set_u64(ev, "attrs.proto.icmp", st->icmp);
	set_u64(ev, "attrs.proto.other", st->other);
	set_u64(ev, "attrs.proto.wlan_mgmt", st->wlan_mgmt);
	set_u64(ev, "attrs.proto.wlan_ctrl", st->wlan_ctrl);
	set_u64(ev, "attrs.proto.wlan_data", st->wlan_data);
	set_u64(ev, "attrs.decode_errors", st->decode_errors);
	for (i = 1; i < MM_DEC__COUNT; i++)
		if (st->decode_error[i]) {
			snprintf(path, sizeof(path), "attrs.decode.%s",
			         mm_decode_error_name((uint32_t)i));
			set_u64(ev, path, st->decode_error[i]);
		}
	for (i = 0; i < s->nmodules; i++) {
		const struct mm_module *m = s->modules[i];
		snprintf(path, sizeof(path), "attrs.modules.%s.events", m->name);
		set_u64(ev, path, m->events);
		for (k = 0; k < m->ncounters; k++) {
			snprintf(path, sizeof(path), "attrs.modules.%s.%s", m->name,
			         m->counters[k].name);
			mm_event_set_int(ev, path, m->counters[k].value);
		}
	}
	snprintf(packets, sizeof(packets), "%llu", (unsigned long long)st->packets);
	snprintf(errors, sizeof(errors), "%llu", (unsigned long long)st->decode_errors);
	mm_event_set_msg(
	        ev, mm_host_catalogue(), "host.replay_summary",
	        (const char *const[]){"file", file, "packets", packets, "errors", errors, NULL});
	mm_host_emit(&s->host, NULL, ev);
}

static void
replay_usage(FILE *out)
{
	fprintf(out,
	        "usage: mimamori replay --pcap FILE [options]\n"
	        "Run the enabled packet modules over a capture (pcap or pcapng) on the capture's\n"
	        "clock and print their events as JSON lines, ending with a stat event.\n"
	        "  --pcap FILE          the capture to replay (required)\n"
	        "  --module NAME        run only this module (repeatable; default: every enabled\n"
	        "                       module that consumes packets)\n"
	        "  --rules FILE         use exactly these rule files instead of the configured\n"
	        "                       ones (repeatable; modules with a 'rules' key)\n"
	        "  --threshold FILE     threshold.config for modules with a 'threshold_file' key\n"
	        "  --set MOD.KEY=VALUE  override one configuration value (repeatable)\n"
	        "  -c, --config DIR     configuration directory\n"
	        "  --plugin-dir DIR     plugin directory\n");
}

int
mm_replay_main(int argc, char **argv)
{
	static const struct option opts[] = {{"pcap", required_argument, NULL, 'p'},
	                                     {"module", required_argument, NULL, 'm'},
	                                     {"rules", required_argument, NULL, 'r'},
	                                     {"threshold", required_argument, NULL, 't'},
	                                     {"set", required_argument, NULL, 's'},
	                                     {"config", required_argument, NULL, 'c'},
	                                     {"plugin-dir", required_argument, NULL, 'P'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *pcap = NULL, *threshold = NULL;
	const char *modules[MAX_ARGS], *rules[MAX_ARGS], *sets[MAX_ARGS];
	size_t nmodules = 0, nrules = 0, nsets = 0, i;
	struct mm_session s;
	struct counting_outlet out;
	struct mm_capture *cap = NULL;
	struct mm_capture_opts co;
	struct mm_packet pkt;
	char err[512];
	uint64_t first_ns = 0, last_ns = 0;
	int c, rc, status = 1, started = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			pcap = optarg;
			break;
		case 'm':
		case 'r':
		case 's': {
			const char **arr = c == 'm' ? modules : c == 'r' ? rules : sets;
			size_t *n = c == 'm' ? &nmodules : c == 'r' ? &nrules : &nsets;
			if (*n >= MAX_ARGS) {
				fprintf(stderr, "replay: too many --%s options\n",
				        c == 'm'   ? "module"
				        : c == 'r' ? "rules"
				                   : "set");
				return 2;
			}
			arr[(*n)++] = optarg;
			break;
		}
		case 't':
			threshold = optarg;
			break;
		case 'c':
			mm_paths_set(optarg, NULL, NULL);
			break;
		case 'P':
			mm_paths_set(NULL, optarg, NULL);
			break;
		case 'h':
			replay_usage(stdout);
			return 0;
		default:
			replay_usage(stderr);
			return 2;
		}
	}
	if (pcap == NULL || optind < argc) {
		replay_usage(stderr);
		return 2;
	}
	memset(&co, 0, sizeof(co));
	co.size = sizeof(co);
	co.file = pcap;
	if (mm_capture_open(&cap, &co, err, sizeof(err)) != MM_OK) {
		fprintf(stderr, "replay: cannot open %s: %s\n", pcap, err);
		return 2;
	}
	if (mm_session_open(&s, modules, nmodules, MM_CAP_PACKETS | MM_CAP_WIFI) != MM_OK) {
		mm_capture_close(cap);
		mm_session_close(&s);
		return 2;
	}
	if (s.nmodules == 0)
		mm_log_host(MM_LOG_WARN, "replay",
		            "no packet module is enabled: printing the "
		            "capture summary only");
	counting_init(&out);
	s.host.outlet = &out.pub;
	s.host.replay = 1;
	s.host.replay_linktype = mm_capture_linktype(cap);
	if (nrules && mm_session_override_list(&s, "rules", rules, nrules) != MM_OK) {
		fprintf(stderr, "replay: --rules given but no loaded module has a 'rules' key\n");
		status = 2;
		goto out;
	}
	if (threshold && mm_session_override_str(&s, "threshold_file", threshold) != MM_OK) {
		fprintf(stderr, "replay: --threshold given but no loaded module has a "
		                "'threshold_file' key\n");
		status = 2;
		goto out;
	}
	for (i = 0; i < nsets; i++)
		if (mm_session_set(&s, sets[i]) != MM_OK) {
			status = 2;
			goto out;
		}
	/* Timers a module adds in start run on the capture's clock from the
	 * first packet on. */
	mm_loop_set_virtual(s.host.loop, 0);
	if (mm_session_start(&s) != MM_OK) {
		status = 1;
		goto out;
	}
	started = 1;
	while ((rc = mm_capture_next(cap, &pkt)) == 1) {
		uint64_t ms = pkt.ts_ns / 1000000;
		if (first_ns == 0) {
			first_ns = pkt.ts_ns;
			mm_loop_set_virtual(s.host.loop, ms);
		}
		if (pkt.ts_ns > last_ns)
			last_ns = pkt.ts_ns;
		s.host.replay_now_ns =
		        pkt.ts_ns > s.host.replay_now_ns ? pkt.ts_ns : s.host.replay_now_ns;
		mm_loop_advance(s.host.loop, ms);
		for (i = 0; i < s.nmodules; i++)
			mm_module_replay_packet(s.modules[i], &pkt);
	}
	if (rc != MM_ERR_CLOSED)
		mm_log_host(MM_LOG_WARN, "replay", "%s: reading stopped early: %s", pcap,
		            mm_strerror(rc));
	/* Stop before the summary: modules emit what they still hold. */
	for (i = 0; i < s.nmodules; i++)
		mm_module_stop(s.modules[i]);
	emit_summary(&s, pcap, mm_capture_stats(cap), first_ns, last_ns);
	status = 0;
out:
	(void)started;
	mm_session_close(&s);
	mm_outlet_json_free(out.inner);
	mm_capture_close(cap);
	fflush(stdout);
	return status;
}

static void
scan_usage(FILE *out)
{
	fprintf(out,
	        "usage: mimamori scan-mail [options] FILE...\n"
	        "Scan mail files (RFC 5322, .eml) with the mail modules and print their events\n"
	        "as JSON lines. Exit status: 0 nothing found, 1 something found, 2 error.\n"
	        "  --module NAME        use only this module (repeatable)\n"
	        "  --set MOD.KEY=VALUE  override one configuration value (repeatable)\n"
	        "  -c, --config DIR     configuration directory\n"
	        "  --plugin-dir DIR     plugin directory\n");
}

int
mm_scan_mail_main(int argc, char **argv)
{
	static const struct option opts[] = {{"module", required_argument, NULL, 'm'},
	                                     {"set", required_argument, NULL, 's'},
	                                     {"config", required_argument, NULL, 'c'},
	                                     {"plugin-dir", required_argument, NULL, 'P'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *modules[MAX_ARGS], *sets[MAX_ARGS];
	size_t nmodules = 0, nsets = 0, i, k, fed = 0;
	struct mm_session s;
	struct counting_outlet out;
	int c, status = 2, failed = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (nmodules < MAX_ARGS)
				modules[nmodules++] = optarg;
			break;
		case 's':
			if (nsets < MAX_ARGS)
				sets[nsets++] = optarg;
			break;
		case 'c':
			mm_paths_set(optarg, NULL, NULL);
			break;
		case 'P':
			mm_paths_set(NULL, optarg, NULL);
			break;
		case 'h':
			scan_usage(stdout);
			return 0;
		default:
			scan_usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		scan_usage(stderr);
		return 2;
	}
	if (mm_session_open(&s, modules, nmodules, MM_CAP_MAIL) != MM_OK) {
		mm_session_close(&s);
		return 2;
	}
	counting_init(&out);
	s.host.outlet = &out.pub;
	for (i = 0; i < nsets; i++)
		if (mm_session_set(&s, sets[i]) != MM_OK)
			goto out;
	/* Operator commands only feed files: no module opens its sources
	 * (captures, milter sockets), so scan-mail works beside a running
	 * sensor. */
	if (mm_session_init(&s) != MM_OK)
		goto out;
	for (k = 0; k < s.nmodules; k++)
		if (s.modules[k]->plugin->feed && (s.modules[k]->info->caps & MM_CAP_MAIL))
			fed++;
	if (fed == 0) {
		fprintf(stderr, "scan-mail: no enabled module scans mail (enable 'attach' in the "
		                "configuration or name one with --module)\n");
		goto out;
	}
	for (i = (size_t)optind; i < (size_t)argc; i++) {
		if (access(argv[i], R_OK) != 0) {
			fprintf(stderr, "scan-mail: cannot read %s\n", argv[i]);
			failed = 1;
			continue;
		}
		for (k = 0; k < s.nmodules; k++) {
			struct mm_module *m = s.modules[k];
			int rc;
			if (m->plugin->feed == NULL || !(m->info->caps & MM_CAP_MAIL))
				continue;
			rc = m->plugin->feed(&m->pub, "mail", argv[i]);
			if (rc != MM_OK) {
				fprintf(stderr, "scan-mail: %s: %s could not scan it: %s\n",
				        argv[i], m->name, mm_strerror(rc));
				failed = 1;
			}
		}
	}
	status = failed ? 2 : 0;
out:
	mm_session_close(&s);
	mm_outlet_json_free(out.inner);
	fflush(stdout);
	if (status == 0 && out.alerts)
		status = 1;
	return status;
}

int
mm_inproc_main(double run_for)
{
	struct mm_session s;
	uint64_t until;
	int status = 1;

	mm_worker_signals();
	if (mm_session_open(&s, NULL, 0, 0) != MM_OK) {
		mm_session_close(&s);
		return 2;
	}
	s.host.outlet = mm_outlet_json_new(stdout);
	until = run_for > 0 ? mm_monotonic_ms() + (uint64_t)(run_for * 1000) : 0;
	if (mm_session_start(&s) == MM_OK) {
		mm_log_host(MM_LOG_INFO, "inproc", "%zu module(s) running in one process",
		            s.nmodules);
		while (!mm_worker_stop_requested() && !(until && mm_monotonic_ms() >= until)) {
			size_t i;
			mm_loop_run_once(s.host.loop, 200);
			if (mm_worker_take_hup())
				for (i = 0; i < s.nmodules; i++)
					if (s.modules[i]->plugin->reload)
						s.modules[i]->plugin->reload(&s.modules[i]->pub);
		}
		status = 0;
	}
	{
		struct mm_outlet *o = s.host.outlet;
		mm_session_close(&s);
		mm_outlet_json_free(o);
	}
	return status;
}
