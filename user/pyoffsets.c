// SPDX-License-Identifier: MIT
/* The version table, and the 3.13+ debug offsets that override it. Offsets
 * for x86_64, glibc, GIL builds; each row was read with gdb from the pyenv
 * builds' DWARF (3.9.18, 3.10.13, 3.12.1, 3.13.0) or checked on a running
 * interpreter (see cpython-internals.md), and the integration tests compare
 * walked stacks with each target's own traceback.extract_stack(). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "pyoffsets.h"

/* glibc x86_64: struct pthread.specific_1stblock, 16-byte entries
 * (seq, data): the data word is at +8 (pystack.bpf.h). */
#define GLIBC_PTHREAD_SPECIFIC 0x310
#define GLIBC_PTHREAD_SPECIFIC_STRIDE 16

/* _Py_FRAME_OWNER: 3.12/3.13 number the C-stack entry frame 3; 3.14 makes 3
 * the interpreter's entry frame and 4 the C stack. Neither is Python code. */
#define OWNER_SHIMS_FROM 3
#define NO_SHIMS 0xff

/* Fields that stay put across the table: the PyObject header, bytes and
 * compact strings before and after 3.12 dropped wstr. */
#define STR_LAYOUT_39 \
	.str_state = 32, .str_ascii_data = 48, .str_utf8_length = 48, .str_utf8 = 56, .str_compact_data = 72
#define STR_LAYOUT_312 \
	.str_state = 32, .str_ascii_data = 40, .str_utf8_length = 40, .str_utf8 = 48, .str_compact_data = 56
#define OBJ_LAYOUT .ob_type = 8, .bytes_size = 16, .bytes_data = 32
/* PyCodeObject's name and table pointers, unmoved from 3.11 to 3.14. */
#define CODE_NAMES_311 .code_filename = 112, .code_name = 120, .code_qualname = 128, .code_linetable = 136
/* PyThreadState's list links, unmoved from 3.9 to 3.14. */
#define TSTATE_LINKS .tstate_next = 8, .tstate_interp = 16

#define GLIBC_TSS .pthread_specific = GLIBC_PTHREAD_SPECIFIC, \
	.pthread_specific_stride = GLIBC_PTHREAD_SPECIFIC_STRIDE

static const struct py_layout layouts[] = {
	{
		.major = 3, .minor = 9,
		.pool_size = 4096,
		.gc_main = "collect",
		.bpf = {
			/* No native thread id to check the GIL holder
			 * against: the TSS slot alone says whose tstate. */
			.runtime_tstate_current = PY_OFF_NONE,
			.runtime_tss_key = 584 + 4,
			.runtime_finalizing = 16,
			GLIBC_TSS,
			.tstate_native_tid = PY_OFF_NONE,
			.tstate_frame = 24,             /* tstate->frame */
			.cframe_current_frame = PY_OFF_NONE,
			.frame_code = 32,               /* PyFrameObject */
			.frame_previous = 24,           /* f_back */
			.frame_instr = 104,             /* f_lasti, bytes */
			.frame_owner = PY_OFF_NONE,
			.frame_read_size = 112,
			.code_firstlineno = 40,
			.instr_kind = PY_INSTR_INT,
			.owner_skip_min = NO_SHIMS,
		},
		.code = {
			OBJ_LAYOUT, STR_LAYOUT_39,
			.code_filename = 104, .code_name = 112, .code_qualname = PY_OFF_NONE,
			.code_firstlineno = 40, .code_linetable = 120,
			.code_adaptive = PY_OFF_NONE, .code_firsttraceable = PY_OFF_NONE,
			.linetable = PY_LNOTAB_39,
		},
		.runtime = { .interpreters_head = 32, .interp_threads_head = 8, TSTATE_LINKS },
	},
	{
		.major = 3, .minor = 10,
		.pool_size = 16384,
		.gc_main = "gc_collect_main",
		.bpf = {
			.runtime_tstate_current = PY_OFF_NONE,
			.runtime_tss_key = 584 + 4,
			.runtime_finalizing = 16,
			GLIBC_TSS,
			.tstate_native_tid = PY_OFF_NONE,
			.tstate_frame = 24,
			.cframe_current_frame = PY_OFF_NONE,
			.frame_code = 32,
			.frame_previous = 24,
			.frame_instr = 96,              /* f_lasti, code units */
			.frame_owner = PY_OFF_NONE,
			.frame_read_size = 104,
			.code_firstlineno = 40,
			.instr_kind = PY_INSTR_INT,
			.owner_skip_min = NO_SHIMS,
		},
		.code = {
			OBJ_LAYOUT, STR_LAYOUT_39,
			.code_filename = 104, .code_name = 112, .code_qualname = PY_OFF_NONE,
			.code_firstlineno = 40, .code_linetable = 120,
			.code_adaptive = PY_OFF_NONE, .code_firsttraceable = PY_OFF_NONE,
			.linetable = PY_LINETABLE_310,
		},
		.runtime = { .interpreters_head = 32, .interp_threads_head = 8, TSTATE_LINKS },
	},
	{
		.major = 3, .minor = 11,
		.pool_size = 16384,
		.gc_main = "gc_collect_main",
		.bpf = {
			.runtime_tstate_current = 576,  /* gilstate.tstate_current */
			.runtime_tss_key = 592 + 4,     /* gilstate.autoTSSkey._key */
			.runtime_finalizing = 24,
			GLIBC_TSS,
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
			.owner_skip_min = NO_SHIMS,
		},
		.code = {
			OBJ_LAYOUT, STR_LAYOUT_39,
			CODE_NAMES_311, .code_firstlineno = 72,
			.code_adaptive = 184, .code_firsttraceable = 168,
			.linetable = PY_LOCTABLE_311,
		},
		.runtime = { .interpreters_head = 40, .interp_threads_head = 16, TSTATE_LINKS },
	},
	{
		.major = 3, .minor = 12,
		.pool_size = 16384,
		.gc_main = "gc_collect_main",
		.bpf = {
			/* The current tstate moved to a thread-local; the
			 * TSS slot still holds each thread's own. */
			.runtime_tstate_current = PY_OFF_NONE,
			.runtime_tss_key = 1544 + 4,
			.runtime_finalizing = 24,
			GLIBC_TSS,
			.tstate_native_tid = 144,
			.tstate_frame = 56,             /* tstate->cframe */
			.cframe_current_frame = 0,
			.frame_code = 0,
			.frame_previous = 8,
			.frame_instr = 56,              /* prev_instr */
			.frame_owner = 70,
			.frame_read_size = 72,
			.code_firstlineno = 68,
			.instr_kind = PY_INSTR_PTR,
			.owner_skip_min = OWNER_SHIMS_FROM,
		},
		.code = {
			OBJ_LAYOUT, STR_LAYOUT_312,
			CODE_NAMES_311, .code_firstlineno = 68,
			.code_adaptive = 192, .code_firsttraceable = 176,
			.linetable = PY_LOCTABLE_311,
		},
		.runtime = { .interpreters_head = 40, .interp_threads_head = 72, TSTATE_LINKS, .interp_size = 383552 },
	},
	{
		/* Overridden by _Py_DebugOffsets where they say. */
		.major = 3, .minor = 13,
		.pool_size = 16384,
		.gc_main = "gc_collect_main",
		.bpf = {
			.runtime_tstate_current = PY_OFF_NONE,
			.runtime_tss_key = 2160 + 4,
			.runtime_finalizing = 608,
			GLIBC_TSS,
			.tstate_native_tid = 160,
			.tstate_frame = 72,             /* tstate->current_frame */
			.cframe_current_frame = PY_OFF_NONE,
			.frame_code = 0,                /* f_executable */
			.frame_previous = 8,
			.frame_instr = 56,              /* instr_ptr */
			.frame_owner = 70,
			.frame_read_size = 72,
			.code_firstlineno = 68,
			.instr_kind = PY_INSTR_PTR,
			.owner_skip_min = OWNER_SHIMS_FROM,
		},
		.code = {
			OBJ_LAYOUT, STR_LAYOUT_312,
			CODE_NAMES_311, .code_firstlineno = 68,
			.code_adaptive = 200, .code_firsttraceable = 184,
			.linetable = PY_LOCTABLE_311,
		},
		.runtime = { .interpreters_head = 632, .interp_threads_head = 7344, TSTATE_LINKS, .interp_size = 194968 },
		.debug_offsets = true,
	},
	{
		.major = 3, .minor = 14,
		.pool_size = 16384,
		.gc_main = "gc_collect_main",
		.bpf = {
			.runtime_tstate_current = PY_OFF_NONE,
			.runtime_tss_key = 2336 + 4,
			.runtime_finalizing = 784,
			GLIBC_TSS,
			.tstate_native_tid = 160,
			.tstate_frame = 72,
			.cframe_current_frame = PY_OFF_NONE,
			.frame_code = 0,                /* f_executable, a tagged _PyStackRef */
			.frame_previous = 8,
			.frame_instr = 56,
			.frame_owner = 74,
			.frame_read_size = 80,
			.code_firstlineno = 68,
			.instr_kind = PY_INSTR_PTR,
			.owner_skip_min = OWNER_SHIMS_FROM,
			/* Py_TAG_BITS: the low bits of a stack ref are flags. */
			.code_tag_mask = 3,
		},
		.code = {
			OBJ_LAYOUT, STR_LAYOUT_312,
			CODE_NAMES_311, .code_firstlineno = 68,
			.code_adaptive = 208, .code_firsttraceable = 192,
			.linetable = PY_LOCTABLE_311,
		},
		.runtime = { .interpreters_head = 808, .interp_threads_head = 7344, TSTATE_LINKS },
		.debug_offsets = true,
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
	return "3.9, 3.10, 3.11, 3.12, 3.13, 3.14 (x86_64, glibc, with the GIL)";
}

/* Where each sub-struct of _Py_DebugOffsets starts, per minor version
 * (every field is a u64; the order of the fields read here is the same in
 * both). 3.14 added interpreter_state.threads_main and two generations,
 * hence the shift. */
struct debug_struct_starts {
	unsigned int minor;
	size_t runtime, interp, tstate, frame, code, size;
};

static const struct debug_struct_starts debug_starts[] = {
	{ 13, 24, 48, 152, 224, 272, 584 },
	{ 14, 24, 48, 176, 248, 312, 760 },
};

enum { RT_FINALIZING = 1, RT_INTERPRETERS_HEAD = 2 };
enum { IS_SIZE = 0, IS_THREADS_HEAD = 3 };
enum { TS_NEXT = 2, TS_INTERP = 3, TS_CURRENT_FRAME = 4, TS_NATIVE_TID = 6 };
enum { IF_PREVIOUS = 1, IF_EXECUTABLE = 2, IF_INSTR_PTR = 3, IF_OWNER = 5 };
enum { CO_FILENAME = 1, CO_NAME = 2, CO_QUALNAME = 3, CO_LINETABLE = 4, CO_FIRSTLINENO = 5,
       CO_CODE_ADAPTIVE = 9 };

static uint64_t field(const uint8_t *buf, size_t start, unsigned int idx)
{
	uint64_t v;

	memcpy(&v, buf + start + 8 * (size_t)idx, sizeof(v));
	return v;
}

/* Stores v in *dst when it fits under limit; counts a misfit in *bad. */
static void take(uint16_t *dst, uint64_t v, uint64_t limit, int *bad)
{
	if (v >= limit || v >= PY_OFF_NONE)
		(*bad)++;
	else
		*dst = (uint16_t)v;
}

/* Grows *size to cover a field of `width` bytes at off: the BPF walk copies
 * that much of each frame in one read. */
static void cover(uint16_t *size, uint16_t off, unsigned int width)
{
	if (off + width > *size)
		*size = (uint16_t)(off + width);
}

int py_layout_apply_debug_offsets(struct py_layout *l, const void *runtime_start, size_t len,
				  char *why, size_t whylen)
{
	const uint8_t *buf = runtime_start;
	const struct debug_struct_starts *d = NULL;
	uint64_t version, free_threaded;
	struct py_offsets *o = &l->bpf;
	struct py_code_layout *c = &l->code;
	uint16_t v16 = 0;
	int bad = 0;

	for (size_t i = 0; i < sizeof(debug_starts) / sizeof(debug_starts[0]); i++)
		if (debug_starts[i].minor == l->minor)
			d = &debug_starts[i];
	if (!d || len < d->size) {
		snprintf(why, whylen, "no _Py_DebugOffsets layout known for %u.%u", l->major, l->minor);
		return -ENOTSUP;
	}
	if (memcmp(buf, "xdebugpy", 8)) {
		snprintf(why, whylen, "_PyRuntime does not start with the \"xdebugpy\" debug-offsets cookie");
		return -EPROTO;
	}
	memcpy(&version, buf + 8, sizeof(version));
	memcpy(&free_threaded, buf + 16, sizeof(free_threaded));
	if ((version >> 24) != l->major || ((version >> 16) & 0xff) != l->minor) {
		snprintf(why, whylen, "debug offsets are for version %#llx, not %u.%u",
			 (unsigned long long)version, l->major, l->minor);
		return -EPROTO;
	}
	if (free_threaded) {
		snprintf(why, whylen, "free-threaded build (no GIL): its objects, allocator (mimalloc) and frames differ");
		return -ENOTSUP;
	}

	take(&v16, field(buf, d->runtime, RT_FINALIZING), 1u << 16, &bad);
	o->runtime_finalizing = v16;
	take(&l->runtime.interpreters_head, field(buf, d->runtime, RT_INTERPRETERS_HEAD), 1u << 16, &bad);
	take(&l->runtime.interp_threads_head, field(buf, d->interp, IS_THREADS_HEAD), 1u << 16, &bad);
	l->runtime.interp_size = (uint32_t)field(buf, d->interp, IS_SIZE);
	if (l->runtime.interp_size < l->runtime.interp_threads_head || l->runtime.interp_size > (16u << 20))
		bad++;
	take(&l->runtime.tstate_next, field(buf, d->tstate, TS_NEXT), 1u << 12, &bad);
	take(&l->runtime.tstate_interp, field(buf, d->tstate, TS_INTERP), 1u << 12, &bad);
	take(&o->tstate_frame, field(buf, d->tstate, TS_CURRENT_FRAME), 1u << 12, &bad);
	take(&o->tstate_native_tid, field(buf, d->tstate, TS_NATIVE_TID), 1u << 12, &bad);
	o->cframe_current_frame = PY_OFF_NONE;
	/* The BPF walk copies PY_FRAME_READ_MAX bytes of a frame at most. */
	take(&o->frame_previous, field(buf, d->frame, IF_PREVIOUS), PY_FRAME_READ_MAX - 8, &bad);
	take(&o->frame_code, field(buf, d->frame, IF_EXECUTABLE), PY_FRAME_READ_MAX - 8, &bad);
	take(&o->frame_instr, field(buf, d->frame, IF_INSTR_PTR), PY_FRAME_READ_MAX - 8, &bad);
	take(&o->frame_owner, field(buf, d->frame, IF_OWNER), PY_FRAME_READ_MAX - 1, &bad);
	take(&c->code_filename, field(buf, d->code, CO_FILENAME), 1u << 12, &bad);
	take(&c->code_name, field(buf, d->code, CO_NAME), 1u << 12, &bad);
	take(&c->code_qualname, field(buf, d->code, CO_QUALNAME), 1u << 12, &bad);
	take(&c->code_linetable, field(buf, d->code, CO_LINETABLE), 1u << 12, &bad);
	take(&c->code_firstlineno, field(buf, d->code, CO_FIRSTLINENO), 1u << 12, &bad);
	take(&c->code_adaptive, field(buf, d->code, CO_CODE_ADAPTIVE), 1u << 12, &bad);
	if (bad) {
		snprintf(why, whylen, "%d debug-offset field(s) out of range: not a layout this tool can trust", bad);
		return -EPROTO;
	}
	o->code_firstlineno = c->code_firstlineno;
	o->frame_read_size = 0;
	cover(&o->frame_read_size, o->frame_code, 8);
	cover(&o->frame_read_size, o->frame_previous, 8);
	cover(&o->frame_read_size, o->frame_instr, 8);
	cover(&o->frame_read_size, o->frame_owner, 1);
	o->frame_read_size = (uint16_t)((o->frame_read_size + 7u) & ~7u);
	return 0;
}
