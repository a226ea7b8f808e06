// SPDX-License-Identifier: MIT
/* BPF object lifecycle: open, size the maps, load, attach, read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "procfs.h"
#include "probes.h"
#include "pyleak.skel.h"

#define MAX_LINKS 64

struct probes {
	struct pyleak_bpf *skel;
	struct bpf_link *links[MAX_LINKS];
	int nlinks;
	int ncpus;
	bool rss_attached;
	bool verbose;
};

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list args)
{
	return vfprintf(stderr, fmt, args);
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list args)
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

static int attach_uprobe(struct probes *p, struct bpf_program *prog, bool ret, pid_t pid,
			 const char *path, uint64_t off, uint64_t cookie)
{
	LIBBPF_OPTS(bpf_uprobe_opts, uo, .retprobe = ret, .bpf_cookie = cookie);

	return keep_link(p, bpf_program__attach_uprobe_opts(prog, pid, path, off, &uo));
}

static struct bpf_program *entry_prog(struct pyleak_bpf *skel, enum py_func_kind kind)
{
	switch (kind) {
	case PYF_KIND_MALLOC:
		return skel->progs.malloc_enter;
	case PYF_KIND_CALLOC:
		return skel->progs.calloc_enter;
	case PYF_KIND_REALLOC:
		return skel->progs.realloc_enter;
	case PYF_KIND_FREE:
		return skel->progs.free_enter;
	}
	return NULL;
}

static int attach_allocator(struct probes *p, const struct py_interp *py, struct probes_attached *out,
			    char *why, size_t whylen)
{
	int err;

	for (int i = 0; i < PYF__COUNT; i++) {
		const struct py_func_info *fn = &py_funcs[i];
		const char *path = py_interp_lib_path(py, fn->lib);

		if (!py->func_off[i])
			continue;
		/* Return probe first: a return without an entry is ignored,
		 * whereas an entry without its return leaves a stale record. */
		err = 0;
		if (fn->kind != PYF_KIND_FREE)
			err = attach_uprobe(p, p->skel->progs.alloc_return, true, py->pid, path, py->func_off[i],
					    fn->source);
		if (!err)
			err = attach_uprobe(p, entry_prog(p->skel, fn->kind), false, py->pid, path,
					    py->func_off[i], fn->source);
		if (err) {
			snprintf(why, whylen, "cannot attach a uprobe to %s in %s: %s", fn->name, path,
				 strerror(-err));
			return err;
		}
		if (fn->lib == PYLIB_LIBC)
			out->libc_funcs++;
		else
			out->alloc_funcs++;
	}
	if (!out->alloc_funcs) {
		snprintf(why, whylen, "%s exports none of the allocator functions (PyObject_Malloc, ...)",
			 py->path);
		return -ENOENT;
	}
	return 0;
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
			out->gc_how = "usdt python:gc__start/gc__done";
		}
		return;
	}
	if (py->gc_main_off &&
	    !attach_uprobe(p, skel->progs.gc_main_enter, false, py->pid, py->host_path, py->gc_main_off, 0) &&
	    !attach_uprobe(p, skel->progs.gc_main_return, true, py->pid, py->host_path, py->gc_main_off, 0)) {
		out->gc = true;
		out->gc_how = "uprobe gc_collect_main";
	}
}

int probes__attach(struct probes *p, const struct py_interp *py, struct probes_attached *out,
		   char *why, size_t whylen)
{
	struct py_target target = { .runtime_addr = py->runtime_addr, .off = py->layout.bpf };
	struct gc_state gc = {};
	struct rss_state rss = {};
	uint32_t tgid = (uint32_t)py->pid;
	int err;

	memset(out, 0, sizeof(*out));
	/* rss_stat only reports counters that change: start from /proc's view. */
	proc_rss_parts(py->pid, (uint64_t *)&rss.bytes[PY_MM_FILEPAGES], (uint64_t *)&rss.bytes[PY_MM_ANONPAGES],
		       (uint64_t *)&rss.bytes[PY_MM_SHMEMPAGES]);
	out->gc_how = "not observable: no USDT probes and no gc_collect_main symbol";
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
	err = attach_allocator(p, py, out, why, whylen);
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
	for (int i = 0; i < p->nlinks; i++)
		bpf_link__destroy(p->links[i]);
	pyleak_bpf__destroy(p->skel);
	free(p);
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
