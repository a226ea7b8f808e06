// SPDX-License-Identifier: MIT
/* The sampled mode's budget arithmetic: trap limits from the token bucket,
 * against synthetic targets whose rates change under it. */
#include "check.h"
#include "sampler.h"

#define TRAP 17e-6

static struct sampler_opts opts(void)
{
	return (struct sampler_opts){ .budget = 0.02, .period_s = 4, .max_window_s = 2, .trap_cost_s = TRAP,
				      .min_hits = 200 };
}

/* A target trapping `rate` times a second while a window is attached.
 * Returns the window's end and records it as windows.c would: recording
 * ends at the limit or after max_window_s, then `detach_s` more of traps. */
static double simulate_window(struct sampler *s, double t, uint64_t limit, double rate, double detach_s)
{
	double rec = rate > 0 ? limit / rate : s->o.max_window_s;
	bool full = rate > 0 && rec <= s->o.max_window_s;
	uint64_t taken, tail;

	if (!full)
		rec = s->o.max_window_s;
	taken = full ? limit : (uint64_t)(rate * rec);
	tail = (uint64_t)(rate * detach_s);
	sampler_window_done(s, 0, t, t + rec + detach_s, taken + tail, tail, limit, full, rec);
	return t + rec + detach_s;
}

static void test_bucket_starts_full(void)
{
	struct sampler_opts o = opts();
	struct sampler s;
	uint64_t limit;

	sampler_init(&s, &o, 100);
	/* A period's budget: 80 ms, less the first detach's guessed reserve. */
	CHECK_NEAR(sampler_capacity(&s), 0.08, 1e-12, "capacity");
	limit = sampler_next_limit(&s, 100);
	CHECK_EQ_INT(limit, (uint64_t)(0.08 * 0.5 / TRAP), "first limit");
	/* A quiet window teaches nothing about a busy detach. */
	sampler_window_done(&s, 0, 100, 102, 0, 0, limit, false, 2);
	CHECK_EQ_INT(sampler_next_limit(&s, 104), (uint64_t)(0.08 * 0.5 / TRAP), "reserve kept after a quiet window");
}

/* The case the old rate-sized windows failed: a window that found the
 * target idle bought the next one two seconds of full trapping. */
static void test_idle_then_busy_stays_bounded(void)
{
	struct sampler_opts o = opts();
	struct sampler s;
	double t = 0, spent_first_minute = 0;

	sampler_init(&s, &o, 0);
	for (int period = 0; period < 60; period++) {
		double start = period * o.period_s;
		/* Idle 5 s, then 2 s of heavy allocation, over and over; the
		 * busy rate is above what a trap allows (trap-bound). */
		double phase = start - 7 * (int)(start / 7);
		double rate = phase >= 5 ? 1 / TRAP : 0;
		uint64_t limit = sampler_next_limit(&s, start);

		if (limit) {
			uint64_t before = s.sum.hits;

			t = simulate_window(&s, start, limit, rate, 0.02);
			if (start < 60)
				spent_first_minute += (s.sum.hits - before) * TRAP;
			CHECK(s.sum.hits - before <= limit + (uint64_t)(0.02 / TRAP) + 1, "a window takes its limit and its detach");
		}
	}
	CHECK(s.sum.worst_1s <= 0.20, "no second above 20%");
	CHECK(s.sum.worst_10s <= 0.05, "no ten seconds above 5%");
	CHECK(spent_first_minute / 60 <= o.budget + 0.01, "a minute within the budget plus one point");
	CHECK(s.sum.windows > 10, "windows keep opening");
	CHECK(t > 0, "simulated");
}

static void test_detach_over_reserve_is_debt(void)
{
	struct sampler_opts o = opts();
	struct sampler s;
	uint64_t limit;

	sampler_init(&s, &o, 0);
	limit = sampler_next_limit(&s, 0);
	/* The detach cost 0.3 s of traps, far beyond its reserve. */
	simulate_window(&s, 0, limit, 1 / TRAP, 0.3);
	CHECK(s.tokens < 0, "in debt");
	/* The next reserve covers such a detach, so the bucket grows to hold it. */
	CHECK(sampler_capacity(&s) >= 0.3, "capacity holds one detach");
	CHECK_EQ_INT(sampler_next_limit(&s, 4), 0, "no window while in debt");
	CHECK_EQ_INT(s.sum.skipped, 1, "the skipped period is counted");
	/* Repaid at 2% a second: 0.3 s + 60 ms + the reserve take ~33 s. */
	CHECK_EQ_INT(sampler_next_limit(&s, 20), 0, "still repaying");
	CHECK(sampler_next_limit(&s, 40) >= o.min_hits, "open again once repaid");
}

static void test_idle_windows_cost_nothing(void)
{
	struct sampler_opts o = opts();
	struct sampler s;

	sampler_init(&s, &o, 0);
	for (int i = 0; i < 10; i++) {
		uint64_t limit = sampler_next_limit(&s, i * o.period_s);

		CHECK(limit > 0, "a quiet target always gets its window");
		simulate_window(&s, i * o.period_s, limit, 0, 0.02);
	}
	CHECK_EQ_INT(s.sum.hits, 0, "no traps");
	CHECK_EQ_INT(s.sum.full, 0, "closed by time");
	CHECK_NEAR(s.sum.on_s[0], 10 * o.max_window_s, 1e-9, "recorded time");
	CHECK_NEAR(s.sum.worst_1s, 0, 1e-12, "worst second");
}

static void test_worst_stretches(void)
{
	struct sampler_opts o = opts();
	struct sampler s;

	sampler_init(&s, &o, 0);
	/* 0.1 s of traps in 0.5 s, then 0.05 s in 0.5 s, 3 s apart. */
	sampler_window_done(&s, 0, 10, 10.5, (uint64_t)(0.1 / TRAP), 0, 1, true, 0.5);
	sampler_window_done(&s, 1, 13, 13.5, (uint64_t)(0.05 / TRAP), 0, 1, true, 0.5);
	CHECK_NEAR(sampler_worst(&s, 1), 0.1, 1e-4, "worst second holds the bigger window whole");
	CHECK_NEAR(sampler_worst(&s, 10), 0.015, 1e-4, "worst ten seconds hold both");
	/* Half of the first window in a stretch that ends in its middle. */
	CHECK_NEAR(sampler_worst(&s, 0.25), 0.2, 1e-4, "a window's traps spread over it");
	CHECK_NEAR(s.sum.worst_1s, 0.1, 1e-4, "summary keeps the worst second");
	CHECK_EQ_INT(s.sum.max_hits, (uint64_t)(0.1 / TRAP), "largest window");
}

static void test_time_share(void)
{
	struct sampler_opts o = opts();
	struct sampler s;

	sampler_init(&s, &o, 0);
	CHECK_NEAR(sampler_time_share(&s, 0, 10), 0, 1e-12, "nothing covered yet");
	/* 1 s recorded with 10000 traps (0.17 s), then 1000 more detaching. */
	sampler_window_done(&s, 0, 0, 1.1, 11000, 1000, 10000, true, 1);
	CHECK_NEAR(sampler_time_share(&s, 0, 10), 0.83 / (10 - 11000 * TRAP), 1e-9, "working time seen");
	CHECK_NEAR(sampler_time_share(&s, 0, 0.5), 1, 1e-12, "never above 1");
	/* The other group recorded nothing; its traps still cost working time. */
	CHECK_NEAR(sampler_time_share(&s, 1, 10), 0, 1e-12, "per group");
	sampler_window_done(&s, 1, 2, 4, 100, 0, 1000, false, 2);
	CHECK_NEAR(sampler_time_share(&s, 1, 10), (2 - 100 * TRAP) / (10 - 11100 * TRAP), 1e-9, "libc's own time");
	CHECK_NEAR(sampler_time_share(&s, 7, 10), 0, 1e-12, "no such group");
}

/* Short periods: the detach alone costs more than a period's budget. The
 * bucket must still reopen windows, not stall on the boundary. */
static void test_detach_dearer_than_a_period(void)
{
	struct sampler_opts o = opts();
	struct sampler s;
	int opened = 0;

	o.period_s = 0.5;
	sampler_init(&s, &o, 0);
	for (int i = 0; i < 40; i++) {
		uint64_t limit = sampler_next_limit(&s, i * o.period_s);

		if (!limit)
			continue;
		opened++;
		CHECK(limit >= o.min_hits, "a window takes at least min_hits");
		simulate_window(&s, i * o.period_s, limit, 60000, 0.016);
	}
	CHECK(opened >= 8, "windows keep opening when each detach costs more than a period's budget");
	CHECK(s.sum.worst_10s <= 0.05, "and the bound holds");
}

int main(void)
{
	test_bucket_starts_full();
	test_idle_then_busy_stays_bounded();
	test_detach_over_reserve_is_debt();
	test_idle_windows_cost_nothing();
	test_worst_stretches();
	test_time_share();
	test_detach_dearer_than_a_period();
	return check_summary();
}
