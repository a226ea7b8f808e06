/* SPDX-License-Identifier: MIT */
/* One observed process: what was found in it, what was attached, and the
 * state built from each poll of the BPF maps. Reports read it; several
 * sessions can share one `struct probes`. */
#ifndef PYLEAK_SESSION_H
#define PYLEAK_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include "probes.h"
#include "pytarget.h"
#include "sampler.h"
#include "sites.h"
#include "symbolize.h"
#include "trend.h"

struct session {
	pid_t pid;
	char comm[64];
	char exe[PATH_MAX];
	struct py_interp py;
	struct probes_attached att;
	struct symbolizer *sym;
	struct site_table *sites;
	struct leak_policy policy;

	double start;            /* monotonic seconds at attach */
	double elapsed;          /* at the last poll */
	double wall;             /* unix time of the last poll */
	bool exited;

	uint64_t rss_start;
	uint64_t rss_now;
	bool rss_from_bpf;       /* false: /proc polling (tracepoint unavailable or silent) */
	struct series rss;
	struct trend_judgement rss_j;      /* RSS on its own: a leak with no site behind it */
	struct trend_judgement rss_grow_j; /* RSS growing at all: confirms a sampled site */

	struct gc_state gc;
	bool gc_known;

	struct site **ranked;    /* sites, most suspicious first, as of the last poll */
	size_t nranked;

	bool sampled;            /* the default mode; false with --exact */
	double scale[2];         /* allocations per sampled one, by enum py_source: 1 in exact mode */
	struct sampler_summary windows; /* what the sampling windows did (sampled mode) */
	double budget;           /* sampled mode: the share of time the traps may take */
	double overhead;         /* modelled: every probe trap's share of the target's time */
	double trap_cost_s;      /* one probe hit, measured at start-up */
	uint64_t swept_dead;     /* sampled blocks found freed from outside */

	uint64_t counters[PYC__COUNT];
	uint64_t stacks_dropped;   /* stacks read and then taken out of the BPF map */
	uint64_t sites_retired;    /* idle sites taken out of the BPF map when it filled */
	uint64_t pending_purged;   /* allocator calls whose return never came */
	uint64_t site_table_full;  /* new stacks charged to "[untracked stacks: site table full]" */
	uint64_t tracked_live;   /* live bytes in the sites, all sites (estimated when sampled) */
	double coverage;         /* < 0: unknown */
	bool leak;
};

int session__init(struct session *s, const struct py_interp *py, const struct probes_attached *att,
		  double now_mono);
/* The sampled mode's figures for the next poll: the share of allocations
 * the windows saw, by probe group (= enum py_source); exact mode leaves
 * scale 1. */
void session__set_sampling(struct session *s, const double seen_share[2], const struct sampler_summary *windows,
			   uint64_t swept_dead);
/* A site's sampled figure scaled to an estimate of the whole (as is in exact mode). */
double session__estimate(const struct session *s, const struct site *site, double sampled);
/* Reads the maps and updates sites, RSS, GC, trends and the verdict. */
void session__poll(struct session *s, struct probes *p, double now_mono, double now_wall);
void session__free(struct session *s);

#endif
