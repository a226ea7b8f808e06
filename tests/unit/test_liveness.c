// SPDX-License-Identifier: MIT
/* Liveness checks on synthetic pymalloc pools and glibc chunk headers laid
 * out as CPython 3.10+ and glibc 2.36 lay them out. */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "check.h"
#include "liveness.h"

#define POOL 16384
#define BASE 0x7f0000100000ull

static uint8_t pool[POOL];

static void put32(size_t off, uint32_t v)
{
	memcpy(pool + off, &v, sizeof(v));
}

static void put64(size_t off, uint64_t v)
{
	memcpy(pool + off, &v, sizeof(v));
}

/* A pool of 64-byte blocks (szidx 3): blocks 0..9 handed out, then 2 and 7
 * freed (free list 7 -> 2 -> NULL). */
static void make_pool(void)
{
	memset(pool, 0, sizeof(pool));
	put32(PY_POOL_REF_COUNT, 8);
	put32(PY_POOL_SZIDX, 3);
	put32(PY_POOL_NEXTOFFSET, PY_POOL_HEADER_SIZE + 10 * 64);
	put64(PY_POOL_FREEBLOCK, BASE + PY_POOL_HEADER_SIZE + 7 * 64);
	put64(PY_POOL_HEADER_SIZE + 7 * 64, BASE + PY_POOL_HEADER_SIZE + 2 * 64);
	put64(PY_POOL_HEADER_SIZE + 2 * 64, 0);
}

static uint64_t block(int i)
{
	return BASE + PY_POOL_HEADER_SIZE + (uint64_t)i * 64;
}

static void test_pool(void)
{
	make_pool();
	CHECK(!pool_block_free(pool, POOL, BASE, block(0), 64), "handed-out block is live");
	CHECK(!pool_block_free(pool, POOL, BASE, block(9), 50), "any size of the class is live");
	CHECK(pool_block_free(pool, POOL, BASE, block(7), 64), "head of the free list");
	CHECK(pool_block_free(pool, POOL, BASE, block(2), 64), "end of the free list");
	CHECK(pool_block_free(pool, POOL, BASE, block(10), 64), "beyond nextoffset: never handed out");
	CHECK(pool_block_free(pool, POOL, BASE, block(1), 100), "pool carved for another size class");
	CHECK(pool_block_free(pool, POOL, BASE, block(1) + 8, 64), "not on a block boundary");
	CHECK(pool_block_free(pool, POOL, BASE, BASE + 16, 64), "inside the header");
	put32(PY_POOL_REF_COUNT, 0);
	CHECK(pool_block_free(pool, POOL, BASE, block(0), 64), "empty pool");
}

static void test_pool_free_list_loop(void)
{
	make_pool();
	/* A torn read: the list loops on itself. Must terminate. */
	put64(PY_POOL_HEADER_SIZE + 2 * 64, BASE + PY_POOL_HEADER_SIZE + 7 * 64);
	CHECK(!pool_block_free(pool, POOL, BASE, block(4), 64), "loop in the free list: terminates, live");
	/* A pointer outside the pool ends the walk. */
	put64(PY_POOL_HEADER_SIZE + 2 * 64, 0x1234);
	CHECK(!pool_block_free(pool, POOL, BASE, block(5), 64), "wild pointer: walk ends");
}

/* A copy of the pool that ends right before an inaccessible page: any read
 * past the tool's buffer faults instead of going unseen. */
static uint8_t *guarded_copy(void **map, size_t *maplen)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *m;

	*maplen = POOL + page;
	m = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (mprotect(m + POOL, page, PROT_NONE)) {
		munmap(m, *maplen);
		return NULL;
	}
	*map = m;
	memcpy(m, pool, POOL);
	return m;
}

/* freeblock is the target's to write (one ctypes store): values that wrap
 * a naive fb + 8 > pool_addr + pool_size must end the walk, not send the
 * read outside the buffer. */
static void test_pool_hostile_freeblock(void)
{
	const uint64_t high = 0ull - POOL; /* the last pool below 2^64 */
	uint64_t hb = high + PY_POOL_HEADER_SIZE + 4 * 64;
	void *map = NULL;
	size_t maplen = 0;
	uint8_t *g;

	make_pool();
	put64(PY_POOL_HEADER_SIZE + 2 * 64, 0xfffffffffffffffcull);
	if ((g = guarded_copy(&map, &maplen))) {
		CHECK(!pool_block_free(g, POOL, BASE, block(4), 64), "freeblock 2^64-4: walk ends, live");
		munmap(map, maplen);
	}
	/* A pool at the top of the address space: pool_addr + pool_size is 0
	 * there. Its list's next is 2^64 - 8, the pool's last 8 bytes, which
	 * are no block boundary (and hold the address of a live block). */
	make_pool();
	put64(PY_POOL_FREEBLOCK, 0xfffffffffffffff8ull);
	put64(POOL - 8, hb);
	if ((g = guarded_copy(&map, &maplen))) {
		CHECK(!pool_block_free(g, POOL, high, hb, 64), "pool below 2^64, freeblock at its last 8 bytes");
		munmap(map, maplen);
	}
	make_pool();
	put64(PY_POOL_FREEBLOCK, high + PY_POOL_HEADER_SIZE + 7 * 64);
	put64(PY_POOL_HEADER_SIZE + 7 * 64, 0xfffffffffffffff8ull);
	if ((g = guarded_copy(&map, &maplen))) {
		CHECK(!pool_block_free(g, POOL, high, hb, 64), "pool below 2^64, next at 2^64-8");
		CHECK(pool_block_free(g, POOL, high, high + PY_POOL_HEADER_SIZE + 7 * 64, 64),
		      "pool below 2^64: its real free block is still seen");
		munmap(map, maplen);
	}
	/* A pointer between blocks is no free block: not followed. At
	 * block(3) + 8 the pool holds block(4)'s address (planted). */
	make_pool();
	put64(PY_POOL_HEADER_SIZE + 2 * 64, block(3) + 8);
	put64(PY_POOL_HEADER_SIZE + 3 * 64 + 8, block(4));
	CHECK(!pool_block_free(pool, POOL, BASE, block(4), 64), "misaligned freeblock not followed");
	/* A pool too small for its own header is never read. */
	CHECK(pool_block_free(pool, PY_POOL_HEADER_SIZE - 8, BASE, BASE + 8, 64), "pool smaller than its header");
}

static void test_chunks(void)
{
	/* 0x1010: a 4 KiB request; PREV_INUSE set on both. */
	CHECK(!chunk_free(0x1011, 0x21, 4000), "next chunk says in use");
	CHECK(chunk_free(0x1011, 0x20, 4000), "next chunk says free");
	CHECK(chunk_free(0x111, 0x21, 4000), "chunk too small for the request: re-carved");
	CHECK(!chunk_free(0x21002, 0, 100000), "mmapped chunk still mapped: live");
	CHECK(chunk_free(0, 0x21, 16), "nonsense header");
}

static void test_which_allocator(void)
{
	struct alloc_info small = { .size = 64, .source = PY_SRC_PYMALLOC };
	struct alloc_info large = { .size = 600, .source = PY_SRC_PYMALLOC };
	struct alloc_info native = { .size = 64, .source = PY_SRC_MALLOC };

	CHECK(alloc_in_pymalloc(&small), "<= 512 through the interpreter: pymalloc");
	CHECK(!alloc_in_pymalloc(&large), "> 512: passed on to malloc");
	CHECK(!alloc_in_pymalloc(&native), "libc malloc");
}

int main(void)
{
	test_pool();
	test_pool_free_list_loop();
	test_pool_hostile_freeblock();
	test_chunks();
	test_which_allocator();
	return check_summary();
}
