// SPDX-License-Identifier: MIT
/* BPF object lifecycle: open, size the maps, load, attach, read. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "clock.h"
#include "escape.h"
#include "procfs.h"
#include "probes.h"
#include "pyleak.skel.h"

/* Links that stay for the whole run: GC and RSS probes. */
#define MAX_LINKS 64

/* uprobe_multi (Linux 6.6) postdates the libbpf this builds against, so the
 * link is made with the raw syscall. Layout of union bpf_attr's link_create. */
#define BPF_TRACE_UPROBE_MULTI_NR 48
#define BPF_F_UPROBE_MULTI_RETURN_NR 1

/* A group's probe points in one file: one uprobe_multi link for the entries,
 * one for the returns. Closing a link waits for an RCU grace period (~0.1 s
 * here) however many probes it holds; with one perf-event link per probe,
 * closing a window on an LTO interpreter took seconds. */
struct probe_group_state {
	const char *path;
	uint64_t *offsets, *cookies;   /* entries */
	uint64_t *roffsets, *rcookies; /* returns */
	size_t n, rn, cap, rcap;
	int hot_fd, cold_fd, return_fd; /* entries split by heat, returns; -1 when detached */
	size_t nhot;                    /* entries in the hot link: the first of `offsets` */
	bool on;
};

struct probe_target {
	pid_t pid;
	char python_path[PATH_MAX];
	char libc_path[PATH_MAX];
	struct probe_group_state groups[PROBE_GROUP__COUNT];
};

struct probes {
	struct pyleak_bpf *skel;
	struct ring_buffer *window_full; /* wakes the loader when a window's limit is reached */
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	struct probe_target *targets;
	int ntargets;
	uint32_t npoints; /* slots of the points map in use */
	int ncpus;
	bool rss_attached;
	bool verbose;
};

/* libbpf's messages name the target's files and symbols: escaped. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return esc_vfprintf_lines(stderr, fmt, args);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return 0;
}

/* The record only wakes the loader's epoll; the window is read from .bss. */
static int window_full_event(void *ctx, void *data, size_t size)
{
	return 0;
}

struct probes *probes__new(const struct probes_opts *opts, int *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, open_opts, .btf_custom_path = opts->btf_path);
	struct probes *p;
	uint64_t zero_id = PY_OVERFLOW_STACK_ID;
	struct site_stats zero = {};

	libbpf_set_print(opts->verbose ? libbpf_print : libbpf_quiet);
	p = calloc(1, sizeof(*p));
	if (!p) {
		*err = -ENOMEM;
		return NULL;
	}
	p->verbose = opts->verbose;
	p->ncpus = libbpf_num_possible_cpus();
	if (p->ncpus <= 0) {
		*err = p->ncpus ? p->ncpus : -EINVAL;
		goto fail;
	}
	p->skel = pyleak_bpf__open_opts(&open_opts);
	if (!p->skel) {
		*err = -errno;
		goto fail;
	}
	p->skel->rodata->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	/* Attached only through uprobe_multi links (see probe_group_state). */
	bpf_program__set_expected_attach_type(p->skel->progs.point_hit, BPF_TRACE_UPROBE_MULTI_NR);
	bpf_program__set_expected_attach_type(p->skel->progs.point_return, BPF_TRACE_UPROBE_MULTI_NR);
	bpf_program__set_autoattach(p->skel->progs.point_hit, false);
	bpf_program__set_autoattach(p->skel->progs.point_return, false);
	bpf_map__set_max_entries(p->skel->maps.allocs, opts->max_allocs);
	bpf_map__set_max_entries(p->skel->maps.stacks, opts->max_stacks);
	/* +1: the overflow site always has its slot. */
	bpf_map__set_max_entries(p->skel->maps.site_stats, opts->max_stacks + 1);
	*err = pyleak_bpf__load(p->skel);
	if (*err)
		goto fail;
	*err = bpf_map__update_elem(p->skel->maps.site_stats, &zero_id, sizeof(zero_id), &zero,
				    sizeof(zero), BPF_NOEXIST);
	if (*err)
		goto fail;
	p->window_full = ring_buffer__new(bpf_map__fd(p->skel->maps.window_full), window_full_event, NULL, NULL);
	if (!p->window_full) {
		*err = -errno;
		goto fail;
	}
	return p;
fail:
	probes__free(p);
	return NULL;
}

static int keep_link(struct probes *p, struct bpf_link *link)
{
	if (!link)
		return -errno;
	if (p->nlinks == MAX_LINKS) {
		bpf_link__destroy(link);
		return -E2BIG;
	}
	p->links[p->nlinks++] = link;
	return 0;
}

static struct bpf_link *attach_uprobe(struct bpf_program *prog, bool ret, pid_t pid, const char *path,
				      uint64_t off, uint64_t cookie)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = ret, .bpf_cookie = cookie);

	return bpf_program__attach_uprobe_opts(prog, pid, path, off, &uo);
}


struct link_create_uprobe_multi {
	uint32_t prog_fd;
	uint32_t target_fd;
	uint32_t attach_type;
	uint32_t flags;
	uint64_t path;
	uint64_t offsets;
	uint64_t ref_ctr_offsets;
	uint64_t cookies;
	uint32_t cnt;
	uint32_t um_flags;
	uint32_t pid;
};

static int uprobe_multi(struct bpf_program *prog, pid_t pid, const char *path, const uint64_t *offsets,
			const uint64_t *cookies, size_t n, bool ret)
{
	/* Sized like the kernel's union bpf_attr; the tail stays zero. */
	union {
		struct link_create_uprobe_multi lc;
		uint8_t bytes[256];
	} attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.lc.prog_fd = (uint32_t)bpf_program__fd(prog);
	attr.lc.attach_type = BPF_TRACE_UPROBE_MULTI_NR;
	attr.lc.path = (uint64_t)(uintptr_t)path;
	attr.lc.offsets = (uint64_t)(uintptr_t)offsets;
	attr.lc.cookies = (uint64_t)(uintptr_t)cookies;
	attr.lc.cnt = (uint32_t)n;
	attr.lc.um_flags = ret ? BPF_F_UPROBE_MULTI_RETURN_NR : 0;
	attr.lc.pid = (uint32_t)pid;
	fd = (int)syscall(__NR_bpf, BPF_LINK_CREATE, &attr, sizeof(attr));
	return fd < 0 ? -errno : fd;
}

static struct probe_target *find_target(struct probes *p, pid_t pid)
{
	for (int i = 0; i < p->ntargets; i++)
		if (p->targets[i].pid == pid)
			return &p->targets[i];
	return NULL;
}

static int grow(uint64_t **a, uint64_t **b, size_t *cap, size_t n)
{
	size_t ncap = *cap ? *cap * 2 : 64;
	uint64_t *x, *y;

	if (n < *cap)
		return 0;
	x = realloc(*a, ncap * sizeof(*x));
	if (!x)
		return -ENOMEM;
	*a = x;
	y = realloc(*b, ncap * sizeof(*y));
	if (!y)
		return -ENOMEM;
	*b = y;
	*cap = ncap;
	return 0;
}

/* Registers one probe point: its description in the points map, and its
 * offset in the group's entry list (and return list). */
static int add_point(struct probes *p, struct probe_group_state *g, const struct py_point *pt, uint64_t off,
		     bool with_return)
{
	uint32_t idx = p->npoints;
	int err;

	if (idx >= PY_MAX_POINTS)
		return -E2BIG;
	err = bpf_map__update_elem(p->skel->maps.points, &idx, sizeof(idx), pt, sizeof(*pt), BPF_ANY);
	if (!err)
		err = grow(&g->offsets, &g->cookies, &g->cap, g->n);
	if (!err && with_return)
		err = grow(&g->roffsets, &g->rcookies, &g->rcap, g->rn);
	if (err)
		return err;
	p->npoints++;
	g->offsets[g->n] = off;
	g->cookies[g->n++] = idx;
	if (with_return) {
		g->roffsets[g->rn] = off;
		g->rcookies[g->rn++] = idx;
	}
	return 0;
}

static struct py_operand reg_arg(int slot)
{
	return (struct py_operand){ .base = (int8_t)slot, .index = PY_REG_NONE };
}

/* An exported allocator function as a probe point: SysV arguments. */
static struct py_point function_point(const struct py_func_info *fn)
{
	struct py_point pt = { .arg = { reg_arg(PY_REG_DI), reg_arg(PY_REG_NONE) },
			       .source = (uint32_t)fn->source };

	switch (fn->kind) {
	case PYF_KIND_MALLOC:
		pt.kind = PY_PT_MALLOC;
		break;
	case PYF_KIND_CALLOC:
		pt.kind = PY_PT_CALLOC;
		pt.arg[1] = reg_arg(PY_REG_SI);
		break;
	case PYF_KIND_REALLOC:
		pt.kind = PY_PT_REALLOC;
		pt.arg[1] = reg_arg(PY_REG_SI);
		break;
	case PYF_KIND_FREE:
		pt.kind = PY_PT_FREE;
		break;
	}
	return pt;
}

/* On an LTO build the exported malloc and free are one more guarded copy,
 * already among the guard sites: probing their entries too would trap twice. */
static bool covered_by_guards(const struct py_interp *py, const struct py_func_info *fn)
{
	return py->guards.nsites && fn->lib == PYLIB_PYTHON &&
	       (fn->kind == PYF_KIND_MALLOC || fn->kind == PYF_KIND_FREE);
}

static int plan_functions(struct probes *p, const struct py_interp *py, struct probe_target *t, bool frees,
			  struct probes_attached *out)
{
	int err = 0;

	for (int i = 0; i < PYF__COUNT && !err; i++) {
		const struct py_func_info *fn = &py_funcs[i];
		bool libc = fn->lib == PYLIB_LIBC;
		struct py_point pt = function_point(fn);

		if (!py->func_off[i] || covered_by_guards(py, fn) || (!frees && fn->kind == PYF_KIND_FREE))
			continue;
		err = add_point(p, &t->groups[libc ? PROBE_GROUP_MALLOC : PROBE_GROUP_PYMALLOC], &pt,
				py->func_off[i], fn->kind != PYF_KIND_FREE);
		if (libc)
			out->libc_funcs++;
		else
			out->alloc_funcs++;
	}
	return err;
}

static int plan_guards(struct probes *p, const struct py_interp *py, struct probe_target *t, bool frees,
		       struct probes_attached *out)
{
	int err = 0;

	for (size_t i = 0; i < py->guards.nsites && !err; i++) {
		const struct guard_site *site = &py->guards.sites[i];
		struct py_point pt = { .arg = { site->op, reg_arg(PY_REG_NONE) },
				       .kind = site->kind == GUARD_FREE ? PY_PT_FREE : PY_PT_GUARD_ALLOC,
				       .source = PY_SRC_PYMALLOC };

		if (site->kind == GUARD_FREE && !frees)
			continue;
		err = add_point(p, &t->groups[PROBE_GROUP_PYMALLOC], &pt, site->offset, false);
		out->guard_sites++;
	}
	return err;
}

/* The hottest entry points of a group get a link of their own. Putting
 * breakpoints in and taking them out are both slow while the target traps
 * (~1.7 ms a point on Debian's LTO python3.11 under load, and each closed
 * link then waits for an RCU grace period), and a link does both in array
 * order. So the many cold points go in first and come out last, and the few
 * hot ones are in place only while the window records. */
#define HOT_POINTS 16

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* The hot link goes first. (Closing whichever link took more traps in this
 * window first was tried: in a first busy window, whose split was a guess,
 * it made the detach trap ten times more, since removing the many cold
 * points one by one is slow and the hot ones among them keep trapping.) */
static void *close_in_thread(void *arg)
{
	close_fd(arg);
	return NULL;
}

static void group_off(struct probe_group_state *g)
{
	pthread_t th;
	bool threaded = g->return_fd >= 0 && !pthread_create(&th, NULL, close_in_thread, &g->return_fd);

	close_fd(&g->hot_fd);
	if (threaded)
		pthread_join(th, NULL);
	close_fd(&g->return_fd);
	close_fd(&g->cold_fd);
	g->on = false;
}

/* Orders a group's points hottest first, by their traps so far (BPF's
 * point_hits); see HOT_POINTS. */
static void sort_hottest_first(const uint64_t *hits, uint64_t *offsets, uint64_t *cookies, size_t n)
{
	/* Insertion sort: a few hundred points, nearly sorted after the first window. */
	for (size_t i = 1; i < n; i++) {
		uint64_t off = offsets[i], ck = cookies[i];
		uint64_t h = ck < PY_MAX_POINTS ? hits[ck] : 0;
		size_t j = i;

		for (; j > 0 && (cookies[j - 1] < PY_MAX_POINTS ? hits[cookies[j - 1]] : 0) < h; j--) {
			offsets[j] = offsets[j - 1];
			cookies[j] = cookies[j - 1];
		}
		offsets[j] = off;
		cookies[j] = ck;
	}
}

int probes__group_set(struct probes *p, pid_t pid, enum probe_group grp, bool on)
{
	struct probe_target *t = find_target(p, pid);
	struct probe_group_state *g;
	size_t nhot;
	int fd;

	if (!t)
		return -ENOENT;
	g = &t->groups[grp];
	if (!on) {
		group_off(g);
		return 0;
	}
	if (g->on || !g->n)
		return 0;
	sort_hottest_first((const uint64_t *)p->skel->bss->point_hits, g->offsets, g->cookies, g->n);
	sort_hottest_first((const uint64_t *)p->skel->bss->point_hits, g->roffsets, g->rcookies, g->rn);
	/* Returns first: a return without its entry is ignored, whereas an
	 * entry without its return would leave a stale pending call. */
	if (g->rn) {
		fd = uprobe_multi(p->skel->progs.point_return, pid, g->path, g->roffsets, g->rcookies, g->rn, true);
		if (fd < 0)
			return fd;
		g->return_fd = fd;
	}
	g->nhot = nhot = g->n < HOT_POINTS ? g->n : HOT_POINTS;
	if (g->n > nhot) {
		fd = uprobe_multi(p->skel->progs.point_hit, pid, g->path, g->offsets + nhot, g->cookies + nhot,
				  g->n - nhot, false);
		if (fd < 0) {
			group_off(g);
			return fd;
		}
		g->cold_fd = fd;
	}
	fd = uprobe_multi(p->skel->progs.point_hit, pid, g->path, g->offsets, g->cookies, nhot, false);
	if (fd < 0) {
		group_off(g);
		return fd;
	}
	g->hot_fd = fd;
	g->on = true;
	return 0;
}

struct py_window *probes__window(struct probes *p, pid_t pid, enum probe_group g)
{
	struct probe_target *t = find_target(p, pid);

	return t ? &p->skel->bss->windows[(t - p->targets) * PY_SOURCES + g] : NULL;
}

int probes__window_fd(struct probes *p)
{
	return ring_buffer__epoll_fd(p->window_full);
}

void probes__window_drain(struct probes *p)
{
	ring_buffer__consume(p->window_full);
}

/* GC is reported when it can be seen; a failure here degrades the report
 * ("gc": null) rather than ending the run. */
static void attach_gc(struct probes *p, const struct py_interp *py, struct probes_attached *out)
{
	struct pyleak_bpf *skel = p->skel;

	if (py->gc_usdt) {
		if (!keep_link(p, bpf_program__attach_usdt(skel->progs.gc_start_usdt, py->pid, py->host_path,
							   "python", "gc__start", NULL)) &&
		    !keep_link(p, bpf_program__attach_usdt(skel->progs.gc_done_usdt, py->pid, py->host_path,
							   "python", "gc__done", NULL))) {
			out->gc = true;
			snprintf(out->gc_how, sizeof(out->gc_how), "usdt python:gc__start/gc__done");
		}
		return;
	}
	if (py->gc_main_off &&
	    !keep_link(p, attach_uprobe(skel->progs.gc_main_enter, false, py->pid, py->host_path, py->gc_main_off, 0)) &&
	    !keep_link(p, attach_uprobe(skel->progs.gc_main_return, true, py->pid, py->host_path, py->gc_main_off, 0))) {
		out->gc = true;
		snprintf(out->gc_how, sizeof(out->gc_how), "uprobe %s", py->layout.gc_main);
	}
}

static struct probe_target *new_target(struct probes *p, const struct py_interp *py)
{
	struct probe_target *t = realloc(p->targets, (p->ntargets + 1) * sizeof(*t));

	if (!t)
		return NULL;
	p->targets = t;
	t = &p->targets[p->ntargets++];
	memset(t, 0, sizeof(*t));
	t->pid = py->pid;
	snprintf(t->python_path, sizeof(t->python_path), "%s", py->host_path);
	snprintf(t->libc_path, sizeof(t->libc_path), "%s", py->libc_host_path);
	for (int g = 0; g < PROBE_GROUP__COUNT; g++)
		t->groups[g].hot_fd = t->groups[g].cold_fd = t->groups[g].return_fd = -1;
	t->groups[PROBE_GROUP_PYMALLOC].path = t->python_path;
	t->groups[PROBE_GROUP_MALLOC].path = t->libc_path;
	return t;
}

/* Frees are probed in exact mode only. Sampled, they would be half the
 * traps and every breakpoint adds to what opening and closing a window
 * costs; the sweeps find freed blocks instead. */
static int plan_allocators(struct probes *p, const struct py_interp *py, bool frees, struct probes_attached *out,
			   char *why, size_t whylen)
{
	struct probe_target *t = new_target(p, py);
	int err;

	if (!t)
		return -ENOMEM;
	err = plan_guards(p, py, t, frees, out);
	if (!err)
		err = plan_functions(p, py, t, frees, out);
	if (err) {
		snprintf(why, whylen, "cannot plan the allocator probes of %s: %s", py->path, strerror(-err));
		return err;
	}
	if (!out->alloc_funcs && !out->guard_sites) {
		snprintf(why, whylen, "%s exports none of the allocator functions (PyObject_Malloc, ...)",
			 py->path);
		return -ENOENT;
	}
	return 0;
}

void probes__attach_error(enum probe_group g, pid_t pid, int err, char *why, size_t whylen)
{
	snprintf(why, whylen, "cannot attach the %s probes of pid %d: %s%s",
		 g == PROBE_GROUP_MALLOC ? "libc malloc" : "allocator", pid, strerror(-err),
		 err == -EINVAL || err == -EOPNOTSUPP ? " (uprobe_multi links need Linux 6.6 or later)" : "");
}

/* --exact: attaches every group for good, so a probe that cannot attach
 * fails the start. */
static int check_groups(struct probes *p, pid_t pid, char *why, size_t whylen)
{
	for (int g = 0; g < PROBE_GROUP__COUNT; g++) {
		int err = probes__group_set(p, pid, g, true);

		if (err) {
			probes__attach_error(g, pid, err, why, whylen);
			return err;
		}
	}
	return 0;
}

int probes__attach(struct probes *p, const struct py_interp *py, bool allocators_on,
		   struct probes_attached *out, char *why, size_t whylen)
{
	struct py_target target = { .runtime_addr = py->runtime_addr, .off = py->layout.bpf,
				    .slot = (uint32_t)p->ntargets };
	struct gc_state gc = {};
	struct rss_state rss = {};
	uint32_t tgid = (uint32_t)py->pid;
	int err;

	memset(out, 0, sizeof(*out));
	if (p->ntargets >= PY_MAX_TARGETS) {
		snprintf(why, whylen, "cannot observe more than %d processes at once", PY_MAX_TARGETS);
		return -E2BIG;
	}
	for (int g = 0; g < PY_SOURCES; g++) {
		struct py_window *w = &p->skel->bss->windows[target.slot * PY_SOURCES + g];

		memset(w, 0, sizeof(*w));
		/* --exact records every allocation: one window, never full. */
		if (allocators_on) {
			w->limit = UINT64_MAX;
			w->open = 1;
		}
	}
	target.usedpools = py->usedpools_addr;
	/* rss_stat only reports counters that change: start from /proc's view. */
	proc_rss_parts(py->pid, (uint64_t *)&rss.bytes[PY_MM_FILEPAGES], (uint64_t *)&rss.bytes[PY_MM_ANONPAGES],
		       (uint64_t *)&rss.bytes[PY_MM_SHMEMPAGES]);
	snprintf(out->gc_how, sizeof(out->gc_how), "not observable: no USDT probes and no %s symbol",
		 py->layout.gc_main);
	err = bpf_map__update_elem(p->skel->maps.targets, &tgid, sizeof(tgid), &target, sizeof(target),
				   BPF_ANY);
	if (!err)
		err = bpf_map__update_elem(p->skel->maps.gc_states, &tgid, sizeof(tgid), &gc, sizeof(gc),
					   BPF_ANY);
	if (!err)
		err = bpf_map__update_elem(p->skel->maps.rss_states, &tgid, sizeof(tgid), &rss, sizeof(rss),
					   BPF_ANY);
	if (err) {
		snprintf(why, whylen, "cannot register pid %d in the BPF maps: %s", py->pid, strerror(-err));
		return err;
	}
	err = plan_allocators(p, py, allocators_on, out, why, whylen);
	/* Sampled, the first window is the check (windows.c): a check of its
	 * own would trap on breakpoints not yet ordered hottest first. */
	if (!err && allocators_on)
		err = check_groups(p, py->pid, why, whylen);
	if (err)
		return err;
	attach_gc(p, py, out);
	if (!p->rss_attached)
		p->rss_attached = !keep_link(p, bpf_program__attach(p->skel->progs.rss_stat));
	out->rss = p->rss_attached;
	return 0;
}

void probes__free(struct probes *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->ntargets; i++) {
		for (int g = 0; g < PROBE_GROUP__COUNT; g++) {
			struct probe_group_state *gs = &p->targets[i].groups[g];

			group_off(gs);
			free(gs->offsets);
			free(gs->cookies);
			free(gs->roffsets);
			free(gs->rcookies);
		}
	}
	free(p->targets);
	ring_buffer__free(p->window_full);
	for (int i = 0; i < p->nlinks; i++)
		bpf_link__destroy(p->links[i]);
	pyleak_bpf__destroy(p->skel);
	free(p);
}

/* Entries per batched read of the allocs map: one syscall per batch rather
 * than two per entry keeps a sweep of 100k samples at a few milliseconds. */
#define LIST_BATCH 4096

static int append_allocs(struct tracked_alloc **a, size_t *n, size_t *cap, pid_t pid,
			 const struct alloc_key *keys, const struct alloc_info *vals, uint32_t count)
{
	for (uint32_t i = 0; i < count; i++) {
		if (keys[i].tgid != (uint32_t)pid)
			continue;
		if (*n == *cap) {
			size_t ncap = *cap ? *cap * 2 : 1024;
			struct tracked_alloc *t = realloc(*a, ncap * sizeof(*t));

			if (!t)
				return -ENOMEM;
			*a = t;
			*cap = ncap;
		}
		(*a)[*n] = (struct tracked_alloc){ .addr = keys[i].addr, .info = vals[i] };
		(*n)++;
	}
	return 0;
}

long probes__list_allocs(struct probes *p, pid_t pid, struct tracked_alloc **out)
{
	LIBBPF_OPTS(bpf_map_batch_opts, opts);
	int fd = bpf_map__fd(p->skel->maps.allocs), err = 0;
	struct alloc_key *keys = malloc(LIST_BATCH * sizeof(*keys));
	struct alloc_info *vals = malloc(LIST_BATCH * sizeof(*vals));
	struct tracked_alloc *a = NULL;
	size_t n = 0, cap = 0;
	uint64_t token = 0;
	bool first = true, done = false;

	if (!keys || !vals)
		err = -ENOMEM;
	while (!err && !done) {
		uint32_t count = LIST_BATCH;

		/* ENOENT: the last batch (possibly with entries in it). */
		err = bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, vals, &count, &opts);
		done = err == -ENOENT;
		if (err && !done)
			break;
		err = append_allocs(&a, &n, &cap, pid, keys, vals, count);
		first = false;
	}
	free(keys);
	free(vals);
	if (err) {
		free(a);
		return err;
	}
	*out = a;
	return (long)n;
}

size_t probes__forget_dead(struct probes *p, pid_t pid, const struct tracked_alloc *a, size_t n)
{
	int afd = bpf_map__fd(p->skel->maps.allocs), sfd = bpf_map__fd(p->skel->maps.site_stats);
	size_t forgotten = 0;

	for (size_t i = 0; i < n; i++) {
		struct alloc_key key = { .addr = a[i].addr, .tgid = (uint32_t)pid };
		struct site_stats st;

		if (!a[i].dead || bpf_map_delete_elem(afd, &key))
			continue;
		forgotten++;
		if (bpf_map_lookup_elem(sfd, &a[i].info.stack_id, &st))
			continue;
		st.live_bytes -= (int64_t)a[i].info.size;
		st.live_count--;
		bpf_map_update_elem(sfd, &a[i].info.stack_id, &st, BPF_EXIST);
	}
	return forgotten;
}

void probes__counters(struct probes *p, uint64_t out[PYC__COUNT])
{
	uint64_t vals[p->ncpus];

	for (uint32_t i = 0; i < PYC__COUNT; i++) {
		out[i] = 0;
		if (bpf_map__lookup_elem(p->skel->maps.counters, &i, sizeof(i), vals,
					 sizeof(vals[0]) * p->ncpus, 0))
			continue;
		for (int c = 0; c < p->ncpus; c++)
			out[i] += vals[c];
	}
}

int probes__rss(struct probes *p, pid_t pid, struct rss_state *out)
{
	uint32_t tgid = (uint32_t)pid;

	return bpf_map__lookup_elem(p->skel->maps.rss_states, &tgid, sizeof(tgid), out, sizeof(*out), 0);
}

int probes__gc(struct probes *p, pid_t pid, struct gc_state *out)
{
	uint32_t tgid = (uint32_t)pid;

	return bpf_map__lookup_elem(p->skel->maps.gc_states, &tgid, sizeof(tgid), out, sizeof(*out), 0);
}

int probes__stack(struct probes *p, uint64_t id, struct py_stack *out)
{
	return bpf_map__lookup_elem(p->skel->maps.stacks, &id, sizeof(id), out, sizeof(*out), 0);
}

int probes__foreach_site(struct probes *p, void (*cb)(uint64_t id, const struct site_stats *st, void *ctx),
			 void *ctx)
{
	int fd = bpf_map__fd(p->skel->maps.site_stats);
	uint64_t key, next;
	struct site_stats st;
	void *prev = NULL;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (!bpf_map_lookup_elem(fd, &next, &st))
			cb(next, &st, ctx);
		key = next;
		prev = &key;
	}
	return 0;
}

/* Keys of a hash map (key_size bytes each, at most 8), copied out first:
 * deleting while walking with get_next_key would restart the walk. At most
 * `max` keys. */
static size_t map_keys(int fd, void *keys, size_t key_size, size_t max)
{
	uint64_t next, cur;
	void *prev = NULL;
	size_t n = 0;

	while (n < max && !bpf_map_get_next_key(fd, prev, &next)) {
		memcpy((char *)keys + n++ * key_size, &next, key_size);
		cur = next;
		prev = &cur;
	}
	return n;
}

size_t probes__drop_stacks(struct probes *p, bool (*resolved)(uint64_t id, void *ctx), void *ctx)
{
	int fd = bpf_map__fd(p->skel->maps.stacks);
	size_t max = bpf_map__max_entries(p->skel->maps.stacks), n, dropped = 0;
	uint64_t *keys = malloc(max * sizeof(*keys));

	if (!keys)
		return 0;
	n = map_keys(fd, keys, sizeof(*keys), max);
	for (size_t i = 0; i < n; i++)
		if (resolved(keys[i], ctx) && !bpf_map_delete_elem(fd, &keys[i]))
			dropped++;
	free(keys);
	return dropped;
}

int probes__retire_site(struct probes *p, uint64_t id, struct site_stats *last)
{
	int fd = bpf_map__fd(p->skel->maps.site_stats);

	if (id == PY_OVERFLOW_STACK_ID || bpf_map_lookup_elem(fd, &id, last))
		return -ENOENT;
	return bpf_map_delete_elem(fd, &id) ? -errno : 0;
}

size_t probes__max_sites(const struct probes *p)
{
	return bpf_map__max_entries(p->skel->maps.site_stats);
}

size_t probes__purge_pending(struct probes *p, uint64_t max_age_ns)
{
	int fd = bpf_map__fd(p->skel->maps.pending);
	uint32_t keys[4096];
	struct pending_call call;
	size_t n, purged = 0;
	struct timespec ts;
	uint64_t now;

	/* bpf_ktime_get_ns() is CLOCK_MONOTONIC. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	n = map_keys(fd, keys, sizeof(keys[0]), sizeof(keys) / sizeof(keys[0]));
	for (size_t i = 0; i < n; i++)
		if (!bpf_map_lookup_elem(fd, &keys[i], &call) && now > call.ts && now - call.ts > max_age_ns &&
		    !bpf_map_delete_elem(fd, &keys[i]))
			purged++;
	return purged;
}

/* The function calibration traps on: in this binary, never inlined. Written
 * in assembly so that its first instruction is single-stepped like an
 * allocator's: kernels since 6.x emulate a leading `push`, which a build with
 * frame pointers or sanitizers would emit, in well under the half microsecond
 * below which the probe is taken for one that never fired. */
__attribute__((naked, noinline)) void pyleak_calibration_target(volatile int *x)
{
	__asm__ volatile("addl $1, (%rdi)\n\tret");
}

struct self_text {
	uint64_t addr;
	uint64_t offset;
	char path[PATH_MAX];
};

static int find_self_text(const struct proc_map *m, void *arg)
{
	struct self_text *st = arg;

	if (st->addr < m->start || st->addr >= m->end || !m->path[0])
		return 0;
	st->offset = st->addr - m->start + m->offset;
	snprintf(st->path, sizeof(st->path), "%s", m->path);
	return 1;
}

static double loop_time(int n)
{
	volatile int x = 0;
	double start = clock_s(CLOCK_MONOTONIC);

	for (int i = 0; i < n; i++)
		pyleak_calibration_target(&x);
	return clock_s(CLOCK_MONOTONIC) - start;
}

int probes__trap_cost(struct probes *p, double *cost_s)
{
	struct self_text st = { .addr = (uint64_t)(uintptr_t)pyleak_calibration_target };
	uint64_t cookie = PY_MAX_POINTS; /* never looked up: this process is no target */
	double base, probed;
	int n = 2000, fd;

	/* Also proves uprobes fire here: a kernel without them fails now. */
	if (proc_maps_foreach(getpid(), find_self_text, &st) != 1)
		return -ENOENT;
	base = loop_time(n);
	/* The real program and link kind; it stops at the target lookup. */
	fd = uprobe_multi(p->skel->progs.point_hit, getpid(), st.path, &st.offset, &cookie, 1, false);
	if (fd < 0)
		return fd;
	/* The first hits of a thread set up its out-of-line slot: not typical. */
	loop_time(n / 10);
	probed = loop_time(n);
	close(fd);
	/* A trap costs microseconds; less than half of one means no trap. */
	if (probed - base < n * 0.5e-6)
		return -EIO;
	*cost_s = (probed - base) / n;
	return 0;
}
