// SPDX-License-Identifier: MIT
/* Reads PyCodeObjects with process_vm_readv and caches what a frame needs. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "linetable.h"
#include "procfs.h"
#include "symbolize.h"

#define CODE_BUCKETS 4096
/* Longer names and tables are cut: they come from another process and a
 * corrupt length must not make us allocate gigabytes. */
#define MAX_STR 4096
#define MAX_LINETABLE (1u << 20)

struct code_info {
	struct code_info *next;
	uint64_t addr;
	uint32_t firstlineno;
	int firsttraceable;
	char *file;
	char *function;
	uint8_t *table;
	size_t table_len;
};

struct symbolizer {
	pid_t pid;
	struct py_code_layout lay;
	struct code_info *buckets[CODE_BUCKETS];
};

struct symbolizer *symbolizer__new(pid_t pid, const struct py_code_layout *layout)
{
	struct symbolizer *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->pid = pid;
	s->lay = *layout;
	return s;
}

static void code_info_free(struct code_info *ci)
{
	free(ci->file);
	free(ci->function);
	free(ci->table);
	free(ci);
}

void symbolizer__free(struct symbolizer *s)
{
	if (!s)
		return;
	for (int i = 0; i < CODE_BUCKETS; i++) {
		struct code_info *ci = s->buckets[i], *next;

		for (; ci; ci = next) {
			next = ci->next;
			code_info_free(ci);
		}
	}
	free(s);
}

static int read_u64(struct symbolizer *s, uint64_t addr, uint64_t *v)
{
	return proc_read(s->pid, addr, v, sizeof(*v));
}

/* Latin-1 to UTF-8: filenames and names may be non-ASCII. */
static char *latin1_to_utf8(const uint8_t *in, size_t n)
{
	char *out = malloc(2 * n + 1), *p = out;

	if (!out)
		return NULL;
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

static char *read_bytes_str(struct symbolizer *s, uint64_t addr, size_t n)
{
	char *buf;

	if (n > MAX_STR)
		n = MAX_STR;
	buf = malloc(n + 1);
	if (!buf)
		return NULL;
	if (proc_read(s->pid, addr, buf, n)) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* A str object as UTF-8. Compact ASCII is the common case; otherwise use the
 * cached UTF-8 copy, or Latin-1 data. Wider kinds are shown as "?". */
static char *read_pystr(struct symbolizer *s, uint64_t obj)
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
	if (!compact || len > MAX_STR)
		return NULL;
	if (ascii)
		return read_bytes_str(s, obj + l->str_ascii_data, len);
	if (!read_u64(s, obj + l->str_utf8, &utf8) && utf8 &&
	    !read_u64(s, obj + l->str_utf8_length, &utf8_len))
		return read_bytes_str(s, utf8, utf8_len);
	if (kind != 1)
		return strdup("?");
	raw = malloc(len);
	if (!raw)
		return NULL;
	out = proc_read(s->pid, obj + l->str_compact_data, raw, len) ? NULL : latin1_to_utf8(raw, len);
	free(raw);
	return out;
}

static int read_table(struct symbolizer *s, uint64_t obj, struct code_info *ci)
{
	uint64_t n;

	if (!obj || read_u64(s, obj + s->lay.bytes_size, &n) || n > MAX_LINETABLE)
		return -EFAULT;
	ci->table = malloc(n ? n : 1);
	if (!ci->table)
		return -ENOMEM;
	ci->table_len = n;
	return proc_read(s->pid, obj + s->lay.bytes_data, ci->table, n);
}

static struct code_info *read_code(struct symbolizer *s, uint64_t code)
{
	const struct py_code_layout *l = &s->lay;
	uint64_t filename, name, table;
	struct code_info *ci;
	int32_t v32 = 0;
	uint16_t v16 = 0;

	ci = calloc(1, sizeof(*ci));
	if (!ci)
		return NULL;
	ci->addr = code;
	ci->firsttraceable = 0;
	if (proc_read(s->pid, code + l->code_firstlineno, &v32, sizeof(v32)) ||
	    read_u64(s, code + l->code_filename, &filename) ||
	    read_u64(s, code + (l->code_qualname != PY_OFF_NONE ? l->code_qualname : l->code_name), &name) ||
	    read_u64(s, code + l->code_linetable, &table))
		goto fail;
	ci->firstlineno = (uint32_t)v32;
	if (l->code_firsttraceable != PY_OFF_NONE &&
	    !proc_read(s->pid, code + l->code_firsttraceable, &v16, sizeof(v16)))
		ci->firsttraceable = v16;
	ci->file = read_pystr(s, filename);
	ci->function = read_pystr(s, name);
	if (!ci->file || !ci->function || read_table(s, table, ci))
		goto fail;
	return ci;
fail:
	code_info_free(ci);
	return NULL;
}

/* Instruction -> line, in the units each table format uses. */
static int frame_line(const struct symbolizer *s, const struct code_info *ci, uint32_t instr,
		      bool *incomplete)
{
	int idx;

	*incomplete = false;
	switch (s->lay.linetable) {
	case PY_LNOTAB_39:
		return lnotab_line_39(ci->table, ci->table_len, (int)ci->firstlineno, (int)instr);
	case PY_LINETABLE_310:
		return linetable_line_310(ci->table, ci->table_len, (int)ci->firstlineno, (int)instr * 2);
	case PY_LOCTABLE_311:
		/* instr is the byte offset of prev_instr from the code object;
		 * it sits one unit before the first instruction until the frame
		 * starts, hence the signed arithmetic. */
		idx = ((int)instr - (int)s->lay.code_adaptive) / 2;
		*incomplete = idx < ci->firsttraceable;
		return loctable_line_311(ci->table, ci->table_len, (int)ci->firstlineno, idx);
	}
	return -1;
}

int symbolizer__frame(struct symbolizer *s, const struct py_frame *f, struct sym_frame *out)
{
	struct code_info **head = &s->buckets[(f->code >> 4) % CODE_BUCKETS], *ci, **pp;
	int line;

	for (pp = head; (ci = *pp); pp = &ci->next) {
		if (ci->addr != f->code)
			continue;
		if (ci->firstlineno == f->firstlineno)
			break;
		/* The code object was freed and another took its address:
		 * read the new one. Sites that already hold the old strings
		 * own copies of them. */
		*pp = ci->next;
		code_info_free(ci);
		ci = NULL;
		break;
	}
	if (!ci) {
		ci = read_code(s, f->code);
		if (ci && ci->firstlineno != f->firstlineno) {
			code_info_free(ci);
			ci = NULL;
		}
		if (!ci) {
			out->file = "<unknown>";
			out->function = "<code object gone>";
			out->line = 0;
			out->incomplete = false;
			return -ENOENT;
		}
		ci->next = *head;
		*head = ci;
	}
	line = frame_line(s, ci, f->instr, &out->incomplete);
	out->file = ci->file;
	out->function = ci->function;
	out->line = line < 0 ? 0 : line;
	return 0;
}
