// SPDX-License-Identifier: MIT
/* The trend fit and the leak judgement on synthetic series. */
#include <math.h>
#include <stdlib.h>
#include "check.h"
#include "trend.h"

#define INTERVAL 2.0

/* Deterministic noise in [-1, 1]: the tests must not depend on luck. */
static double noise(unsigned int *state)
{
	*state = *state * 1103515245u + 12345u;
	return ((*state >> 8) & 0xffff) / 32767.5 - 1.0;
}

typedef double (*shape_fn)(double t, unsigned int *rng);

static enum trend_verdict judge_shape(shape_fn shape, double seconds, struct trend_judgement *j)
{
	struct leak_policy p;
	struct series s;
	unsigned int rng = 42;

	leak_policy_default(&p);
	if (series_init(&s, 512))
		return TREND_UNKNOWN;
	for (double t = 0; t <= seconds + 1e-9; t += INTERVAL)
		series_push(&s, t, shape(t, &rng));
	trend_judge(&s, &p, j);
	series_free(&s);
	return j->verdict;
}

static double linear_100k(double t, unsigned int *rng)
{
	return 5e6 + 100e3 * t;
}

/* A cache that warms up for 10 s and then stays flat. */
static double plateau(double t, unsigned int *rng)
{
	return 2e6 + 300e3 * (t < 10 ? t : 10) + 2e3 * noise(rng);
}

/* Builds 40 MB and frees it every second; sampled every 2 s, at random
 * points in the cycle. */
static double sawtooth(double t, unsigned int *rng)
{
	return 10e6 + 40e6 * (0.5 + 0.5 * noise(rng));
}

static double noisy_flat(double t, unsigned int *rng)
{
	return 8e6 + 200e3 * noise(rng);
}

/* 30 KB/s under +-100 KB of noise. */
static double slow_leak(double t, unsigned int *rng)
{
	return 8e6 + 30e3 * t + 100e3 * noise(rng);
}

static double shrinking(double t, unsigned int *rng)
{
	return 50e6 - 200e3 * t;
}

static void test_fit_exact(void)
{
	double t[] = { 0, 1, 2, 3, 4 }, y[] = { 1, 3, 5, 7, 9 }, flat[] = { 4, 4, 4, 4, 4 };
	struct trend_fit f;

	if (!CHECK(trend_fit(t, y, 5, &f) == 0, "fit of a line"))
		return;
	CHECK_NEAR(f.slope, 2.0, 1e-12, "slope");
	CHECK_NEAR(f.intercept, 1.0, 1e-12, "intercept");
	CHECK_NEAR(f.r2, 1.0, 1e-12, "r2 of a perfect line");
	CHECK(trend_fit(t, flat, 5, &f) == 0 && f.slope == 0 && f.r2 == 0, "constant series: slope 0, r2 0");
	CHECK(trend_fit(t, y, 1, &f) == -1, "one point cannot be fitted");
	CHECK(trend_fit(flat, y, 5, &f) == -1, "all t equal cannot be fitted");
}

static void test_fit_known_r2(void)
{
	/* y = x with one point off: r2 computed by hand. */
	double t[] = { 1, 2, 3, 4 }, y[] = { 1, 2, 3, 5 };
	struct trend_fit f;

	trend_fit(t, y, 4, &f);
	CHECK_NEAR(f.slope, 1.3, 1e-12, "slope");
	CHECK_NEAR(f.intercept, -0.5, 1e-12, "intercept");
	CHECK_NEAR(f.r2, 0.9657142857142857, 1e-12, "r2");
}

static void test_fit_large_values(void)
{
	/* Gigabyte-sized values and unix-time stamps: centring keeps precision. */
	double t[64], y[64];
	struct trend_fit f;

	for (int i = 0; i < 64; i++) {
		t[i] = 1.7e9 + i * 2.0;
		y[i] = 4e9 + 1000.0 * i * 2.0;
	}
	trend_fit(t, y, 64, &f);
	CHECK_NEAR(f.slope, 1000.0, 1e-6, "slope at large magnitudes");
	CHECK_NEAR(f.r2, 1.0, 1e-9, "r2 at large magnitudes");
}

static void test_verdicts(void)
{
	struct trend_judgement j;

	CHECK_EQ_INT(judge_shape(linear_100k, 20, &j), TREND_LEAK, "linear growth");
	CHECK_NEAR(j.all.slope, 100e3, 1e-6, "linear slope");
	CHECK_EQ_INT(judge_shape(plateau, 60, &j), TREND_GROWING, "warm-up then flat");
	CHECK_EQ_INT(judge_shape(plateau, 8, &j), TREND_UNKNOWN, "no verdict during a warm-up");
	CHECK(judge_shape(plateau, 20, &j) != TREND_LEAK, "a 10 s warm-up is over by the first verdict");
	judge_shape(sawtooth, 60, &j);
	CHECK(j.verdict != TREND_LEAK, "sawtooth is not a leak");
	CHECK_EQ_INT(judge_shape(noisy_flat, 60, &j), TREND_STEADY, "noise around a constant");
	CHECK_EQ_INT(judge_shape(slow_leak, 30, &j), TREND_LEAK, "30 KB/s under noise");
	CHECK_NEAR(j.all.slope, 30e3, 6e3, "slow leak slope");
	CHECK_EQ_INT(judge_shape(shrinking, 30, &j), TREND_STEADY, "shrinking");
	CHECK_EQ_INT(judge_shape(linear_100k, 4, &j), TREND_UNKNOWN, "too short to judge");
	CHECK(j.reason && j.reason[0], "every verdict has a reason");
}

static void test_series_thinning(void)
{
	struct series s;
	bool ordered = true;

	if (!CHECK(series_init(&s, 16) == 0, "series_init"))
		return;
	for (int i = 0; i < 1000; i++)
		series_push(&s, i, i * 10.0);
	CHECK(s.len <= 16 && s.len >= 8, "bounded");
	CHECK_NEAR(s.t[s.len - 1], 999, 0, "newest sample kept");
	CHECK_NEAR(s.t[0], 0, 0, "oldest sample kept");
	for (size_t i = 1; i < s.len; i++)
		ordered = ordered && s.t[i] > s.t[i - 1] && s.y[i] == s.t[i] * 10.0;
	CHECK(ordered, "samples stay ordered and paired");
	series_free(&s);
}

int main(void)
{
	test_fit_exact();
	test_fit_known_r2();
	test_fit_large_values();
	test_verdicts();
	test_series_thinning();
	return check_summary();
}
