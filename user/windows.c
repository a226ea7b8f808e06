// SPDX-License-Identifier: MIT
/* Open, wait for the limit or the time, close, sweep: one sampling period;
 * see windows.h. */
#include <pthread.h>
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

/* One group's window while it is open, and while it closes: a close takes
 * ~0.1 s (probes.c), in a thread of its own so that the other group's
 * window is still watched, and closed as soon as it is full too. */
struct open_window {
	struct windows *w;
	struct probes *p;
	int g;
	struct py_window *pw;
	uint64_t h0, limit, at_close;
	double opened, recording, closing, closed;
	pthread_t closer;
	bool on, closing_now, threaded;
};

/* Attaches group g with the limit set first, so traps taken while attaching
 * count against it too. The first window must attach every group: it is
 * the start-up check (w->fatal). */
static void open_group(struct windows *w, struct probes *p, int g, uint64_t limit, struct open_window *ow)
{
	int err;

	ow->w = w;
	ow->p = p;
	ow->g = g;
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

static void *detach_group(void *arg)
{
	struct open_window *ow = arg;

	probes__group_set(ow->p, ow->w->pid, ow->g, false);
	ow->closed = clock_s(CLOCK_MONOTONIC);
	return NULL;
}

/* Stops recording and starts the detach, in a thread when one can be had. */
static void start_close(struct open_window *ow)
{
	__atomic_store_n(&ow->pw->open, 0, __ATOMIC_SEQ_CST);
	ow->closing = clock_s(CLOCK_MONOTONIC);
	ow->at_close = hits_now(ow->pw) - ow->h0;
	ow->closing_now = true;
	ow->threaded = !pthread_create(&ow->closer, NULL, detach_group, ow);
	if (!ow->threaded)
		detach_group(ow);
}

/* Waits for the detach and records what the window cost. */
static void finish_close(struct open_window *ow)
{
	struct windows *w = ow->w;
	uint64_t all, tail;
	bool full;

	if (ow->threaded)
		pthread_join(ow->closer, NULL);
	all = hits_now(ow->pw) - ow->h0;
	full = ow->at_close >= ow->limit;
	tail = all - (full ? ow->limit : ow->at_close);
	ow->on = ow->closing_now = false;
	sampler_window_done(&w->policy, ow->g, ow->opened, ow->closed, all, tail, ow->limit, full,
			    ow->closing - ow->recording);
	if (w->verbose)
		fprintf(stderr, "pyleakbpf: window %s: limit %llu traps, took %llu (%llu after it stopped recording); "
			"attach %.1f ms, recording %.1f ms, detach %.1f ms; closed by %s\n",
			ow->g == PROBE_GROUP_MALLOC ? "libc" : "interpreter", (unsigned long long)ow->limit,
			(unsigned long long)all, (unsigned long long)tail, (ow->recording - ow->opened) * 1e3,
			(ow->closing - ow->recording) * 1e3, (ow->closed - ow->closing) * 1e3,
			full ? "its limit" : "time");
}

static bool is_full(const struct open_window *ow)
{
	return hits_now(ow->pw) - ow->h0 >= ow->limit;
}

/* How long to sleep between looks while a detach runs and another window
 * is still open: its own limit wakes us anyway, this only bounds how late
 * a window that filled meanwhile is seen. */
#define CLOSING_POLL_S 0.002

/* One window per group, sharing `limit` traps; each closes on its own
 * limit (BPF wakes us) or when max_window_s is up. Returns false to stop. */
static bool run_window(struct windows *w, struct probes *p, uint64_t limit, windows_wait_fn wait, void *ctx)
{
	struct open_window ow[PROBE_GROUP__COUNT] = {};
	enum wait_result r = WAIT_DEADLINE;
	double deadline = 0;
	int open_left = 0;

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
		open_left++;
	}
	if (w->fatal)
		return false;
	while (open_left) {
		bool any_full = false, any_closing = false;
		double until = deadline;

		for (int g = 0; g < PROBE_GROUP__COUNT; g++) {
			any_full |= ow[g].on && !ow[g].closing_now && is_full(&ow[g]);
			any_closing |= ow[g].closing_now;
		}
		if (any_closing && clock_s(CLOCK_MONOTONIC) + CLOSING_POLL_S < until)
			until = clock_s(CLOCK_MONOTONIC) + CLOSING_POLL_S;
		/* Attaching may have used a whole limit already (BPF then woke us). */
		if (!any_full && r != WAIT_STOP)
			r = wait(until, probes__window_fd(p), ctx);
		probes__window_drain(p);
		for (int g = 0; g < PROBE_GROUP__COUNT; g++) {
			if (ow[g].on && !ow[g].closing_now &&
			    (r == WAIT_STOP || is_full(&ow[g]) || clock_s(CLOCK_MONOTONIC) >= deadline)) {
				start_close(&ow[g]);
				open_left--;
			}
		}
	}
	for (int g = 0; g < PROBE_GROUP__COUNT; g++)
		if (ow[g].closing_now)
			finish_close(&ow[g]);
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
