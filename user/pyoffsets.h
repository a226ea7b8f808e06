/* SPDX-License-Identifier: MIT */
/* Per-version CPython layouts: what the BPF walk needs (struct py_offsets)
 * and what the symboliser needs to read code objects. One table, extended
 * version by version; see ../shared/notes/cpython-internals.md. */
#ifndef PYLEAK_PYOFFSETS_H
#define PYLEAK_PYOFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pyleak.h"

enum py_linetable_kind {
	PY_LNOTAB_39,      /* co_lnotab */
	PY_LINETABLE_310,  /* PEP 626 co_linetable */
	PY_LOCTABLE_311,   /* 3.11+ location table */
};

struct py_code_layout {
	uint16_t ob_type;
	uint16_t code_filename;
	uint16_t code_name;
	uint16_t code_qualname;       /* PY_OFF_NONE before 3.11 */
	uint16_t code_firstlineno;
	uint16_t code_linetable;
	uint16_t code_adaptive;       /* co_code_adaptive: instructions inline, 3.11+ */
	uint16_t code_firsttraceable; /* PY_OFF_NONE before 3.11 */
	uint16_t str_state;           /* PyASCIIObject.state */
	uint16_t str_ascii_data;      /* compact ASCII data follows the header */
	uint16_t str_utf8_length;     /* PyCompactUnicodeObject.utf8_length */
	uint16_t str_utf8;            /* PyCompactUnicodeObject.utf8 */
	uint16_t str_compact_data;    /* non-ASCII compact data */
	uint16_t bytes_size;
	uint16_t bytes_data;
	enum py_linetable_kind linetable;
};

/* Enough of the runtime to find every thread state: used at attach to check
 * that the table matches the live interpreter before trusting it. */
struct py_runtime_layout {
	uint16_t interpreters_head; /* _PyRuntime.interpreters.head */
	uint16_t interp_threads_head;
	uint16_t tstate_next;
	uint16_t tstate_interp;     /* tstate->interp: must point back */
	/* sizeof(PyInterpreterState) from 3.12, where pymalloc's state moved
	 * into it; 0 while usedpools[] is a static global. */
	uint32_t interp_size;
};

struct py_layout {
	unsigned int major, minor;
	uint32_t pool_size; /* pymalloc pool: 4 KiB in 3.9, 16 KiB in 3.10+ (64-bit) */
	struct py_offsets bpf;
	struct py_code_layout code;
	struct py_runtime_layout runtime;
	bool debug_offsets; /* _PyRuntime starts with _Py_DebugOffsets (3.13+) */
	/* The static function every collection runs through, with the
	 * (tstate, generation, ...) arguments, for builds without GC USDTs. */
	const char *gc_main;
};

/* Fills *out for CPython major.minor. Returns 0, or -ENOTSUP for a version
 * with no layout here. */
int py_layout_for(unsigned int major, unsigned int minor, struct py_layout *out);
/* Replaces the table's values with what the _Py_DebugOffsets at the start
 * of _PyRuntime (the len bytes at runtime_start, read from the ELF file)
 * say. Returns 0; -ENOTSUP for a free-threaded build or an unknown debug
 * layout; -EPROTO when the cookie, the version or a value is wrong. `why`
 * gets one human line. */
int py_layout_apply_debug_offsets(struct py_layout *l, const void *runtime_start, size_t len,
				  char *why, size_t whylen);
/* Bytes of _PyRuntime the call above needs at most. */
#define PY_DEBUG_OFFSETS_MAX 1024

/* "3.11" style list of the supported versions, for error messages. */
const char *py_layout_supported(void);

#endif
