/* SPDX-License-Identifier: MIT */
/* Types shared by the BPF programs and the loader, and every limit the BPF
 * side imposes. The loader reads the maps with exactly these layouts. */
#ifndef PYLEAK_H
#define PYLEAK_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Innermost Python frames kept per stack. Deeper stacks are truncated at the
 * outer end (the leaking line is innermost) and flagged PY_STACK_TRUNCATED.
 * 32 frames x 2 reads keeps one walk well inside the verifier's budget. */
#define PY_MAX_FRAMES 32
/* Bytes of a frame copied in one read: covers every field we use in
 * _PyInterpreterFrame (3.11+) and PyFrameObject (3.9/3.10). */
#define PY_FRAME_READ_MAX 128
/* glibc keeps the first 32 pthread keys inline in struct pthread. */
#define PY_TSS_INLINE_KEYS 32
/* Sentinel for an offset a CPython version does not have. */
#define PY_OFF_NONE 0xffff

/* Stack id the loader pre-creates: allocations land here when the stacks or
 * stats map is full, so their bytes are still counted, just not attributed. */
#define PY_OVERFLOW_STACK_ID 0ULL

/* x86-64 general registers, numbered as the slots of struct pt_regs. */
enum py_reg {
	PY_REG_R15, PY_REG_R14, PY_REG_R13, PY_REG_R12, PY_REG_BP, PY_REG_BX, PY_REG_R11, PY_REG_R10,
	PY_REG_R9, PY_REG_R8, PY_REG_AX, PY_REG_CX, PY_REG_DX, PY_REG_SI, PY_REG_DI, PY_REG__COUNT,
};
#define PY_REG_NONE (-1)

/* Where a probed instruction finds an argument: base + index * scale + disp,
 * over PY_REG_* slots (PY_REG_NONE: absent), cut to 32 bits when width32.
 * A constant is base = index = PY_REG_NONE. Found by user/guards.c. */
struct py_operand {
	__s8 base;
	__s8 index;
	__u8 scale;
	__u8 width32;
	__u32 pad;
	__s64 disp;
};

/* What a probed instruction is. Function entries take their arguments
 * from the ABI registers and finish in a return probe; an inlined copy's
 * guard has no return, so its block is foreseen (see predict_block). */
enum py_point_kind {
	PY_PT_GUARD_ALLOC = 0, /* arg[0]: size */
	PY_PT_FREE = 1,        /* arg[0]: pointer; function entry or inlined copy */
	PY_PT_MALLOC = 2,      /* arg[0]: size */
	PY_PT_CALLOC = 3,      /* arg[0] * arg[1] */
	PY_PT_REALLOC = 4,     /* arg[0]: old pointer, arg[1]: size */
};
/* Probe points over all targets: ~250 per LTO interpreter, ~10 otherwise. */
#define PY_MAX_POINTS 4096

/* A probed instruction, indexed by its attach cookie in the `points` map. */
struct py_point {
	struct py_operand arg[2];
	__u32 kind;   /* enum py_point_kind */
	__u32 source; /* enum py_source */
};

/* pymalloc (3.10+ on 64-bit): 16-byte size classes up to 512 bytes. */
#define PY_PYMALLOC_ALIGN_SHIFT 4
#define PY_PYMALLOC_MAX 512
/* struct pool_header (64-bit CPython 3.9-3.14): 48 bytes, then blocks of
 * (szidx + 1) * 16 bytes. */
#define PY_POOL_REF_COUNT 0
#define PY_POOL_FREEBLOCK 8
#define PY_POOL_NEXTPOOL 16
#define PY_POOL_PREVPOOL 24
#define PY_POOL_SZIDX 36
#define PY_POOL_NEXTOFFSET 40
#define PY_POOL_HEADER_SIZE 48

enum py_instr_kind {
	PY_INSTR_INT = 0, /* frame field is an int offset (f_lasti, 3.9/3.10) */
	PY_INSTR_PTR = 1, /* frame field points into the code object (3.11+) */
};

/* Layout of one CPython version's thread state, frames and code objects,
 * as the BPF walk needs it. Filled by user/pyoffsets.c. */
struct py_offsets {
	/* Thread state: first try the runtime's current-tstate field (the GIL
	 * holder, <= 3.11), checked against the calling thread; then the
	 * gilstate TSS slot in glibc's struct pthread, which works while the
	 * GIL is released and in every version. */
	__u32 runtime_tstate_current; /* in _PyRuntime, or PY_OFF_NONE */
	__u32 runtime_tss_key;        /* u32 pthread key in _PyRuntime, or PY_OFF_NONE */
	__u32 runtime_finalizing;     /* _PyRuntime._finalizing, or PY_OFF_NONE */
	__u32 pthread_specific;       /* glibc: struct pthread.specific_1stblock */
	__u32 pthread_specific_stride;
	__u16 tstate_native_tid;      /* PY_OFF_NONE when absent (3.9/3.10) */
	__u16 tstate_frame;           /* tstate->cframe, ->frame or ->current_frame */
	__u16 cframe_current_frame;   /* PY_OFF_NONE when tstate_frame is the frame */
	__u16 frame_code;
	__u16 frame_previous;
	__u16 frame_instr;
	__u16 frame_owner;            /* PY_OFF_NONE when frames have no owner */
	__u16 frame_read_size;        /* <= PY_FRAME_READ_MAX */
	__u16 code_firstlineno;
	__u8 instr_kind;              /* enum py_instr_kind */
	__u8 owner_skip_min;          /* skip frames with owner >= this (shims) */
	__u64 code_tag_mask;          /* 3.14 stack refs tag the low bits */
};

/* Processes observed at once: the `targets` map's size, and the number of
 * sampling-window slots. */
#define PY_MAX_TARGETS 1024

/* One observed process. Keyed by tgid in the `targets` map. */
struct py_target {
	__u64 runtime_addr; /* address of _PyRuntime in the target */
	__u64 usedpools;    /* pymalloc's usedpools[] in the target; 0 if unknown */
	__u32 slot;         /* its struct py_window in `windows` */
	__u32 pad;
	struct py_offsets off;
};

/* One sampling window: one per target and allocator (enum py_source), at
 * windows[slot * PY_SOURCES + source]: a rarely hit allocator (libc in a
 * pure-Python service) can stay attached while the busy one has spent its
 * traps. It lives in the BPF object's .bss, which the loader maps, so
 * opening and closing a window costs no syscall.
 *
 * Why a trap limit: a window sized by a rate measured earlier is no bound,
 * since a target idle when it was measured may be busy now. So the loader
 * gives each window a number of traps it may record (`limit`, absolute on
 * the monotonic `hits`), BPF stops recording at that number and wakes the
 * loader through the `window_full` ring buffer, and the loader detaches.
 * Traps taken while the breakpoints are still being removed are counted in
 * `hits` (they are cost) but record nothing, which also makes them cheaper.
 */
struct py_window {
	__u64 hits;             /* allocator traps, ever; BPF adds */
	__u64 limit;            /* record while hits <= limit; loader sets */
	__u32 open;             /* 1: recording allowed; loader sets */
	__u32 pad;
};

struct py_frame {
	__u64 code;        /* PyCodeObject * in the target */
	__u32 instr;       /* f_lasti, or instruction pointer - code */
	__u32 firstlineno; /* guards against a code object freed and reused */
};

#define PY_STACK_TRUNCATED 0x1 /* more frames than PY_MAX_FRAMES */
#define PY_STACK_NO_TSTATE 0x2 /* no Python thread state on this thread */
#define PY_STACK_READ_ERR  0x4 /* the walk stopped on an unreadable frame */

/* Which allocator an allocation came through (struct py_point.source), and
 * part of the stack id so one line can show as two sites. */
enum py_source {
	PY_SRC_PYMALLOC = 0, /* PyObject_* / PyMem_* */
	PY_SRC_MALLOC = 1,   /* libc malloc family: C extensions, ctypes */
	PY_SOURCES,
};


struct py_stack {
	__u32 tgid;
	__u16 depth;
	__u8 flags;
	__u8 source; /* enum py_source */
	struct py_frame frames[PY_MAX_FRAMES]; /* innermost first */
};

struct site_stats {
	__s64 live_bytes;
	__s64 live_count;
	__u64 total_bytes;
	__u64 total_count;
};

struct alloc_key {
	__u64 addr;
	__u32 tgid;
	__u32 pad;
};

struct alloc_info {
	__u64 size;
	__u64 stack_id;
	__u32 source; /* enum py_source: with size, says which allocator owns the block */
	__u32 pad;
};

#define PY_GC_GENERATIONS 3

struct gc_state {
	__u64 collections[PY_GC_GENERATIONS];
	__u64 collected;
	__u64 total_ns;
	__u64 start_ns; /* GC runs under the GIL: one collection at a time */
};

/* An allocator call between its entry and its return, per thread. The
 * loader purges entries that outlive any call (probes__purge_pending). */
struct pending_call {
	__u64 size;
	__u64 old_addr; /* realloc: the block being resized, else 0 */
	__u64 stack_id;
	__u64 sp;       /* stack pointer at entry: tells nested calls and stale entries apart */
	__u64 ts;       /* bpf_ktime_get_ns() at entry */
	__u32 source;
	__u32 pad;
};

/* Mirrors the kernel's NR_MM_COUNTERS members. */
enum { PY_MM_FILEPAGES, PY_MM_ANONPAGES, PY_MM_SWAPENTS, PY_MM_SHMEMPAGES, PY_MM_COUNTERS };

struct rss_state {
	__s64 bytes[PY_MM_COUNTERS];
	__u64 events;
	__u64 last_ns;
};

enum py_counter {
	PYC_ALLOCS,          /* allocation calls seen */
	PYC_FREES,           /* free calls seen */
	PYC_FREE_UNTRACKED,  /* frees of memory allocated before attach (normal) */
	PYC_FREE_AT_EXIT,    /* frees by interpreter shutdown: not counted as fixes */
	PYC_ALLOCS_FULL,     /* live-allocation map full: allocation not tracked */
	PYC_STACKS_FULL,     /* stack map full: counted under the overflow site */
	PYC_STATS_FULL,      /* per-site map full: counted under the overflow site */
	PYC_PENDING_FULL,    /* too many threads inside the allocator at once */
	PYC_NO_TSTATE,       /* allocation on a thread with no Python thread state */
	PYC_READ_ERR,        /* a frame could not be read */
	PYC_TRUNCATED,       /* stack deeper than PY_MAX_FRAMES */
	PYC_GC_EVENTS,
	PYC_RSS_EVENTS,
	PYC_HITS_PYMALLOC,   /* probe traps in the interpreter's allocator (cost) */
	PYC_HITS_MALLOC,     /* probe traps in libc's malloc family (cost) */
	PYC_NO_PREDICT,      /* inlined allocation whose block could not be foreseen */
	PYC_HITS_GC,         /* GC probe traps (cost) */
	PYC_HITS_TAIL,       /* allocator traps past a window's limit: cost, nothing recorded */
	PYC_PENDING_STALE,   /* a call whose return was never seen, dropped when found */
	PYC_NESTED,          /* allocator calls inside another (debug hooks, custom allocators) */
	PYC__COUNT,
};

#endif
