// SPDX-License-Identifier: MIT
/* libFuzzer: the three line-table decoders on arbitrary tables, with the
 * firstlineno and instruction index also chosen by the input. ASan catches
 * reads past the table, UBSan any overflow in the sums. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "linetable.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int32_t first, instr;
	const uint8_t *tab;
	size_t len;
	int line;

	if (size < 8)
		return 0;
	memcpy(&first, data, 4);
	memcpy(&instr, data + 4, 4);
	tab = data + 8;
	len = size - 8;
	/* Small indexes land inside the table, where the entries are. */
	if (instr >= 0 && (data[0] & 1))
		instr %= 4096;

	line = lnotab_line_39(tab, len, first, instr);
	if (instr < 0 && line != first)
		abort();
	line = linetable_line_310(tab, len, first, instr);
	if (instr < 0 && line != first)
		abort();
	line = loctable_line_311(tab, len, first, instr);
	if (instr < 0 && line != first)
		abort();
	/* An empty table has no line past its start. */
	if (instr >= 0 && loctable_line_311(tab, 0, first, instr) != -1)
		abort();
	return 0;
}
