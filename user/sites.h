/* SPDX-License-Identifier: MIT */
/* Allocation sites of one process. A site is a resolved Python stack (file,
 * line, function per frame); the BPF side may report it under several stack
 * ids, one per distinct bytecode instruction, and their bytes are summed. */
#ifndef PYLEAK_SITES_H
#define PYLEAK_SITES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pyleak.h"
#include "trend.h"

struct site_frame {
	char *file;
	char *function;
	int line;
};

struct site {
	struct site_frame *frames; /* innermost first; never empty */
	int nframes;
	uint16_t flags;            /* PY_STACK_* */
	int source;                /* enum py_source */
	struct site_stats now;
	struct site_stats retired; /* totals of its ids taken out of the map while idle */
	struct series live;        /* live bytes against seconds since attach */
	struct trend_judgement j;
};

struct site_table;

struct site_table *site_table__new(void);
void site_table__free(struct site_table *t);
/* Whether id was seen before; *site is its site, NULL for an id to ignore
 * (another process's stack). */
bool site_table__find(struct site_table *t, uint64_t id, struct site **site);
/* Maps id to the site with these frames and source, creating it if new. Takes ownership
 * of frames (malloc'ed array of malloc'ed strings); frames == NULL marks id
 * as ignored. Returns the site, or NULL (ignored, or out of memory). */
struct site *site_table__add(struct site_table *t, uint64_t id, struct site_frame *frames, int nframes,
			     uint16_t flags, int source);
/* Ids known (resolved or ignored): what bounds the table. */
size_t site_table__ids(const struct site_table *t);
/* A poll: reset every site to its retired totals, add each id's stats, then
 * record the sums. */
void site_table__begin_poll(struct site_table *t);
void site_add_stats(struct site *s, const struct site_stats *st);
void site_table__end_poll(struct site_table *t, double t_s);
void site_table__judge(struct site_table *t, const struct leak_policy *p);
/* Sites ordered most suspicious first: leaks, then by slope, then by live
 * bytes. The array belongs to the table and lives until the next call. */
struct site **site_table__ranked(struct site_table *t, size_t *n);

#endif
