// SPDX-License-Identifier: MIT
/* The line-table decoders against what real interpreters answer (vectors
 * dumped by gen_linetable_vectors.py), plus hostile inputs. */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "check.h"
#include "linetable.h"

struct lt_vector {
	const char *name;
	int firstlineno;
	const uint8_t *table;
	size_t table_len;
	const int *lines; /* one per instruction: 2 bytes (3.9/3.10) or one code unit */
	size_t nlines;
};

#include "vectors_py39.h"
#include "vectors_py310.h"
#include "vectors_py311.h"
#include "vectors_py312.h"
#include "vectors_py313.h"

enum format { LNOTAB, LINETABLE, LOCTABLE };

static int decode(enum format f, const struct lt_vector *v, size_t i)
{
	switch (f) {
	case LNOTAB:
		return lnotab_line_39(v->table, v->table_len, v->firstlineno, (int)i * 2);
	case LINETABLE:
		return linetable_line_310(v->table, v->table_len, v->firstlineno, (int)i * 2);
	case LOCTABLE:
		return loctable_line_311(v->table, v->table_len, v->firstlineno, (int)i);
	}
	return -2;
}

static void check_vectors(const char *version, enum format f, const struct lt_vector *vs, size_t n)
{
	size_t checked = 0;

	for (size_t k = 0; k < n; k++) {
		const struct lt_vector *v = &vs[k];
		size_t bad = 0, first_bad = 0;

		for (size_t i = 0; i < v->nlines; i++) {
			if (decode(f, v, i) != v->lines[i] && !bad++)
				first_bad = i;
			checked++;
		}
		if (bad) {
			char msg[160];

			snprintf(msg, sizeof(msg), "%s %s: %zu of %zu instructions wrong, first at %zu: got %d want %d",
				 version, v->name, bad, v->nlines, first_bad, decode(f, v, first_bad),
				 v->lines[first_bad]);
			CHECK(false, msg);
		} else {
			CHECK(true, "");
		}
	}
	CHECK(n >= 10 && checked >= 500, version);
}

static void test_hostile_tables(void)
{
	const uint8_t truncated_varint[] = { 0x80 | (14 << 3) | 0, 0x41 }; /* long form, varint never ends */
	const uint8_t not_an_entry[] = { 0x01, 0x02, 0x03 };
	const uint8_t no_location[] = { 0x80 | (15 << 3) | 1 };            /* 2 units, no line */
	const uint8_t one_line1[] = { 0x80 | (11 << 3) | 0, 1, 2, 0x80 | (10 << 3) | 0, 3, 4 };
	const uint8_t lone_range[] = { 4, 0 };
	const uint8_t odd[] = { 4 };

	CHECK_EQ_INT(loctable_line_311(NULL, 0, 7, 0), -1, "empty table");
	CHECK_EQ_INT(loctable_line_311(NULL, 0, 7, -1), 7, "before the first instruction");
	CHECK_EQ_INT(loctable_line_311(truncated_varint, sizeof(truncated_varint), 7, 0), -1, "truncated varint");
	CHECK_EQ_INT(loctable_line_311(not_an_entry, sizeof(not_an_entry), 7, 0), -1, "garbage");
	CHECK_EQ_INT(loctable_line_311(no_location, sizeof(no_location), 7, 1), -1, "no-location entry");
	CHECK_EQ_INT(loctable_line_311(one_line1, sizeof(one_line1), 7, 0), 8, "one-line form, delta 1");
	CHECK_EQ_INT(loctable_line_311(one_line1, sizeof(one_line1), 7, 1), 8, "one-line form, delta 0");
	CHECK_EQ_INT(loctable_line_311(one_line1, sizeof(one_line1), 7, 2), -1, "past the end");
	CHECK_EQ_INT(linetable_line_310(lone_range, sizeof(lone_range), 5, 2), 5, "3.10 lone [4,0] range");
	CHECK_EQ_INT(linetable_line_310(lone_range, sizeof(lone_range), 5, 4), -1, "3.10 past the end");
	CHECK_EQ_INT(linetable_line_310(odd, sizeof(odd), 5, 0), -1, "3.10 half a pair");
	CHECK_EQ_INT(lnotab_line_39(NULL, 0, 9, 100), 9, "3.9 empty lnotab: first line");
}

/* Values a target can pick to overflow the sums: each gives -1 or the
 * exact line, never undefined behaviour (run under -fsanitize=undefined). */
static void test_overflow(void)
{
	const uint8_t plus1[] = { 0x80 | (13 << 3) | 0, 0x02 };   /* 1 unit, line +1 */
	const uint8_t plus0[] = { 0x80 | (13 << 3) | 0, 0x00 };
	const uint8_t minus1[] = { 0x80 | (13 << 3) | 0, 0x03 };  /* line -1 */
	/* Line -(2^31 - 1), twice: the largest 32-bit svarint. */
	const uint8_t most_negative[] = { 0x80 | (14 << 3) | 0, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x03,
					  0x80 | (14 << 3) | 0, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x03 };
	/* A sixth chunk with bits past 32, and a seventh chunk. */
	const uint8_t wide_varint[] = { 0x80 | (14 << 3) | 0, 0x40, 0x40, 0x40, 0x40, 0x40, 0x04 };
	const uint8_t long_varint[] = { 0x80 | (14 << 3) | 0, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40, 0x00 };
	const uint8_t up127[] = { 0, 127 }, down128[] = { 0, 0x80 }, down127[] = { 0, 0x81 };
	/* Enough (255, +1) pairs that the address passes INT_MAX. */
	const size_t pairs = (size_t)INT_MAX / 255 + 2;
	uint8_t *big = malloc(2 * pairs);

	CHECK_EQ_INT(loctable_line_311(plus0, sizeof(plus0), INT_MAX, 0), INT_MAX, "INT_MAX firstlineno, +0");
	CHECK_EQ_INT(loctable_line_311(plus1, sizeof(plus1), INT_MAX, 0), -1, "INT_MAX firstlineno, +1");
	CHECK_EQ_INT(loctable_line_311(minus1, sizeof(minus1), INT_MIN, 0), -1, "INT_MIN firstlineno, -1");
	CHECK_EQ_INT(loctable_line_311(most_negative, sizeof(most_negative), 0, 0), -INT_MAX, "one -(2^31-1)");
	CHECK_EQ_INT(loctable_line_311(most_negative, sizeof(most_negative), 0, 1), -1, "two of them");
	CHECK_EQ_INT(loctable_line_311(wide_varint, sizeof(wide_varint), 1, 0), -1, "varint past 32 bits");
	CHECK_EQ_INT(loctable_line_311(long_varint, sizeof(long_varint), 1, 0), -1, "seven-chunk varint");
	CHECK_EQ_INT(loctable_line_311(plus0, sizeof(plus0), 1, INT_MAX), -1, "unit INT_MAX");
	CHECK_EQ_INT(linetable_line_310(up127, sizeof(up127), INT_MAX, 0), -1, "3.10 INT_MAX + 127");
	CHECK_EQ_INT(linetable_line_310(down127, sizeof(down127), INT_MIN, 0), -1, "3.10 INT_MIN - 127");
	CHECK_EQ_INT(linetable_line_310(down128, sizeof(down128), INT_MIN, 0), -1, "3.10 -128: no line, no sum");
	CHECK_EQ_INT(lnotab_line_39(up127, sizeof(up127), INT_MAX, 0), -1, "3.9 INT_MAX + 127");
	if (!CHECK(big, "malloc"))
		return;
	for (size_t i = 0; i < pairs; i++) {
		big[2 * i] = 255;
		big[2 * i + 1] = 1;
	}
	/* Pair k (from 1) moves the address to 255k: the last applied at
	 * INT_MAX is k = INT_MAX / 255; 3.10's pair k covers [255(k-1), 255k). */
	CHECK_EQ_INT(lnotab_line_39(big, 2 * pairs, 0, INT_MAX), INT_MAX / 255, "3.9 address past INT_MAX");
	CHECK_EQ_INT(linetable_line_310(big, 2 * pairs, 0, INT_MAX), INT_MAX / 255 + 1, "3.10 end past INT_MAX");
	CHECK_EQ_INT(linetable_line_310(big, 2 * pairs, INT_MAX - 1000, INT_MAX), -1, "3.10 line past INT_MAX");
	free(big);
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

int main(void)
{
	check_vectors("3.9", LNOTAB, py39_vectors, N(py39_vectors));
	check_vectors("3.10", LINETABLE, py310_vectors, N(py310_vectors));
	check_vectors("3.11", LOCTABLE, py311_vectors, N(py311_vectors));
	check_vectors("3.12", LOCTABLE, py312_vectors, N(py312_vectors));
	check_vectors("3.13", LOCTABLE, py313_vectors, N(py313_vectors));
	test_hostile_tables();
	test_overflow();
	return check_summary();
}
