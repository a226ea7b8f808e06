// SPDX-License-Identifier: MIT
/* Reads PyCodeObjects out of the target and caches what a frame needs.
 *
 * Everything here comes from a process that may be hostile: it chooses the
 * code object addresses (so the hash is keyed with a secret), the lengths
 * (capped per entry), and how many distinct code objects it shows us (so the
 * cache is bounded in bytes and evicts the least recently used entry). */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include "linetable.h"
#include "procfs.h"
#include "symbolize.h"

/* Longer names and tables are refused: a corrupt length must not make us
 * allocate gigabytes. Real line tables stay far below the table cap (the
 * largest in the stdlib of the Pythons here is 39 KiB; the largest in their
 * site-packages, a generated sympy benchmark, 694 KiB), which is also cut to
 * a quarter of the cache bound so that one entry never crowds out the rest. */
#define MAX_STR 4096
#define MAX_LINETABLE (1u << 20)

/* Hash buckets: start small, double while entries outnumber them. The cap
 * is about as many entries as SYMBOLIZER_DEFAULT_BYTES holds at the
 * smallest entry size (~160 bytes); past it, chains fill up to MAX_CHAIN. */
#define MIN_BUCKETS 1024
#define MAX_BUCKETS (1u << 17)
/* A chain never holds more entries: with a keyed hash and at most one entry
 * per bucket on average this is only reached by bad luck, and it keeps a
 * lookup O(1) even if the key leaks. */
#define MAX_CHAIN 8
/* What malloc adds to each allocation, counted so the byte bound is honest. */
#define MALLOC_OVERHEAD 16

struct code_info {
	struct code_info *hnext;               /* hash chain */
	struct code_info *lru_prev, *lru_next; /* most recently used first */
	uint64_t addr;
	uint64_t last_use;
	uint32_t firstlineno;
	int firsttraceable;
	size_t cost; /* bytes this entry holds, overheads included */
	char *file;
	char *function;
	uint8_t *table;
	size_t table_len;
};

struct symbolizer {
	pid_t pid;
	struct py_code_layout lay;
	int (*read)(void *ctx, uint64_t addr, void *buf, size_t len);
	void *read_ctx;
	size_t table_cap;
	uint64_t key[2];
	uint64_t tick;
	struct code_info **buckets;
	size_t nbuckets; /* a power of two */
	struct code_info lru; /* sentinel of the LRU list */
	struct symbolizer_stats st;
};

static int read_proc(void *ctx, uint64_t addr, void *buf, size_t len)
{
	return proc_read(*(pid_t *)ctx, addr, buf, len);
}

static int read_mem(struct symbolizer *s, uint64_t addr, void *buf, size_t len)
{
	return s->read(s->read_ctx, addr, buf, len);
}

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline void sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = rotl(v[0], 32);
	v[2] += v[3];
	v[3] = rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = rotl(v[2], 32);
}

/* SipHash-2-4 of one 64-bit word: the target picks the addresses, and
 * without the key it cannot pick ones that share a bucket. */
static uint64_t keyed_hash(const uint64_t key[2], uint64_t m)
{
	uint64_t v[4] = {
		0x736f6d6570736575ULL ^ key[0], 0x646f72616e646f6dULL ^ key[1],
		0x6c7967656e657261ULL ^ key[0], 0x7465646279746573ULL ^ key[1],
	};
	const uint64_t last = 8ULL << 56; /* message length, no tail bytes */

	v[3] ^= m;
	sipround(v);
	sipround(v);
	v[0] ^= m;
	v[3] ^= last;
	sipround(v);
	sipround(v);
	v[0] ^= last;
	v[2] ^= 0xff;
	for (int i = 0; i < 4; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static void random_key(uint64_t key[2])
{
	struct timespec ts;

	if (getrandom(key, 2 * sizeof(key[0]), GRND_NONBLOCK) == 2 * sizeof(key[0]))
		return;
	/* No entropy yet (early boot): still unknown to the target, if
	 * guessable by a patient one; MAX_CHAIN keeps that harmless. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	key[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)key;
}

static size_t bucket_of(const struct symbolizer *s, uint64_t addr)
{
	return keyed_hash(s->key, addr) & (s->nbuckets - 1);
}

static void lru_unlink(struct code_info *ci)
{
	ci->lru_prev->lru_next = ci->lru_next;
	ci->lru_next->lru_prev = ci->lru_prev;
}

static void lru_push_front(struct symbolizer *s, struct code_info *ci)
{
	ci->lru_next = s->lru.lru_next;
	ci->lru_prev = &s->lru;
	s->lru.lru_next->lru_prev = ci;
	s->lru.lru_next = ci;
}

static void code_info_free(struct code_info *ci)
{
	free(ci->file);
	free(ci->function);
	free(ci->table);
	free(ci);
}

/* Unhooks ci from its chain and the LRU list, and frees it. */
static void drop(struct symbolizer *s, struct code_info *ci)
{
	struct code_info **pp = &s->buckets[bucket_of(s, ci->addr)];

	while (*pp && *pp != ci)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = ci->hnext;
	lru_unlink(ci);
	s->st.entries--;
	s->st.bytes -= ci->cost;
	code_info_free(ci);
}

static void make_room(struct symbolizer *s, size_t cost);

static void grow(struct symbolizer *s)
{
	size_t n = s->nbuckets * 2, extra = (n - s->nbuckets) * sizeof(*s->buckets);
	struct code_info **b;

	if (n > MAX_BUCKETS)
		return;
	/* The larger table counts against the bound like any entry. */
	make_room(s, extra);
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < s->nbuckets; i++) {
		struct code_info *ci = s->buckets[i], *next;

		for (; ci; ci = next) {
			size_t h = keyed_hash(s->key, ci->addr) & (n - 1);

			next = ci->hnext;
			ci->hnext = b[h];
			b[h] = ci;
		}
	}
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
	s->st.bytes += extra;
}

struct symbolizer *symbolizer__new_opts(pid_t pid, const struct py_code_layout *layout,
					const struct symbolizer_opts *opts)
{
	struct symbolizer *s = calloc(1, sizeof(*s));
	size_t max_bytes = opts && opts->max_bytes ? opts->max_bytes : SYMBOLIZER_DEFAULT_BYTES;

	if (!s)
		return NULL;
	if (max_bytes < SYMBOLIZER_MIN_BYTES)
		max_bytes = SYMBOLIZER_MIN_BYTES;
	s->pid = pid;
	s->lay = *layout;
	if (opts && opts->read) {
		s->read = opts->read;
		s->read_ctx = opts->read_ctx;
	} else {
		s->read = read_proc;
		s->read_ctx = &s->pid;
	}
	/* With max_bytes >= SYMBOLIZER_MIN_BYTES, an entry (a quarter of the
	 * bound in table, two names of at most 2 * MAX_STR + 1 bytes and its
	 * overheads) is always under half the bound: making room for it by
	 * eviction always succeeds. */
	s->table_cap = max_bytes / 4 < MAX_LINETABLE ? max_bytes / 4 : MAX_LINETABLE;
	random_key(s->key);
	s->lru.lru_next = s->lru.lru_prev = &s->lru;
	s->nbuckets = MIN_BUCKETS;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	if (!s->buckets) {
		free(s);
		return NULL;
	}
	s->st.max_bytes = max_bytes;
	s->st.bytes = sizeof(*s) + MALLOC_OVERHEAD + s->nbuckets * sizeof(*s->buckets) + MALLOC_OVERHEAD;
	return s;
}

struct symbolizer *symbolizer__new(pid_t pid, const struct py_code_layout *layout)
{
	return symbolizer__new_opts(pid, layout, NULL);
}

void symbolizer__free(struct symbolizer *s)
{
	struct code_info *ci, *next;

	if (!s)
		return;
	for (ci = s->lru.lru_next; ci != &s->lru; ci = next) {
		next = ci->lru_next;
		code_info_free(ci);
	}
	free(s->buckets);
	free(s);
}

void symbolizer__stats(const struct symbolizer *s, struct symbolizer_stats *out)
{
	*out = s->st;
}

static int read_u64(struct symbolizer *s, uint64_t addr, uint64_t *v)
{
	return read_mem(s, addr, v, sizeof(*v));
}

/* Latin-1 to UTF-8: filenames and names may be non-ASCII. */
static char *latin1_to_utf8(const uint8_t *in, size_t n, size_t *alloc)
{
	char *out = malloc(2 * n + 1), *p = out;

	if (!out)
		return NULL;
	*alloc = 2 * n + 1;
	for (size_t i = 0; i < n; i++) {
		if (in[i] < 0x80) {
			*p++ = (char)in[i];
		} else {
			*p++ = (char)(0xc0 | (in[i] >> 6));
			*p++ = (char)(0x80 | (in[i] & 0x3f));
		}
	}
	*p = '\0';
	return out;
}

static char *read_bytes_str(struct symbolizer *s, uint64_t addr, uint64_t n, size_t *alloc)
{
	char *buf;

	if (n > MAX_STR) {
		s->st.refused++;
		return NULL;
	}
	buf = malloc(n + 1);
	if (!buf)
		return NULL;
	if (read_mem(s, addr, buf, n)) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*alloc = n + 1;
	return buf;
}

/* A str object as UTF-8. Compact ASCII is the common case; otherwise use the
 * cached UTF-8 copy, or Latin-1 data. Wider kinds are shown as "?". *alloc
 * gets the size of the returned buffer. */
static char *read_pystr(struct symbolizer *s, uint64_t obj, size_t *alloc)
{
	const struct py_code_layout *l = &s->lay;
	uint64_t len, state, utf8, utf8_len;
	unsigned int kind, compact, ascii;
	uint8_t *raw;
	char *out;

	if (!obj || read_u64(s, obj + 16, &len) || read_u64(s, obj + l->str_state, &state))
		return NULL;
	/* state bits: interned:2, kind:3, compact:1, ascii:1 */
	kind = (state >> 2) & 7;
	compact = (state >> 5) & 1;
	ascii = (state >> 6) & 1;
	if (!compact)
		return NULL;
	if (len > MAX_STR) {
		s->st.refused++;
		return NULL;
	}
	if (ascii)
		return read_bytes_str(s, obj + l->str_ascii_data, len, alloc);
	if (!read_u64(s, obj + l->str_utf8, &utf8) && utf8 &&
	    !read_u64(s, obj + l->str_utf8_length, &utf8_len))
		return read_bytes_str(s, utf8, utf8_len, alloc);
	if (kind != 1) {
		*alloc = 2;
		return strdup("?");
	}
	raw = malloc(len ? len : 1);
	if (!raw)
		return NULL;
	out = read_mem(s, obj + l->str_compact_data, raw, len) ? NULL : latin1_to_utf8(raw, len, alloc);
	free(raw);
	return out;
}

static int read_table(struct symbolizer *s, uint64_t obj, struct code_info *ci)
{
	uint64_t n;

	if (!obj || read_u64(s, obj + s->lay.bytes_size, &n))
		return -EFAULT;
	if (n > s->table_cap) {
		s->st.refused++;
		return -E2BIG;
	}
	ci->table = malloc(n ? n : 1);
	if (!ci->table)
		return -ENOMEM;
	ci->table_len = n;
	return read_mem(s, obj + s->lay.bytes_data, ci->table, n) ? -EFAULT : 0;
}

static struct code_info *read_code(struct symbolizer *s, uint64_t code)
{
	const struct py_code_layout *l = &s->lay;
	uint64_t filename, name, table;
	size_t file_alloc = 0, function_alloc = 0;
	struct code_info *ci;
	int32_t v32 = 0;
	uint16_t v16 = 0;

	ci = calloc(1, sizeof(*ci));
	if (!ci)
		return NULL;
	ci->addr = code;
	ci->firsttraceable = 0;
	if (read_mem(s, code + l->code_firstlineno, &v32, sizeof(v32)) ||
	    read_u64(s, code + l->code_filename, &filename) ||
	    read_u64(s, code + (l->code_qualname != PY_OFF_NONE ? l->code_qualname : l->code_name), &name) ||
	    read_u64(s, code + l->code_linetable, &table))
		goto fail;
	ci->firstlineno = (uint32_t)v32;
	if (l->code_firsttraceable != PY_OFF_NONE &&
	    !read_mem(s, code + l->code_firsttraceable, &v16, sizeof(v16)))
		ci->firsttraceable = v16;
	ci->file = read_pystr(s, filename, &file_alloc);
	if (!ci->file)
		goto fail;
	ci->function = read_pystr(s, name, &function_alloc);
	if (!ci->function || read_table(s, table, ci))
		goto fail;
	ci->cost = sizeof(*ci) + file_alloc + function_alloc + (ci->table_len ? ci->table_len : 1) +
		   4 * MALLOC_OVERHEAD;
	return ci;
fail:
	code_info_free(ci);
	return NULL;
}

/* Instruction -> line, in the units each table format uses. The index comes
 * from the target (the BPF walk copies it): anything that does not fit an
 * int after scaling has no line. */
static int frame_line(const struct symbolizer *s, const struct code_info *ci, uint32_t instr,
		      bool *incomplete)
{
	/* The table decoders take a signed line; a firstlineno past INT_MAX
	 * is garbage, and they give -1 for it soon enough. */
	int first = ci->firstlineno > INT_MAX ? INT_MAX : (int)ci->firstlineno;
	int64_t idx;

	*incomplete = false;
	switch (s->lay.linetable) {
	case PY_LNOTAB_39:
		if (instr > INT_MAX)
			return -1;
		return lnotab_line_39(ci->table, ci->table_len, first, (int)instr);
	case PY_LINETABLE_310:
		/* instr is f_lasti, in 2-byte units. */
		if (instr > INT_MAX / 2)
			return -1;
		return linetable_line_310(ci->table, ci->table_len, first, (int)instr * 2);
	case PY_LOCTABLE_311:
		/* instr is the byte offset of prev_instr from the code object;
		 * it sits one unit before the first instruction until the frame
		 * starts, hence the signed arithmetic. */
		idx = ((int64_t)instr - (int64_t)s->lay.code_adaptive) / 2;
		*incomplete = idx < ci->firsttraceable;
		if (idx < INT_MIN || idx > INT_MAX)
			return -1;
		return loctable_line_311(ci->table, ci->table_len, first, (int)idx);
	}
	return -1;
}

/* Makes room for an entry of `cost` bytes: least recently used first. */
static void make_room(struct symbolizer *s, size_t cost)
{
	while (s->st.bytes + cost > s->st.max_bytes && s->lru.lru_prev != &s->lru) {
		drop(s, s->lru.lru_prev);
		s->st.evictions++;
	}
}

/* Links ci into its chain; a chain at MAX_CHAIN first loses its least
 * recently used entry. */
static void insert(struct symbolizer *s, struct code_info *ci)
{
	struct code_info **head, *c, *oldest = NULL;
	size_t len = 0;

	head = &s->buckets[bucket_of(s, ci->addr)];
	for (c = *head; c; c = c->hnext) {
		len++;
		if (!oldest || c->last_use < oldest->last_use)
			oldest = c;
	}
	if (len >= MAX_CHAIN) {
		drop(s, oldest);
		s->st.evictions++;
	}
	ci->hnext = *head;
	*head = ci;
	lru_push_front(s, ci);
	s->st.entries++;
	s->st.bytes += ci->cost;
}

static int unresolved(struct sym_frame *out)
{
	out->file = "<unknown>";
	out->function = "<code object gone>";
	out->line = 0;
	out->incomplete = false;
	return -ENOENT;
}

int symbolizer__frame(struct symbolizer *s, const struct py_frame *f, struct sym_frame *out)
{
	struct code_info *ci;
	uint64_t walked = 0;
	int line;

	s->st.lookups++;
	s->tick++;
	for (ci = s->buckets[bucket_of(s, f->code)]; ci; ci = ci->hnext) {
		if (ci->addr == f->code)
			break;
		walked++;
	}
	if (walked > s->st.longest_chain)
		s->st.longest_chain = walked;
	if (ci && ci->firstlineno != f->firstlineno) {
		/* The code object was freed and another took its address:
		 * read the new one. Sites that already hold the old strings
		 * own copies of them. */
		drop(s, ci);
		s->st.stale++;
		ci = NULL;
	}
	if (ci) {
		lru_unlink(ci);
		lru_push_front(s, ci);
	} else {
		s->st.misses++;
		ci = read_code(s, f->code);
		if (ci && ci->firstlineno != f->firstlineno) {
			code_info_free(ci);
			ci = NULL;
		}
		if (!ci) {
			s->st.read_failures++;
			return unresolved(out);
		}
		/* ci is in neither list yet, so no step here can evict it:
		 * the strings returned below live until the next call. */
		if (s->st.entries >= s->nbuckets)
			grow(s);
		make_room(s, ci->cost);
		insert(s, ci);
	}
	ci->last_use = s->tick;
	line = frame_line(s, ci, f->instr, &out->incomplete);
	out->file = ci->file;
	out->function = ci->function;
	out->line = line < 0 ? 0 : line;
	return 0;
}
