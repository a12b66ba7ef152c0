/* SPDX-License-Identifier: MIT */
/*
 * Growable arrays: an array pointer and its capacity kept by the caller,
 * grown geometrically.  pp is the address of the array pointer (any
 * object type: it is read and written with memcpy, not through a cast
 * void **), size the size of one element.
 */
#ifndef IOPFTOOL_VEC_H
#define IOPFTOOL_VEC_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The first allocation holds about this many bytes (at least one element). */
#define VEC_FIRST_BYTES 2048

/* Room for need elements: 0, or -ENOMEM with the array left as it was. */
static inline int vec_reserve(void *pp, size_t *cap, size_t size, size_t need)
{
	size_t n = *cap ? *cap : (VEC_FIRST_BYTES + size - 1) / size;
	void *p;

	if (need <= *cap)
		return 0;
	while (n < need && n <= SIZE_MAX / 2 / size)
		n *= 2;
	if (n < need || n > SIZE_MAX / size)
		return -ENOMEM;
	memcpy(&p, pp, sizeof(p));
	p = realloc(p, n * size);
	if (!p)
		return -ENOMEM;
	memcpy(pp, &p, sizeof(p));
	*cap = n;
	return 0;
}

/*
 * Room for one more element at *tail of a FIFO kept in [*head, *tail):
 * start over at the front once empty, move the waiting elements to the
 * front when the end is reached, grow only when they fill the array.
 */
static inline int vec_fifo_reserve(void *pp, size_t *cap, size_t size, size_t *head, size_t *tail)
{
	if (*head == *tail)
		*head = *tail = 0;
	if (*tail == *cap && *head) {
		char *p;

		memcpy(&p, pp, sizeof(p));
		memmove(p, p + *head * size, (*tail - *head) * size);
		*tail -= *head;
		*head = 0;
	}
	return vec_reserve(pp, cap, size, *tail + 1);
}

#endif
