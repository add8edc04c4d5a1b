/*
 * Packet sources for plugins: a live interface or a capture file (pcap or
 * pcapng) read through libpcap, filtered by BPF in the kernel (live) or in
 * libpcap (files), each frame decoded once with mm_packet_decode() and
 * counted. Also stand-alone BPF programs that replay applies to packets it
 * already read. Runs in the worker processes and in `mimamori replay`.
 */
#include "capture.h"

#include <errno.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mimamori/error.h"

#define DEFAULT_SNAPLEN 65535
/* Read timeout of a live handle: only matters when immediate mode is not
 * available, since the handle is non-blocking. */
#define LIVE_TIMEOUT_MS 100
/* How often a live source refreshes the kernel's drop counters. */
#define DROP_REFRESH_PACKETS 4096

struct mm_capture {
	pcap_t *pcap;
	int linktype;
	int live;
	int fd;
	int nano; /* timestamps in ns (else µs) */
	uint64_t since_refresh;
	/* Separate so that the const getter can refresh the drop counters. */
	struct mm_capture_stats *stats;
};

struct mm_bpf {
	struct bpf_program prog;
	int linktype;
};

static void seterr(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static void
refresh_drops(const struct mm_capture *c)
{
	struct pcap_stat ps;

	if (!c->live || pcap_stats(c->pcap, &ps) != 0)
		return;
	c->stats->kernel_drops = (uint64_t)ps.ps_drop + ps.ps_ifdrop;
}

/* The decoder's link types are the LINKTYPE_ values of capture files, which
 * equal libpcap's DLT_ values except for raw IP. */
static int
to_mm_linktype(int dlt)
{
	return dlt == DLT_RAW ? MM_LINK_RAW : dlt;
}

static int
to_dlt(int linktype)
{
	return linktype == MM_LINK_RAW ? DLT_RAW : linktype;
}

static int
activate_error(int rc)
{
	switch (rc) {
	case PCAP_ERROR_NO_SUCH_DEVICE:
		return MM_ERR_NOTFOUND;
	case PCAP_ERROR_PERM_DENIED:
	case PCAP_ERROR_PROMISC_PERM_DENIED:
		return MM_ERR_PERM;
	case PCAP_ERROR_RFMON_NOTSUP:
		return MM_ERR_UNSUPPORTED;
	default:
		return MM_ERR_IO;
	}
}

static int
open_live(struct mm_capture *c, const struct mm_capture_opts *o, int snaplen, char *err,
          size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	int rc;

	c->pcap = pcap_create(o->interface, ebuf);
	if (c->pcap == NULL) {
		seterr(err, errlen, "%s: %s", o->interface, ebuf);
		return MM_ERR_IO;
	}
	/* The setters only fail on an activated handle, which this is not. */
	pcap_set_snaplen(c->pcap, snaplen);
	pcap_set_promisc(c->pcap, o->promisc != 0);
	if (o->buffer_mb > 0)
		pcap_set_buffer_size(c->pcap, o->buffer_mb * 1024 * 1024);
	if (o->monitor)
		pcap_set_rfmon(c->pcap, 1);
	pcap_set_immediate_mode(c->pcap, 1);
	pcap_set_timeout(c->pcap, LIVE_TIMEOUT_MS);
	/* Nanosecond stamps where the kernel gives them; µs otherwise. */
	pcap_set_tstamp_precision(c->pcap, PCAP_TSTAMP_PRECISION_NANO);
	rc = pcap_activate(c->pcap);
	if (rc < 0) {
		/* pcap_geterr is empty for some codes; the status text is not. */
		const char *why = pcap_geterr(c->pcap);

		seterr(err, errlen, "%s: %s%s%s", o->interface, pcap_statustostr(rc),
		       why[0] ? ": " : "", why);
		return activate_error(rc);
	}
	if (pcap_setnonblock(c->pcap, 1, ebuf) != 0) {
		seterr(err, errlen, "%s: %s", o->interface, ebuf);
		return MM_ERR_IO;
	}
	c->live = 1;
	c->fd = pcap_get_selectable_fd(c->pcap);
	c->nano = pcap_get_tstamp_precision(c->pcap) == PCAP_TSTAMP_PRECISION_NANO;
	return MM_OK;
}

static int
open_file(struct mm_capture *c, const char *file, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct stat st;

	if (stat(file, &st) != 0) {
		int e = errno;

		seterr(err, errlen, "%s: %s", file, strerror(e));
		return e == ENOENT ? MM_ERR_NOTFOUND : e == EACCES ? MM_ERR_PERM : MM_ERR_IO;
	}
	c->pcap = pcap_open_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, ebuf);
	if (c->pcap == NULL) {
		seterr(err, errlen, "%s: %s", file, ebuf);
		/* It exists, so the format is what libpcap refused. */
		return errno == EACCES ? MM_ERR_PERM : MM_ERR_PARSE;
	}
	c->fd = -1;
	c->nano = 1;
	return MM_OK;
}

int
mm_capture_open(struct mm_capture **out, const struct mm_capture_opts *opts, char *err,
                size_t errlen)
{
	struct mm_capture_opts o;
	struct mm_capture *c = NULL;
	struct bpf_program prog;
	int rc, snaplen;

	if (out == NULL)
		return MM_ERR_INVAL;
	*out = NULL;
	if (opts == NULL || opts->size < offsetof(struct mm_capture_opts, bpf)) {
		seterr(err, errlen, "capture options missing or too small");
		return MM_ERR_INVAL;
	}
	/* Read only what the caller's struct has; the rest stays 0. */
	memset(&o, 0, sizeof(o));
	memcpy(&o, opts, opts->size < sizeof(o) ? opts->size : sizeof(o));
	if ((o.interface == NULL) == (o.file == NULL)) {
		seterr(err, errlen, "capture needs exactly one of an interface or a file");
		return MM_ERR_INVAL;
	}
	if (o.snaplen < 0 || o.buffer_mb < 0 || o.buffer_mb > 2047) {
		seterr(err, errlen, "capture snaplen or buffer size out of range");
		return MM_ERR_RANGE;
	}
	snaplen = o.snaplen ? o.snaplen : DEFAULT_SNAPLEN;
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->stats = calloc(1, sizeof(*c->stats))) == NULL) {
		seterr(err, errlen, "out of memory");
		rc = MM_ERR_NOMEM;
		goto out;
	}
	c->fd = -1;
	if (o.interface != NULL)
		rc = open_live(c, &o, snaplen, err, errlen);
	else
		rc = open_file(c, o.file, err, errlen);
	if (rc != MM_OK)
		goto out;
	c->linktype = to_mm_linktype(pcap_datalink(c->pcap));
	if (o.bpf != NULL && o.bpf[0] != '\0') {
		if (pcap_compile(c->pcap, &prog, o.bpf, 1, PCAP_NETMASK_UNKNOWN) != 0) {
			seterr(err, errlen, "bad filter \"%s\": %s", o.bpf, pcap_geterr(c->pcap));
			rc = MM_ERR_PARSE;
			goto out;
		}
		rc = pcap_setfilter(c->pcap, &prog);
		pcap_freecode(&prog);
		if (rc != 0) {
			seterr(err, errlen, "cannot set filter \"%s\": %s", o.bpf,
			       pcap_geterr(c->pcap));
			rc = MM_ERR_IO;
			goto out;
		}
	}
	rc = MM_OK;
	*out = c;
	c = NULL;
out:
	mm_capture_close(c);
	return rc;
}

int
mm_capture_fd(const struct mm_capture *c)
{
	return c != NULL ? c->fd : -1;
}

int
mm_capture_linktype(const struct mm_capture *c)
{
	return c != NULL ? c->linktype : -1;
}

int
mm_capture_next(struct mm_capture *c, struct mm_packet *pkt)
{
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t ts;
	int rc;

	if (c == NULL || pkt == NULL)
		return MM_ERR_INVAL;
	rc = pcap_next_ex(c->pcap, &h, &data);
	if (rc == 0) {
		/* Idle live source: a cheap moment to read the drop counters. */
		refresh_drops(c);
		return 0;
	}
	if (rc == PCAP_ERROR_BREAK)
		return MM_ERR_CLOSED;
	if (rc != 1)
		return MM_ERR_IO;
	ts = (uint64_t)h->ts.tv_sec * 1000000000u +
	     (uint64_t)h->ts.tv_usec * (c->nano ? 1u : 1000u);
	/* The decode result is in pkt->decode_error and counted below; a frame
	 * that does not decode fully is still handed out. */
	(void)mm_packet_decode(pkt, c->linktype, ts, data, h->caplen, h->len);
	mm_capture_stats_add(c->stats, pkt);
	if (c->live && ++c->since_refresh >= DROP_REFRESH_PACKETS) {
		c->since_refresh = 0;
		refresh_drops(c);
	}
	return 1;
}

int
mm_bpf_compile(struct mm_bpf **out, int linktype, int snaplen, const char *expr, char *err,
               size_t errlen)
{
	struct mm_bpf *f = NULL;
	pcap_t *dead = NULL;
	int rc;

	if (out == NULL)
		return MM_ERR_INVAL;
	*out = NULL;
	f = calloc(1, sizeof(*f));
	dead = pcap_open_dead(to_dlt(linktype), snaplen > 0 ? snaplen : DEFAULT_SNAPLEN);
	if (f == NULL || dead == NULL) {
		seterr(err, errlen, "out of memory");
		rc = MM_ERR_NOMEM;
		goto out;
	}
	/* An empty expression compiles to "accept everything". */
	if (pcap_compile(dead, &f->prog, expr != NULL ? expr : "", 1, PCAP_NETMASK_UNKNOWN) != 0) {
		seterr(err, errlen, "bad filter \"%s\": %s", expr != NULL ? expr : "",
		       pcap_geterr(dead));
		rc = MM_ERR_PARSE;
		goto out;
	}
	f->linktype = linktype;
	*out = f;
	f = NULL;
	rc = MM_OK;
out:
	free(f);
	if (dead != NULL)
		pcap_close(dead);
	return rc;
}

int
mm_bpf_match(const struct mm_bpf *f, const struct mm_packet *pkt)
{
	struct pcap_pkthdr h;

	if (f == NULL)
		return 1;
	if (pkt == NULL || pkt->data == NULL)
		return 0;
	/* Offsets in the program are for its own link type only. */
	if (pkt->linktype != f->linktype)
		return 0;
	memset(&h, 0, sizeof(h));
	h.caplen = pkt->caplen;
	h.len = pkt->wirelen;
	return pcap_offline_filter(&f->prog, &h, pkt->data) != 0;
}

void
mm_bpf_free(struct mm_bpf *f)
{
	if (f == NULL)
		return;
	pcap_freecode(&f->prog);
	free(f);
}

const struct mm_capture_stats *
mm_capture_stats(const struct mm_capture *c)
{
	if (c == NULL)
		return NULL;
	refresh_drops(c);
	return c->stats;
}

void
mm_capture_stats_add(struct mm_capture_stats *s, const struct mm_packet *pkt)
{
	uint32_t l;

	if (s == NULL || pkt == NULL)
		return;
	l = pkt->layers;
	s->packets++;
	s->bytes += pkt->wirelen;
	if (l & MM_L_IPV4)
		s->ipv4++;
	if (l & MM_L_IPV6)
		s->ipv6++;
	if (l & MM_L_ARP)
		s->arp++;
	if (l & MM_L_TCP)
		s->tcp++;
	if (l & MM_L_UDP)
		s->udp++;
	if (l & (MM_L_ICMP | MM_L_ICMP6))
		s->icmp++;
	if (!(l & (MM_L_IPV4 | MM_L_IPV6 | MM_L_ARP)))
		s->other++;
	if (l & MM_L_WLAN) {
		if (pkt->wlan_type == MM_WLAN_MGMT)
			s->wlan_mgmt++;
		else if (pkt->wlan_type == MM_WLAN_CTRL)
			s->wlan_ctrl++;
		else if (pkt->wlan_type == MM_WLAN_DATA)
			s->wlan_data++;
	}
	if (pkt->decode_error != MM_DEC_OK && pkt->decode_error < MM_DEC__COUNT) {
		s->decode_error[pkt->decode_error]++;
		s->decode_errors++;
	}
}

void
mm_capture_close(struct mm_capture *c)
{
	if (c == NULL)
		return;
	if (c->pcap != NULL)
		pcap_close(c->pcap);
	free(c->stats);
	free(c);
}
