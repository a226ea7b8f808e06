/* SPDX-License-Identifier: MIT */
/* Python frames (code object, instruction) -> file, line, function, read
 * from the target's memory and cached per code object. The target chooses
 * every address and length involved, so the cache is bounded in bytes and
 * keyed by a secret hash. */
#ifndef PYLEAK_SYMBOLIZE_H
#define PYLEAK_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "pyleak.h"
#include "pyoffsets.h"

/* A quarter of the tool's 64 MiB budget: some 100k ordinary code objects. */
#define SYMBOLIZER_DEFAULT_BYTES (16u << 20)
/* Smaller bounds are raised to this, so that any entry that passes the
 * per-entry caps fits (see symbolize.c). */
#define SYMBOLIZER_MIN_BYTES (256u << 10)

struct symbolizer;

struct symbolizer_opts {
	size_t max_bytes; /* bound on the bytes the cache holds; 0: SYMBOLIZER_DEFAULT_BYTES */
	/* Copies len bytes at addr from the target: 0 when all of them were
	 * read, non-zero otherwise. NULL: proc_read() on the pid. */
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	void *read_ctx;
};

struct symbolizer_stats {
	uint64_t lookups;       /* frames resolved */
	uint64_t misses;        /* frames whose code object was read from the target */
	uint64_t read_failures; /* of those, unreadable, reused or garbage: shown as "<code object gone>" */
	uint64_t refused;       /* reads refused: a length above its cap (names, line tables) */
	uint64_t evictions;     /* entries dropped to stay under max_bytes or the chain cap */
	uint64_t stale;         /* entries dropped because another code object took their address */
	uint64_t entries;       /* code objects held now */
	uint64_t bytes;         /* bytes held now: strings, tables, entries, hash table */
	uint64_t max_bytes;     /* the bound on bytes */
	uint64_t longest_chain; /* most entries a lookup walked past in one hash chain */
};

struct sym_frame {
	/* Owned by the symbolizer: valid until the next symbolizer__frame()
	 * or symbolizer__free() call, since any later miss may evict the
	 * entry they belong to. Copy them to keep them. */
	const char *file;
	const char *function; /* qualified name where the version has one */
	int line;             /* 0 when unknown */
	bool incomplete;      /* frame still in its prologue: CPython hides it from tracebacks */
};

/* Reads the target with proc_read(), under SYMBOLIZER_DEFAULT_BYTES. */
struct symbolizer *symbolizer__new(pid_t pid, const struct py_code_layout *layout);
/* opts may be NULL (the defaults above). */
struct symbolizer *symbolizer__new_opts(pid_t pid, const struct py_code_layout *layout,
					const struct symbolizer_opts *opts);
void symbolizer__free(struct symbolizer *s);

/* Resolves one frame. Never fails: an unreadable or reused code object gives
 * "<unknown>"-style names, so the bytes stay attributed to something. Returns
 * 0 when fully resolved, -ENOENT when the code object could not be read. */
int symbolizer__frame(struct symbolizer *s, const struct py_frame *f, struct sym_frame *out);

void symbolizer__stats(const struct symbolizer *s, struct symbolizer_stats *out);

#endif
