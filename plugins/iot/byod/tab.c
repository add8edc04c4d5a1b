/*
 * Bounded keyed tables for the byod detector core: open-addressing hash
 * index (linear probing, backward-shift deletion, so no tombstones pile up
 * under churn) plus an intrusive LRU list over a caller-owned fixed array.
 * Runs on the packet path of the byod worker process. The hash is keyed
 * with a random per-table seed so that addresses chosen by an attacker do
 * not land in one probe chain.
 */
#include "tab.h"

#include <mimamori/error.h>

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

static uint32_t
home_of(const struct byod_tab *t, const uint8_t *key)
{
	return byod_tab_home(t, byod_tab_key(t, key));
}

static const uint8_t *
key_of(const struct byod_tab *t, uint32_t i)
{
	return t->base + (size_t)i * t->stride + t->key_off;
}

int
byod_tab_init(struct byod_tab *t, void *base, size_t stride, size_t key_off, size_t key_len,
              uint32_t max)
{
	uint32_t slots = 16;

	memset(t, 0, sizeof(*t));
	if (key_len == 0 || key_len > 8 || max == 0 || max > (1u << 29))
		return MM_ERR_INVAL;
	while (slots < 2 * max)
		slots <<= 1;
	t->base = base;
	t->stride = stride;
	t->key_off = key_off;
	t->key_len = key_len;
	t->max = max;
	t->mask = slots - 1;
	t->head = t->tail = TAB_NONE;
	t->slot = calloc(slots, sizeof(*t->slot));
	t->prev = malloc((size_t)max * sizeof(*t->prev));
	t->next = malloc((size_t)max * sizeof(*t->next));
	if (t->slot == NULL || t->prev == NULL || t->next == NULL) {
		byod_tab_clear(t);
		return MM_ERR_NOMEM;
	}
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) != (ssize_t)sizeof(t->seed))
		t->seed = (uint64_t)time(NULL) * 0x2545f4914f6cdd1dull ^ (uintptr_t)t;
	return MM_OK;
}

void
byod_tab_clear(struct byod_tab *t)
{
	if (t == NULL)
		return;
	free(t->slot);
	free(t->prev);
	free(t->next);
	memset(t, 0, sizeof(*t));
}

static void
lru_unlink(struct byod_tab *t, uint32_t i)
{
	if (t->prev[i] != TAB_NONE)
		t->next[t->prev[i]] = t->next[i];
	else
		t->head = t->next[i];
	if (t->next[i] != TAB_NONE)
		t->prev[t->next[i]] = t->prev[i];
	else
		t->tail = t->prev[i];
}

static void
lru_push(struct byod_tab *t, uint32_t i)
{
	t->prev[i] = TAB_NONE;
	t->next[i] = t->head;
	if (t->head != TAB_NONE)
		t->prev[t->head] = i;
	t->head = i;
	if (t->tail == TAB_NONE)
		t->tail = i;
}

/* The out-of-line part of byod_tab_touch(): i is not the head. */
void
byod_tab_lru_move(struct byod_tab *t, uint32_t i)
{
	lru_unlink(t, i);
	lru_push(t, i);
}

void
byod_tab_rehash(struct byod_tab *t, uint32_t i)
{
	uint32_t s = home_of(t, key_of(t, i)), probe = 0;

	while (t->slot[s] != 0) {
		s = (s + 1) & t->mask;
		probe++;
	}
	t->slot[s] = i + 1;
	if (probe > t->max_probe)
		t->max_probe = probe;
}

void
byod_tab_unhash(struct byod_tab *t, uint32_t i)
{
	uint32_t s = home_of(t, key_of(t, i)), j;

	while (t->slot[s] != 0 && t->slot[s] != i + 1)
		s = (s + 1) & t->mask;
	if (t->slot[s] == 0)
		return;
	/* Backward-shift: move later members of the chain into the hole when
	 * their home slot does not lie cyclically between the hole and them. */
	j = s;
	for (;;) {
		uint32_t home;
		j = (j + 1) & t->mask;
		if (t->slot[j] == 0)
			break;
		home = home_of(t, key_of(t, t->slot[j] - 1));
		if (((j - home) & t->mask) >= ((j - s) & t->mask)) {
			t->slot[s] = t->slot[j];
			s = j;
		}
	}
	t->slot[s] = 0;
}

uint32_t
byod_tab_alloc(struct byod_tab *t, int (*pinned)(const void *entry), int *evicted)
{
	uint32_t i, looked = 0;

	*evicted = 0;
	if (t->n < t->max)
		return t->n++;
	i = t->tail;
	if (pinned != NULL) {
		while (i != TAB_NONE && looked++ < 128 && pinned(t->base + (size_t)i * t->stride))
			i = t->prev[i];
		if (i == TAB_NONE || looked > 128)
			i = t->tail;
	}
	byod_tab_unhash(t, i);
	lru_unlink(t, i);
	*evicted = 1;
	return i;
}

void
byod_tab_link(struct byod_tab *t, uint32_t i)
{
	byod_tab_rehash(t, i);
	lru_push(t, i);
}

size_t
byod_tab_bytes(const struct byod_tab *t)
{
	return ((size_t)t->mask + 1) * sizeof(*t->slot) + 2 * (size_t)t->max * sizeof(*t->prev);
}
