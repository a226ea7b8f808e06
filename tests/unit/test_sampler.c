// SPDX-License-Identifier: MIT
/* The sampled mode's budget arithmetic on synthetic rates. */
#include "check.h"
#include "sampler.h"

static struct sampler_opts opts(void)
{
	return (struct sampler_opts){ .budget = 0.02, .period_s = 1, .min_window_s = 0.005, .max_window_s = 0.5,
				      .trap_cost_s = 17e-6 };
}

/* Modelled cost of the planned windows, per period. */
static double planned_cost(const struct sampler *s)
{
	double c = 0;

	for (int g = 0; g < s->ngroups; g++)
		c += s->g[g].window_s * s->g[g].rate * s->o.trap_cost_s;
	return c / s->o.period_s;
}

/* One group, one window of on_s (hits while open, all_hits with attaching
 * and detaching), one 1 s period, then the next plan. */
static void one_window(struct sampler *s, const struct sampler_opts *o, double on_s, uint64_t hits,
		       uint64_t all_hits)
{
	sampler_init(s, o, 1);
	sampler_record(s, 0, on_s, hits, all_hits);
	sampler_period_done(s, 1);
	sampler_plan(s);
}

static void test_first_window_is_short(void)
{
	struct sampler_opts o = opts();
	struct sampler s;

	sampler_init(&s, &o, 2);
	CHECK_NEAR(s.g[0].window_s, 0.005, 1e-12, "unmeasured group: shortest window");
	CHECK_NEAR(s.g[1].window_s, 0.005, 1e-12, "unmeasured group: shortest window");
	CHECK_NEAR(sampler_cost(&s), 0, 1e-12, "nothing spent yet");
}

static void test_busy_group_gets_the_budget(void)
{
	struct sampler_opts o = opts();
	struct sampler s;

	sampler_init(&s, &o, 2);
	/* pymalloc trapping flat out (~58k hits/s), libc rarely (300/s). */
	sampler_record(&s, 0, 0.005, 290, 290);
	sampler_record(&s, 1, 0.005, 1, 1);
	sampler_period_done(&s, 1);
	sampler_plan(&s);
	CHECK_NEAR(s.g[1].window_s, 0.5, 1e-9, "rare group: longest window");
	CHECK(s.g[0].window_s > 0.005 && s.g[0].window_s < 0.05, "busy group: a short window");
	CHECK_NEAR(planned_cost(&s), 0.02, 0.002, "planned cost is the budget");
}

static void test_idle_target_costs_nothing(void)
{
	struct sampler_opts o = opts();
	struct sampler s;

	one_window(&s, &o, 0.005, 0, 0);
	CHECK_NEAR(s.g[0].window_s, 0.5, 1e-9, "idle: capped at the longest window");
	CHECK_NEAR(planned_cost(&s), 0, 1e-12, "idle: no cost");
}

static void test_over_budget_rate_clamps_to_min(void)
{
	struct sampler_opts o = opts();
	struct sampler s;

	o.budget = 0.001;
	/* Four threads trapping at once: 4 x 58k hits per second. */
	one_window(&s, &o, 0.01, 2400, 2400);
	CHECK_NEAR(s.g[0].window_s, 0.005, 1e-12, "never below the shortest window");
}

static void test_detach_hits_cost_but_do_not_size(void)
{
	struct sampler_opts o = opts();
	struct sampler s;

	/* 100 hits while open for 10 ms; 5000 more while detaching. */
	one_window(&s, &o, 0.01, 100, 5100);
	CHECK_NEAR(s.g[0].rate, 10000, 1e-6, "rate from the open window only");
	CHECK_NEAR(sampler_cost(&s), 5100 * 17e-6, 1e-12, "every hit is cost");
}

static void test_cost_and_share(void)
{
	struct sampler_opts o = opts();
	struct sampler s;

	sampler_init(&s, &o, 1);
	for (int i = 0; i < 10; i++) {
		sampler_record(&s, 0, 0.1, 1000, 1000);
		sampler_period_done(&s, 1);
	}
	/* 10000 hits x 17 us over 10 s. */
	CHECK_NEAR(sampler_cost(&s), 0.017, 1e-9, "modelled cost");
	/* Working time seen: 1 s - 0.17 s of traps, of 10 s - 0.17 s. */
	CHECK_NEAR(sampler_seen_share(&s, 0), 0.83 / 9.83, 1e-9, "share of work seen");
	CHECK_NEAR(sampler_seen_share(&s, 5), 0, 1e-12, "no such group");
}

int main(void)
{
	test_first_window_is_short();
	test_busy_group_gets_the_budget();
	test_idle_target_costs_nothing();
	test_over_budget_rate_clamps_to_min();
	test_detach_hits_cost_but_do_not_size();
	test_cost_and_share();
	return check_summary();
}
