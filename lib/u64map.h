/* SPDX-License-Identifier: MIT */
/*
 * libiopf private, not public API (lib/iopf.h does not include it): a
 * small open-addressing u64 -> u64 hash map (linear probing, at most
 * half full, deletion by back-shifting: no tombstones), optionally
 * bounded: with limit set it holds at most limit keys.  Keys are hashed
 * with a secret (lib/u64map.c), so crafted keys cannot make probe runs
 * long; the map has no iteration, so nothing it does depends on it.
 */
#ifndef IOPF_U64MAP_H
#define IOPF_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct u64map_slot {
	uint64_t key, val;
	bool used;
};

struct u64map {
	struct u64map_slot *s;
	size_t cap, len;	/* cap: 0 or a power of two */
	size_t limit;		/* at most this many keys; 0: no limit */
	uint64_t seed;		/* the hash's secret, set at each growth */
};

/*
 * The value slot of key; when absent and create is set, a new slot
 * holding 0.  NULL when absent and not created: create unset, the limit
 * reached or out of memory.  The pointer is good until the next insert
 * or delete.
 */
uint64_t *u64map_ref(struct u64map *m, uint64_t key, bool create);
/* Set key to val: 0, -ENOSPC at the limit, or -ENOMEM. */
int u64map_put(struct u64map *m, uint64_t key, uint64_t val);
bool u64map_get(const struct u64map *m, uint64_t key, uint64_t *val);
bool u64map_del(struct u64map *m, uint64_t key);
/* Drop every key and the storage; the map stays usable, with its limit. */
void u64map_free(struct u64map *m);

#endif
