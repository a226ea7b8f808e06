/* SPDX-License-Identifier: MIT */
/* Growth trends: least-squares slope and R², and the leak judgement built on them.
 * Pure logic, no I/O: unit-tested in tests/unit/test_trend.c. */
#ifndef PYLEAK_TREND_H
#define PYLEAK_TREND_H

#include <stddef.h>

struct trend_fit {
	double slope;     /* y units per second */
	double intercept;
	double r2;        /* 0..1; 0 when y is constant or n < 2 */
	size_t n;
};

/* Least-squares fit of y against t. Returns 0, or -1 when n < 2 or all t are equal. */
int trend_fit(const double *t, const double *y, size_t n, struct trend_fit *out);

/* A bounded time series of (t, y) samples. When full, the oldest samples are
 * thinned (every other one dropped) so the series keeps covering the whole
 * observation at a coarser resolution. */
struct series {
	double *t;
	double *y;
	size_t len;
	size_t cap;
};

int series_init(struct series *s, size_t cap);
void series_free(struct series *s);
void series_push(struct series *s, double t, double y);

struct leak_policy {
	double min_duration_s;   /* never judge on less observation than this */
	size_t min_samples;
	double min_slope;        /* bytes/s below which growth is not a leak */
	double min_growth;       /* bytes the series must gain over the window */
	double min_r2;           /* how straight the growth must be */
	double min_recent_ratio; /* slope of the recent half / slope of the whole: plateau guard */
};

enum trend_verdict {
	TREND_UNKNOWN = 0, /* too little data to say */
	TREND_STEADY,      /* flat or shrinking */
	TREND_GROWING,     /* rises, but not like a leak: plateau, noise, sawtooth */
	TREND_LEAK,        /* sustained, near-linear growth still going on */
};

struct trend_judgement {
	enum trend_verdict verdict;
	struct trend_fit all;    /* the whole series */
	struct trend_fit recent; /* the later half */
	const char *reason;      /* static string, short, for humans */
};

void leak_policy_default(struct leak_policy *p);
void trend_judge(const struct series *s, const struct leak_policy *p, struct trend_judgement *out);
const char *trend_verdict_str(enum trend_verdict v);

#endif
