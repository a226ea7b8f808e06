/* SPDX-License-Identifier: MIT */
/* Finding pymalloc where LTO+PGO builds inlined it.
 *
 * In Debian's python3.11, PyObject_Malloc(n) is `_PyObject.malloc(ctx, n)`,
 * and PGO turned that indirect call into a guard followed by a copy of the
 * allocator: `cmp $_PyObject_Malloc,%reg; jne slow; <pymalloc fast path>`.
 * There are ~190 such copies, so a probe on the exported function sees a
 * biased tenth of the allocations. This module disassembles the binary
 * (Capstone), finds every copy by its guard, and works out from the guard's
 * slow path (which must pass the argument to the indirect call in %rsi) where
 * the size or the freed pointer is at the guard: a register, a constant, or
 * base + index * scale + disp. A probe on the guard instruction then sees
 * every allocation of that copy, with its argument.
 *
 * Pure logic over an ELF file: unit-tested in tests/unit/test_guards.c. */
#ifndef PYLEAK_GUARDS_H
#define PYLEAK_GUARDS_H

#include <stddef.h>
#include <stdint.h>
#include "elfsym.h"
#include "pyleak.h"

enum guard_kind { GUARD_ALLOC, GUARD_FREE };

struct guard_site {
	uint64_t vaddr;          /* the guard's `cmp` (or the static function's entry) */
	uint64_t offset;         /* file offset, for the uprobe */
	enum guard_kind kind;
	struct py_operand op;    /* the size (alloc) or the pointer (free) at vaddr */
};

struct guard_scan {
	uint64_t malloc_vaddr;    /* static _PyObject_Malloc; 0 when not found */
	uint64_t free_vaddr;      /* static _PyObject_Free; 0 when not found */
	uint64_t usedpools_vaddr; /* pymalloc's usedpools[]; 0 when not found */
	struct guard_site *sites; /* guards, then the two static entries */
	size_t nsites;
	size_t unresolved;        /* guards whose argument could not be located */
	size_t not_alloc;         /* guard-shaped tests that call no allocator */
	size_t decodes;           /* Capstone decodes spent (GUARD_MAX_DECODES) */
	char why[160];            /* on failure, the reason; kept by guards__free */
};

/* Scans ef. `dbg`, when not NULL, is its detached debug file (Debian's
 * python3.X-dbg, matched by build-id): its names for the static allocators
 * and usedpools are then used, and the guards must agree with them.
 * Returns 0 with out->nsites == 0 when the build has no inlined copies (a
 * non-LTO build: the exported functions see everything), -ENOMEM, -EIO or
 * -ENOENT when the file cannot be read, -EFBIG when .text is over
 * ELF_MAX_TEXT, -ETIMEDOUT when the scan needs more than GUARD_MAX_DECODES
 * decodes, -E2BIG over GUARD_MAX_SITES guards (caps.h), or -EPROTO when the
 * guards disagree with the debug symbols; out->why then says which. Free
 * with guards__free(). */
int guards__scan(struct elf_file *ef, struct elf_file *dbg, struct guard_scan *out);
void guards__free(struct guard_scan *g);

/* Exposed for the unit tests: finds usedpools[] in the initialised data by
 * its self-referencing pattern (each pair of slots points 16 bytes before
 * itself) in `data`, loaded at vaddr. Returns its vaddr or 0. */
uint64_t guards__find_usedpools(const uint8_t *data, size_t len, uint64_t vaddr);

#endif
