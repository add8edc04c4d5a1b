/*
 * Port scan and sweep detection of the ips plugin: per source and per
 * target, distinct ports and hosts of connection attempts and how many
 * were refused or unanswered, within a sliding episode; one alert per
 * episode when it ends.
 */
#ifndef MM_IPS_SCAN_H
#define MM_IPS_SCAN_H

#include "ips_engine.h"

struct ips_scan;

int ips_scan_new(struct ips_scan **out, const struct ips_scan_opts *opts);
void ips_scan_free(struct ips_scan *s);
/* One finished connection attempt (a flow the client opened). */
void ips_scan_attempt(struct ips_scan *s, const struct mm_flow *f, int rejected, ips_alert_cb cb,
                      void *user);
/* End episodes idle longer than the window (all of them when final). */
void ips_scan_tick(struct ips_scan *s, uint64_t now_ns, int final, ips_alert_cb cb, void *user);

#endif
