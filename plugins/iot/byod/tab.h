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
#include <string.h>

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
/* The key as a number (len bytes). Keys are 6 (MAC) or 4 (IPv4) bytes
 * in practice; with len a constant, the loads below become one or two
 * register moves, so a lookup has no library call or stack traffic. */
static inline __attribute__((always_inline)) uint64_t
byod_tab_key_n(const uint8_t *key, size_t len)
{
	uint32_t lo;
	uint16_t hi;
	uint64_t k = 0;

	if (len == 6) {
		memcpy(&lo, key, 4);
		memcpy(&hi, key + 4, 2);
		return lo | (uint64_t)hi << 32;
	}
	if (len == 4) {
		memcpy(&lo, key, 4);
		return lo;
	}
	for (size_t i = 0; i < len; i++)
		k |= (uint64_t)key[i] << (8 * i);
	return k;
}

static inline uint64_t
byod_tab_key(const struct byod_tab *t, const uint8_t *key)
{
	return byod_tab_key_n(key, t->key_len);
}

/* Keyed mix of a key (see tab.c for why it is keyed). */
static inline uint32_t
byod_tab_home(const struct byod_tab *t, uint64_t k)
{
	uint64_t h = (k ^ t->seed) * 0x9e3779b97f4a7c15ull;

	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	h ^= h >> 32;
	h += t->seed >> 17;
	h *= 0x94d049bb133111ebull;
	h ^= h >> 31;
	return (uint32_t)h & t->mask;
}

static inline __attribute__((always_inline)) uint32_t
byod_tab_find_n(const struct byod_tab *t, const uint8_t *key, size_t len)
{
	uint64_t k = byod_tab_key_n(key, len);
	uint32_t s = byod_tab_home(t, k);
	const uint8_t *keys = t->base + t->key_off;

	/* The load factor stays at or below one half, so an empty slot ends
	 * every chain. */
	while (t->slot[s] != 0) {
		uint32_t i = t->slot[s] - 1;
		if (byod_tab_key_n(keys + (size_t)i * t->stride, len) == k)
			return i;
		s = (s + 1) & t->mask;
	}
	return TAB_NONE;
}

/* Index of the entry with this key, or TAB_NONE. Inline: it runs for
 * every beacon and every frame about a device. */
static inline __attribute__((always_inline)) uint32_t
byod_tab_find(const struct byod_tab *t, const uint8_t *key)
{
	if (t->key_len == 6)
		return byod_tab_find_n(t, key, 6);
	if (t->key_len == 4)
		return byod_tab_find_n(t, key, 4);
	return byod_tab_find_n(t, key, t->key_len);
}

/* Moves entry i, which is not the most recent, to the head of the LRU
 * list (the out-of-line part of byod_tab_touch()). */
void byod_tab_lru_move(struct byod_tab *t, uint32_t i);

/* Marks entry i as the most recently used. */
static inline void
byod_tab_touch(struct byod_tab *t, uint32_t i)
{
	if (t->head != i)
		byod_tab_lru_move(t, i);
}
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
