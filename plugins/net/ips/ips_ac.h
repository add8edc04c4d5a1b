/*
 * Aho-Corasick multi-pattern matcher of the ips plugin: case-insensitive
 * (patterns and input are folded to lower case), reporting every pattern id
 * that occurs in a buffer once per scan.
 */
#ifndef MM_IPS_AC_H
#define MM_IPS_AC_H

#include <stddef.h>
#include <stdint.h>

struct ips_ac;

typedef void (*ips_ac_cb)(void *user, uint32_t id);

int ips_ac_new(struct ips_ac **out);
void ips_ac_free(struct ips_ac *ac);
/* Add a pattern with an id; before ips_ac_build only. */
int ips_ac_add(struct ips_ac *ac, const uint8_t *pat, size_t len, uint32_t id);
int ips_ac_build(struct ips_ac *ac);
/* Call cb for each pattern found (an id may repeat when it occurs twice). */
void ips_ac_scan(const struct ips_ac *ac, const uint8_t *data, size_t len, ips_ac_cb cb,
                 void *user);
size_t ips_ac_patterns(const struct ips_ac *ac);
size_t ips_ac_states(const struct ips_ac *ac);

#endif
