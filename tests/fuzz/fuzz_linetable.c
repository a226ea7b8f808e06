// SPDX-License-Identifier: MIT
/* libFuzzer: the three line-table decoders on arbitrary tables, with the
 * firstlineno and instruction index also chosen by the input. ASan catches
 * reads past the table, UBSan any overflow in the sums.
 *
 * Input (tests/fuzz/README.md; the seeds are real code objects): byte 0 the
 * table's kind modulo 3 (3.9 lnotab, 3.10 linetable, 3.11+ location table),
 * bytes 1-4 firstlineno and 5-8 the instruction index (little-endian int32),
 * then the table. Every decoder runs on every input; the kind only says
 * which one the seed's table was made for. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "linetable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int (*decode[3])(const uint8_t *, size_t, int, int) = { lnotab_line_39, linetable_line_310,
								 loctable_line_311 };
	int32_t first, instr;
	uint8_t *tab;
	size_t len;
	int kind;

	if (size < 9)
		return 0;
	kind = data[0] % 3;
	memcpy(&first, data + 1, 4);
	memcpy(&instr, data + 5, 4);
	len = size - 9;
	/* An exact-size copy: ASan flags the first byte read past it. */
	tab = malloc(len ? len : 1);
	if (!tab)
		return 0;
	memcpy(tab, data + 9, len);
	for (int k = 0; k < 3; k++) {
		int i = (kind + k) % 3, line = decode[i](tab, len, first, instr);

		/* Before the first instruction, every format says firstlineno. */
		if (instr < 0 && line != first)
			abort();
	}
	/* An empty table has no line past its start. */
	if (instr >= 0 && loctable_line_311(tab, 0, first, instr) != -1)
		abort();
	free(tab);
	return 0;
}
