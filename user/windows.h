/* SPDX-License-Identifier: MIT */
/* The sampled mode's clock: each period, attach each group of allocator
 * probes for the window sampler.c allows, detach it, then sweep the sampled
 * blocks for the ones freed since (liveness.c) while nothing is attached. */
#ifndef PYLEAK_WINDOWS_H
#define PYLEAK_WINDOWS_H

#include <stdbool.h>
#include "liveness.h"
#include "probes.h"
#include "sampler.h"

struct windows {
	struct sampler policy;
	pid_t pid;
	uint32_t pool_size;
	size_t max_pools;          /* pool reads per sweep */
	uint64_t resume;           /* where the last bounded sweep stopped */
	uint64_t finalizing_addr;  /* _PyRuntime._finalizing; 0 if unknown */
	struct liveness_stats sweep; /* the last sweep */
	size_t swept_dead;         /* blocks found freed, in total */
	int attach_errors;         /* windows that failed to open (shown with -v) */
	int last_error;            /* negative errno of the last failure */
	bool verbose;              /* one line per period on stderr */
};

/* Sleeps until `deadline` (monotonic seconds) or earlier; returns false to
 * stop (signal, target gone). */
typedef bool (*windows_wait_fn)(double deadline, void *ctx);

/* finalizing_addr: where the target says it is shutting down (0: unknown). */
void windows__init(struct windows *w, const struct sampler_opts *o, pid_t pid, uint32_t pool_size,
		   size_t max_pools, uint64_t finalizing_addr);
/* One period, starting now. Returns false when `wait` asked to stop. */
bool windows__run_period(struct windows *w, struct probes *p, windows_wait_fn wait, void *ctx);

#endif
