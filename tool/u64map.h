/* SPDX-License-Identifier: MIT */
/* A small open-addressing u64 -> u64 hash map (linear probing, tombstone-free deletion). */
#ifndef IOPFTOOL_U64MAP_H
#define IOPFTOOL_U64MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct u64map {
	uint64_t *keys, *vals;
	uint8_t *used;
	size_t cap, len;	/* cap: power of two */
};

int u64map_put(struct u64map *m, uint64_t key, uint64_t val);
bool u64map_get(const struct u64map *m, uint64_t key, uint64_t *val);
bool u64map_del(struct u64map *m, uint64_t key);
void u64map_free(struct u64map *m);

#endif
