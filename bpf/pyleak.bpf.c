// SPDX-License-Identifier: MIT
/* pyleakbpf BPF side: allocator probes that keep live allocations per Python
 * stack, GC probes, and the RSS clock. Every map is bounded; what does not
 * fit is counted (py_counter) and, for bytes, charged to the overflow site. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/usdt.bpf.h>
#include "pyleak.h"
#include "pystack.bpf.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

const volatile __u64 page_size = 4096;
/* An allocator call runs for microseconds. A pending entry older than this
 * lost its return (it began before the return probe was attached, or the
 * thread died inside the allocator): it must not make the thread's next
 * calls look nested, nor lend its size to an unrelated return. */
const volatile __u64 pending_stale_ns = 100000000;

/* Processes under observation; a tgid missing here is ignored, so one set of
 * probes on a shared binary can serve many processes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PY_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct py_target);
} targets SEC(".maps");

/* Sizes are set by the loader (--max-allocs, --max-stacks). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 19);
	__type(key, struct alloc_key);
	__type(value, struct alloc_info);
} allocs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 14);
	__type(key, __u64);
	__type(value, struct py_stack);
} stacks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1 << 14);
	__type(key, __u64);
	__type(value, struct site_stats);
} site_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct pending_call);
} pending SEC(".maps");

/* Every probed instruction, by attach cookie: what it is and where its
 * arguments are. Filled by the loader (user/probes.c). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PY_MAX_POINTS);
	__type(key, __u32);
	__type(value, struct py_point);
} points SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PY_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct gc_state);
} gc_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PY_MAX_TARGETS);
	__type(key, __u32);
	__type(value, struct rss_state);
} rss_states SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PYC__COUNT);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* Sampling windows by py_target.slot and source, and traps per probe point
 * by attach cookie (the loader keeps the hottest breakpoints in a link of
 * their own). Both in .bss: the loader reads them with no syscall. */
struct py_window windows[PY_MAX_TARGETS * PY_SOURCES];
__u64 point_hits[PY_MAX_POINTS];

/* A window's limit was reached: the record is its index in `windows`. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} window_full SEC(".maps");

static __always_inline __u32 window_index(const struct py_target *t, __u32 source)
{
	return t->slot * PY_SOURCES + (source == PY_SRC_MALLOC ? PY_SRC_MALLOC : PY_SRC_PYMALLOC);
}

static __always_inline void count(__u32 idx)
{
	__u64 *c = bpf_map_lookup_elem(&counters, &idx);

	if (c)
		(*c)++;
}

/* Every trap is cost, whether or not it records anything. */
static __always_inline void count_hit(__u32 source)
{
	count(source == PY_SRC_MALLOC ? PYC_HITS_MALLOC : PYC_HITS_PYMALLOC);
}

/* Counts one allocator trap against the target's window. True when it may
 * record: the window is open and this trap is within its limit. The trap
 * that reaches the limit wakes the loader to detach. */
static __always_inline bool window_take(const struct py_target *t, __u32 source)
{
	__u32 idx = window_index(t, source);
	struct py_window *w;
	__u64 n;

	if (idx >= PY_MAX_TARGETS * PY_SOURCES)
		return false;
	w = &windows[idx];
	n = __sync_fetch_and_add(&w->hits, 1) + 1;
	/* Also before recording began: the limit counts attach-time traps. */
	if (n == w->limit)
		bpf_ringbuf_output(&window_full, &idx, sizeof(idx), BPF_RB_FORCE_WAKEUP);
	if (!w->open || n > w->limit) {
		count(PYC_HITS_TAIL);
		return false;
	}
	return true;
}

static __always_inline struct site_stats *stats_for(__u64 *stack_id)
{
	static const struct site_stats zero;
	struct site_stats *st;

	st = bpf_map_lookup_elem(&site_stats, stack_id);
	if (st)
		return st;
	if (bpf_map_update_elem(&site_stats, stack_id, &zero, BPF_NOEXIST) == -E2BIG)
		count(PYC_STATS_FULL);
	st = bpf_map_lookup_elem(&site_stats, stack_id);
	if (st)
		return st;
	*stack_id = PY_OVERFLOW_STACK_ID;
	return bpf_map_lookup_elem(&site_stats, stack_id);
}

static __always_inline __u64 record_stack(const struct py_target *t, __u32 tgid, __u8 source)
{
	struct walk_scratch *s;
	__u32 zero = 0;
	__u64 id;

	s = bpf_map_lookup_elem(&walk_scratch, &zero);
	if (!s)
		return PY_OVERFLOW_STACK_ID;
	id = walk_python_stack(t, s, tgid, source);
	if (s->stack.flags & PY_STACK_NO_TSTATE)
		count(PYC_NO_TSTATE);
	if (s->stack.flags & PY_STACK_READ_ERR)
		count(PYC_READ_ERR);
	if (s->stack.flags & PY_STACK_TRUNCATED)
		count(PYC_TRUNCATED);
	if (bpf_map_lookup_elem(&stacks, &id))
		return id;
	if (bpf_map_update_elem(&stacks, &id, &s->stack, BPF_NOEXIST) == -E2BIG) {
		count(PYC_STACKS_FULL);
		return PY_OVERFLOW_STACK_ID;
	}
	return id;
}

static __always_inline void alloc_enter(struct pt_regs *ctx, const struct py_target *t, __u32 tgid,
					__u32 tid, __u64 size, __u64 old_addr, __u32 source)
{
	struct pending_call *p, call = {};

	/* pymalloc passes requests over PY_PYMALLOC_MAX to libc's malloc, which
	 * is probed in its own group: recorded there, such a block has one
	 * source and one scale whichever windows are open (as on LTO builds,
	 * where the inlined copies never see them: guard_alloc). */
	if (source == PY_SRC_PYMALLOC && size > PY_PYMALLOC_MAX)
		return;
	/* PYTHONMALLOC=debug and custom allocators route one domain through
	 * another: only the outermost call is the program's allocation. A
	 * nested call runs deeper (lower sp) and soon after. An entry at or
	 * above the recorded sp, or an old one, means that call's return was
	 * missed: replace it. */
	p = bpf_map_lookup_elem(&pending, &tid);
	call.ts = bpf_ktime_get_ns();
	if (p) {
		if (PT_REGS_SP(ctx) < p->sp && call.ts - p->ts < pending_stale_ns) {
			count(PYC_NESTED);
			return;
		}
		count(PYC_PENDING_STALE);
	}
	call.sp = PT_REGS_SP(ctx);
	call.size = size;
	call.old_addr = old_addr;
	call.source = source;
	call.stack_id = record_stack(t, tgid, (__u8)source);
	if (bpf_map_update_elem(&pending, &tid, &call, BPF_ANY))
		count(PYC_PENDING_FULL);
}

static __always_inline void forget_alloc(__u32 tgid, __u64 addr)
{
	struct alloc_key key = { .addr = addr, .tgid = tgid };
	struct alloc_info *info;
	struct site_stats *st;

	info = bpf_map_lookup_elem(&allocs, &key);
	if (!info) {
		count(PYC_FREE_UNTRACKED);
		return;
	}
	st = bpf_map_lookup_elem(&site_stats, &info->stack_id);
	if (st) {
		__sync_fetch_and_sub(&st->live_bytes, info->size);
		__sync_fetch_and_sub(&st->live_count, 1);
	}
	bpf_map_delete_elem(&allocs, &key);
}

static __always_inline void remember_alloc(__u32 tgid, __u64 addr, __u64 size, __u64 stack_id, __u32 source)
{
	struct alloc_key key = { .addr = addr, .tgid = tgid };
	struct alloc_info info = { .size = size, .source = source };
	struct site_stats *st;

	/* A block handed out again was freed unseen (a free outside a sampling
	 * window, or before attach): its old record is dead. */
	if (bpf_map_lookup_elem(&allocs, &key))
		forget_alloc(tgid, addr);
	st = stats_for(&stack_id);
	if (!st)
		return;
	__sync_fetch_and_add(&st->total_bytes, size);
	__sync_fetch_and_add(&st->total_count, 1);
	info.stack_id = stack_id;
	if (bpf_map_update_elem(&allocs, &key, &info, BPF_ANY)) {
		/* Without a record its free could not be matched: count the
		 * bytes as allocated but never as live, and say so. */
		count(PYC_ALLOCS_FULL);
		return;
	}
	__sync_fetch_and_add(&st->live_bytes, size);
	__sync_fetch_and_add(&st->live_count, 1);
}

/* Return probes of the allocator functions. */
SEC("uprobe")
int point_return(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid(), addr = PT_REGS_RC(ctx);
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid;
	__u32 idx = (__u32)bpf_get_attach_cookie(ctx);
	struct pending_call *p;
	struct py_target *t;
	struct py_point *pt;

	t = bpf_map_lookup_elem(&targets, &tgid);
	if (!t)
		return 0;
	pt = bpf_map_lookup_elem(&points, &idx);
	/* Counted against the window, but never refused: a call whose entry
	 * recorded completes, or its pending entry would go stale. */
	window_take(t, pt ? pt->source : PY_SRC_PYMALLOC);
	p = bpf_map_lookup_elem(&pending, &tid);
	if (!p) {
		count_hit(pt ? pt->source : PY_SRC_PYMALLOC);
		return 0;
	}
	count_hit(p->source);
	/* x86-64: `ret` pops the return address, so the outermost call
	 * returns strictly above its entry sp; nested ones return at or below. */
	if (PT_REGS_SP(ctx) <= p->sp)
		return 0;
	if (bpf_ktime_get_ns() - p->ts >= pending_stale_ns) {
		count(PYC_PENDING_STALE);
		bpf_map_delete_elem(&pending, &tid);
		return 0;
	}
	count(PYC_ALLOCS);
	/* A failed realloc leaves the old block in place. */
	if (addr) {
		if (p->old_addr)
			forget_alloc(tgid, p->old_addr);
		remember_alloc(tgid, addr, p->size, p->stack_id, p->source);
	}
	bpf_map_delete_elem(&pending, &tid);
	return 0;
}

/* Interpreter shutdown frees every module's globals, leaks included. Those
 * frees are not fixes: leave the sites as they were while the program ran. */
static __always_inline bool finalizing(const struct py_target *t)
{
	__u64 tstate = 0;

	if (t->off.runtime_finalizing == PY_OFF_NONE)
		return false;
	bpf_probe_read_user(&tstate, sizeof(tstate), (void *)(t->runtime_addr + t->off.runtime_finalizing));
	return tstate != 0;
}

static __always_inline void free_block(const struct py_target *t, __u32 tgid, __u64 ptr)
{
	if (!ptr)
		return;
	count(PYC_FREES);
	if (finalizing(t)) {
		count(PYC_FREE_AT_EXIT);
		return;
	}
	forget_alloc(tgid, ptr);
}

/* PY_REG_* number the first words of the x86-64 struct pt_regs. Copied to
 * the stack because the verifier refuses a computed offset into ctx. */
static __always_inline __u64 operand_value(const __u64 *regs, const struct py_operand *op)
{
	__u64 v = (__u64)op->disp;
	__s8 base = op->base, index = op->index;

	if (base >= 0 && base < PY_REG__COUNT)
		v += regs[base];
	if (index >= 0 && index < PY_REG__COUNT)
		v += regs[index] * op->scale;
	return op->width32 ? (__u32)v : v;
}

/* The block an inlined pymalloc copy is about to return, read before it
 * runs: the head of the free list of the first used pool of the size class
 * (pymalloc_alloc under the GIL, so nothing moves in between). 0 when the
 * copy will take a fresh pool instead, or for a size pymalloc passes on. */
static __always_inline __u64 predict_block(const struct py_target *t, __u64 nbytes)
{
	__u64 pool = 0, next = 0, block = 0;
	__u64 cls = (nbytes - 1) >> PY_PYMALLOC_ALIGN_SHIFT;

	if (nbytes - 1 >= PY_PYMALLOC_MAX || !t->usedpools)
		return 0;
	if (bpf_probe_read_user(&pool, sizeof(pool), (void *)(t->usedpools + cls * 2 * sizeof(__u64))) ||
	    bpf_probe_read_user(&next, sizeof(next), (void *)(pool + PY_POOL_NEXTPOOL)) || next == pool ||
	    bpf_probe_read_user(&block, sizeof(block), (void *)(pool + PY_POOL_FREEBLOCK)))
		return 0;
	return block;
}

static __always_inline void guard_alloc(const struct py_target *t, __u32 tgid, __u64 size)
{
	__u64 block;

	if (size - 1 >= PY_PYMALLOC_MAX)
		return; /* pymalloc hands it to libc malloc, probed there */
	count(PYC_ALLOCS);
	block = predict_block(t, size);
	if (!block) {
		count(PYC_NO_PREDICT);
		return;
	}
	remember_alloc(tgid, block, size, record_stack(t, tgid, PY_SRC_PYMALLOC), PY_SRC_PYMALLOC);
}

/* Every entry probe: allocator functions (a return probe completes them)
 * and inlined allocator copies (no return to probe: the block is foreseen,
 * or the freed pointer read). The cookie indexes `points`. */
SEC("uprobe")
int point_hit(struct pt_regs *ctx)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tgid = pid_tgid >> 32, tid = (__u32)pid_tgid, idx;
	__u64 regs[PY_REG__COUNT], a0, a1;
	struct py_target *t;
	struct py_point *pt;

	t = bpf_map_lookup_elem(&targets, &tgid);
	if (!t)
		return 0;
	idx = (__u32)bpf_get_attach_cookie(ctx);
	pt = bpf_map_lookup_elem(&points, &idx);
	if (!pt)
		return 0;
	count_hit(pt->source);
	if (idx < PY_MAX_POINTS)
		__sync_fetch_and_add(&point_hits[idx], 1);
	if (!window_take(t, pt->source))
		return 0;
	/* Copied to the stack: the verifier refuses a computed offset into ctx. */
	if (bpf_probe_read_kernel(regs, sizeof(regs), ctx))
		return 0;
	a0 = operand_value(regs, &pt->arg[0]);
	a1 = operand_value(regs, &pt->arg[1]);
	switch (pt->kind) {
	case PY_PT_GUARD_ALLOC:
		guard_alloc(t, tgid, a0);
		break;
	case PY_PT_FREE:
		free_block(t, tgid, a0);
		break;
	case PY_PT_MALLOC:
		alloc_enter(ctx, t, tgid, tid, a0, 0, pt->source);
		break;
	case PY_PT_CALLOC:
		alloc_enter(ctx, t, tgid, tid, a0 * a1, 0, pt->source);
		break;
	case PY_PT_REALLOC:
		alloc_enter(ctx, t, tgid, tid, a1, a0, pt->source);
		break;
	}
	return 0;
}

static __always_inline int gc_begin(long generation)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct gc_state *g = bpf_map_lookup_elem(&gc_states, &tgid);

	if (!g)
		return 0;
	count(PYC_HITS_GC);
	/* Constant indexes: the verifier cannot bound a value the target passed. */
	if (generation == 0)
		__sync_fetch_and_add(&g->collections[0], 1);
	else if (generation == 1)
		__sync_fetch_and_add(&g->collections[1], 1);
	else if (generation == 2)
		__sync_fetch_and_add(&g->collections[2], 1);
	g->start_ns = bpf_ktime_get_ns();
	count(PYC_GC_EVENTS);
	return 0;
}

static __always_inline int gc_end(long collected)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct gc_state *g = bpf_map_lookup_elem(&gc_states, &tgid);

	if (!g)
		return 0;
	count(PYC_HITS_GC);
	if (!g->start_ns)
		return 0;
	g->total_ns += bpf_ktime_get_ns() - g->start_ns;
	g->start_ns = 0;
	if (collected > 0)
		g->collected += collected;
	return 0;
}

SEC("usdt")
int BPF_USDT(gc_start_usdt, int generation)
{
	return gc_begin(generation);
}

SEC("usdt")
int BPF_USDT(gc_done_usdt, long collected)
{
	return gc_end(collected);
}

/* gc_collect_main(tstate, generation, ...) where there is no USDT. */
SEC("uprobe")
int BPF_KPROBE(gc_main_enter, void *tstate, int generation)
{
	return gc_begin(generation);
}

SEC("uretprobe")
int BPF_KRETPROBE(gc_main_return, long collected)
{
	return gc_end(collected);
}

/* BTF tracepoint: needs no tracefs. Fires on every RSS counter change of a
 * process, in the context of the task that changed it. */
SEC("tp_btf/rss_stat")
int BPF_PROG(rss_stat, struct mm_struct *mm, int member)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct task_struct *task;
	struct rss_state *r;
	long pages;
	__u32 idx;

	r = bpf_map_lookup_elem(&rss_states, &tgid);
	if (!r || member < 0 || member >= PY_MM_COUNTERS)
		return 0;
	/* Another task may change our target's counters (reclaim, ptrace):
	 * only the target's own view is kept, which is what /proc shows. */
	task = (struct task_struct *)bpf_get_current_task_btf();
	if (BPF_CORE_READ(task, mm) != mm)
		return 0;
	pages = BPF_CORE_READ(mm, rss_stat[member].count);
	if (pages < 0)
		pages = 0;
	idx = (__u32)member;
	barrier_var(idx);
	if (idx >= PY_MM_COUNTERS)
		return 0;
	r->bytes[idx] = pages * page_size;
	r->events++;
	r->last_ns = bpf_ktime_get_ns();
	count(PYC_RSS_EVENTS);
	return 0;
}
