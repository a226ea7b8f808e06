// SPDX-License-Identifier: MIT
/* Attach, wait, detach, sweep: one sampling period; see windows.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "clock.h"
#include "procfs.h"
#include "windows.h"

void windows__init(struct windows *w, const struct sampler_opts *o, pid_t pid, uint32_t pool_size,
		   size_t max_pools, uint64_t finalizing_addr)
{
	memset(w, 0, sizeof(*w));
	sampler_init(&w->policy, o, PROBE_GROUP__COUNT);
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

bool windows__run_period(struct windows *w, struct probes *p, windows_wait_fn wait, void *ctx)
{
	double start = clock_s(CLOCK_MONOTONIC), opened[PROBE_GROUP__COUNT], closes[PROBE_GROUP__COUNT];
	uint64_t hits0[PROBE_GROUP__COUNT];
	bool on[PROBE_GROUP__COUNT] = {}, go = true;
	int left = 0, err;

	for (int g = 0; g < PROBE_GROUP__COUNT; g++) {
		hits0[g] = probes__group_hits(p, g);
		opened[g] = clock_s(CLOCK_MONOTONIC);
		err = probes__group_set(p, w->pid, g, true);
		if (err) {
			w->attach_errors++;
			w->last_error = err;
			continue;
		}
		on[g] = true;
		closes[g] = opened[g] + w->policy.g[g].window_s;
		left++;
	}
	/* Close the windows in the order they end. */
	while (left) {
		int next = -1;
		uint64_t hits;
		double closing;

		for (int g = 0; g < PROBE_GROUP__COUNT; g++)
			if (on[g] && (next < 0 || closes[g] < closes[next]))
				next = g;
		if (go)
			go = wait(closes[next], ctx);
		/* Detaching takes ~0.1 s here: every breakpoint is written out
		 * of the target's text in turn, and the target keeps hitting
		 * the rest meanwhile. Those hits are cost, counted in the
		 * total, but the rate that sizes the window is the one seen
		 * while the window was open. */
		closing = clock_s(CLOCK_MONOTONIC);
		hits = probes__group_hits(p, next) - hits0[next];
		probes__group_set(p, w->pid, next, false);
		on[next] = false;
		left--;
		sampler_record(&w->policy, next, closing - opened[next], hits,
			       probes__group_hits(p, next) - hits0[next]);
	}
	if (go)
		sweep(w, p);
	if (go)
		go = wait(start + w->policy.o.period_s, ctx);
	sampler_period_done(&w->policy, clock_s(CLOCK_MONOTONIC) - start);
	if (w->verbose)
		fprintf(stderr, "pyleakbpf: period %.3fs: windows %.1f/%.1f ms, rates %.0f/%.0f hits/s, swept %zu (%zu freed)%s%s\n",
			clock_s(CLOCK_MONOTONIC) - start, w->policy.g[0].window_s * 1e3, w->policy.g[1].window_s * 1e3,
			w->policy.g[0].rate, w->policy.g[1].rate, w->sweep.checked, w->sweep.dead,
			w->attach_errors ? "; a window failed to open: " : "",
			w->attach_errors ? strerror(-w->last_error) : "");
	sampler_plan(&w->policy);
	return go;
}
