// SPDX-License-Identifier: MIT
/* The version table. Offsets for x86_64, glibc, GIL builds; each was checked
 * on a running interpreter (see cpython-internals.md) and is checked again by
 * the integration tests, which compare walked stacks with the target's own. */
#include <errno.h>
#include <stddef.h>
#include "pyoffsets.h"

/* glibc x86_64: struct pthread.specific_1stblock, 16-byte entries
 * (seq, data): the data word is at +8 (pystack.bpf.h). */
#define GLIBC_PTHREAD_SPECIFIC 0x310
#define GLIBC_PTHREAD_SPECIFIC_STRIDE 16

static const struct py_layout layouts[] = {
	{
		.major = 3, .minor = 11,
		.pool_size = 16384,
		.bpf = {
			.runtime_tstate_current = 576,  /* gilstate.tstate_current */
			.runtime_tss_key = 592 + 4,     /* gilstate.autoTSSkey._key */
			.runtime_finalizing = 24,       /* _finalizing */
			.pthread_specific = GLIBC_PTHREAD_SPECIFIC,
			.pthread_specific_stride = GLIBC_PTHREAD_SPECIFIC_STRIDE,
			.tstate_native_tid = 160,
			.tstate_frame = 56,             /* tstate->cframe */
			.cframe_current_frame = 8,
			.frame_code = 32,
			.frame_previous = 48,
			.frame_instr = 56,              /* prev_instr */
			.frame_owner = 69,
			.frame_read_size = 72,
			.code_firstlineno = 72,
			.instr_kind = PY_INSTR_PTR,
			/* 3.11 has no shim frames: owners are 0..2. */
			.owner_skip_min = 0xff,
			.code_tag_mask = 0,
		},
		.code = {
			.ob_type = 8,
			.code_filename = 112,
			.code_name = 120,
			.code_qualname = 128,
			.code_firstlineno = 72,
			.code_linetable = 136,
			.code_adaptive = 184,
			.code_firsttraceable = 168,
			.str_state = 32,
			.str_ascii_data = 48,
			.str_utf8_length = 48,
			.str_utf8 = 56,
			.str_compact_data = 72,
			.bytes_size = 16,
			.bytes_data = 32,
			.linetable = PY_LOCTABLE_311,
		},
		.runtime = {
			.interpreters_head = 40,
			.interp_threads_head = 16,
			.tstate_next = 8,
		},
	},
};

int py_layout_for(unsigned int major, unsigned int minor, struct py_layout *out)
{
	for (size_t i = 0; i < sizeof(layouts) / sizeof(layouts[0]); i++) {
		if (layouts[i].major == major && layouts[i].minor == minor) {
			*out = layouts[i];
			return 0;
		}
	}
	return -ENOTSUP;
}

const char *py_layout_supported(void)
{
	return "3.11";
}
