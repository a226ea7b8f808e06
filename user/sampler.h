/* SPDX-License-Identifier: MIT */
/* The sampled mode's cost control: how long each group of allocator probes
 * may stay attached per period so that their traps cost the target at most
 * `budget` of its time.
 *
 * Every probe hit is a kernel trap of fixed cost (measured at start-up by
 * calibrate.c). While a group is attached the target spends
 * rate * trap_cost of its time trapping, where rate is the group's hits per
 * attached second, measured in the previous window. A group attached for
 * `w` seconds of every `period` therefore costs w / period * rate * trap_cost.
 * The budget is shared out cheapest group first: a group that is rarely hit
 * (libc malloc in a pure-Python service) can stay attached the whole period,
 * leaving the rest for the busy one (pymalloc).
 *
 * Pure logic: unit-tested in tests/unit/test_sampler.c. */
#ifndef PYLEAK_SAMPLER_H
#define PYLEAK_SAMPLER_H

#include <stdint.h>

#define SAMPLER_MAX_GROUPS 4

struct sampler_opts {
	double budget;       /* share of the target's time the traps may take, e.g. 0.02 */
	double period_s;     /* one window per group per period */
	double min_window_s; /* shortest window worth opening (attach cost) */
	double max_window_s; /* longest window: caps a burst the last rate did not foresee */
	double trap_cost_s;  /* one probe hit */
};

struct sampler_group {
	double window_s;  /* length of the next window */
	double on_s;      /* attached, in total */
	uint64_t hits;    /* probe hits, in total, attaching and detaching included */
	double rate;      /* hits per attached second in the last window; < 0: unknown */
	double on_done_s; /* on_s and hits as of the last completed period, so that */
	uint64_t hits_done; /* shares are not skewed by a period half recorded */
};

struct sampler {
	struct sampler_opts o;
	int ngroups;
	double elapsed_s;
	struct sampler_group g[SAMPLER_MAX_GROUPS];
};

void sampler_init(struct sampler *s, const struct sampler_opts *o, int ngroups);
/* After a window: group g was open for on_s and hit `hits` times meanwhile,
 * `all_hits` counting those while it attached and detached too. */
void sampler_record(struct sampler *s, int g, double on_s, uint64_t hits, uint64_t all_hits);
void sampler_period_done(struct sampler *s, double period_s);
/* Recomputes every group's next window from the last measured rates. */
void sampler_plan(struct sampler *s);
/* Modelled cost so far: trap time over elapsed time, all groups. */
double sampler_cost(const struct sampler *s);
/* Estimated share of group g's allocator calls that were seen: the target's
 * working time while attached over its working time in all (trap time taken
 * out of both). 0 before anything was measured. */
double sampler_seen_share(const struct sampler *s, int g);

#endif
