/*
 * hello: the SDK's example plugin. It counts packets by protocol and
 * reports the counts as a stat event every report_interval_sec and when it
 * stops; and it raises one low-severity alert the first time it sees a host
 * send Telnet (23/TCP), to show how an alert is built.
 *
 * It runs in a worker process (or in `mimamori replay`), and uses only the
 * SDK: packets arrive decoded through mm_packets_open(), events leave
 * through mm_emit(), and nothing here knows about msgpack or ZeroMQ.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mimamori/plugin.h>

struct hello {
	uint64_t packets, bytes, tcp, udp, icmp, arp, ipv6, other, wlan, errors;
	int capture;
	int timer;
	int telnet_reported;
};

static const struct mm_cfg_key hello_config[] = {
        {"interface", MM_CFG_STRING, "", 0, -1, 0, "Interface to capture on (empty: none)."},
        {"pcap", MM_CFG_STRING, "", 0, -1, 0,
         "Capture file to read instead, relative to the data directory."},
        {"bpf", MM_CFG_STRING, "", 0, -1, 0, "BPF filter applied to the capture."},
        {"report_interval_sec", MM_CFG_INT, "60", 1, 86400, 0,
         "How often to report the counts, in seconds."},
        {NULL, 0, NULL, 0, 0, 0, NULL}};

static void
report(struct mm_ctx *ctx)
{
	struct hello *h = ctx->data;
	struct mm_event *ev = mm_ev_new(ctx, MM_KIND_STAT);
	char packets[32];

	if (ev == NULL)
		return;
	mm_ev_str(ctx, ev, "cat", "traffic");
	mm_ev_int(ctx, ev, "sev", MM_SEV_INFO);
	mm_ev_int(ctx, ev, "attrs.packets", (int64_t)h->packets);
	mm_ev_int(ctx, ev, "attrs.bytes", (int64_t)h->bytes);
	mm_ev_int(ctx, ev, "attrs.tcp", (int64_t)h->tcp);
	mm_ev_int(ctx, ev, "attrs.udp", (int64_t)h->udp);
	mm_ev_int(ctx, ev, "attrs.icmp", (int64_t)h->icmp);
	mm_ev_int(ctx, ev, "attrs.arp", (int64_t)h->arp);
	mm_ev_int(ctx, ev, "attrs.ipv6", (int64_t)h->ipv6);
	mm_ev_int(ctx, ev, "attrs.wlan", (int64_t)h->wlan);
	mm_ev_int(ctx, ev, "attrs.other", (int64_t)h->other);
	mm_ev_int(ctx, ev, "attrs.decode_errors", (int64_t)h->errors);
	snprintf(packets, sizeof(packets), "%llu", (unsigned long long)h->packets);
	mm_ev_msg(ctx, ev, "hello.report", (const char *const[]){"packets", packets, NULL});
	mm_emit(ctx, ev);
}

static void
on_timer(struct mm_ctx *ctx, void *user)
{
	(void)user;
	report(ctx);
}

static void
telnet_alert(struct mm_ctx *ctx, const struct mm_packet *pkt)
{
	struct mm_event *ev = mm_ev_new(ctx, MM_KIND_ALERT);
	char src[MM_ADDR_STRLEN];

	if (ev == NULL)
		return;
	mm_ev_int(ctx, ev, "ocsf", MM_OCSF_DETECTION_FINDING);
	mm_ev_str(ctx, ev, "cat", "policy");
	mm_ev_int(ctx, ev, "sev", MM_SEV_LOW);
	mm_ev_str(ctx, ev, "action", "detected");
	mm_ev_str(ctx, ev, "rule.ns", "hello");
	mm_ev_int(ctx, ev, "rule.id", 1);
	mm_ev_int(ctx, ev, "rule.rev", 1);
	mm_ev_str(ctx, ev, "rule.name", "Telnet in use");
	mm_ev_addr(ctx, ev, "src.ip", &pkt->src);
	mm_ev_int(ctx, ev, "src.port", pkt->sport);
	mm_ev_addr(ctx, ev, "dst.ip", &pkt->dst);
	mm_ev_int(ctx, ev, "dst.port", pkt->dport);
	mm_ev_mac(ctx, ev, "src.mac", pkt->src_mac);
	mm_ev_str(ctx, ev, "proto", "tcp");
	mm_ev_str(ctx, ev, "app", "telnet");
	mm_ev_msg(ctx, ev, "hello.telnet",
	          (const char *const[]){"src", mm_addr_format(src, &pkt->src), NULL});
	mm_emit(ctx, ev);
}

static void
on_packet(struct mm_ctx *ctx, const struct mm_packet *pkt, void *user)
{
	struct hello *h = ctx->data;

	(void)user;
	h->packets++;
	h->bytes += pkt->wirelen;
	if (pkt->decode_error)
		h->errors++;
	if (pkt->layers & MM_L_TCP) {
		h->tcp++;
		if (pkt->dport == 23 &&
		    (pkt->tcp_flags & (MM_TCP_SYN | MM_TCP_ACK)) == MM_TCP_SYN &&
		    !h->telnet_reported) {
			h->telnet_reported = 1;
			telnet_alert(ctx, pkt);
		}
	} else if (pkt->layers & MM_L_UDP) {
		h->udp++;
	} else if (pkt->layers & (MM_L_ICMP | MM_L_ICMP6)) {
		h->icmp++;
	} else if (pkt->layers & MM_L_ARP) {
		h->arp++;
	} else if (pkt->layers & MM_L_WLAN) {
		h->wlan++;
	} else {
		h->other++;
	}
	if (pkt->layers & MM_L_IPV6)
		h->ipv6++;
	mm_counter_add(ctx, "packets", 1);
}

static int
hello_init(struct mm_ctx *ctx)
{
	struct hello *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return MM_ERR_NOMEM;
	h->capture = -1;
	h->timer = -1;
	ctx->data = h;
	return MM_OK;
}

static int
hello_start(struct mm_ctx *ctx)
{
	struct hello *h = ctx->data;
	struct mm_capture_opts opts;
	const char *iface = mm_cfg_str(ctx, "interface");
	const char *pcap = mm_cfg_str(ctx, "pcap");
	const char *bpf = mm_cfg_str(ctx, "bpf");
	char path[4096];

	memset(&opts, 0, sizeof(opts));
	opts.size = sizeof(opts);
	if (iface && *iface) {
		opts.interface = iface;
		opts.promisc = 1;
	} else if (pcap && *pcap) {
		mm_data_path(ctx, path, sizeof(path), pcap);
		opts.file = path;
	}
	opts.bpf = bpf && *bpf ? bpf : NULL;
	/* With neither set, the host decides: in replay the capture is the
	 * replayed file; live, opening fails and the plugin only reports. */
	h->capture = mm_packets_open(ctx, &opts, on_packet, NULL);
	if (h->capture < 0)
		mm_log(ctx, MM_LOG_WARN, "no packet source: %s", mm_strerror(h->capture));
	h->timer = ctx->api->timer_add(ctx, (uint64_t)mm_cfg_int(ctx, "report_interval_sec") * 1000,
	                               1, on_timer, NULL);
	return MM_OK;
}

static void
hello_stop(struct mm_ctx *ctx)
{
	struct hello *h = ctx->data;

	if (h->capture >= 0)
		ctx->api->capture_close(ctx, h->capture);
	h->capture = -1;
	report(ctx);
}

static void
hello_fini(struct mm_ctx *ctx)
{
	free(ctx->data);
	ctx->data = NULL;
}

static const struct mm_plugin hello_plugin = {
        .abi_version = MM_ABI_VERSION,
        .size = sizeof(struct mm_plugin),
        .name = "hello",
        .version = "1.0.0",
        .vendor = "mimamori",
        .description = "Counts packets by protocol and flags Telnet (SDK example).",
        .roles = MM_ROLE_UTM | MM_ROLE_PC,
        .caps = MM_CAP_PACKETS,
        .config = hello_config,
        .init = hello_init,
        .start = hello_start,
        .stop = hello_stop,
        .fini = hello_fini,
};

MM_PLUGIN_EXPORT const struct mm_plugin *
mm_plugin_entry(void)
{
	return &hello_plugin;
}
