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

/* Attaches every group; false when none would. The first window must
 * attach them all: it is the start-up check (w->fatal). */
static bool attach_all(struct windows *w, struct probes *p)
{
	bool any = false;

	for (int g = 0; g < PROBE_GROUP__COUNT; g++) {
		int err = probes__group_set(p, w->pid, g, true);

		if (err) {
			w->attach_errors++;
			w->last_error = err;
			if (!w->policy.sum.windows && !w->fatal) {
				w->fatal = err;
				w->fatal_group = g;
			}
			continue;
		}
		any = true;
	}
	if (w->fatal) {
		for (int g = 0; g < PROBE_GROUP__COUNT; g++)
			probes__group_set(p, w->pid, g, false);
		return false;
	}
	return any;
}

/* One window with a limit of `limit` traps. The limit is set before the
 * breakpoints go in, so traps taken while attaching count against it too;
 * recording starts once every group is in. Returns false to stop. */
static bool run_window(struct windows *w, struct probes *p, struct py_window *pw, uint64_t limit,
		       windows_wait_fn wait, void *ctx)
{
	uint64_t h0 = hits_now(pw), at_close, all, tail, attached_hits;
	double opened = clock_s(CLOCK_MONOTONIC), recording, closing, closed;
	enum wait_result r;
	bool full;

	__atomic_store_n(&pw->limit, h0 + limit, __ATOMIC_RELAXED);
	if (!attach_all(w, p))
		return !w->fatal;
	__atomic_store_n(&pw->open, 1, __ATOMIC_SEQ_CST);
	recording = clock_s(CLOCK_MONOTONIC);
	attached_hits = hits_now(pw) - h0;
	/* Attaching may have used the whole limit already (BPF then woke us). */
	r = hits_now(pw) - h0 >= limit ? WAIT_WOKEN
				       : wait(opened + w->policy.o.max_window_s, probes__window_fd(p), ctx);
	__atomic_store_n(&pw->open, 0, __ATOMIC_SEQ_CST);
	closing = clock_s(CLOCK_MONOTONIC);
	at_close = hits_now(pw) - h0;
	probes__window_drain(p);
	/* The hottest breakpoints go first (probes__group_set), and the
	 * interpreter's group before libc's, which is rarely hot. */
	for (int g = 0; g < PROBE_GROUP__COUNT; g++)
		probes__group_set(p, w->pid, g, false);
	closed = clock_s(CLOCK_MONOTONIC);
	all = hits_now(pw) - h0;
	full = at_close >= limit;
	tail = all - (full ? limit : at_close);
	sampler_window_done(&w->policy, opened, closed, all, tail, limit, full, closing - recording);
	if (w->verbose)
		fprintf(stderr, "pyleakbpf: window: limit %llu traps, took %llu (%llu attaching, %llu after it stopped recording); "
			"attach %.1f ms, recording %.1f ms (%llu traps at the close), detach %.1f ms; closed by %s\n",
			(unsigned long long)limit, (unsigned long long)all, (unsigned long long)attached_hits,
			(unsigned long long)tail, (recording - opened) * 1e3, (closing - recording) * 1e3,
			(unsigned long long)at_close, (closed - closing) * 1e3, full ? "its limit" : "time");
	return r != WAIT_STOP;
}

double windows__seen_share(const struct windows *w, double elapsed_s)
{
	return sampler_time_share(&w->policy, elapsed_s);
}

bool windows__run_period(struct windows *w, struct probes *p, windows_wait_fn wait, void *ctx)
{
	double start = clock_s(CLOCK_MONOTONIC);
	struct py_window *pw = probes__window(p, w->pid);
	uint64_t limit = sampler_next_limit(&w->policy, start);
	bool go = true;

	if (limit && pw)
		go = run_window(w, p, pw, limit, wait, ctx);
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
