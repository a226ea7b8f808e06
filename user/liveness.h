/* SPDX-License-Identifier: MIT */
/* Is a sampled block still allocated? Answered from outside the target,
 * without probing every free: for a pymalloc block, by the pool's own
 * bookkeeping (a block is live when it lies below `nextoffset` and is not on
 * the pool's `freeblock` list); for a glibc malloc chunk, by the next chunk's
 * PREV_INUSE bit and the chunk still being mapped.
 *
 * Neither can see a block that was freed and then handed out again: the
 * sampled mode catches those when a later window sees the address allocated
 * (bpf/pyleak.bpf.c, remember_alloc), and the kernel's RSS clock must
 * confirm growth before any site is called a leak.
 *
 * The pure checks are unit-tested in tests/unit/test_liveness.c. */
#ifndef PYLEAK_LIVENESS_H
#define PYLEAK_LIVENESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "pyleak.h"

/* True when `block` (in a pool of pool_size bytes read into `pool` from
 * pool_addr) is free, or was never a block of `size` bytes there. */
bool pool_block_free(const uint8_t *pool, size_t pool_size, uint64_t pool_addr, uint64_t block, uint64_t size);

/* glibc chunk headers around a user pointer: `hdr` is the 8-byte size field
 * of its own chunk, `next_hdr` that of the next chunk (ignored for mmapped
 * chunks). True when the chunk is free or too small for `size`. */
bool chunk_free(uint64_t hdr, uint64_t next_hdr, uint64_t size);

/* Whether a tracked allocation is a pymalloc block, else a malloc chunk. */
bool alloc_in_pymalloc(const struct alloc_info *info);

struct liveness_stats {
	size_t checked;
	size_t dead;
	size_t pools_read;
	size_t skipped; /* over the per-sweep read budget: left for the next sweep */
};

struct tracked_alloc;

/* Marks the dead ones in a[] (sorted by address on return). Reads at most
 * max_pools pools per call, from *resume on (0: the lowest address), and
 * leaves in *resume where the next call should start. */
void liveness_sweep(pid_t pid, uint32_t pool_size, struct tracked_alloc *a, size_t n, size_t max_pools,
		    uint64_t *resume, struct liveness_stats *st);

#endif
