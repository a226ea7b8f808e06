// SPDX-License-Identifier: MIT
/* Trap limits from a token bucket of trap time; see sampler.h. */
#include <string.h>
#include "sampler.h"

/* Until a window has met a busy target, its detach is assumed to cost this
 * share of the bucket. The first busy detach is the dearest: which probe
 * points are hot is not known yet (probes.c). */
#define FIRST_TAIL_SHARE 0.5

void sampler_init(struct sampler *s, const struct sampler_opts *o, double now_s)
{
	memset(s, 0, sizeof(*s));
	s->o = *o;
	s->refilled_s = now_s;
	s->tokens = sampler_capacity(s);
}

static double tail_reserve(const struct sampler *s)
{
	uint64_t most = 0;
	size_t n = s->ntails < SAMPLER_TAILS ? s->ntails : SAMPLER_TAILS;

	if (!n)
		return FIRST_TAIL_SHARE * s->o.budget * s->o.period_s;
	for (size_t i = 0; i < n; i++)
		if (s->tails[i] > most)
			most = s->tails[i];
	return most * s->o.trap_cost_s;
}

double sampler_capacity(const struct sampler *s)
{
	double period = s->o.budget * s->o.period_s;
	/* Twice min_hits: a full bucket always opens a window, rounding or not. */
	double one = tail_reserve(s) + 2 * s->o.min_hits * s->o.trap_cost_s;

	return one > period ? one : period;
}

uint64_t sampler_next_limit(struct sampler *s, double now_s)
{
	double cap = sampler_capacity(s), avail;

	if (now_s > s->refilled_s) {
		s->tokens += s->o.budget * (now_s - s->refilled_s);
		s->refilled_s = now_s;
	}
	if (s->tokens > cap)
		s->tokens = cap;
	avail = s->tokens - tail_reserve(s);
	if (s->o.trap_cost_s <= 0 || avail < s->o.min_hits * s->o.trap_cost_s) {
		s->sum.skipped++;
		return 0;
	}
	return (uint64_t)(avail / s->o.trap_cost_s);
}

static double overlap(const struct sampler_window *w, double from, double to)
{
	double a = w->open_s > from ? w->open_s : from;
	double b = w->close_s < to ? w->close_s : to;

	if (w->close_s <= w->open_s) /* an instant: all or nothing */
		return w->open_s >= from && w->open_s <= to ? 1 : 0;
	return b > a ? (b - a) / (w->close_s - w->open_s) : 0;
}

static double cost_in(const struct sampler *s, double from, double to)
{
	size_t n = s->nhist < SAMPLER_HISTORY ? s->nhist : SAMPLER_HISTORY;
	double traps = 0;

	for (size_t i = 0; i < n; i++)
		traps += s->hist[i].hits * overlap(&s->hist[i], from, to);
	return traps * s->o.trap_cost_s / (to - from);
}

double sampler_worst(const struct sampler *s, double span_s)
{
	size_t n = s->nhist < SAMPLER_HISTORY ? s->nhist : SAMPLER_HISTORY;
	double worst = 0;

	for (size_t i = 0; i < n; i++) {
		double a = cost_in(s, s->hist[i].open_s, s->hist[i].open_s + span_s);
		double b = cost_in(s, s->hist[i].close_s - span_s, s->hist[i].close_s);

		if (a > worst)
			worst = a;
		if (b > worst)
			worst = b;
	}
	return worst;
}

void sampler_window_done(struct sampler *s, int g, double open_s, double close_s, uint64_t hits, uint64_t tail,
			 uint64_t limit, bool full, double rec_s)
{
	struct sampler_summary *m = &s->sum;
	double w1, w10;

	s->tokens -= hits * s->o.trap_cost_s;
	/* A window that closed on a quiet target says nothing of what a
	 * detach costs on a busy one. */
	if (full || tail)
		s->tails[s->ntails++ % SAMPLER_TAILS] = tail;
	s->hist[s->nhist++ % SAMPLER_HISTORY] = (struct sampler_window){ open_s, close_s, hits };
	m->windows++;
	m->full += full;
	m->hits += hits;
	if (g >= 0 && g < SAMPLER_GROUPS) {
		m->rec_hits[g] += hits > tail ? hits - tail : 0;
		m->on_s[g] += rec_s > 0 ? rec_s : 0;
	}
	if (hits > m->max_hits)
		m->max_hits = hits;
	if (limit > m->max_limit)
		m->max_limit = limit;
	if (tail > m->max_tail)
		m->max_tail = tail;
	/* Only stretches touching the new window can have become worse, but
	 * the history is small enough to look at whole. */
	w1 = sampler_worst(s, 1);
	w10 = sampler_worst(s, 10);
	if (w1 > m->worst_1s)
		m->worst_1s = w1;
	if (w10 > m->worst_10s)
		m->worst_10s = w10;
}

double sampler_time_share(const struct sampler *s, int g, double elapsed_s)
{
	double on, all;

	if (g < 0 || g >= SAMPLER_GROUPS)
		return 0;
	on = s->sum.on_s[g] - s->sum.rec_hits[g] * s->o.trap_cost_s;
	all = elapsed_s - s->sum.hits * s->o.trap_cost_s;
	if (on <= 0 || all <= 0)
		return 0;
	return on >= all ? 1 : on / all;
}
