// SPDX-License-Identifier: MIT
/* pyleakbpf: find memory leaks in a running CPython process from outside.
 * Open, configure, load, attach, poll, report; one cleanup path. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "clock.h"
#include "escape.h"
#include "exitcodes.h"
#include "opts.h"
#include "preflight.h"
#include "probes.h"
#include "procfs.h"
#include "pytarget.h"
#include "report.h"
#include "session.h"
#include "windows.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

static int exit_for_find(int err)
{
	switch (err) {
	case -ESRCH:
		return EXIT_NO_PROCESS;
	case -ENOENT:
		return EXIT_NOT_PYTHON;
	case -ENOTSUP:
		return EXIT_UNSUPPORTED;
	case -EACCES:
	case -EPERM:
		return EXIT_PRIVILEGE;
	default:
		return EXIT_INTERNAL;
	}
}

static int exit_for_bpf(int err)
{
	return err == -EPERM || err == -EACCES ? EXIT_PRIVILEGE : EXIT_BPF;
}

/* Sleeps until `deadline` (monotonic), a signal, the target's exit, or
 * wake_fd (>= 0) being readable. The pidfd makes an exit end the wait at
 * once, so the final report comes while the maps still hold the last
 * allocations. */
static enum wait_result wait_until(double deadline, int pidfd, int wake_fd)
{
	struct pollfd pfd[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = wake_fd, .events = POLLIN } };
	double left;

	while (!stop_signal && (left = deadline - clock_s(CLOCK_MONOTONIC)) > 0) {
		/* Without a pidfd, exits are noticed within 10 ms. */
		int ms = pidfd >= 0 ? (int)(left * 1000) + 1 : (left > 0.01 ? 10 : 1);

		if (poll(pfd, 2, ms) > 0) {
			if (pfd[0].revents)
				return WAIT_STOP;
			if (pfd[1].revents)
				return WAIT_WOKEN;
		}
	}
	return stop_signal ? WAIT_STOP : WAIT_DEADLINE;
}

/* Pool reads per sweep: 2048 x 16 KiB bounds a sweep to ~32 MiB of copying. */
#define SWEEP_MAX_POOLS 2048
/* A window that may take fewer traps than this records too little to be
 * worth the breakpoints it writes and removes. */
#define WINDOW_MIN_HITS 200


/* Every trap since attach over the time since: allocator probes (windows,
 * their attach and detach included) and GC probes. */
static double trap_cost(const struct session *s, double trap_cost_s, double elapsed)
{
	uint64_t hits = s->counters[PYC_HITS_PYMALLOC] + s->counters[PYC_HITS_MALLOC] + s->counters[PYC_HITS_GC];

	return elapsed > 0 ? hits * trap_cost_s / elapsed : 0;
}

static void emit(const struct session *s, const struct pyleak_opts *opts, const struct report_opts *ro,
		 bool final)
{
	if (opts->json)
		report_json(stdout, s, ro, final);
	else
		report_human(stdout, s, ro, final);
}

/* What the main loop carries from report to report. */
struct run {
	struct session *sess;
	struct probes *probes;
	struct windows *windows; /* NULL in exact mode */
	const struct pyleak_opts *opts;
	const struct report_opts *ro;
	double trap_cost_s;
	double next_report;      /* monotonic */
	int pidfd;
	bool final;
};

/* The next report is one interval on, but never past the end of -d. */
static void schedule_next_report(struct run *r)
{
	double end = r->sess->start + r->opts->duration_s;

	r->next_report += r->opts->interval_s;
	if (r->opts->duration_s > 0 && r->next_report > end)
		r->next_report = end;
}

static void report_now(struct run *r)
{
	struct session *s = r->sess;
	double now = clock_s(CLOCK_MONOTONIC);

	if (r->windows) {
		double share[PROBE_GROUP__COUNT];

		for (int g = 0; g < PROBE_GROUP__COUNT; g++)
			share[g] = windows__seen_share(r->windows, g, now - s->start);
		session__set_sampling(s, share, &r->windows->policy.sum, r->windows->swept_dead);
	}
	session__poll(s, r->probes, now, clock_s(CLOCK_REALTIME));
	s->overhead = trap_cost(s, r->trap_cost_s, s->elapsed);
	r->final = stop_signal || s->exited || (r->opts->duration_s > 0 && s->elapsed >= r->opts->duration_s - 1e-3);
	emit(s, r->opts, r->ro, r->final);
	schedule_next_report(r);
}

/* Sleeps until `deadline`, reporting whenever a report is due on the way
 * (the sampling windows call this to wait), or until wake_fd is readable. */
static enum wait_result wait_reporting(double deadline, int wake_fd, void *arg)
{
	struct run *r = arg;

	while (!r->final) {
		double until = deadline < r->next_report ? deadline : r->next_report;
		enum wait_result w = wait_until(until, r->pidfd, wake_fd);

		if (w == WAIT_STOP || clock_s(CLOCK_MONOTONIC) >= r->next_report)
			report_now(r);
		if (w == WAIT_WOKEN)
			return r->final ? WAIT_STOP : WAIT_WOKEN;
		if (clock_s(CLOCK_MONOTONIC) >= deadline)
			break;
	}
	return r->final ? WAIT_STOP : WAIT_DEADLINE;
}

int main(int argc, char **argv)
{
	struct probes_opts popts = {};
	struct pyleak_opts opts;
	struct report_opts ro;
	struct probes_attached att;
	struct probes *probes = NULL;
	struct session sess;
	struct windows win, *windows = NULL;
	struct sampler_opts so = {};
	struct py_interp *py = NULL;
	bool have_session = false;
	struct run run;
	char why[PATH_MAX + 256] = "";
	int ret, err, pidfd = -1;
	pid_t tgid;

	if (opts_parse(argc, argv, &opts, &ret))
		return ret;
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);

	ret = preflight_privileges(why, sizeof(why));
	if (ret)
		goto fail;
	if (proc_alive(opts.pid) || proc_tgid(opts.pid, &tgid)) {
		snprintf(why, sizeof(why), "no process with pid %d", opts.pid);
		ret = EXIT_NO_PROCESS;
		goto fail;
	}
	/* A thread id (from top -H, say): the probes filter on the process. */
	if (tgid != opts.pid) {
		fprintf(stderr, "pyleakbpf: %d is a thread of process %d: observing %d\n", opts.pid, tgid, tgid);
		opts.pid = tgid;
	}
	/* Before anything is read: from here on, a process that exits and
	 * leaves its number to another is never read in its place. */
	pidfd = proc_pin(opts.pid);
	if (pidfd < 0) {
		snprintf(why, sizeof(why), pidfd == -ESRCH ? "no process with pid %d" :
			 "cannot open a pidfd for process %d: %s", opts.pid, strerror(-pidfd));
		ret = pidfd == -ESRCH ? EXIT_NO_PROCESS : EXIT_INTERNAL;
		goto fail;
	}
	py = calloc(1, sizeof(*py));
	if (!py) {
		ret = EXIT_INTERNAL;
		goto cleanup;
	}
	err = py_interp_find(opts.pid, py, why, sizeof(why));
	if (!err)
		err = py_interp_verify(py, why, sizeof(why));
	if (err) {
		ret = exit_for_find(err);
		goto fail;
	}
	ret = preflight_btf(opts.btf_path, why, sizeof(why));
	if (ret)
		goto fail;

	popts.max_allocs = opts.max_allocs;
	popts.max_stacks = opts.max_stacks;
	popts.btf_path = opts.btf_path;
	popts.verbose = opts.verbose;
	probes = probes__new(&popts, &err);
	if (!probes) {
		snprintf(why, sizeof(why), "cannot load the BPF programs: %s%s", strerror(-err),
			 opts.verbose ? "" : " (run with -v for libbpf's log)");
		ret = exit_for_bpf(err);
		goto fail;
	}
	so.budget = opts.budget;
	so.period_s = opts.period_s;
	so.max_window_s = opts.period_s / 2;
	so.min_hits = WINDOW_MIN_HITS;
	err = probes__trap_cost(probes, &so.trap_cost_s);
	if (err) {
		snprintf(why, sizeof(why), "uprobes do not work here: a probe on this program %s",
			 err == -EIO ? "never fired" : strerror(-err));
		ret = exit_for_bpf(err);
		goto fail;
	}
	err = probes__attach(probes, py, opts.exact, &att, why, sizeof(why));
	if (err) {
		ret = proc_pin_check(opts.pid) ? EXIT_NO_PROCESS : exit_for_bpf(err);
		goto fail;
	}
	if (proc_pin_verify(opts.pid)) {
		snprintf(why, sizeof(why), "process %d exited during attach", opts.pid);
		ret = EXIT_NO_PROCESS;
		goto fail;
	}
	if (session__init(&sess, py, &att, clock_s(CLOCK_MONOTONIC))) {
		ret = EXIT_INTERNAL;
		goto cleanup;
	}
	have_session = true;
	sess.trap_cost_s = so.trap_cost_s;
	if (!opts.exact) {
		uint32_t fin = py->layout.bpf.runtime_finalizing;

		windows__init(&win, &so, opts.pid, py->layout.pool_size, SWEEP_MAX_POOLS,
			      fin == PY_OFF_NONE ? 0 : py->runtime_addr + fin, clock_s(CLOCK_MONOTONIC));
		win.verbose = opts.verbose;
		windows = &win;
		session__set_sampling(&sess, (double[PROBE_GROUP__COUNT]){ 0, 0 }, &win.policy.sum, 0);
		sess.budget = opts.budget;
	}

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	ro.top = opts.top;
	ro.callers = opts.callers;
	ro.clear_screen = !opts.json && isatty(STDOUT_FILENO);
	ro.budget = opts.budget;
	report_attach(stderr, &sess, &ro);

	run = (struct run){ .sess = &sess, .probes = probes, .windows = windows, .opts = &opts, .ro = &ro,
			    .trap_cost_s = so.trap_cost_s, .pidfd = pidfd, .next_report = sess.start };
	schedule_next_report(&run);
	while (!run.final) {
		if (!windows) {
			wait_reporting(run.next_report, -1, &run);
		} else if (!windows__run_period(windows, probes, wait_reporting, &run) && windows->fatal) {
			probes__attach_error(windows->fatal_group, opts.pid, windows->fatal, why, sizeof(why));
			ret = proc_pin_check(opts.pid) ? EXIT_NO_PROCESS : exit_for_bpf(windows->fatal);
			goto fail;
		}
	}
	if (sess.exited)
		fprintf(stderr, "pyleakbpf: pid %d exited; final report above\n", opts.pid);
	ret = opts.fail_on_leak && sess.leak ? EXIT_LEAK : EXIT_OK;
	goto cleanup;

fail:
	/* Every error message ends here, and many embed the target's paths
	 * and version: escaped once, here, rather than at each snprintf. */
	fputs("pyleakbpf: ", stderr);
	esc_fputs(ESC_TERM, stderr, why);
	fputc('\n', stderr);
cleanup:
	if (pidfd >= 0)
		proc_unpin(opts.pid);
	if (have_session)
		session__free(&sess);
	probes__free(probes);
	if (py)
		py_interp_release(py);
	free(py);
	return ret;
}
