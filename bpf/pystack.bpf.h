/* SPDX-License-Identifier: MIT */
/* Walking a CPython thread's frame chain from BPF. Included by the programs
 * that need a Python stack; all version differences come in py_offsets, so
 * this code has no per-version branches beyond what those fields encode. */
#ifndef PYSTACK_BPF_H
#define PYSTACK_BPF_H

#include "pyleak.h"

/* Copy-out buffer for one frame. A per-CPU map value rather than the BPF
 * stack, so that field offsets from py_offsets may index it. */
struct walk_scratch {
	struct py_stack stack;
	__u8 frame[PY_FRAME_READ_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct walk_scratch);
} walk_scratch SEC(".maps");

/* Offsets come from a map, so the verifier needs them bounded before they
 * index the buffer; an out-of-range offset reads as 0 and ends the walk. */
static __always_inline __u64 frame_u64(const struct walk_scratch *s, __u32 off)
{
	if (off > PY_FRAME_READ_MAX - 8)
		return 0;
	return *(const __u64 *)&s->frame[off];
}

static __always_inline __u32 frame_u32(const struct walk_scratch *s, __u32 off)
{
	if (off > PY_FRAME_READ_MAX - 4)
		return 0;
	return *(const __u32 *)&s->frame[off];
}

static __always_inline __u8 frame_u8(const struct walk_scratch *s, __u32 off)
{
	if (off > PY_FRAME_READ_MAX - 1)
		return 0;
	return s->frame[off];
}

/* The gilstate TSS slot holds the thread's own tstate even while it has
 * released the GIL (ctypes calls, blocking I/O); glibc keeps key K's value at
 * pthread_self() + specific + stride*K + 8, and pthread_self() is fsbase. */
static __always_inline __u64 tstate_from_tss(const struct py_target *t)
{
	const struct py_offsets *o = &t->off;
	struct task_struct *task;
	__u64 fsbase, tstate = 0;
	__u32 key = 0;

	if (o->runtime_tss_key == PY_OFF_NONE)
		return 0;
	if (bpf_probe_read_user(&key, sizeof(key), (void *)(t->runtime_addr + o->runtime_tss_key)))
		return 0;
	if (key >= PY_TSS_INLINE_KEYS)
		return 0;
	task = (struct task_struct *)bpf_get_current_task_btf();
	fsbase = BPF_CORE_READ(task, thread.fsbase);
	if (!fsbase)
		return 0;
	bpf_probe_read_user(&tstate, sizeof(tstate),
			    (void *)(fsbase + o->pthread_specific + (__u64)o->pthread_specific_stride * key + 8));
	return tstate;
}

static __always_inline __u64 current_tstate(const struct py_target *t)
{
	const struct py_offsets *o = &t->off;
	__u64 tstate = 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid(), native = 0;

	if (o->runtime_tstate_current != PY_OFF_NONE &&
	    !bpf_probe_read_user(&tstate, sizeof(tstate),
				 (void *)(t->runtime_addr + o->runtime_tstate_current)) &&
	    tstate && o->tstate_native_tid != PY_OFF_NONE &&
	    !bpf_probe_read_user(&native, sizeof(native), (void *)(tstate + o->tstate_native_tid)) &&
	    native == tid)
		return tstate;
	return tstate_from_tss(t);
}

static __always_inline __u64 top_frame(const struct py_offsets *o, __u64 tstate)
{
	__u64 p = 0;

	if (bpf_probe_read_user(&p, sizeof(p), (void *)(tstate + o->tstate_frame)) || !p)
		return 0;
	if (o->cframe_current_frame == PY_OFF_NONE)
		return p;
	if (bpf_probe_read_user(&p, sizeof(p), (void *)(p + o->cframe_current_frame)))
		return 0;
	return p;
}

/* FNV-1a, 64 bit: cheap, and collisions between live stacks of one process
 * are negligible at the map sizes used here. */
static __always_inline __u64 hash_mix(__u64 h, __u64 v)
{
	for (int i = 0; i < 8; i++) {
		h ^= (v >> (i * 8)) & 0xff;
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* State of one walk, shared with the bpf_loop() callback. */
struct walk_ctx {
	const struct py_offsets *o;
	struct walk_scratch *s;
	__u64 frame;
	__u64 hash;
	__u32 n;
	__u32 size;
};

/* One frame per call: bpf_loop() lets the verifier check the body once
 * instead of once per unrolled iteration. Returns 1 to stop. */
static long walk_one_frame(__u32 i, void *arg)
{
	struct walk_ctx *c = arg;
	const struct py_offsets *o = c->o;
	struct walk_scratch *s = c->s;
	struct py_frame *f;
	__u64 code, instr;
	__u32 firstlineno = 0;
	__u8 owner = 0;
	__u32 size = c->size;

	if (!c->frame)
		return 1;
	if (size > PY_FRAME_READ_MAX)
		size = PY_FRAME_READ_MAX;
	if (bpf_probe_read_user(s->frame, size, (void *)c->frame)) {
		s->stack.flags |= PY_STACK_READ_ERR;
		return 1;
	}
	code = frame_u64(s, o->frame_code) & ~o->code_tag_mask;
	instr = o->instr_kind == PY_INSTR_PTR ? frame_u64(s, o->frame_instr) : frame_u32(s, o->frame_instr);
	if (o->frame_owner != PY_OFF_NONE)
		owner = frame_u8(s, o->frame_owner);
	c->frame = frame_u64(s, o->frame_previous);
	/* Shim and C-stack frames stand for no Python code. */
	if (!code || owner >= o->owner_skip_min)
		return 0;
	if (c->n >= PY_MAX_FRAMES) {
		s->stack.flags |= PY_STACK_TRUNCATED;
		return 1;
	}
	bpf_probe_read_user(&firstlineno, sizeof(firstlineno), (void *)(code + o->code_firstlineno));
	if (o->instr_kind == PY_INSTR_PTR)
		instr -= code;
	f = &s->stack.frames[c->n & (PY_MAX_FRAMES - 1)];
	f->code = code;
	f->instr = (__u32)instr;
	f->firstlineno = firstlineno;
	c->hash = hash_mix(c->hash, code);
	c->hash = hash_mix(c->hash, (__u32)instr);
	c->n++;
	return 0;
}

/* Fills s->stack with the innermost frames of the calling thread and returns
 * its id (never PY_OVERFLOW_STACK_ID). Problems are left in s->stack.flags. */
static __always_inline __u64 walk_python_stack(const struct py_target *t, struct walk_scratch *s,
						__u32 tgid, __u8 source)
{
	struct walk_ctx c = {
		.o = &t->off,
		.s = s,
		.hash = 0xcbf29ce484222325ULL,
		.size = t->off.frame_read_size,
	};
	__u64 tstate;

	s->stack.tgid = tgid;
	s->stack.flags = 0;
	s->stack.source = source;
	s->stack.depth = 0;
	c.hash = hash_mix(c.hash, tgid);
	c.hash = hash_mix(c.hash, source);
	if (c.size > PY_FRAME_READ_MAX)
		c.size = PY_FRAME_READ_MAX;

	tstate = current_tstate(t);
	if (!tstate) {
		s->stack.flags |= PY_STACK_NO_TSTATE;
	} else {
		c.frame = top_frame(&t->off, tstate);
		/* Skipped shim frames use no slot: allow a few extra turns. */
		bpf_loop(PY_MAX_FRAMES + 8, walk_one_frame, &c, 0);
	}
	s->stack.depth = c.n;
	c.hash = hash_mix(c.hash, s->stack.flags & PY_STACK_NO_TSTATE);
	return c.hash == PY_OVERFLOW_STACK_ID ? 1 : c.hash;
}

#endif
