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
/* allow_hs 0: always the in-house automaton (tests compare the two). */
int ips_ac_new2(struct ips_ac **out, int allow_hs);
void ips_ac_free(struct ips_ac *ac);
/* Add a pattern with an id; before ips_ac_build only. */
int ips_ac_add(struct ips_ac *ac, const uint8_t *pat, size_t len, uint32_t id);
int ips_ac_build(struct ips_ac *ac);
/* Call cb for each pattern found (an id may repeat, though a state's
 * patterns are reported once per scan). Uses scratch memory inside ac: one
 * scan at a time per automaton. */
void ips_ac_scan(struct ips_ac *ac, const uint8_t *data, size_t len, ips_ac_cb cb, void *user);
size_t ips_ac_patterns(const struct ips_ac *ac);
/* "hyperscan" or "aho-corasick": what the built matcher scans with. */
const char *ips_ac_backend(const struct ips_ac *ac);
size_t ips_ac_states(const struct ips_ac *ac);

#endif
