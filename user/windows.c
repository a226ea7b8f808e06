// SPDX-License-Identifier: MIT
/* Open, wait for the limit or the time, close, sweep: one sampling period;
 * see windows.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "procfs.h"
#include "windows.h"

void windows__init(struct windows *w, const struct sampler_opts *o, pid_t pid, uint32_t pool_size,
		   size_t max_pools, uint64_t finalizing_addr, double now_s)
{
	memset(w, 0, sizeof(*w));
	sampler_init(&w->policy, o, now_s);
	w->pid = pid;
	w->pool_size = pool_size;
	w->max_pools = max_pools;
	w->finalizing_addr = finalizing_addr;
}

/* Blocks freed by interpreter shutdown, or unreadable because the process
 * is gone, are not fixes: the last report must keep the leak. */
static bool sweep_meaningful(const struct windows *w)
{
	uint64_t finalizing = 0;

	if (proc_alive(w->pid))
		return false;
	if (w->finalizing_addr && !proc_read(w->pid, w->finalizing_addr, &finalizing, sizeof(finalizing)) &&
	    finalizing)
		return false;
	return true;
}

static void sweep(struct windows *w, struct probes *p)
{
	struct tracked_alloc *a = NULL;
	long n;

	if (!sweep_meaningful(w))
		return;
	n = probes__list_allocs(p, w->pid, &a);
	if (n > 0) {
		liveness_sweep(w->pid, w->pool_size, a, (size_t)n, w->max_pools, &w->resume, &w->sweep);
		/* Checked again: reads from a process that just died all fail. */
		if (sweep_meaningful(w))
			w->swept_dead += probes__forget_dead(p, w->pid, a, (size_t)n);
	}
	free(a);
}

static uint64_t hits_now(const struct py_window *pw)
{
	return __atomic_load_n(&pw->hits, __ATOMIC_RELAXED);
}

/* The interpreter's allocator gets most of a period's traps; libc's, rarely
 * hit in a pure-Python service, gets the rest and so stays attached until
 * its time is up, seeing the few native allocations whole. */
static const double group_share[PROBE_GROUP__COUNT] = { 0.75, 0.25 };

/* One group's window while it is open. */
struct open_window {
	struct py_window *pw;
	uint64_t h0, limit;
	double opened, recording;
	bool on;
};

/* Attaches group g with the limit set first, so traps taken while attaching
 * count against it too. The first window must attach every group: it is
 * the start-up check (w->fatal). */
static void open_group(struct windows *w, struct probes *p, int g, uint64_t limit, struct open_window *ow)
{
	int err;

	ow->pw = probes__window(p, w->pid, g);
	ow->on = false;
	if (!ow->pw || !limit)
		return;
	ow->h0 = hits_now(ow->pw);
	ow->limit = limit;
	ow->opened = clock_s(CLOCK_MONOTONIC);
	__atomic_store_n(&ow->pw->limit, ow->h0 + limit, __ATOMIC_RELAXED);
	err = probes__group_set(p, w->pid, g, true);
	if (err) {
		w->attach_errors++;
		w->last_error = err;
		if (!w->policy.sum.windows && !w->fatal) {
			w->fatal = err;
			w->fatal_group = g;
		}
		return;
	}
	ow->on = true;
}

static void close_group(struct windows *w, struct probes *p, int g, struct open_window *ow)
{
	uint64_t at_close, all, tail;
	double closing, closed;
	bool full;

	__atomic_store_n(&ow->pw->open, 0, __ATOMIC_SEQ_CST);
	closing = clock_s(CLOCK_MONOTONIC);
	at_close = hits_now(ow->pw) - ow->h0;
	probes__group_set(p, w->pid, g, false);
	closed = clock_s(CLOCK_MONOTONIC);
	all = hits_now(ow->pw) - ow->h0;
	full = at_close >= ow->limit;
	tail = all - (full ? ow->limit : at_close);
	ow->on = false;
	sampler_window_done(&w->policy, g, ow->opened, closed, all, tail, ow->limit, full, closing - ow->recording);
	if (w->verbose)
		fprintf(stderr, "pyleakbpf: window %s: limit %llu traps, took %llu (%llu after it stopped recording); "
			"attach %.1f ms, recording %.1f ms, detach %.1f ms; closed by %s\n",
			g == PROBE_GROUP_MALLOC ? "libc" : "interpreter", (unsigned long long)ow->limit,
			(unsigned long long)all, (unsigned long long)tail, (ow->recording - ow->opened) * 1e3,
			(closing - ow->recording) * 1e3, (closed - closing) * 1e3, full ? "its limit" : "time");
}

static bool is_full(const struct open_window *ow)
{
	return hits_now(ow->pw) - ow->h0 >= ow->limit;
}

/* One window per group, sharing `limit` traps; each closes on its own
 * limit (BPF wakes us) or when max_window_s is up. Returns false to stop. */
static bool run_window(struct windows *w, struct probes *p, uint64_t limit, windows_wait_fn wait, void *ctx)
{
	struct open_window ow[PROBE_GROUP__COUNT] = {};
	enum wait_result r = WAIT_DEADLINE;
	double deadline = 0;
	int left = 0;

	for (int g = 0; g < PROBE_GROUP__COUNT; g++)
		open_group(w, p, g, (uint64_t)(limit * group_share[g]), &ow[g]);
	for (int g = 0; g < PROBE_GROUP__COUNT; g++) {
		if (!ow[g].on)
			continue;
		if (w->fatal) {
			probes__group_set(p, w->pid, g, false);
			ow[g].on = false;
			continue;
		}
		__atomic_store_n(&ow[g].pw->open, 1, __ATOMIC_SEQ_CST);
		ow[g].recording = clock_s(CLOCK_MONOTONIC);
		deadline = ow[g].opened + w->policy.o.max_window_s;
		left++;
	}
	if (w->fatal)
		return false;
	while (left) {
		bool any_full = false;

		for (int g = 0; g < PROBE_GROUP__COUNT; g++)
			any_full |= ow[g].on && is_full(&ow[g]);
		/* Attaching may have used a whole limit already (BPF then woke us). */
		if (!any_full && r != WAIT_STOP)
			r = wait(deadline, probes__window_fd(p), ctx);
		probes__window_drain(p);
		for (int g = 0; g < PROBE_GROUP__COUNT; g++) {
			if (ow[g].on && (r == WAIT_STOP || is_full(&ow[g]) || clock_s(CLOCK_MONOTONIC) >= deadline)) {
				close_group(w, p, g, &ow[g]);
				left--;
			}
		}
	}
	return r != WAIT_STOP;
}

double windows__seen_share(const struct windows *w, int g, double elapsed_s)
{
	return sampler_time_share(&w->policy, g, elapsed_s);
}

bool windows__run_period(struct windows *w, struct probes *p, windows_wait_fn wait, void *ctx)
{
	double start = clock_s(CLOCK_MONOTONIC);
	uint64_t limit = sampler_next_limit(&w->policy, start);
	bool go = true;

	if (limit)
		go = run_window(w, p, limit, wait, ctx);
	if (go)
		sweep(w, p);
	if (go)
		go = wait(start + w->policy.o.period_s, -1, ctx) != WAIT_STOP;
	if (w->verbose)
		fprintf(stderr, "pyleakbpf: period %.3fs: %s, bucket %.1f ms of traps, swept %zu (%zu freed)%s%s\n",
			clock_s(CLOCK_MONOTONIC) - start, limit ? "one window" : "no window (budget spent)",
			w->policy.tokens * 1e3, w->sweep.checked, w->sweep.dead,
			w->attach_errors ? "; a window failed to open: " : "",
			w->attach_errors ? strerror(-w->last_error) : "");
	return go;
}
