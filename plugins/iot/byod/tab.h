/*
 * Bounded keyed tables of the byod detector (internal): a fixed array of
 * entries allocated once, an open-addressing hash index over a short key
 * stored inside each entry (MAC, BSSID, IPv4 address) and a
 * least-recently-used list that picks the entry to replace when the array
 * is full. Lookups, inserts and evictions cost O(1), so a flood of spoofed
 * addresses costs the same per frame as normal traffic and never grows
 * memory.
 */
#ifndef MM_BYOD_TAB_H
#define MM_BYOD_TAB_H

#include <stddef.h>
#include <stdint.h>

#define TAB_NONE UINT32_MAX

struct byod_tab {
	uint8_t *base;  /* the entry array (not owned) */
	size_t stride;  /* sizeof one entry */
	size_t key_off; /* where the key sits inside an entry */
	size_t key_len; /* at most 8 bytes */
	uint32_t max;   /* capacity of the entry array */
	uint32_t n;     /* entries in use: 0..n-1 */
	uint32_t *slot; /* hash slots: entry index + 1, 0 when empty */
	uint32_t mask;  /* slot count - 1 (a power of two >= 2 * max) */
	uint32_t *prev; /* LRU links per entry; head is the most recent */
	uint32_t *next;
	uint32_t head, tail;
	uint64_t seed; /* per-table random hash key */
	uint32_t max_probe;
};

/* Prepares t over an array of max entries of stride bytes whose key of
 * key_len bytes sits at key_off. The array itself belongs to the caller. */
int byod_tab_init(struct byod_tab *t, void *base, size_t stride, size_t key_off, size_t key_len,
                  uint32_t max);
void byod_tab_clear(struct byod_tab *t);
/* Index of the entry with this key, or TAB_NONE. */
uint32_t byod_tab_find(const struct byod_tab *t, const uint8_t *key);
/* Marks entry i as the most recently used. */
void byod_tab_touch(struct byod_tab *t, uint32_t i);
/* A free entry index: a new one while the array has room, otherwise the
 * least recently used entry for which pinned() is false (looking at most
 * at 128 candidates, then taking the oldest), removed from the index.
 * *evicted says which happened. The caller fills the entry, key included,
 * and then calls byod_tab_link(). */
uint32_t byod_tab_alloc(struct byod_tab *t, int (*pinned)(const void *entry), int *evicted);
/* Adds entry i (its key already written) to the index as the most recent. */
void byod_tab_link(struct byod_tab *t, uint32_t i);
/* Removes entry i from the index only (before its key changes; link it
 * again afterwards with byod_tab_rehash()). */
void byod_tab_unhash(struct byod_tab *t, uint32_t i);
void byod_tab_rehash(struct byod_tab *t, uint32_t i);
/* Bytes held by the index and the LRU links (the entries are the
 * caller's). */
size_t byod_tab_bytes(const struct byod_tab *t);

#endif
