// SPDX-License-Identifier: MIT
/* One input is a pymalloc pool as read from the target: the first 24 bytes
 * are the pool's address, the block asked about and its size (little-endian
 * u64; the address is kept pool-aligned, possibly near 2^64), the rest is
 * the pool's bytes, copied into a buffer of its exact size so that ASan sees
 * any read past it. Also the glibc chunk verdict on the first words. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "liveness.h"

static uint64_t u64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t pool_addr, block, bsize;
	size_t pool_size;
	uint8_t *pool;
	bool dead;

	if (size < 24)
		return 0;
	pool_size = size - 24;
	pool_addr = u64(data);
	block = u64(data + 8);
	bsize = u64(data + 16);
	/* Pools are aligned to their size in the tool; keep most inputs so
	 * (the power of two at or below pool_size), some not. */
	if (pool_size && !(data[0] & 1)) {
		size_t p2 = 1;

		while (p2 * 2 <= pool_size)
			p2 *= 2;
		pool_addr &= ~(uint64_t)(p2 - 1);
	}
	if (data[1] & 1)
		block = pool_addr + block % (pool_size + 1);
	pool = malloc(pool_size ? pool_size : 1);
	if (!pool)
		return 0;
	memcpy(pool, data + 24, pool_size);
	dead = pool_block_free(pool, pool_size, pool_addr, block, bsize);
	/* A block outside the pool is never reported live. */
	if (!dead && (block < pool_addr || block - pool_addr >= pool_size))
		abort();
	free(pool);
	chunk_free(u64(data), u64(data + 8), u64(data + 16));
	return 0;
}
