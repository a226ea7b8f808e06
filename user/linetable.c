// SPDX-License-Identifier: MIT
/* The three CPython line-number table formats. The bytes were copied out of
 * another process: every read is bounds-checked, garbage gives -1. Sums run
 * in 64 bits and a line that leaves the int range is garbage too, so no
 * table, however long, can overflow them. */
#include <limits.h>
#include "linetable.h"

static int line_ok(int64_t line)
{
	return line >= INT_MIN && line <= INT_MAX;
}

int lnotab_line_39(const uint8_t *tab, size_t len, int firstlineno, int instr_byte_offset)
{
	int64_t line = firstlineno, addr = 0;

	if (instr_byte_offset < 0)
		return firstlineno;
	/* (address increment, signed line increment) pairs; a pair applies
	 * once the instruction is at or past its address. */
	for (size_t i = 0; i + 1 < len; i += 2) {
		addr += tab[i];
		if (addr > instr_byte_offset)
			break;
		line += (int8_t)tab[i + 1];
		if (!line_ok(line))
			return -1;
	}
	return (int)line;
}

int linetable_line_310(const uint8_t *tab, size_t len, int firstlineno, int instr_byte_offset)
{
	int64_t line = firstlineno, start, end = 0;

	if (instr_byte_offset < 0)
		return firstlineno;
	/* Each (size, line delta) pair covers [end, end + size); a delta of
	 * -128 marks a range with no line. Zero-size pairs only move the line. */
	for (size_t i = 0; i + 1 < len; i += 2) {
		int8_t ldelta = (int8_t)tab[i + 1];

		start = end;
		end += tab[i];
		if (ldelta != -128)
			line += ldelta;
		if (!line_ok(line))
			return -1;
		if (instr_byte_offset >= start && instr_byte_offset < end)
			return ldelta == -128 ? -1 : (int)line;
	}
	return -1;
}

enum {
	LOC_ONE_LINE0 = 10,
	LOC_ONE_LINE2 = 12,
	LOC_NO_COLUMNS = 13,
	LOC_LONG = 14,
	LOC_NONE = 15,
};

/* Varints: 6-bit chunks, least significant first, 0x40 = more follows.
 * CPython writes at most 32 bits; more is garbage, not a value to wrap. */
static int read_varint(const uint8_t *tab, size_t len, size_t *pos, uint32_t *out)
{
	uint32_t val = 0, shift = 0;
	uint8_t b;

	do {
		if (*pos >= len || shift > 30)
			return -1;
		b = tab[(*pos)++];
		if (shift == 30 && (b & 63) > 3)
			return -1;
		val |= (uint32_t)(b & 63) << shift;
		shift += 6;
	} while (b & 64);
	*out = val;
	return 0;
}

static int read_svarint(const uint8_t *tab, size_t len, size_t *pos, int64_t *out)
{
	uint32_t u;

	if (read_varint(tab, len, pos, &u))
		return -1;
	*out = (u & 1) ? -(int64_t)(u >> 1) : (int64_t)(u >> 1);
	return 0;
}

int loctable_line_311(const uint8_t *tab, size_t len, int firstlineno, int instr_unit_index)
{
	int64_t line = firstlineno, end = 0, delta;
	size_t pos = 0;

	if (instr_unit_index < 0)
		return firstlineno;
	while (pos < len) {
		uint8_t first = tab[pos++];
		int code = (first >> 3) & 15, units = (first & 7) + 1, has_line = 1;

		/* Every entry starts with its top bit set; anything else means
		 * the table is not what we think it is. */
		if (!(first & 0x80))
			return -1;
		delta = 0;
		if (code == LOC_NO_COLUMNS || code == LOC_LONG) {
			if (read_svarint(tab, len, &pos, &delta))
				return -1;
		} else if (code >= LOC_ONE_LINE0 && code <= LOC_ONE_LINE2) {
			delta = code - LOC_ONE_LINE0;
		} else if (code == LOC_NONE) {
			has_line = 0;
		}
		line += delta;
		if (!line_ok(line))
			return -1;
		/* Skip the columns: continuation bytes never have the top bit. */
		while (pos < len && !(tab[pos] & 0x80))
			pos++;
		if (instr_unit_index < end + units)
			return has_line ? (int)line : -1;
		end += units;
	}
	return -1;
}
