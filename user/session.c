// SPDX-License-Identifier: MIT
/* Turning map contents into per-site histories and verdicts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "procfs.h"
#include "session.h"

#define RSS_HISTORY 1024
/* Below this much RSS growth, the share the probes saw cannot be estimated. */
#define COVERAGE_MIN_GROWTH (1u << 20)
/* Sampled mode: fewer live samples than this say too little about a site. */
#define MIN_LIVE_SAMPLES 8
/* Stack ids remembered, resolved or not: beyond this, new stacks are charged
 * to one "[untracked stacks: site table full]" site. A target can make
 * stacks without end (distinct code objects); the loader's memory must not
 * follow. */
#define MAX_SITE_IDS (1u << 16)
/* An id reserved for that site; stack ids are hashes, and the chance one
 * falls here is 2^-64. */
#define TABLE_FULL_STACK_ID (~0ull - 1)
/* Idle sites leave the BPF map once it is this full (in quarters). */
#define SITES_RETIRE_AT 3
/* A pending allocator call older than this lost its return. */
#define PENDING_MAX_AGE_NS 1000000000ull

int session__init(struct session *s, const struct py_interp *py, const struct probes_attached *att,
		  double now_mono)
{
	memset(s, 0, sizeof(*s));
	s->pid = py->pid;
	s->py = *py;
	s->att = *att;
	s->start = now_mono;
	s->coverage = -1;
	s->scale[0] = s->scale[1] = 1;
	if (proc_comm(s->pid, s->comm, sizeof(s->comm)))
		snprintf(s->comm, sizeof(s->comm), "?");
	if (proc_exe(s->pid, s->exe, sizeof(s->exe)))
		snprintf(s->exe, sizeof(s->exe), "%s", py->path);
	leak_policy_default(&s->policy);
	proc_rss(s->pid, &s->rss_start);
	s->rss_now = s->rss_start;
	s->sym = symbolizer__new(s->pid, &py->layout.code);
	s->sites = site_table__new();
	if (!s->sym || !s->sites || series_init(&s->rss, RSS_HISTORY)) {
		session__free(s);
		return -ENOMEM;
	}
	return 0;
}

void session__free(struct session *s)
{
	symbolizer__free(s->sym);
	site_table__free(s->sites);
	series_free(&s->rss);
	s->sym = NULL;
	s->sites = NULL;
}

static char *dup_or(const char *str, const char *fallback)
{
	return strdup(str ? str : fallback);
}

/* A one-frame stand-in for stacks with no Python frame to show, so every
 * site has a frame and its bytes stay visible. */
static int placeholder_frames(const char *function, struct site_frame **out)
{
	struct site_frame *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->file = strdup("<native>");
	f->function = strdup(function);
	f->line = 0;
	*out = f;
	return 1;
}

static int resolve_frames(struct session *s, const struct py_stack *st, struct site_frame **out)
{
	struct site_frame *frames;
	int n = 0, depth = st->depth < PY_MAX_FRAMES ? st->depth : PY_MAX_FRAMES;

	if (!depth)
		return placeholder_frames(st->flags & PY_STACK_NO_TSTATE ? "<no Python thread state>"
									 : "<no Python frame>", out);
	frames = calloc(depth, sizeof(*frames));
	if (!frames)
		return -ENOMEM;
	for (int i = 0; i < depth; i++) {
		struct sym_frame sf;

		symbolizer__frame(s->sym, &st->frames[i], &sf);
		/* CPython hides frames still in their prologue from tracebacks;
		 * so do we, except when nothing else is left. */
		if (sf.incomplete && (n || i + 1 < depth))
			continue;
		frames[n].file = dup_or(sf.file, "<unknown>");
		frames[n].function = dup_or(sf.function, "<unknown>");
		frames[n].line = sf.line;
		n++;
	}
	*out = frames;
	return n;
}

/* Context for one pass over the site_stats map. */
struct poll_ctx {
	struct session *s;
	struct probes *p;
	double t;
	size_t nsites;     /* entries seen in the map */
	uint64_t *idle;    /* ids of this process's sites with nothing live */
	size_t nidle, idle_cap;
};

/* Resolves a stack id seen for the first time. Ids of other processes are
 * remembered as ignored so their stacks are read only once. */
static struct site *new_site(struct session *s, struct probes *p, uint64_t id)
{
	struct site_frame *frames = NULL;
	struct py_stack st = {};
	int n;

	if (id == PY_OVERFLOW_STACK_ID) {
		n = placeholder_frames("[untracked stacks: stack map full]", &frames);
	} else if (site_table__ids(s->sites) >= MAX_SITE_IDS) {
		struct site *full;

		s->site_table_full++;
		if (site_table__find(s->sites, TABLE_FULL_STACK_ID, &full))
			return full;
		n = placeholder_frames("[untracked stacks: site table full]", &frames);
		return n <= 0 ? NULL : site_table__add(s->sites, TABLE_FULL_STACK_ID, frames, n, 0, 0);
	} else if (probes__stack(p, id, &st) || st.tgid != (uint32_t)s->pid) {
		return site_table__add(s->sites, id, NULL, 0, 0, 0);
	} else {
		n = resolve_frames(s, &st, &frames);
	}
	if (n <= 0)
		return NULL;
	return site_table__add(s->sites, id, frames, n, st.flags, st.source);
}

static void poll_site(uint64_t id, const struct site_stats *st, void *arg)
{
	struct poll_ctx *ctx = arg;
	struct site *site;

	ctx->nsites++;
	if (!site_table__find(ctx->s->sites, id, &site))
		site = new_site(ctx->s, ctx->p, id);
	if (!site)
		return;
	site_add_stats(site, st);
	if (st->live_bytes > 0)
		ctx->s->tracked_live += (uint64_t)session__estimate(ctx->s, site, (double)st->live_bytes);
	if (st->live_count == 0 && st->live_bytes <= 0 && id != PY_OVERFLOW_STACK_ID) {
		if (ctx->nidle == ctx->idle_cap) {
			size_t cap = ctx->idle_cap ? 2 * ctx->idle_cap : 256;
			uint64_t *grown = realloc(ctx->idle, cap * sizeof(*grown));

			if (!grown)
				return;
			ctx->idle = grown;
			ctx->idle_cap = cap;
		}
		ctx->idle[ctx->nidle++] = id;
	}
}

static bool stack_resolved(uint64_t id, void *arg)
{
	struct site *site;

	return site_table__find(arg, id, &site) && site;
}

/* Keeps the maps from filling for good: stacks already read leave the
 * stacks map (their frames live in the site table), and once the site map
 * is 3/4 full the sites with nothing live leave it too, their totals kept
 * here. A target that makes endless distinct stacks then costs map churn,
 * not blindness. Pending calls that lost their return are purged. */
static void map_hygiene(struct session *s, struct probes *p, struct poll_ctx *ctx)
{
	s->stacks_dropped += probes__drop_stacks(p, stack_resolved, s->sites);
	if (ctx->nsites * 4 >= probes__max_sites(p) * SITES_RETIRE_AT) {
		for (size_t i = 0; i < ctx->nidle; i++) {
			struct site_stats last;
			struct site *site;

			if (!site_table__find(s->sites, ctx->idle[i], &site) || !site ||
			    probes__retire_site(p, ctx->idle[i], &last))
				continue;
			site->retired.total_bytes += last.total_bytes;
			site->retired.total_count += last.total_count;
			s->sites_retired++;
		}
	}
	s->pending_purged += probes__purge_pending(p, PENDING_MAX_AGE_NS);
}

static void poll_rss(struct session *s, struct probes *p)
{
	struct rss_state r;

	if (s->att.rss && !probes__rss(p, s->pid, &r) && r.events) {
		s->rss_now = (uint64_t)(r.bytes[PY_MM_FILEPAGES] + r.bytes[PY_MM_ANONPAGES] +
					r.bytes[PY_MM_SHMEMPAGES]);
		s->rss_from_bpf = true;
		return;
	}
	/* The tracepoint is silent until the first change; /proc is exact too. */
	proc_rss(s->pid, &s->rss_now);
}

static void estimate_coverage(struct session *s)
{
	double growth = (double)s->rss_now - (double)s->rss_start;

	if (growth < COVERAGE_MIN_GROWTH) {
		s->coverage = -1;
		return;
	}
	s->coverage = (double)s->tracked_live / growth;
	if (s->coverage > 1)
		s->coverage = 1;
}

void session__set_sampling(struct session *s, const double seen_share[2], const struct sampler_summary *windows,
			   uint64_t swept_dead)
{
	s->sampled = true;
	/* Until a window has covered working time, the samples are shown as they are. */
	for (int i = 0; i < 2; i++)
		s->scale[i] = seen_share[i] > 0 ? 1 / seen_share[i] : 1;
	s->windows = *windows;
	s->swept_dead = swept_dead;
}

double session__estimate(const struct session *s, const struct site *site, double sampled)
{
	return sampled * s->scale[site->source == PY_SRC_MALLOC];
}

/* RSS answers two questions. Does it grow at all (a loose fit: allocator
 * caches make RSS a staircase)? That confirms a sampled site. Does it grow
 * on its own like a leak, fast and straight? That makes the process leak
 * with no site behind it; a slow creep from fragmentation does not. */
static void judge_rss(struct session *s)
{
	struct leak_policy grows = s->policy, alone = s->policy;

	grows.min_r2 = 0.5;
	alone.min_slope = 32 * 1024;
	alone.min_r2 = 0.9;
	trend_judge(&s->rss, &grows, &s->rss_grow_j);
	trend_judge(&s->rss, &alone, &s->rss_j);
}

/* Sampled sites are judged on sampled bytes: the byte thresholds shrink by
 * the same factor, and a leak needs enough live samples and the exact RSS
 * clock to agree, since a block freed and re-occupied between windows can
 * look live. */
static void judge_sites(struct session *s)
{
	struct site **all;
	size_t n;

	if (!s->sampled) {
		site_table__judge(s->sites, &s->policy);
		return;
	}
	all = site_table__ranked(s->sites, &n);
	for (size_t i = 0; i < n; i++) {
		struct trend_judgement *j = &all[i]->j;
		struct leak_policy pol = s->policy;
		double scale = session__estimate(s, all[i], 1);

		pol.min_slope /= scale;
		pol.min_growth /= scale;
		trend_judge(&all[i]->live, &pol, j);
		if (j->verdict != TREND_LEAK)
			continue;
		if (all[i]->now.live_count < MIN_LIVE_SAMPLES) {
			j->verdict = TREND_GROWING;
			j->reason = "too few live samples yet";
		} else if (s->rss_grow_j.verdict != TREND_LEAK) {
			j->verdict = TREND_GROWING;
			j->reason = "samples grow but RSS does not confirm it";
		}
	}
}

void session__poll(struct session *s, struct probes *p, double now_mono, double now_wall)
{
	struct poll_ctx ctx = { .s = s, .p = p, .t = now_mono - s->start };

	s->elapsed = ctx.t;
	s->wall = now_wall;
	if (!s->exited && proc_alive(s->pid))
		s->exited = true;
	s->tracked_live = 0;
	site_table__begin_poll(s->sites);
	probes__foreach_site(p, poll_site, &ctx);
	site_table__end_poll(s->sites, ctx.t);
	/* Only a live process's ids: after exit they are all that is left. */
	if (!s->exited)
		map_hygiene(s, p, &ctx);
	free(ctx.idle);
	probes__counters(p, s->counters);
	/* After exit the counters only show the teardown. */
	if (!s->exited) {
		poll_rss(s, p);
		series_push(&s->rss, ctx.t, (double)s->rss_now);
	}
	s->gc_known = s->att.gc && !probes__gc(p, s->pid, &s->gc);

	judge_rss(s);
	judge_sites(s);
	estimate_coverage(s);

	s->leak = s->rss_j.verdict == TREND_LEAK;
	s->ranked = site_table__ranked(s->sites, &s->nranked);
	if (s->nranked && s->ranked[0]->j.verdict == TREND_LEAK)
		s->leak = true;
}
