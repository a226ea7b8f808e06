/* SPDX-License-Identifier: MIT */
/* Finding the CPython interpreter inside a process: which ELF object holds
 * it, where it is loaded, which version it is, and where its probe points are. */
#ifndef PYLEAK_PYTARGET_H
#define PYLEAK_PYTARGET_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "guards.h"
#include "pyoffsets.h"

enum py_func {
	PYF_OBJECT_MALLOC,
	PYF_OBJECT_CALLOC,
	PYF_OBJECT_REALLOC,
	PYF_OBJECT_FREE,
	PYF_MEM_MALLOC,
	PYF_MEM_CALLOC,
	PYF_MEM_REALLOC,
	PYF_MEM_FREE,
	PYF_LIBC_MALLOC,
	PYF_LIBC_CALLOC,
	PYF_LIBC_REALLOC,
	PYF_LIBC_FREE,
	PYF__COUNT,
};

enum py_func_kind { PYF_KIND_MALLOC, PYF_KIND_CALLOC, PYF_KIND_REALLOC, PYF_KIND_FREE };

/* Which ELF object a probed function lives in. */
enum py_lib { PYLIB_PYTHON, PYLIB_LIBC };

struct py_func_info {
	const char *name;
	enum py_func_kind kind;
	enum py_lib lib;
	int source; /* enum py_source, recorded with its allocations */
};

extern const struct py_func_info py_funcs[PYF__COUNT];

struct py_interp {
	pid_t pid;
	char path[PATH_MAX];      /* ELF object defining _PyRuntime, as the target sees it */
	char host_path[PATH_MAX]; /* the same file as opened once: /proc/self/fd/N */
	char version[32];         /* "3.11.7" */
	unsigned int major, minor, micro;
	bool shared;              /* a libpython .so rather than the executable */
	bool has_symtab;          /* not stripped: static functions have names */
	uint64_t load_bias;
	uint64_t runtime_addr;
	struct py_layout layout;
	char libc_host_path[PATH_MAX]; /* the C library as opened once: /proc/self/fd/N; "" if none */
	uint64_t func_off[PYF__COUNT]; /* file offsets for uprobes; 0 when absent */
	bool gc_usdt;                  /* python:gc__start/gc__done notes present */
	uint64_t gc_main_off;          /* gc_collect_main, when there is no USDT */
	struct guard_scan guards;      /* inlined allocator copies (LTO builds); owned */
	char debug_path[PATH_MAX];     /* detached debug symbols used, or "" */
	int debug_refused;             /* errno why a debug file present was not used, or 0 */
	struct elf_file *python_elf;   /* owned: the open files host_path and */
	struct elf_file *libc_elf;     /* libc_host_path name */
	uint64_t usedpools_addr;       /* pymalloc's usedpools[] in the target; 0 if unknown */
};

/* Returns 0; -ESRCH when the process is gone; -ENOENT when no mapped object
 * defines _PyRuntime (not Python); -ENOTSUP when the version has no layout.
 * Other negative errnos for unreadable files. `why` gets one human line. */
int py_interp_find(pid_t pid, struct py_interp *out, char *why, size_t whylen);

/* Frees what py_interp_find allocated (the guard sites, the open files). */
void py_interp_release(struct py_interp *py);

/* Checks the layout against the live process: the thread list must hold
 * together and hold the main thread, and the gilstate TSS key must be set.
 * Then finds what only the live process shows (usedpools[] from 3.12 on).
 * Returns 0, -ESRCH if the process is gone, or -ENOTSUP (layout does not
 * match). */
int py_interp_verify(struct py_interp *py, char *why, size_t whylen);

#endif
