/* SPDX-License-Identifier: MIT */
/* The BPF side as the rest of the loader sees it: load once, attach to each
 * target, read the maps. */
#ifndef PYLEAK_PROBES_H
#define PYLEAK_PROBES_H

#include <stdbool.h>
#include <stdint.h>
#include "pyleak.h"
#include "pytarget.h"

struct probes;

struct probes_opts {
	unsigned int max_allocs;
	unsigned int max_stacks;
	const char *btf_path; /* NULL: the running kernel's */
	bool verbose;
};

/* What attaching to one target achieved, for the report. */
struct probes_attached {
	int alloc_funcs; /* interpreter allocator functions probed */
	int libc_funcs;  /* libc malloc family functions probed */
	bool gc;         /* GC is observed (USDT or gc_collect_main) */
	const char *gc_how;
	bool rss;        /* the rss_stat tracepoint feeds RSS */
};

/* Opens and loads the BPF object. Returns NULL with *err a negative errno. */
struct probes *probes__new(const struct probes_opts *opts, int *err);
/* Registers the target in the maps and attaches its probes. Returns 0 or a
 * negative errno; `why` names the probe that failed. */
int probes__attach(struct probes *p, const struct py_interp *py, struct probes_attached *out,
		   char *why, size_t whylen);
void probes__free(struct probes *p);

void probes__counters(struct probes *p, uint64_t out[PYC__COUNT]);
int probes__rss(struct probes *p, pid_t pid, struct rss_state *out);
int probes__gc(struct probes *p, pid_t pid, struct gc_state *out);
int probes__stack(struct probes *p, uint64_t id, struct py_stack *out);
/* Calls cb for every site with stats, including the overflow site. */
int probes__foreach_site(struct probes *p, void (*cb)(uint64_t id, const struct site_stats *st, void *ctx),
			 void *ctx);

#endif
