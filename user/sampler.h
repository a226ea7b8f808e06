/* SPDX-License-Identifier: MIT */
/* The sampled mode's cost control: how many probe traps each window may
 * take, so that traps cost the target at most `budget` of its time over
 * every stretch of time, not just on average.
 *
 * A token bucket of trap time: it fills at `budget` seconds of trap per
 * second and holds at most one period's worth (more when one window's
 * detach alone costs more than that). A window opens only when the bucket
 * holds enough for `min_hits` traps beyond the detach it will cost, and may
 * take as many traps as the bucket holds less that reserve: BPF stops
 * recording at that count and the loader detaches at once (windows.c). What
 * every window really cost, the traps taken while its breakpoints were
 * being removed included, is then taken out of the bucket, which may go
 * into debt. So for any stretch of T seconds the traps cost at most
 *   capacity + budget * T + (one detach beyond its reserve),
 * whatever the target did before: no quiet moment buys a long window.
 * With the defaults (2%, 4 s) that is about 10% of any second, 3% of any
 * ten seconds, and the budget plus a fraction of a point over a minute.
 *
 * The estimates' scale: see sampler_time_share().
 *
 * Pure logic: unit-tested in tests/unit/test_sampler.c. */
#ifndef PYLEAK_SAMPLER_H
#define PYLEAK_SAMPLER_H

#include <stdbool.h>
#include <stdint.h>

struct sampler_opts {
	double budget;       /* share of the target's time the traps may take, e.g. 0.02 */
	double period_s;     /* one window per period */
	double max_window_s; /* a window on a quiet target closes after this */
	double trap_cost_s;  /* one probe hit, measured at start-up */
	uint64_t min_hits;   /* a window that may take fewer traps is not worth its detach */
};

/* Windows remembered for the worst-stretch costs: at two (one per probe
 * group) per 0.2 s period at most, 128 cover the longest stretch (10 s). */
#define SAMPLER_HISTORY 128
/* Probe groups, each with its own window (enum probe_group). */
#define SAMPLER_GROUPS 2
/* Recent detaches whose largest sizes the next reserve. */
#define SAMPLER_TAILS 8

struct sampler_window {
	double open_s, close_s; /* attach started, detach done */
	uint64_t hits;          /* every trap in between */
};

/* What the windows did, for the report. */
struct sampler_summary {
	uint64_t windows;   /* opened */
	uint64_t skipped;   /* periods with no window: the bucket was short */
	uint64_t full;      /* closed by their trap limit rather than by time */
	uint64_t hits;      /* traps in all windows, detaches included */
	uint64_t max_hits;  /* the most traps any one window took, detach included */
	uint64_t max_limit; /* the largest limit any window was given */
	uint64_t max_tail;  /* the most traps any one window took after it stopped recording */
	double worst_1s;    /* worst share of any 1 s stretch spent in window traps */
	double worst_10s;   /* ... of any 10 s stretch */
	double on_s[SAMPLER_GROUPS];         /* time each group's windows recorded, in all */
	uint64_t rec_hits[SAMPLER_GROUPS];   /* ... and the traps they took meanwhile */
};

struct sampler {
	struct sampler_opts o;
	double tokens;     /* trap seconds that may be spent; negative: in debt */
	double refilled_s; /* when tokens were last added */
	uint64_t tails[SAMPLER_TAILS];
	uint64_t ntails;
	struct sampler_window hist[SAMPLER_HISTORY];
	uint64_t nhist;
	struct sampler_summary sum;
};

/* The bucket starts full: observation begins with a window. */
void sampler_init(struct sampler *s, const struct sampler_opts *o, double now_s);
/* The bucket's size: a period's budget, or one detach's reserve plus twice
 * min_hits when that is larger. */
double sampler_capacity(const struct sampler *s);
/* Traps the window opening now may take; 0: open none this period. */
uint64_t sampler_next_limit(struct sampler *s, double now_s);
/* Group g's window ran from open_s (attach began) to close_s (detach done)
 * and took `hits` traps in all, `tail` of them after it stopped recording;
 * it had `limit` and was stopped by it when `full`; it recorded for rec_s. */
void sampler_window_done(struct sampler *s, int g, double open_s, double close_s, uint64_t hits, uint64_t tail,
			 uint64_t limit, bool full, double rec_s);
/* Worst share of any stretch of span_s seconds spent in window traps, among
 * the stretches that begin at a remembered window's start or end at its end
 * (where the maxima lie), each window's traps spread evenly over it. */
double sampler_worst(const struct sampler *s, double span_s);
/* Share of the target's allocations through group g that its windows saw,
 * as the share of the target's working time they covered: the time they recorded less the traps taken
 * meanwhile, over the time elapsed less every window trap. Right for a
 * target whose allocations follow wall time (a request loop); where traps
 * dominate a window its working time is a small difference of large
 * numbers, and an estimate built on it is rough (README "Limits"). 0 before
 * any working time was covered. */
double sampler_time_share(const struct sampler *s, int g, double elapsed_s);

#endif
