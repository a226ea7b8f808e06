/* SPDX-License-Identifier: MIT */
/* Command-line options and their defaults. */
#ifndef PYLEAK_OPTS_H
#define PYLEAK_OPTS_H

#include <stdbool.h>
#include <sys/types.h>

#define DEFAULT_INTERVAL_S   2.0
#define DEFAULT_TOP          10
#define DEFAULT_CALLERS      3
#define DEFAULT_MAX_ALLOCS   (1u << 19) /* ~64 MiB of kernel memory at most */
#define DEFAULT_MAX_STACKS   (1u << 14)
#define DEFAULT_BTF_PATH     "/sys/kernel/btf/vmlinux"
#define DEFAULT_BUDGET_PCT   2.0
#define DEFAULT_PERIOD_S     4.0

struct pyleak_opts {
	pid_t pid;
	double interval_s;
	double duration_s; /* 0: until interrupted or the target exits */
	int top;
	int callers;       /* caller frames shown under each site */
	bool json;
	bool fail_on_leak;
	bool verbose;
	bool exact;        /* every allocation, all the time */
	double budget;     /* sampled mode: share of the target's time for traps */
	double period_s;   /* sampled mode: one window per period */
	unsigned int max_allocs;
	unsigned int max_stacks;
	const char *btf_path; /* NULL: the kernel's own */
};

/* Parses argv. Returns -1 to exit with *exit_code (help printed, or an error
 * already reported), 0 to run. */
int opts_parse(int argc, char **argv, struct pyleak_opts *o, int *exit_code);

#endif
