/* SPDX-License-Identifier: MIT */
/* Python frames (code object, instruction) -> file, line, function, read
 * from the target's memory and cached per code object. */
#ifndef PYLEAK_SYMBOLIZE_H
#define PYLEAK_SYMBOLIZE_H

#include <stdbool.h>
#include <sys/types.h>
#include "pyleak.h"
#include "pyoffsets.h"

struct symbolizer;

struct sym_frame {
	const char *file;     /* owned by the symbolizer, valid until __free */
	const char *function; /* qualified name where the version has one */
	int line;             /* 0 when unknown */
	bool incomplete;      /* frame still in its prologue: CPython hides it from tracebacks */
};

struct symbolizer *symbolizer__new(pid_t pid, const struct py_code_layout *layout);
void symbolizer__free(struct symbolizer *s);

/* Resolves one frame. Never fails: an unreadable or reused code object gives
 * "<unknown>"-style names, so the bytes stay attributed to something. Returns
 * 0 when fully resolved, -ENOENT when the code object could not be read. */
int symbolizer__frame(struct symbolizer *s, const struct py_frame *f, struct sym_frame *out);

#endif
