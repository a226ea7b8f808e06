// SPDX-License-Identifier: MIT
/* Liveness of sampled blocks, read from outside; see liveness.h. */
#include <stdlib.h>
#include <string.h>
#include "liveness.h"
#include "probes.h"
#include "procfs.h"

#define CHUNK_PREV_INUSE 0x1
#define CHUNK_IS_MMAPPED 0x2
#define CHUNK_FLAGS 0x7
#define CHUNK_MAX (1ull << 40)

static uint32_t u32_at(const uint8_t *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

static uint64_t u64_at(const uint8_t *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, sizeof(v));
	return v;
}

/* Every address below comes from the target's memory. Offsets are taken
 * by subtraction from pool_addr and compared with the buffer's size, so
 * that no sum can wrap past 2^64 and pass a bound it should fail. */
bool pool_block_free(const uint8_t *pool, size_t pool_size, uint64_t pool_addr, uint64_t block, uint64_t size)
{
	uint64_t off = block - pool_addr, bsize, fb;
	uint32_t szidx;
	size_t steps;

	if (pool_size < PY_POOL_HEADER_SIZE)
		return true;
	if (block < pool_addr || off >= pool_size || !size || size > PY_PYMALLOC_MAX)
		return true;
	szidx = u32_at(pool, PY_POOL_SZIDX);
	bsize = ((uint64_t)szidx + 1) << PY_PYMALLOC_ALIGN_SHIFT;
	/* An empty pool, or one re-carved for another size class. */
	if (!u32_at(pool, PY_POOL_REF_COUNT) || ((size - 1) >> PY_PYMALLOC_ALIGN_SHIFT) != szidx)
		return true;
	if (off < PY_POOL_HEADER_SIZE || (off - PY_POOL_HEADER_SIZE) % bsize || off >= u32_at(pool, PY_POOL_NEXTOFFSET))
		return true;
	/* The free list threads through the free blocks of this pool; bounded
	 * by the block count so a torn read cannot loop. A next pointer that
	 * is not a block of this pool (outside it, in its header, between two
	 * blocks) ends the walk. */
	fb = u64_at(pool, PY_POOL_FREEBLOCK);
	for (steps = pool_size / bsize + 1; fb && steps; steps--) {
		uint64_t fb_off;

		if (fb == block)
			return true;
		if (fb < pool_addr)
			break;
		fb_off = fb - pool_addr;
		if (fb_off < PY_POOL_HEADER_SIZE || fb_off > pool_size - sizeof(uint64_t) ||
		    (fb_off - PY_POOL_HEADER_SIZE) % bsize)
			break;
		fb = u64_at(pool, fb_off);
	}
	return false;
}

bool chunk_free(uint64_t hdr, uint64_t next_hdr, uint64_t size)
{
	uint64_t csize = hdr & ~(uint64_t)CHUNK_FLAGS;

	/* The usable part of a chunk is its size less one header word. */
	if (csize < 2 * sizeof(uint64_t) || csize > CHUNK_MAX || csize - sizeof(uint64_t) < size)
		return true;
	if (hdr & CHUNK_IS_MMAPPED)
		return false;
	return !(next_hdr & CHUNK_PREV_INUSE);
}

bool alloc_in_pymalloc(const struct alloc_info *info)
{
	return info->source == PY_SRC_PYMALLOC && info->size && info->size <= PY_PYMALLOC_MAX;
}

static int by_addr(const void *a, const void *b)
{
	const struct tracked_alloc *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static void check_chunk(pid_t pid, struct tracked_alloc *t)
{
	uint64_t hdr, next_hdr = CHUNK_PREV_INUSE, chunk, csize;

	/* No chunk header can sit below address 8. */
	if (t->addr < sizeof(uint64_t)) {
		t->dead = true;
		return;
	}
	chunk = t->addr - sizeof(uint64_t);
	/* An unmapped chunk (a large block given back with munmap) is free. */
	if (proc_read(pid, chunk, &hdr, sizeof(hdr))) {
		t->dead = true;
		return;
	}
	csize = hdr & ~(uint64_t)CHUNK_FLAGS;
	/* A size no chunk has is judged by chunk_free alone; one that would
	 * run past 2^64 is no chunk either. */
	if (!(hdr & CHUNK_IS_MMAPPED) && csize <= CHUNK_MAX) {
		if (chunk > UINT64_MAX - csize) {
			t->dead = true;
			return;
		}
		if (proc_read(pid, chunk + csize, &next_hdr, sizeof(next_hdr)))
			return; /* cannot tell: keep */
	}
	t->dead = chunk_free(hdr, next_hdr, t->info.size);
}

void liveness_sweep(pid_t pid, uint32_t pool_size, struct tracked_alloc *a, size_t n, size_t max_pools,
		    uint64_t *resume, struct liveness_stats *st)
{
	uint8_t *pool = malloc(pool_size);
	uint64_t cur_pool = 0, mask = ~(uint64_t)(pool_size - 1);
	bool have_pool = false;
	size_t start = 0;

	memset(st, 0, sizeof(*st));
	if (!pool)
		return;
	qsort(a, n, sizeof(*a), by_addr);
	while (start < n && a[start].addr < *resume)
		start++;
	if (start == n)
		start = 0;
	for (size_t k = 0; k < n; k++) {
		struct tracked_alloc *t = &a[(start + k) % n];

		if (!alloc_in_pymalloc(&t->info)) {
			check_chunk(pid, t);
		} else {
			if ((t->addr & mask) != cur_pool || !have_pool) {
				if (st->pools_read == max_pools) {
					st->skipped = n - k;
					*resume = t->addr;
					break;
				}
				cur_pool = t->addr & mask;
				have_pool = !proc_read(pid, cur_pool, pool, pool_size);
				st->pools_read++;
			}
			/* An unreadable pool: its arena was given back. */
			t->dead = !have_pool || pool_block_free(pool, pool_size, cur_pool, t->addr, t->info.size);
		}
		st->checked++;
		st->dead += t->dead;
	}
	if (!st->skipped)
		*resume = 0;
	free(pool);
}
