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

/* Allocator probes come in groups, attached and detached together: all the
 * time in --exact mode, in short windows in the sampled mode. */
enum probe_group {
	PROBE_GROUP_PYMALLOC, /* the interpreter's allocator: functions and inlined copies */
	PROBE_GROUP_MALLOC,   /* libc's malloc family */
	PROBE_GROUP__COUNT,
};

/* What attaching to one target achieved, for the report. */
struct probes_attached {
	int alloc_funcs; /* interpreter allocator functions probed */
	int guard_sites; /* inlined allocator copies probed (LTO builds) */
	int libc_funcs;  /* libc malloc family functions probed */
	bool gc;         /* GC is observed (USDT or gc_collect_main) */
	char gc_how[96]; /* how, or why not */
	bool rss;        /* the rss_stat tracepoint feeds RSS */
};

/* Opens and loads the BPF object. Returns NULL with *err a negative errno. */
struct probes *probes__new(const struct probes_opts *opts, int *err);
/* Registers the target in the maps, attaches GC and RSS probes, and plans
 * the allocator probes. With `allocators_on` they are attached now and stay
 * (--exact); otherwise probes__group_set() opens windows, the first of
 * which must attach every group. Returns 0 or a negative errno; `why` names
 * the probe that failed. */
int probes__attach(struct probes *p, const struct py_interp *py, bool allocators_on,
		   struct probes_attached *out, char *why, size_t whylen);
/* Attaches (on) or detaches (off) one group of the target's allocator probes.
 * Returns 0 or a negative errno. */
int probes__group_set(struct probes *p, pid_t pid, enum probe_group g, bool on);
/* The sampling window of group g of a target, shared with BPF (see struct
 * py_window in pyleak.h): the loader sets `limit` and `open`, and reads the
 * counts. NULL for a pid never attached. */
struct py_window *probes__window(struct probes *p, pid_t pid, enum probe_group g);
/* An epoll fd, readable once a window has reached its limit; drain it with
 * probes__window_drain(). */
int probes__window_fd(struct probes *p);
void probes__window_drain(struct probes *p);
/* The error line for group g failing to attach with err. */
void probes__attach_error(enum probe_group g, pid_t pid, int err, char *why, size_t whylen);
void probes__free(struct probes *p);
/* Measures one probe hit (kernel trap + the shortest program) on a function
 * of this process, and so checks uprobes fire at all. 0 or a negative errno. */
int probes__trap_cost(struct probes *p, double *cost_s);

void probes__counters(struct probes *p, uint64_t out[PYC__COUNT]);
int probes__rss(struct probes *p, pid_t pid, struct rss_state *out);
int probes__gc(struct probes *p, pid_t pid, struct gc_state *out);
int probes__stack(struct probes *p, uint64_t id, struct py_stack *out);
struct tracked_alloc {
	uint64_t addr;
	struct alloc_info info;
	bool dead;
};

/* Copies pid's tracked allocations into a malloc'ed *out. Returns the count,
 * or a negative errno. */
long probes__list_allocs(struct probes *p, pid_t pid, struct tracked_alloc **out);
/* Forgets the allocations marked dead (found free from outside): each record
 * goes and its site's live bytes drop. Call only while pid's allocator
 * probes are detached, so no BPF program updates the same entries. */
size_t probes__forget_dead(struct probes *p, pid_t pid, const struct tracked_alloc *a, size_t n);
/* Map hygiene, so that no target can fill a map for good. */
/* Deletes the stacks whose ids resolved() says the loader has read (their
 * frames live on in the site table); BPF stores a stack again only if it
 * recurs. Returns how many went. */
size_t probes__drop_stacks(struct probes *p, bool (*resolved)(uint64_t id, void *ctx), void *ctx);
/* Takes site id's stats out of the map, into *last: for idle sites (nothing
 * live) when the map fills. 0, or a negative errno. */
int probes__retire_site(struct probes *p, uint64_t id, struct site_stats *last);
size_t probes__max_sites(const struct probes *p);
/* Deletes pending allocator calls older than max_age_ns (threads that died
 * inside the allocator, returns never seen). Returns how many. */
size_t probes__purge_pending(struct probes *p, uint64_t max_age_ns);
/* Calls cb for every site with stats, including the overflow site. */
int probes__foreach_site(struct probes *p, void (*cb)(uint64_t id, const struct site_stats *st, void *ctx),
			 void *ctx);

#endif
