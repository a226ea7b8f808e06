// SPDX-License-Identifier: MIT
/* Formatting only: everything shown is computed in session.c. Every string
 * that came from the target (names, paths, comm, its version) goes out
 * through escape.c: raw, it could drive the terminal or break the JSON. */
#include <math.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "escape.h"
#include "report.h"

/* A target string on the terminal. */
static void put(FILE *f, const char *s)
{
	esc_fputs(ESC_TERM, f, s);
}

/* "file:line in function", the way every site and caller is named. */
static void put_frame(FILE *f, const struct site_frame *fr)
{
	put(f, fr->file);
	fprintf(f, ":%d in ", fr->line);
	put(f, fr->function);
}

static const char *mode_name(const struct session *s)
{
	return s->sampled ? "sampled" : "exact";
}

#define est(s, site, v) session__estimate((s), (site), (v))
/* Below this share of the RSS growth, the sites are a partial view. */
#define LOW_COVERAGE 0.5

static const char *bytes_str(double v, char *buf, size_t len)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double a = fabs(v);
	int u = 0;

	while (a >= 1024 && u < 4) {
		a /= 1024;
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, units[u]);
	return buf;
}

static const char *rate_str(double v, char *buf, size_t len)
{
	char b[24];

	snprintf(buf, len, "%s%s/s", v > 0 ? "+" : "", bytes_str(v, b, sizeof(b)));
	return buf;
}

static const char *verdict_word(const struct trend_judgement *j)
{
	switch (j->verdict) {
	case TREND_LEAK:
		return "LEAK";
	case TREND_GROWING:
		return "growing";
	case TREND_STEADY:
		return "steady";
	default:
		return "...";
	}
}

/* A site holding nothing now is churn that came and went: not a lead. */
static bool worth_showing(const struct site *st)
{
	return st->now.live_bytes > 0 || st->j.verdict == TREND_LEAK;
}

static const char *source_name(int source)
{
	return source == PY_SRC_MALLOC ? "malloc" : "pymalloc";
}

static void print_gc(FILE *f, const struct session *s)
{
	const struct gc_state *g = &s->gc;

	if (!s->gc_known) {
		fputs("GC not observable (", f);
		put(f, s->att.gc_how);
		fputc(')', f);
		return;
	}
	fprintf(f, "GC %llu collections (gen0 %llu, gen1 %llu, gen2 %llu), %.1f ms",
		(unsigned long long)(g->collections[0] + g->collections[1] + g->collections[2]),
		(unsigned long long)g->collections[0], (unsigned long long)g->collections[1],
		(unsigned long long)g->collections[2], g->total_ns / 1e6);
}

static void print_drops(FILE *f, const struct session *s)
{
	const uint64_t *c = s->counters;

	if (c[PYC_ALLOCS_FULL])
		fprintf(f, "warning: %llu allocations not tracked: live-allocation map full (raise --max-allocs)\n",
			(unsigned long long)c[PYC_ALLOCS_FULL]);
	if (c[PYC_STACKS_FULL] || c[PYC_STATS_FULL])
		fprintf(f, "warning: %llu allocations charged to [untracked stacks]: stack map full (raise --max-stacks)\n",
			(unsigned long long)(c[PYC_STACKS_FULL] + c[PYC_STATS_FULL]));
	if (c[PYC_PENDING_FULL])
		fprintf(f, "warning: %llu allocations lost: too many threads in the allocator at once\n",
			(unsigned long long)c[PYC_PENDING_FULL]);
	if (s->sym) {
		struct symbolizer_stats st;

		symbolizer__stats(s->sym, &st);
		if (st.refused)
			fprintf(f, "warning: %llu code objects not read: a name or line table over its size cap\n",
				(unsigned long long)st.refused);
	}
	if (s->site_table_full)
		fprintf(f, "warning: %llu stacks charged to [untracked stacks]: over %u distinct stacks seen\n",
			(unsigned long long)s->site_table_full, 1u << 16);
}

static void print_verdict(FILE *f, const struct session *s, struct site *top)
{
	char b1[32], b2[32];

	if (top && top->j.verdict == TREND_LEAK) {
		fputs("verdict: LEAK at ", f);
		put_frame(f, &top->frames[0]);
		fprintf(f, ", %s%s (R² %.2f), %s live\n", s->sampled ? "~" : "",
			rate_str(est(s, top, top->j.all.slope), b1, sizeof(b1)), top->j.all.r2,
			bytes_str(est(s, top, (double)top->now.live_bytes), b2, sizeof(b2)));
	} else if (s->rss_j.verdict == TREND_LEAK) {
		fprintf(f, "verdict: LEAK: RSS grows %s (R² %.2f) but no probed site accounts for it%s\n",
			rate_str(s->rss_j.all.slope, b1, sizeof(b1)), s->rss_j.all.r2,
			s->coverage >= 0 && s->coverage < LOW_COVERAGE ? " (low coverage)" : "");
	} else if (s->rss_j.verdict == TREND_UNKNOWN) {
		fprintf(f, "verdict: watching (%s)\n", s->rss_j.reason);
	} else {
		fprintf(f, "verdict: no leak (RSS %s: %s)\n", verdict_word(&s->rss_j), s->rss_j.reason);
	}
}

void report_human(FILE *f, const struct session *s, const struct report_opts *o, bool final)
{
	struct site **ranked = s->ranked;
	size_t n = s->nranked;
	char b1[32], b2[32];

	if (o->clear_screen && !final)
		fputs("\033[H\033[2J", f);
	fprintf(f, "pyleakbpf  pid %d (", s->pid);
	put(f, s->comm);
	fputs(")  CPython ", f);
	put(f, s->py.version);
	fprintf(f, "  mode %s  %.0fs%s\n", mode_name(s), s->elapsed,
		final ? (s->exited ? "  [target exited, final]" : "  [final]") : "");
	fprintf(f, "RSS %s  %s (R² %.2f)  coverage %s", bytes_str((double)s->rss_now, b1, sizeof(b1)),
		rate_str(s->rss_j.all.slope, b2, sizeof(b2)), s->rss_j.all.r2,
		s->coverage < 0 ? "n/a" : "");
	if (s->coverage >= 0)
		fprintf(f, "%.0f%%", s->coverage * 100);
	fputs("  ", f);
	print_gc(f, s);
	fputc('\n', f);
	fprintf(f, "probe cost %.2f%% of the target's time (modelled: %.1f us per trap)", s->overhead * 100,
		s->trap_cost_s * 1e6);
	if (s->sampled) {
		fprintf(f, "; worst second %.1f%%, worst 10 s %.1f%%", s->windows.worst_1s * 100,
			s->windows.worst_10s * 100);
		fprintf(f, "\nsampled 1 in %.0f interpreter and 1 in %.0f libc allocations (%llu windows): figures are estimates",
			s->scale[PY_SRC_PYMALLOC], s->scale[PY_SRC_MALLOC], (unsigned long long)s->windows.windows);
	}
	fputc('\n', f);
	fprintf(f, "%3s %10s %9s %13s %5s %-8s %s\n", "#", "LIVE", "COUNT", "SLOPE", "R²", "VERDICT", "SITE");
	for (size_t i = 0, shown = 0; i < n && shown < (size_t)o->top; i++) {
		const struct site *st = ranked[i];

		if (!worth_showing(st))
			continue;
		shown++;

		fprintf(f, "%3zu %10s %9lld %13s %5.2f %-8s ", shown,
			bytes_str(est(s, st, (double)st->now.live_bytes), b1, sizeof(b1)),
			(long long)est(s, st, (double)st->now.live_count),
			rate_str(est(s, st, st->j.all.slope), b2, sizeof(b2)), st->j.all.r2, verdict_word(&st->j));
		put_frame(f, &st->frames[0]);
		fputs(st->source == PY_SRC_MALLOC ? "  [malloc]\n" : "\n", f);
		for (int k = 1; k < st->nframes && k <= o->callers; k++) {
			fprintf(f, "%*s<- ", 49, "");
			put_frame(f, &st->frames[k]);
			fputc('\n', f);
		}
	}
	if (!n)
		fputs("    (no allocations seen yet)\n", f);
	if (s->coverage >= 0 && s->coverage < LOW_COVERAGE)
		fprintf(f, "warning: the probes saw only %.0f%% of the RSS growth: this view is partial\n",
			s->coverage * 100);
	print_drops(f, s);
	print_verdict(f, s, n ? ranked[0] : NULL);
	fflush(f);
}

/* JSON strings from another process's memory: valid UTF-8 whatever the
 * bytes (escape.h says how invalid ones are kept). */
static void json_str(FILE *f, const char *str)
{
	fputc('"', f);
	esc_fputs(ESC_JSON, f, str);
	fputc('"', f);
}

static double json_num(double v)
{
	return isfinite(v) ? v : 0;
}

static void json_site(FILE *f, const struct session *s, const struct site *st)
{
	fputs("{\"frames\":[", f);
	for (int k = 0; k < st->nframes; k++) {
		fputs(k ? ",{\"file\":" : "{\"file\":", f);
		json_str(f, st->frames[k].file);
		fprintf(f, ",\"line\":%d,\"function\":", st->frames[k].line);
		json_str(f, st->frames[k].function);
		fputc('}', f);
	}
	fprintf(f, "],\"bytes\":%lld,\"allocs\":%lld,\"sampled_bytes\":%lld,\"sampled_allocs\":%lld,"
		   "\"total_bytes\":%llu,\"total_allocs\":%llu,"
		   "\"slope_bytes_per_s\":%.1f,\"r2\":%.4f,\"leak\":%s,\"verdict\":\"%s\",\"reason\":",
		(long long)est(s, st, (double)st->now.live_bytes), (long long)est(s, st, (double)st->now.live_count),
		(long long)st->now.live_bytes, (long long)st->now.live_count,
		(unsigned long long)st->now.total_bytes, (unsigned long long)st->now.total_count,
		json_num(est(s, st, st->j.all.slope)), json_num(st->j.all.r2), st->j.verdict == TREND_LEAK ? "true" : "false",
		trend_verdict_str(st->j.verdict));
	json_str(f, st->j.reason ? st->j.reason : "");
	fprintf(f, ",\"source\":\"%s\"}", source_name(st->source));
}

static void json_gc(FILE *f, const struct session *s)
{
	const struct gc_state *g = &s->gc;

	if (!s->gc_known) {
		fputs("{\"collections\":null,\"time_s\":null}", f);
		return;
	}
	fprintf(f, "{\"collections\":%llu,\"time_s\":%.6f,\"by_generation\":[%llu,%llu,%llu]}",
		(unsigned long long)(g->collections[0] + g->collections[1] + g->collections[2]),
		g->total_ns / 1e9, (unsigned long long)g->collections[0],
		(unsigned long long)g->collections[1], (unsigned long long)g->collections[2]);
}

/* How the sampled mode spent its budget: enough to check the bound from the
 * report alone (README "Cost"). */
static void json_sampling(FILE *f, const struct session *s)
{
	const struct sampler_summary *w = &s->windows;

	fprintf(f, ",\"sampling\":{\"budget\":%.4f,\"windows\":%llu,\"windows_full\":%llu,"
		   "\"periods_skipped\":%llu,\"window_traps\":%llu,\"max_window_traps\":%llu,"
		   "\"max_window_limit\":%llu,\"max_traps_after_limit\":%llu,\"worst_1s_cost\":%.5f,"
		   "\"worst_10s_cost\":%.5f,\"recorded_s\":[%.3f,%.3f]}",
		json_num(s->budget), (unsigned long long)w->windows, (unsigned long long)w->full,
		(unsigned long long)w->skipped, (unsigned long long)w->hits, (unsigned long long)w->max_hits,
		(unsigned long long)w->max_limit, (unsigned long long)w->max_tail, json_num(w->worst_1s),
		json_num(w->worst_10s), json_num(w->on_s[0]), json_num(w->on_s[1]));
}

/* The symbolizer's cache, bounded in bytes whatever the target's code
 * objects claim (README "Security"). */
static void json_symbolizer(FILE *f, const struct session *s)
{
	struct symbolizer_stats st;

	symbolizer__stats(s->sym, &st);
	fprintf(f, ",\"symbolizer\":{\"lookups\":%llu,\"misses\":%llu,\"read_failures\":%llu,"
		   "\"refused\":%llu,\"evictions\":%llu,\"entries\":%llu,\"bytes\":%llu,\"max_bytes\":%llu}",
		(unsigned long long)st.lookups, (unsigned long long)st.misses,
		(unsigned long long)st.read_failures, (unsigned long long)st.refused,
		(unsigned long long)st.evictions, (unsigned long long)st.entries, (unsigned long long)st.bytes,
		(unsigned long long)st.max_bytes);
}

void report_json(FILE *f, const struct session *s, const struct report_opts *o, bool final)
{
	const uint64_t *c = s->counters;
	struct site **ranked = s->ranked;
	size_t n = s->nranked;

	fprintf(f, "{\"schema\":1,\"time\":%.3f,\"elapsed_s\":%.3f,\"final\":%s,\"exited\":%s,\"pid\":%d,\"comm\":",
		s->wall, s->elapsed, final ? "true" : "false", s->exited ? "true" : "false", s->pid);
	json_str(f, s->comm);
	fputs(",\"exe\":", f);
	json_str(f, s->exe);
	fputs(",\"python\":", f);
	json_str(f, s->py.version);
	fprintf(f, ",\"mode\":\"%s\",\"sample_scale\":[%.2f,%.2f],\"overhead\":%.5f,\"trap_us\":%.2f,\"coverage\":",
		mode_name(s), json_num(s->scale[0]), json_num(s->scale[1]), json_num(s->overhead), json_num(s->trap_cost_s * 1e6));
	if (s->coverage < 0)
		fputs("null", f);
	else
		fprintf(f, "%.4f", s->coverage);
	fprintf(f, ",\"rss_bytes\":%llu,\"rss_slope_bytes_per_s\":%.1f,\"rss_r2\":%.4f,\"rss_source\":\"%s\",\"gc\":",
		(unsigned long long)s->rss_now, json_num(s->rss_j.all.slope), json_num(s->rss_j.all.r2),
		s->rss_from_bpf ? "rss_stat" : "procfs");
	json_gc(f, s);
	if (s->sampled)
		json_sampling(f, s);
	json_symbolizer(f, s);
	fprintf(f, ",\"leak\":%s,\"sites\":[", s->leak ? "true" : "false");
	for (size_t i = 0, shown = 0; i < n && shown < (size_t)o->top; i++) {
		if (!worth_showing(ranked[i]))
			continue;
		if (shown++)
			fputc(',', f);
		json_site(f, s, ranked[i]);
	}
	fprintf(f, "],\"events\":{\"allocs\":%llu,\"frees\":%llu,\"frees_untracked\":%llu,"
		   "\"frees_at_exit\":%llu,\"gc\":%llu,\"rss\":%llu,\"traps_pymalloc\":%llu,"
		   "\"traps_malloc\":%llu,\"traps_gc\":%llu,\"traps_after_window\":%llu,"
		   "\"freed_between_windows\":%llu,\"nested_calls\":%llu,\"stacks_retired\":%llu,"
		   "\"idle_sites_retired\":%llu},"
		   "\"dropped\":{\"allocs_map_full\":%llu,\"stacks_map_full\":%llu,\"sites_map_full\":%llu,"
		   "\"threads_pending_full\":%llu,\"no_thread_state\":%llu,\"frame_read_errors\":%llu,"
		   "\"truncated_stacks\":%llu,\"unforeseen_blocks\":%llu,\"pending_stale\":%llu,"
		   "\"site_table_full\":%llu}}\n",
		(unsigned long long)c[PYC_ALLOCS], (unsigned long long)c[PYC_FREES],
		(unsigned long long)c[PYC_FREE_UNTRACKED], (unsigned long long)c[PYC_FREE_AT_EXIT],
		(unsigned long long)c[PYC_GC_EVENTS],
		(unsigned long long)c[PYC_RSS_EVENTS], (unsigned long long)c[PYC_HITS_PYMALLOC],
		(unsigned long long)c[PYC_HITS_MALLOC], (unsigned long long)c[PYC_HITS_GC],
		(unsigned long long)c[PYC_HITS_TAIL], (unsigned long long)s->swept_dead,
		(unsigned long long)c[PYC_NESTED], (unsigned long long)s->stacks_dropped,
		(unsigned long long)s->sites_retired,
		(unsigned long long)c[PYC_ALLOCS_FULL],
		(unsigned long long)c[PYC_STACKS_FULL], (unsigned long long)c[PYC_STATS_FULL],
		(unsigned long long)c[PYC_PENDING_FULL], (unsigned long long)c[PYC_NO_TSTATE],
		(unsigned long long)c[PYC_READ_ERR], (unsigned long long)c[PYC_TRUNCATED],
		(unsigned long long)c[PYC_NO_PREDICT], (unsigned long long)(c[PYC_PENDING_STALE] + s->pending_purged),
		(unsigned long long)s->site_table_full);
	fflush(f);
}

void report_attach(FILE *f, const struct session *s, const struct report_opts *o)
{
	fprintf(f, "pyleakbpf: attached to pid %d (", s->pid);
	put(f, s->comm);
	fputs("): CPython ", f);
	put(f, s->py.version);
	fputs(" in ", f);
	put(f, s->py.path);
	fprintf(f, ", %d allocator functions, %d inlined allocator copies and %d libc functions probed, GC ",
		s->att.alloc_funcs, s->att.guard_sites, s->att.libc_funcs);
	put(f, s->att.gc ? s->att.gc_how : "not observable");
	fprintf(f, ", RSS from %s\n", s->att.rss ? "rss_stat" : "/proc");
	if (s->py.debug_path[0] && !s->py.debug_refused) {
		fputs("pyleakbpf: using detached debug symbols ", f);
		put(f, s->py.debug_path);
		fputc('\n', f);
	} else if (s->py.debug_path[0]) {
		int e = s->py.debug_refused;

		fputs("pyleakbpf: warning: detached debug symbols ", f);
		put(f, s->py.debug_path);
		fprintf(f, " (inside the target's root) refused: %s; inlined allocator copies may go unseen\n",
			e == EINVAL ? "not a regular file" : e == EBADMSG ? "its build-id does not match" :
			e == ENOEXEC ? "not a 64-bit ELF file" : strerror(e));
	}
	if (s->py.guards.why[0]) {
		fputs("pyleakbpf: warning: inlined allocator copies not probed: ", f);
		put(f, s->py.guards.why);
		fputc('\n', f);
	}
	if (s->sampled)
		fprintf(f, "pyleakbpf: mode sampled: probes attached in windows costing at most %.1f%% of the target's time (%.1f us per trap, measured)\n",
			o->budget * 100, s->trap_cost_s * 1e6);
	else
		fprintf(f, "pyleakbpf: mode exact: every allocator call is a trap of %.1f us (measured): allocation-heavy code slows down 10-500x while attached\n",
			s->trap_cost_s * 1e6);
	if (!s->py.shared && !s->py.has_symtab && !s->att.guard_sites) {
		fputs("pyleakbpf: warning: ", f);
		put(f, s->py.path);
		fputs(" is a stripped static build with no inlined allocator copies found: allocations inlined there are invisible; watch the coverage figure\n",
		      f);
	}
}
