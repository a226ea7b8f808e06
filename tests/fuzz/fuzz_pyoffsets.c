// SPDX-License-Identifier: MIT
/* libFuzzer harness for py_layout_apply_debug_offsets: the input is the
 * start of _PyRuntime as the tool reads it from a CPython 3.13+ file, i.e.
 * _Py_DebugOffsets, which the target's owner writes. Whatever the bytes, the
 * reader stays inside them (ASan: they are copied to a buffer of exactly
 * their size), and a layout it accepts keeps the promises the BPF frame walk
 * and the live thread-state reads rely on. Each input is tried as 3.13 and
 * as 3.14 (the version inside decides which one can pass), and as versions
 * with no debug-offsets layout, which must be refused whatever the bytes. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pyoffsets.h"

static void check_accepted(const struct py_layout *l)
{
	const struct py_offsets *o = &l->bpf;
	const struct py_code_layout *c = &l->code;

	/* One bpf_probe_read of frame_read_size bytes covers every field the
	 * walk reads, and fits its PY_FRAME_READ_MAX buffer. */
	if (o->frame_read_size > PY_FRAME_READ_MAX || o->frame_read_size % 8)
		abort();
	if (o->frame_code + 8u > o->frame_read_size || o->frame_previous + 8u > o->frame_read_size ||
	    o->frame_instr + 8u > o->frame_read_size || o->frame_owner + 1u > o->frame_read_size)
		abort();
	if (o->tstate_frame >= 4096 || o->tstate_native_tid >= 4096 || l->runtime.tstate_next >= 4096 ||
	    l->runtime.tstate_interp >= 4096)
		abort();
	if (c->code_filename >= 4096 || c->code_name >= 4096 || c->code_qualname >= 4096 ||
	    c->code_linetable >= 4096 || c->code_firstlineno >= 4096 || c->code_adaptive >= 4096 ||
	    o->code_firstlineno != c->code_firstlineno)
		abort();
	/* The interpreter state is read whole: bounded, and it holds the head. */
	if (l->runtime.interp_size > (16u << 20) || l->runtime.interp_size < l->runtime.interp_threads_head)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int minors[] = { 13, 14, 12, 15 };
	uint8_t *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	for (size_t i = 0; i < sizeof(minors) / sizeof(minors[0]); i++) {
		struct py_layout l;
		char why[256];
		int err;

		if (py_layout_for(3, minors[i], &l)) {
			/* No table row: pretend one so that the reader is asked. */
			py_layout_for(3, 13, &l);
			l.minor = minors[i];
		}
		why[0] = '\0';
		err = py_layout_apply_debug_offsets(&l, buf, size, why, sizeof(why));
		if (err && err != -ENOTSUP && err != -EPROTO)
			abort();
		/* Every refusal says why, in one NUL-terminated line. */
		if (err && (!why[0] || strnlen(why, sizeof(why)) == sizeof(why) || strchr(why, '\n')))
			abort();
		if (minors[i] != 13 && minors[i] != 14 && err != -ENOTSUP)
			abort();
		if (!err)
			check_accepted(&l);
	}
	free(buf);
	return 0;
}
