/*
 * Reputation lists of the ips plugin: addresses and CIDR blocks (Suricata
 * iprep "addr,category,score" files and plain lists) and domains with
 * categories, looked up in O(1) per address prefix length / domain label.
 */
#ifndef MM_IPS_REP_H
#define MM_IPS_REP_H

#include <stddef.h>
#include <stdint.h>

#include "mimamori/packet.h"

struct ips_rep;

int ips_rep_new(struct ips_rep **out);
void ips_rep_free(struct ips_rep *rep);
/* Suricata categories file: "id,shortname,description" per line. */
int ips_rep_load_categories(struct ips_rep *rep, const char *path);
/* Load a list: each line "addr[/bits][,cat,score]", "addr category",
 * "domain [category]"; def_cat when a line names none. Bad lines are
 * counted in *bad (may be NULL). */
int ips_rep_load_file(struct ips_rep *rep, const char *path, const char *def_cat, size_t *bad);
int ips_rep_add_ip(struct ips_rep *rep, const char *cidr, const char *cat);
int ips_rep_add_domain(struct ips_rep *rep, const char *domain, const char *cat);
/* Category of an address, or NULL. */
const char *ips_rep_ip(const struct ips_rep *rep, const struct mm_addr *a);
/* Category of a domain or any parent domain (label boundaries), or NULL;
 * *matched (may be NULL) is set to the listed suffix's offset in name. */
const char *ips_rep_domain(const struct ips_rep *rep, const char *name, size_t len,
                           size_t *matched);
size_t ips_rep_count(const struct ips_rep *rep);
/* Map a category to an event category: "c2", "malware", "phishing",
 * "policy". */
const char *ips_rep_event_cat(const char *category);

#endif
