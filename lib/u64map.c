// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>
#include <time.h>

#include "u64map.h"

/*
 * Keys come from captures and devices (dev_ids, cookies), so an attacker
 * chooses them: with a fixed mixer, which is a bijection and so easily
 * inverted, a crafted capture puts every key in one probe run and makes
 * each lookup linear.  The mixer is therefore keyed with a secret drawn
 * anew at every growth (which rehashes every key anyway).
 */
static uint64_t new_seed(const struct u64map *m)
{
	uint64_t seed;
	struct timespec ts;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == (ssize_t)sizeof(seed))
		return seed;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^ (uintptr_t)m;
}

/* murmur3's 64-bit finaliser over the key xor the map's secret. */
static size_t home(const struct u64map *m, uint64_t key)
{
	key ^= m->seed;
	key ^= key >> 33;
	key *= 0xff51afd7ed558ccdull;
	key ^= key >> 33;
	key *= 0xc4ceb9fe1a85ec53ull;
	key ^= key >> 33;
	return (size_t)key & (m->cap - 1);
}

/* The slot of key, or the free slot ending its probe run; cap must be non-zero. */
static struct u64map_slot *find(const struct u64map *m, uint64_t key)
{
	size_t i = home(m, key);

	while (m->s[i].used && m->s[i].key != key)
		i = (i + 1) & (m->cap - 1);
	return &m->s[i];
}

static int grow(struct u64map *m)
{
	struct u64map n = { .cap = m->cap ? m->cap * 2 : 64, .len = m->len, .limit = m->limit,
			    .seed = new_seed(m) };

	n.s = calloc(n.cap, sizeof(*n.s));
	if (!n.s)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->s[i].used)
			*find(&n, m->s[i].key) = m->s[i];
	free(m->s);
	*m = n;
	return 0;
}

uint64_t *u64map_ref(struct u64map *m, uint64_t key, bool create)
{
	struct u64map_slot *s;

	if (!m->cap && (!create || grow(m)))
		return NULL;
	s = find(m, key);
	if (s->used)
		return &s->val;
	if (!create || (m->limit && m->len >= m->limit))
		return NULL;
	if ((m->len + 1) * 2 > m->cap) {
		if (grow(m))
			return NULL;
		s = find(m, key);
	}
	*s = (struct u64map_slot){ .key = key, .used = true };
	m->len++;
	return &s->val;
}

int u64map_put(struct u64map *m, uint64_t key, uint64_t val)
{
	uint64_t *v = u64map_ref(m, key, true);

	if (!v)
		return m->limit && m->len >= m->limit ? -ENOSPC : -ENOMEM;
	*v = val;
	return 0;
}

bool u64map_get(const struct u64map *m, uint64_t key, uint64_t *val)
{
	const struct u64map_slot *s = m->cap ? find(m, key) : NULL;

	if (!s || !s->used)
		return false;
	if (val)
		*val = s->val;
	return true;
}

/* Delete by shifting later members of the probe run back (no tombstones). */
bool u64map_del(struct u64map *m, uint64_t key)
{
	struct u64map_slot *s = m->cap ? find(m, key) : NULL;

	if (!s || !s->used)
		return false;
	size_t i = (size_t)(s - m->s), j = i;

	m->s[i].used = false;
	m->len--;
	for (;;) {
		j = (j + 1) & (m->cap - 1);
		if (!m->s[j].used)
			return true;
		size_t h = home(m, m->s[j].key);
		/* Move j into the hole i unless its home lies cyclically in (i, j]. */
		if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
			m->s[i] = m->s[j];
			m->s[j].used = false;
			i = j;
		}
	}
}

void u64map_free(struct u64map *m)
{
	free(m->s);
	*m = (struct u64map){ .limit = m->limit };
}
