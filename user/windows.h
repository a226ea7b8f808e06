/* SPDX-License-Identifier: MIT */
/* The sampled mode's clock: each period, open one window on each group of
 * the target's allocator probes, sharing the trap limit sampler.c allows,
 * close each as soon as its limit is reached (BPF wakes us) or it has been
 * open for max_window_s, then sweep the sampled blocks for the ones freed since
 * (liveness.c) while nothing is attached. */
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
	int fatal;                 /* the first window could not attach every group: a negative errno */
	int fatal_group;           /* ... the group that failed */
	bool verbose;              /* one line per window on stderr */
};

enum wait_result {
	WAIT_STOP,     /* signal, or the target is gone */
	WAIT_DEADLINE,
	WAIT_WOKEN,    /* wake_fd became readable */
};

/* Sleeps until `deadline` (monotonic seconds), or until wake_fd (when >= 0)
 * is readable. */
typedef enum wait_result (*windows_wait_fn)(double deadline, int wake_fd, void *ctx);

/* finalizing_addr: where the target says it is shutting down (0: unknown). */
void windows__init(struct windows *w, const struct sampler_opts *o, pid_t pid, uint32_t pool_size,
		   size_t max_pools, uint64_t finalizing_addr, double now_s);
/* The share of the target's allocations through group g that the windows
 * have seen so far; see sampler_time_share(). */
double windows__seen_share(const struct windows *w, int g, double elapsed_s);
/* One period, starting now. Returns false when `wait` asked to stop. */
bool windows__run_period(struct windows *w, struct probes *p, windows_wait_fn wait, void *ctx);

#endif
