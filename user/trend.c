// SPDX-License-Identifier: MIT
/* Least-squares trends over bounded series, and the leak judgement. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "trend.h"

int trend_fit(const double *t, const double *y, size_t n, struct trend_fit *out)
{
	double mt = 0, my = 0, sxx = 0, sxy = 0, syy = 0;

	memset(out, 0, sizeof(*out));
	out->n = n;
	if (n < 2)
		return -1;
	for (size_t i = 0; i < n; i++) {
		mt += t[i];
		my += y[i];
	}
	mt /= (double)n;
	my /= (double)n;
	/* Centred sums: byte counts near 1e9 squared would lose the signal
	 * in uncentred ones. */
	for (size_t i = 0; i < n; i++) {
		double dt = t[i] - mt, dy = y[i] - my;

		sxx += dt * dt;
		sxy += dt * dy;
		syy += dy * dy;
	}
	if (sxx <= 0)
		return -1;
	out->slope = sxy / sxx;
	out->intercept = my - out->slope * mt;
	out->r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : 0;
	if (out->r2 > 1)
		out->r2 = 1;
	if (out->r2 < 0)
		out->r2 = 0;
	return 0;
}

int series_init(struct series *s, size_t cap)
{
	memset(s, 0, sizeof(*s));
	if (cap < 4)
		return -EINVAL;
	s->t = calloc(cap, sizeof(*s->t));
	s->y = calloc(cap, sizeof(*s->y));
	if (!s->t || !s->y) {
		series_free(s);
		return -ENOMEM;
	}
	s->cap = cap;
	return 0;
}

void series_free(struct series *s)
{
	free(s->t);
	free(s->y);
	s->t = s->y = NULL;
	s->len = s->cap = 0;
}

/* Drops every other sample, always keeping the oldest and the newest, so a
 * long run is still covered end to end at half the resolution. */
static void series_thin(struct series *s)
{
	size_t keep = 1, start = (s->len - 1) % 2;

	if (start == 0)
		start = 2;
	for (size_t i = start; i < s->len; i += 2) {
		s->t[keep] = s->t[i];
		s->y[keep] = s->y[i];
		keep++;
	}
	s->len = keep;
}

void series_push(struct series *s, double t, double y)
{
	if (!s->cap)
		return;
	if (s->len == s->cap)
		series_thin(s);
	s->t[s->len] = t;
	s->y[s->len] = y;
	s->len++;
}

void leak_policy_default(struct leak_policy *p)
{
	/* Longer than a typical warm-up: a cache that fills for several seconds
	 * and then stays flat must have shown its plateau by the first verdict. */
	p->min_duration_s = 20;
	p->min_samples = 5;
	p->min_slope = 1024;
	p->min_growth = 256 * 1024;
	p->min_r2 = 0.8;
	p->min_recent_ratio = 0.3;
}

/* First index whose time is at or after the series' midpoint in time. */
static size_t later_half(const struct series *s)
{
	double mid = (s->t[0] + s->t[s->len - 1]) / 2;
	size_t i = 0;

	while (i < s->len && s->t[i] < mid)
		i++;
	/* A fit needs two points. */
	return i > s->len - 2 ? s->len - 2 : i;
}

void trend_judge(const struct series *s, const struct leak_policy *p, struct trend_judgement *out)
{
	double duration, growth, fitted;
	size_t half;

	memset(out, 0, sizeof(*out));
	if (s->len < 2) {
		out->verdict = TREND_UNKNOWN;
		out->reason = "too little data";
		return;
	}
	trend_fit(s->t, s->y, s->len, &out->all);
	half = later_half(s);
	trend_fit(s->t + half, s->y + half, s->len - half, &out->recent);
	duration = s->t[s->len - 1] - s->t[0];
	if (s->len < p->min_samples || duration < p->min_duration_s) {
		out->verdict = TREND_UNKNOWN;
		out->reason = "too little data";
		return;
	}
	growth = s->y[s->len - 1] - s->y[0];
	fitted = out->all.slope * duration;
	if (out->all.slope < p->min_slope || fitted < p->min_growth || growth < p->min_growth) {
		out->verdict = TREND_STEADY;
		out->reason = out->all.slope < 0 ? "shrinking" : "flat";
		return;
	}
	if (out->all.r2 < p->min_r2) {
		out->verdict = TREND_GROWING;
		out->reason = "not linear: rises and falls";
		return;
	}
	if (out->recent.slope < p->min_recent_ratio * out->all.slope) {
		out->verdict = TREND_GROWING;
		out->reason = "plateaued";
		return;
	}
	out->verdict = TREND_LEAK;
	out->reason = "sustained linear growth";
}

const char *trend_verdict_str(enum trend_verdict v)
{
	switch (v) {
	case TREND_STEADY:
		return "steady";
	case TREND_GROWING:
		return "growing";
	case TREND_LEAK:
		return "leak";
	default:
		return "unknown";
	}
}
