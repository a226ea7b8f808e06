// SPDX-License-Identifier: MIT
/* Window lengths from a cost budget; see sampler.h. */
#include <string.h>
#include "sampler.h"

void sampler_init(struct sampler *s, const struct sampler_opts *o, int ngroups)
{
	memset(s, 0, sizeof(*s));
	s->o = *o;
	s->ngroups = ngroups > SAMPLER_MAX_GROUPS ? SAMPLER_MAX_GROUPS : ngroups;
	for (int g = 0; g < s->ngroups; g++) {
		/* First window: as short as allowed, to measure the rate. */
		s->g[g].window_s = o->min_window_s;
		s->g[g].rate = -1;
	}
}

void sampler_record(struct sampler *s, int g, double on_s, uint64_t hits, uint64_t all_hits)
{
	struct sampler_group *sg;

	if (g < 0 || g >= s->ngroups)
		return;
	sg = &s->g[g];
	sg->on_s += on_s;
	sg->hits += all_hits;
	if (on_s > 0)
		sg->rate = hits / on_s;
}

void sampler_period_done(struct sampler *s, double period_s)
{
	s->elapsed_s += period_s;
	for (int g = 0; g < s->ngroups; g++) {
		s->g[g].on_done_s = s->g[g].on_s;
		s->g[g].hits_done = s->g[g].hits;
	}
}

/* Share of the target's time trapping while the group is attached. Above 1
 * when several threads trap at once: left so, as each of them pays. */
static double attached_cost(const struct sampler *s, const struct sampler_group *sg)
{
	return sg->rate * s->o.trap_cost_s;
}

void sampler_plan(struct sampler *s)
{
	double left = s->o.budget * s->o.period_s; /* trap seconds per period */
	int order[SAMPLER_MAX_GROUPS], n = s->ngroups;

	for (int i = 0; i < n; i++)
		order[i] = i;
	/* Cheapest first (insertion sort: a handful of groups). */
	for (int i = 1; i < n; i++) {
		for (int j = i; j > 0 && attached_cost(s, &s->g[order[j]]) < attached_cost(s, &s->g[order[j - 1]]); j--) {
			int t = order[j];

			order[j] = order[j - 1];
			order[j - 1] = t;
		}
	}
	for (int i = 0; i < n; i++) {
		struct sampler_group *sg = &s->g[order[i]];
		double share = left / (n - i), c, w;

		if (sg->rate < 0) {
			sg->window_s = s->o.min_window_s;
			left -= sg->window_s; /* worst case: it traps all along */
			continue;
		}
		c = attached_cost(s, sg);
		w = c > 0 ? share / c : s->o.max_window_s;
		if (w > s->o.max_window_s)
			w = s->o.max_window_s;
		if (w < s->o.min_window_s)
			w = s->o.min_window_s;
		sg->window_s = w;
		left -= w * c;
		if (left < 0)
			left = 0;
	}
}

double sampler_cost(const struct sampler *s)
{
	uint64_t hits = 0;

	if (s->elapsed_s <= 0)
		return 0;
	for (int g = 0; g < s->ngroups; g++)
		hits += s->g[g].hits_done;
	return hits * s->o.trap_cost_s / s->elapsed_s;
}

double sampler_seen_share(const struct sampler *s, int g)
{
	const struct sampler_group *sg;
	double trap, on, all;

	if (g < 0 || g >= s->ngroups || s->elapsed_s <= 0)
		return 0;
	sg = &s->g[g];
	trap = sg->hits_done * s->o.trap_cost_s;
	on = sg->on_done_s - trap;
	all = s->elapsed_s - trap;
	if (on <= 0 || all <= 0)
		return 0;
	return on / all > 1 ? 1 : on / all;
}
