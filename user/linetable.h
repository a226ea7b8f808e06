/* SPDX-License-Identifier: MIT */
/* CPython line-number tables: instruction offset -> source line.
 * Pure logic on bytes already copied out of the target; unit-tested in
 * tests/unit/test_linetable.c against what each interpreter's own
 * co_lines()/co_positions() report. */
#ifndef PYLEAK_LINETABLE_H
#define PYLEAK_LINETABLE_H

#include <stddef.h>
#include <stdint.h>

/* All return the line, or -1 when the instruction has no line, is past the
 * table, or the table is garbage (a line that leaves the int range included).
 * `instr` is the index the BPF side records:
 *   3.9  (co_lnotab):    byte offset of the instruction (f_lasti);
 *   3.10 (co_linetable): byte offset (f_lasti * 2);
 *   3.11+ (location table): index in 16-bit code units; -1 (before the first
 *         instruction) maps to firstlineno. */
int lnotab_line_39(const uint8_t *tab, size_t len, int firstlineno, int instr_byte_offset);
int linetable_line_310(const uint8_t *tab, size_t len, int firstlineno, int instr_byte_offset);
int loctable_line_311(const uint8_t *tab, size_t len, int firstlineno, int instr_unit_index);

#endif
