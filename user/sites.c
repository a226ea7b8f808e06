// SPDX-License-Identifier: MIT
/* The per-process site table: a growable array of sites, and two open
 * hashes: stack id -> site, and frames -> site. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sites.h"

/* History kept per site: with thinning this spans any observation length. */
#define SITE_HISTORY 512

struct id_entry {
	uint64_t id;
	struct site *site; /* NULL: ignored id */
	bool used;
};

struct site_table {
	struct site **all;
	size_t n, cap;
	struct site **ranked;
	struct id_entry *ids;
	size_t nids, idcap;          /* idcap is a power of two */
	struct site **by_frames;     /* open hash on frames_hash */
	size_t framecap;
};

struct site_table *site_table__new(void)
{
	return calloc(1, sizeof(struct site_table));
}

static void site_frames_free(struct site_frame *frames, int n)
{
	if (!frames)
		return;
	for (int i = 0; i < n; i++) {
		free(frames[i].file);
		free(frames[i].function);
	}
	free(frames);
}

void site_table__free(struct site_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		site_frames_free(t->all[i]->frames, t->all[i]->nframes);
		series_free(&t->all[i]->live);
		free(t->all[i]);
	}
	free(t->all);
	free(t->ranked);
	free(t->ids);
	free(t->by_frames);
	free(t);
}

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ULL;
}

static uint64_t str_hash(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = mix(h, (unsigned char)*s);
	return h;
}

static uint64_t frames_hash(const struct site_frame *f, int n, int source)
{
	uint64_t h = mix(0xcbf29ce484222325ULL, (uint64_t)source);

	for (int i = 0; i < n; i++) {
		h = str_hash(h, f[i].file);
		h = str_hash(h, f[i].function);
		h = mix(h, (uint64_t)f[i].line);
	}
	return h;
}

static bool frames_equal(const struct site_frame *a, int na, const struct site_frame *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++) {
		if (a[i].line != b[i].line || strcmp(a[i].file, b[i].file) ||
		    strcmp(a[i].function, b[i].function))
			return false;
	}
	return true;
}

static size_t slot_of(uint64_t h, size_t cap)
{
	return (size_t)((h * 0x9e3779b97f4a7c15ULL) >> 17) & (cap - 1);
}

static struct id_entry *id_slot(struct id_entry *ids, size_t cap, uint64_t id)
{
	size_t i = slot_of(id, cap);

	while (ids[i].used && ids[i].id != id)
		i = (i + 1) & (cap - 1);
	return &ids[i];
}

bool site_table__find(struct site_table *t, uint64_t id, struct site **site)
{
	struct id_entry *e;

	*site = NULL;
	if (!t->idcap)
		return false;
	e = id_slot(t->ids, t->idcap, id);
	*site = e->site;
	return e->used;
}

/* Keeps both hashes at most half full. */
static int grow_ids(struct site_table *t)
{
	size_t cap = t->idcap ? t->idcap * 2 : 256;
	struct id_entry *ids;

	if ((t->nids + 1) * 2 <= t->idcap)
		return 0;
	ids = calloc(cap, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < t->idcap; i++) {
		if (t->ids[i].used)
			*id_slot(ids, cap, t->ids[i].id) = t->ids[i];
	}
	free(t->ids);
	t->ids = ids;
	t->idcap = cap;
	return 0;
}

static struct site **frame_slot(struct site **slots, size_t cap, const struct site_frame *f, int n,
				int source)
{
	size_t i = slot_of(frames_hash(f, n, source), cap);

	while (slots[i] && (slots[i]->source != source || !frames_equal(slots[i]->frames, slots[i]->nframes, f, n)))
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static int grow_sites(struct site_table *t)
{
	size_t cap = t->framecap ? t->framecap * 2 : 128;
	struct site **slots, **all, **ranked;

	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 64;

		all = realloc(t->all, ncap * sizeof(*all));
		if (!all)
			return -ENOMEM;
		t->all = all;
		ranked = realloc(t->ranked, ncap * sizeof(*ranked));
		if (!ranked)
			return -ENOMEM;
		t->ranked = ranked;
		t->cap = ncap;
	}
	if ((t->n + 1) * 2 <= t->framecap)
		return 0;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t k = 0; k < t->n; k++)
		*frame_slot(slots, cap, t->all[k]->frames, t->all[k]->nframes, t->all[k]->source) = t->all[k];
	free(t->by_frames);
	t->by_frames = slots;
	t->framecap = cap;
	return 0;
}

static struct site *site_new(struct site_frame *frames, int nframes, uint16_t flags, int source)
{
	struct site *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	if (series_init(&s->live, SITE_HISTORY)) {
		free(s);
		return NULL;
	}
	s->frames = frames;
	s->nframes = nframes;
	s->flags = flags;
	s->source = source;
	return s;
}

static struct site *site_for_frames(struct site_table *t, struct site_frame *frames, int nframes,
				    uint16_t flags, int source)
{
	struct site **slot, *s;

	if (grow_sites(t))
		return NULL;
	slot = frame_slot(t->by_frames, t->framecap, frames, nframes, source);
	if (*slot) {
		site_frames_free(frames, nframes);
		(*slot)->flags |= flags;
		return *slot;
	}
	s = site_new(frames, nframes, flags, source);
	if (!s)
		return NULL;
	*slot = s;
	t->all[t->n++] = s;
	return s;
}

struct site *site_table__add(struct site_table *t, uint64_t id, struct site_frame *frames, int nframes,
			     uint16_t flags, int source)
{
	struct site *s = NULL;
	struct id_entry *e;

	if (grow_ids(t)) {
		site_frames_free(frames, nframes);
		return NULL;
	}
	if (frames) {
		s = site_for_frames(t, frames, nframes, flags, source);
		if (!s) {
			site_frames_free(frames, nframes);
			return NULL;
		}
	}
	e = id_slot(t->ids, t->idcap, id);
	e->used = true;
	e->id = id;
	e->site = s;
	t->nids++;
	return s;
}

size_t site_table__ids(const struct site_table *t)
{
	return t->nids;
}

void site_table__begin_poll(struct site_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct site *s = t->all[i];

		memset(&s->now, 0, sizeof(s->now));
		s->now.total_bytes = s->retired.total_bytes;
		s->now.total_count = s->retired.total_count;
	}
}

void site_add_stats(struct site *s, const struct site_stats *st)
{
	s->now.live_bytes += st->live_bytes;
	s->now.live_count += st->live_count;
	s->now.total_bytes += st->total_bytes;
	s->now.total_count += st->total_count;
}

void site_table__end_poll(struct site_table *t, double t_s)
{
	for (size_t i = 0; i < t->n; i++)
		series_push(&t->all[i]->live, t_s, (double)t->all[i]->now.live_bytes);
}

void site_table__judge(struct site_table *t, const struct leak_policy *p)
{
	for (size_t i = 0; i < t->n; i++)
		trend_judge(&t->all[i]->live, p, &t->all[i]->j);
}

static int rank_cmp(const void *a, const void *b)
{
	const struct site *x = *(struct site *const *)a, *y = *(struct site *const *)b;
	bool lx = x->j.verdict == TREND_LEAK, ly = y->j.verdict == TREND_LEAK;

	if (lx != ly)
		return lx ? -1 : 1;
	if (x->j.all.slope != y->j.all.slope)
		return x->j.all.slope > y->j.all.slope ? -1 : 1;
	if (x->now.live_bytes != y->now.live_bytes)
		return x->now.live_bytes > y->now.live_bytes ? -1 : 1;
	return x < y ? -1 : x > y;
}

struct site **site_table__ranked(struct site_table *t, size_t *n)
{
	if (t->n)
		memcpy(t->ranked, t->all, t->n * sizeof(*t->all));
	qsort(t->ranked, t->n, sizeof(*t->ranked), rank_cmp);
	*n = t->n;
	return t->ranked;
}
