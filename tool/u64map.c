// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>

#include "u64map.h"

static size_t slot(const struct u64map *m, uint64_t key)
{
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	return (size_t)key & (m->cap - 1);
}

static size_t find(const struct u64map *m, uint64_t key)
{
	size_t i = slot(m, key);

	while (m->used[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int grow(struct u64map *m)
{
	struct u64map n = { .cap = m->cap ? m->cap * 2 : 64 };

	n.keys = malloc(n.cap * sizeof(*n.keys));
	n.vals = malloc(n.cap * sizeof(*n.vals));
	n.used = calloc(n.cap, 1);
	if (!n.keys || !n.vals || !n.used) {
		u64map_free(&n);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++)
		if (m->used[i])
			u64map_put(&n, m->keys[i], m->vals[i]);
	u64map_free(m);
	*m = n;
	return 0;
}

int u64map_put(struct u64map *m, uint64_t key, uint64_t val)
{
	if ((m->len + 1) * 4 > m->cap * 3) {
		int rc = grow(m);

		if (rc)
			return rc;
	}
	size_t i = find(m, key);

	if (!m->used[i]) {
		m->used[i] = 1;
		m->keys[i] = key;
		m->len++;
	}
	m->vals[i] = val;
	return 0;
}

bool u64map_get(const struct u64map *m, uint64_t key, uint64_t *val)
{
	if (!m->cap)
		return false;
	size_t i = find(m, key);

	if (!m->used[i])
		return false;
	if (val)
		*val = m->vals[i];
	return true;
}

/* Delete by shifting later members of the probe run back (no tombstones). */
bool u64map_del(struct u64map *m, uint64_t key)
{
	if (!m->cap)
		return false;
	size_t i = find(m, key), j = i;

	if (!m->used[i])
		return false;
	m->used[i] = 0;
	m->len--;
	for (;;) {
		j = (j + 1) & (m->cap - 1);
		if (!m->used[j])
			return true;
		size_t home = slot(m, m->keys[j]);
		/* Move j into the hole i unless its home lies cyclically in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			m->used[i] = 1;
			m->used[j] = 0;
			i = j;
		}
	}
}

void u64map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	free(m->used);
	*m = (struct u64map){ 0 };
}
