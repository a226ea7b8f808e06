// SPDX-License-Identifier: MIT
/* The symbolizer over a fake memory image laid out like CPython 3.11's
 * objects: names, lines and functions resolve; a target showing 100k code
 * objects with big tables, or addresses chosen to collide, keeps the cache
 * under its byte bound and lookups short; reused addresses are re-read and
 * oversize lengths refused. */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "pyoffsets.h"
#include "symbolize.h"

#define ARENA_BASE 0x10000000ull
#define ARENA_SIZE (4u << 20)
#define CODE_SIZE 256

/* An arena of objects at ARENA_BASE, plus `ncode` code objects that all
 * look like `code` (so 100k of them cost no memory here), `stride` apart
 * from code_base. */
struct fake {
	uint8_t *arena;
	size_t used;
	uint64_t code_base, stride;
	size_t ncode;
	uint8_t code[CODE_SIZE];
	uint64_t reads, bytes_read;
};

static int fake_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	struct fake *f = ctx;

	f->reads++;
	f->bytes_read += len;
	if (addr >= ARENA_BASE && addr - ARENA_BASE <= f->used && len <= f->used - (addr - ARENA_BASE)) {
		memcpy(buf, f->arena + (addr - ARENA_BASE), len);
		return 0;
	}
	if (addr >= f->code_base && (addr - f->code_base) / f->stride < f->ncode) {
		uint64_t off = (addr - f->code_base) % f->stride;

		if (off <= CODE_SIZE && len <= CODE_SIZE - off) {
			memcpy(buf, f->code + off, len);
			return 0;
		}
	}
	return -EFAULT;
}

static uint64_t fake_alloc(struct fake *f, size_t len, uint8_t **p)
{
	uint64_t addr = ARENA_BASE + f->used;

	len = (len + 15) & ~(size_t)15;
	if (f->used + len > ARENA_SIZE) {
		fprintf(stderr, "fake arena full\n");
		exit(2);
	}
	*p = f->arena + f->used;
	f->used += len;
	return addr;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* A compact ASCII str, or a Latin-1 one with no UTF-8 copy. `len` is what
 * the header claims, whatever the data. */
static uint64_t fake_str(struct fake *f, const struct py_code_layout *l, const char *s, uint64_t len,
			 bool latin1)
{
	size_t n = strlen(s);
	uint16_t data = latin1 ? l->str_compact_data : l->str_ascii_data;
	uint8_t *p;
	uint64_t addr = fake_alloc(f, data + n + 1, &p);

	put64(p + 16, len);
	put64(p + l->str_state, (1u << 2) | (1u << 5) | (latin1 ? 0 : 1u << 6));
	if (latin1)
		put64(p + l->str_utf8, 0);
	memcpy(p + data, s, n + 1);
	return addr;
}

/* A bytes object claiming `len` bytes; only `have` of them are there. */
static uint64_t fake_bytes(struct fake *f, const struct py_code_layout *l, const uint8_t *data,
			   size_t have, uint64_t len)
{
	uint8_t *p;
	uint64_t addr = fake_alloc(f, l->bytes_data + have, &p);

	put64(p + l->bytes_size, len);
	memcpy(p + l->bytes_data, data, have);
	return addr;
}

static void set_code(struct fake *f, const struct py_code_layout *l, uint64_t file, uint64_t name,
		     uint64_t table, uint32_t firstlineno)
{
	memset(f->code, 0, sizeof(f->code));
	put64(f->code + l->code_filename, file);
	put64(f->code + (l->code_qualname != PY_OFF_NONE ? l->code_qualname : l->code_name), name);
	put64(f->code + l->code_linetable, table);
	put32(f->code + l->code_firstlineno, firstlineno);
	if (l->code_firsttraceable != PY_OFF_NONE)
		f->code[l->code_firsttraceable] = 0;
}

static struct symbolizer *fake_symbolizer(struct fake *f, const struct py_code_layout *l, size_t max_bytes)
{
	struct symbolizer_opts o = { .max_bytes = max_bytes, .read = fake_read, .read_ctx = f };

	return symbolizer__new_opts(-1, l, &o);
}

/* 3.11 instr: byte offset of prev_instr from the code object. */
static uint32_t instr_311(const struct py_code_layout *l, int unit)
{
	return (uint32_t)(l->code_adaptive + 2 * unit);
}

/* Three entries: unit 0 at firstlineno, units 1-2 three lines on, unit 3
 * one more (the one-line form, with two column bytes). */
static const uint8_t small_table[] = {
	0x80 | (13 << 3) | 0, 0x00,
	0x80 | (13 << 3) | 1, 0x06,
	0x80 | (11 << 3) | 0, 4, 10,
};

/* A big table of the same shape: one no-column entry per unit, line +0. */
static uint8_t *big_table(size_t len)
{
	uint8_t *t = malloc(len);

	for (size_t i = 0; t && i + 1 < len; i += 2) {
		t[i] = 0x80 | (13 << 3);
		t[i + 1] = 0;
	}
	if (t && len % 2)
		t[len - 1] = 0x80 | (15 << 3);
	return t;
}

static void test_resolution(const struct py_code_layout *l)
{
	struct fake f = { .code_base = 0x7f0000000000ull, .stride = 512, .ncode = 4 };
	struct py_frame fr = { .code = f.code_base, .firstlineno = 10 };
	struct symbolizer_stats st;
	struct symbolizer *s = NULL;
	struct sym_frame sf;
	uint64_t reads;

	f.arena = calloc(1, ARENA_SIZE);
	set_code(&f, l, fake_str(&f, l, "app/caf\xe9.py", 11, true), fake_str(&f, l, "Model.save", 10, false),
		 fake_bytes(&f, l, small_table, sizeof(small_table), sizeof(small_table)), 10);
	s = fake_symbolizer(&f, l, 0);
	if (!CHECK(f.arena && s, "setup"))
		goto cleanup;
	fr.instr = instr_311(l, 0);
	if (!CHECK_EQ_INT(symbolizer__frame(s, &fr, &sf), 0, "resolves"))
		goto cleanup;
	CHECK(!strcmp(sf.file, "app/caf\xc3\xa9.py"), sf.file);
	CHECK(!strcmp(sf.function, "Model.save"), sf.function);
	CHECK_EQ_INT(sf.line, 10, "unit 0");
	CHECK(!sf.incomplete, "unit 0 is past the prologue");
	reads = f.reads;
	fr.instr = instr_311(l, 2);
	symbolizer__frame(s, &fr, &sf);
	CHECK_EQ_INT(sf.line, 13, "unit 2");
	fr.instr = instr_311(l, 3);
	symbolizer__frame(s, &fr, &sf);
	CHECK_EQ_INT(sf.line, 14, "unit 3, one-line form");
	CHECK_EQ_INT(f.reads, reads, "cached: no more reads for the same code object");
	fr.instr = instr_311(l, -1);
	symbolizer__frame(s, &fr, &sf);
	CHECK_EQ_INT(sf.line, 10, "before the first instruction");
	CHECK(sf.incomplete, "before the first instruction: incomplete");
	fr.instr = instr_311(l, 4);
	symbolizer__frame(s, &fr, &sf);
	CHECK_EQ_INT(sf.line, 0, "past the table: unknown line");
	/* Target-chosen instructions at the ends of the range. */
	fr.instr = UINT32_MAX;
	CHECK_EQ_INT(symbolizer__frame(s, &fr, &sf), 0, "instr UINT32_MAX still resolves the names");
	CHECK_EQ_INT(sf.line, 0, "instr UINT32_MAX: no line");
	fr.instr = 0;
	symbolizer__frame(s, &fr, &sf);
	CHECK(sf.incomplete, "instr 0: before the first instruction");
	/* An address nothing is mapped at. */
	fr.code = 0x1234;
	CHECK_EQ_INT(symbolizer__frame(s, &fr, &sf), -ENOENT, "unmapped code object");
	CHECK(!strcmp(sf.function, "<code object gone>"), sf.function);
	symbolizer__stats(s, &st);
	CHECK_EQ_INT(st.lookups, 8, "lookups counted");
	CHECK_EQ_INT(st.misses, 2, "misses counted");
	CHECK_EQ_INT(st.read_failures, 1, "failures counted");
	CHECK_EQ_INT(st.entries, 1, "one entry held");
	CHECK(st.bytes > 0 && st.bytes <= st.max_bytes, "bytes held");
	CHECK_EQ_INT(st.max_bytes, SYMBOLIZER_DEFAULT_BYTES, "default bound");
cleanup:
	symbolizer__free(s);
	free(f.arena);
}

/* Older table formats: f_lasti-based instructions near UINT32_MAX must not
 * overflow when scaled, and firstlineno past INT_MAX is no crash. */
static void test_old_formats(void)
{
	const uint8_t lnotab[] = { 2, 1, 2, 1 };
	struct py_layout l39, l310;
	struct fake f = { .code_base = 0x7f0000000000ull, .stride = 512, .ncode = 1 };
	struct py_frame fr = { .code = f.code_base, .firstlineno = 5 };
	struct symbolizer *s = NULL;
	struct sym_frame sf;

	f.arena = calloc(1, ARENA_SIZE);
	if (!CHECK(f.arena && !py_layout_for(3, 9, &l39) && !py_layout_for(3, 10, &l310), "setup"))
		goto cleanup;
	set_code(&f, &l39.code, fake_str(&f, &l39.code, "a.py", 4, false), fake_str(&f, &l39.code, "f", 1, false),
		 fake_bytes(&f, &l39.code, lnotab, sizeof(lnotab), sizeof(lnotab)), 5);
	s = fake_symbolizer(&f, &l39.code, 0);
	fr.instr = 2;
	if (!CHECK(s && symbolizer__frame(s, &fr, &sf) == 0, "3.9 resolves"))
		goto cleanup;
	CHECK_EQ_INT(sf.line, 6, "3.9 lnotab");
	fr.instr = UINT32_MAX;
	symbolizer__frame(s, &fr, &sf);
	CHECK_EQ_INT(sf.line, 0, "3.9 instr past INT_MAX: no line");
	symbolizer__free(s);

	s = fake_symbolizer(&f, &l310.code, 0);
	fr.instr = 1; /* f_lasti 1: byte offset 2 */
	if (!CHECK(s && symbolizer__frame(s, &fr, &sf) == 0, "3.10 resolves"))
		goto cleanup;
	CHECK_EQ_INT(sf.line, 7, "3.10 linetable: the same pairs are [0,2) +1, [2,4) +1");
	fr.instr = INT_MAX / 2 + 1;
	symbolizer__frame(s, &fr, &sf);
	CHECK_EQ_INT(sf.line, 0, "3.10 f_lasti * 2 past INT_MAX: no line");
	symbolizer__free(s);

	/* firstlineno 0xffffffff as the BPF side and the code object say. */
	put32(f.code + l310.code.code_firstlineno, UINT32_MAX);
	fr.firstlineno = UINT32_MAX;
	fr.instr = 0;
	s = fake_symbolizer(&f, &l310.code, 0);
	if (!CHECK(s && symbolizer__frame(s, &fr, &sf) == 0, "huge firstlineno resolves"))
		goto cleanup;
	CHECK_EQ_INT(sf.line, 0, "firstlineno past INT_MAX plus a delta: no line");
cleanup:
	symbolizer__free(s);
	free(f.arena);
}

static size_t heap_in_use(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* 100k distinct code objects, each with a table of `table_len` bytes: the
 * bytes held never pass the bound, the heap agrees, and evictions move. */
static void test_bound(const struct py_code_layout *l, size_t n, size_t table_len, size_t max_bytes)
{
	struct fake f = { .code_base = 0x7f0000000000ull, .stride = 512, .ncode = n };
	struct symbolizer_stats st;
	struct symbolizer *s = NULL;
	size_t heap0, heap_max = 0, over = 0, failed = 0;
	uint8_t *t = big_table(table_len);
	char what[96];

	snprintf(what, sizeof(what), "%zu code objects with %zu-byte tables, bound %zu", n, table_len, max_bytes);
	f.arena = calloc(1, ARENA_SIZE);
	if (!CHECK(f.arena && t, "setup"))
		goto cleanup;
	set_code(&f, l, fake_str(&f, l, "gen.py", 6, false), fake_str(&f, l, "g", 1, false),
		 fake_bytes(&f, l, t, table_len, table_len), 1);
	heap0 = heap_in_use();
	s = fake_symbolizer(&f, l, max_bytes);
	if (!CHECK(s, "new"))
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		struct py_frame fr = { .code = f.code_base + i * f.stride, .firstlineno = 1,
				       .instr = instr_311(l, (int)(i % 100)) };
		struct sym_frame sf;
		size_t h;

		if (symbolizer__frame(s, &fr, &sf) || sf.line != 1)
			failed++;
		symbolizer__stats(s, &st);
		if (st.bytes > st.max_bytes)
			over++;
		h = heap_in_use();
		if (h > heap_max)
			heap_max = h;
	}
	symbolizer__stats(s, &st);
	CHECK_EQ_INT(failed, 0, what);
	CHECK_EQ_INT(over, 0, "never over the bound");
	CHECK_EQ_INT(st.misses, n, "every code object read once");
	CHECK(st.evictions >= n - st.entries, "evictions counted");
	CHECK(st.evictions > 0, "evictions moved");
	/* The heap grew by what the stats say and no more (malloc's rounding
	 * and the one entry being read before room is made for it aside). */
	snprintf(what, sizeof(what), "heap grew %zu for %llu bytes held, bound %llu", heap_max - heap0,
		 (unsigned long long)st.bytes, (unsigned long long)st.max_bytes);
	CHECK(heap_max - heap0 <= st.max_bytes + table_len + (256u << 10), what);
	printf("  %zu x %zu-byte tables: %llu entries, %llu bytes held (bound %llu), %llu evictions, heap peak +%zu\n",
	       n, table_len, (unsigned long long)st.entries, (unsigned long long)st.bytes,
	       (unsigned long long)st.max_bytes, (unsigned long long)st.evictions, heap_max - heap0);
cleanup:
	symbolizer__free(s);
	free(f.arena);
	free(t);
}

/* Addresses that differ only above bit 16 (all in one chain under the old
 * (code >> 4) % 4096): chains stay short and, the cache being big enough,
 * a second pass reads nothing. */
static void test_collisions(const struct py_code_layout *l)
{
	const size_t n = 20000;
	struct fake f = { .code_base = 0x7f0000000000ull, .stride = 1ull << 17, .ncode = n };
	struct symbolizer_stats st;
	struct symbolizer *s = NULL;
	uint64_t reads;
	size_t failed = 0;

	f.arena = calloc(1, ARENA_SIZE);
	if (!CHECK(f.arena, "setup"))
		goto cleanup;
	set_code(&f, l, fake_str(&f, l, "c.py", 4, false), fake_str(&f, l, "c", 1, false),
		 fake_bytes(&f, l, small_table, sizeof(small_table), sizeof(small_table)), 3);
	s = fake_symbolizer(&f, l, 0);
	if (!CHECK(s, "new"))
		goto cleanup;
	for (int pass = 0; pass < 2; pass++) {
		reads = f.reads;
		for (size_t i = 0; i < n; i++) {
			struct py_frame fr = { .code = f.code_base + i * f.stride, .firstlineno = 3,
					       .instr = instr_311(l, 0) };
			struct sym_frame sf;

			if (symbolizer__frame(s, &fr, &sf))
				failed++;
		}
		if (pass == 1)
			/* Only an entry lost to a full chain (bad luck at
			 * MAX_CHAIN) is read again: a few at most. */
			CHECK(f.reads - reads < n / 100, "second pass served from the cache");
	}
	symbolizer__stats(s, &st);
	CHECK_EQ_INT(failed, 0, "colliding addresses resolve");
	CHECK(st.longest_chain <= 8, "chains stay short");
	CHECK(st.entries >= n - n / 100, "nearly all held");
	printf("  %zu colliding addresses: longest chain walked %llu, %llu evictions\n", n,
	       (unsigned long long)st.longest_chain, (unsigned long long)st.evictions);
cleanup:
	symbolizer__free(s);
	free(f.arena);
}

/* A code object freed and another allocated at its address: the new one's
 * firstlineno differs, and it is read afresh. */
static void test_reuse(const struct py_code_layout *l)
{
	struct fake f = { .code_base = 0x7f0000000000ull, .stride = 512, .ncode = 1 };
	struct py_frame fr = { .code = f.code_base, .firstlineno = 10 };
	uint64_t table;
	struct symbolizer_stats st;
	struct symbolizer *s = NULL;
	struct sym_frame sf;

	f.arena = calloc(1, ARENA_SIZE);
	if (!CHECK(f.arena, "setup"))
		goto cleanup;
	table = fake_bytes(&f, l, small_table, sizeof(small_table), sizeof(small_table));
	set_code(&f, l, fake_str(&f, l, "old.py", 6, false), fake_str(&f, l, "old", 3, false), table, 10);
	s = fake_symbolizer(&f, l, 0);
	fr.instr = instr_311(l, 1);
	if (!CHECK(s && symbolizer__frame(s, &fr, &sf) == 0, "old resolves"))
		goto cleanup;
	CHECK(!strcmp(sf.function, "old"), sf.function);
	set_code(&f, l, fake_str(&f, l, "new.py", 6, false), fake_str(&f, l, "new", 3, false), table, 20);
	fr.firstlineno = 20;
	if (!CHECK(symbolizer__frame(s, &fr, &sf) == 0, "new resolves"))
		goto cleanup;
	CHECK(!strcmp(sf.file, "new.py") && !strcmp(sf.function, "new"), sf.function);
	CHECK_EQ_INT(sf.line, 23, "new firstlineno");
	/* A stack recorded while the old one lived, read after it died. */
	fr.firstlineno = 10;
	CHECK_EQ_INT(symbolizer__frame(s, &fr, &sf), -ENOENT, "old stack after reuse: gone");
	symbolizer__stats(s, &st);
	CHECK_EQ_INT(st.stale, 2, "stale entries dropped");
	CHECK_EQ_INT(st.misses, 3, "each change read afresh");
	CHECK_EQ_INT(st.entries, 0, "nothing left for the address");
cleanup:
	symbolizer__free(s);
	free(f.arena);
}

/* Lengths above the caps are refused before anything is allocated. */
static void test_oversize(const struct py_code_layout *l)
{
	struct fake f = { .code_base = 0x7f0000000000ull, .stride = 512, .ncode = 1 };
	struct py_frame fr = { .code = f.code_base, .firstlineno = 1, .instr = instr_311(l, 0) };
	const uint64_t lens[] = { (1u << 20) + 1, UINT64_MAX, 1ull << 63 };
	uint64_t name, file, table;
	struct symbolizer_stats st;
	struct symbolizer *s = NULL;
	struct sym_frame sf;
	uint8_t *t = big_table(300 << 10);

	f.arena = calloc(1, ARENA_SIZE);
	if (!CHECK(f.arena && t, "setup"))
		goto cleanup;
	name = fake_str(&f, l, "f", 1, false);
	file = fake_str(&f, l, "f.py", 4, false);
	s = fake_symbolizer(&f, l, 0);
	if (!CHECK(s, "new"))
		goto cleanup;
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		set_code(&f, l, file, name, fake_bytes(&f, l, small_table, sizeof(small_table), lens[i]), 1);
		CHECK_EQ_INT(symbolizer__frame(s, &fr, &sf), -ENOENT, "table length over the cap");
	}
	table = fake_bytes(&f, l, small_table, sizeof(small_table), sizeof(small_table));
	set_code(&f, l, fake_str(&f, l, "f.py", 4097, false), name, table, 1);
	CHECK_EQ_INT(symbolizer__frame(s, &fr, &sf), -ENOENT, "filename over MAX_STR");
	set_code(&f, l, file, fake_str(&f, l, "f", UINT64_MAX, true), table, 1);
	CHECK_EQ_INT(symbolizer__frame(s, &fr, &sf), -ENOENT, "Latin-1 name of 2^64-1 chars");
	symbolizer__stats(s, &st);
	CHECK_EQ_INT(st.refused, 5, "refusals counted");
	CHECK_EQ_INT(st.read_failures, 5, "refusals fail the read");
	CHECK(f.bytes_read < 4096, "nothing big was read");
	symbolizer__free(s);

	/* A 300 KiB table is fine under the default bound, refused under a
	 * 1 MiB one (a quarter of it per table). */
	set_code(&f, l, file, name, fake_bytes(&f, l, t, 300 << 10, 300 << 10), 1);
	s = fake_symbolizer(&f, l, 0);
	CHECK(s && symbolizer__frame(s, &fr, &sf) == 0, "300 KiB table under 16 MiB");
	symbolizer__free(s);
	s = fake_symbolizer(&f, l, 1u << 20);
	CHECK(s && symbolizer__frame(s, &fr, &sf) == -ENOENT, "300 KiB table under 1 MiB: refused");
	symbolizer__free(s);
	/* Tiny bounds are raised to the minimum. */
	s = fake_symbolizer(&f, l, 1);
	symbolizer__stats(s, &st);
	CHECK_EQ_INT(st.max_bytes, SYMBOLIZER_MIN_BYTES, "bound raised to the minimum");
cleanup:
	symbolizer__free(s);
	free(f.arena);
	free(t);
}

int main(void)
{
	struct py_layout l311;

	if (!CHECK(!py_layout_for(3, 11, &l311), "3.11 layout"))
		return check_summary();
	test_resolution(&l311.code);
	test_old_formats();
	test_reuse(&l311.code);
	test_oversize(&l311.code);
	test_collisions(&l311.code);
	/* Realistic big tables (the stdlib's largest are 20-40 KiB). */
	test_bound(&l311.code, 100000, 32u << 10, 0);
	/* Tables at the cap, under a small bound. */
	test_bound(&l311.code, 500, 1u << 20, 4u << 20);
	return check_summary();
}
