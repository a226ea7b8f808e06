// SPDX-License-Identifier: MIT
/* Locates the interpreter in /proc/PID/maps and reads its ELF for the rest. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "elfsym.h"
#include "procfs.h"
#include "pytarget.h"

/* libc's allocator catches what C extensions and ctypes take directly. The
 * interpreter's own calls into it (large objects) are nested inside a
 * PyObject_* call and ignored by the BPF side. */
const struct py_func_info py_funcs[PYF__COUNT] = {
	[PYF_OBJECT_MALLOC] = { "PyObject_Malloc", PYF_KIND_MALLOC, PYLIB_PYTHON, PY_SRC_PYMALLOC },
	[PYF_OBJECT_CALLOC] = { "PyObject_Calloc", PYF_KIND_CALLOC, PYLIB_PYTHON, PY_SRC_PYMALLOC },
	[PYF_OBJECT_REALLOC] = { "PyObject_Realloc", PYF_KIND_REALLOC, PYLIB_PYTHON, PY_SRC_PYMALLOC },
	[PYF_OBJECT_FREE] = { "PyObject_Free", PYF_KIND_FREE, PYLIB_PYTHON, PY_SRC_PYMALLOC },
	[PYF_MEM_MALLOC] = { "PyMem_Malloc", PYF_KIND_MALLOC, PYLIB_PYTHON, PY_SRC_PYMALLOC },
	[PYF_MEM_CALLOC] = { "PyMem_Calloc", PYF_KIND_CALLOC, PYLIB_PYTHON, PY_SRC_PYMALLOC },
	[PYF_MEM_REALLOC] = { "PyMem_Realloc", PYF_KIND_REALLOC, PYLIB_PYTHON, PY_SRC_PYMALLOC },
	[PYF_MEM_FREE] = { "PyMem_Free", PYF_KIND_FREE, PYLIB_PYTHON, PY_SRC_PYMALLOC },
	[PYF_LIBC_MALLOC] = { "malloc", PYF_KIND_MALLOC, PYLIB_LIBC, PY_SRC_MALLOC },
	[PYF_LIBC_CALLOC] = { "calloc", PYF_KIND_CALLOC, PYLIB_LIBC, PY_SRC_MALLOC },
	[PYF_LIBC_REALLOC] = { "realloc", PYF_KIND_REALLOC, PYLIB_LIBC, PY_SRC_MALLOC },
	[PYF_LIBC_FREE] = { "free", PYF_KIND_FREE, PYLIB_LIBC, PY_SRC_MALLOC },
};

/* Carries the search through the maps lines. */
struct find_ctx {
	struct py_interp *py;
	struct elf_file *ef;    /* the object found, kept open */
	char last_path[PATH_MAX];
	int open_errors;
};

/* Opens the ELF file behind a mapping of its start (the one that tells the
 * load bias), once, from the mapping itself; *fd_path receives the
 * /proc/self/fd/N path through which everything after (libbpf's attach
 * included) reaches that same file. NULL for any other mapping, with *err 0,
 * or when the file cannot be opened. */
static struct elf_file *open_mapped_start(pid_t pid, const struct proc_map *m, char fd_path[PATH_MAX],
					  int *err)
{
	struct elf_file *ef;
	int fd;

	*err = 0;
	if (m->offset != 0 || m->path[0] != '/')
		return NULL;
	fd = proc_open_mapped(pid, m);
	if (fd < 0) {
		*err = -fd;
		return NULL;
	}
	ef = elf_file__open_fd(fd, err);
	if (ef)
		proc_fd_path(elf_file__fd(ef), fd_path, PATH_MAX);
	return ef;
}

static int try_object(const struct proc_map *m, void *arg)
{
	struct find_ctx *ctx = arg;
	struct py_interp *py = ctx->py;
	struct elf_sym_info sym;
	struct elf_file *ef;
	char host[PATH_MAX];
	int err;

	if (m->path[0] != '/' || !strcmp(m->path, ctx->last_path))
		return 0;
	snprintf(ctx->last_path, sizeof(ctx->last_path), "%s", m->path);
	ef = open_mapped_start(py->pid, m, host, &err);
	if (!ef) {
		/* Data files (locale archives, caches) are not ELF: no loss. */
		if (err && err != ENOEXEC)
			ctx->open_errors++;
		return 0;
	}
	if (elf_file__find_symbol(ef, "_PyRuntime", &sym)) {
		elf_file__free(ef);
		return 0;
	}
	snprintf(py->path, sizeof(py->path), "%s", m->path);
	snprintf(py->host_path, sizeof(py->host_path), "%s", host);
	py->load_bias = elf_file__type(ef) == ET_DYN ?
				m->start - elf_file__first_load_vaddr(ef) : 0;
	py->runtime_addr = py->load_bias + sym.value;
	py->has_symtab = !sym.dynamic;
	ctx->ef = ef;
	return 1;
}

/* The minor version from a name like libpython3.9.so or python3.9, or -1. */
static int minor_from_path(const char *path)
{
	const char *base = strrchr(path, '/'), *p;
	unsigned int minor;

	base = base ? base + 1 : path;
	p = strstr(base, "python3.");
	if (!p || sscanf(p + 8, "%u", &minor) != 1)
		return -1;
	return (int)minor;
}

/* PY_VERSION ("3.9.18") in read-only data: the only version record before
 * Py_Version (3.11). The linker may merge it into the tail of a longer
 * string ("python-3.9.18"), so it need not start after a NUL; when the file
 * name gives the minor version, only that minor is accepted. The scan
 * (elf_scan_py_version) is linear: a crafted .rodata cannot stall attach,
 * and one over ELF_MAX_RODATA is not read at all. */
static int version_from_rodata(struct elf_file *ef, int want_minor, unsigned int *maj,
			       unsigned int *min, unsigned int *mic)
{
	uint64_t addr, size;
	uint8_t *buf;
	int ret;

	ret = elf_file__load_section(ef, ".rodata", ELF_MAX_RODATA, &buf, &addr, &size);
	if (ret)
		return ret == -ENOMEM ? -ENOMEM : -ENOENT;
	ret = elf_scan_py_version((const char *)buf, size, want_minor, maj, min, mic);
	free(buf);
	return ret;
}

static int read_version(struct elf_file *ef, struct py_interp *py)
{
	struct elf_sym_info sym;
	uint32_t hex;

	if (!elf_file__find_symbol(ef, "Py_Version", &sym) &&
	    !elf_file__read_vaddr(ef, sym.value, &hex, sizeof(hex))) {
		py->major = hex >> 24;
		py->minor = (hex >> 16) & 0xff;
		py->micro = (hex >> 8) & 0xff;
	} else if (version_from_rodata(ef, minor_from_path(py->path), &py->major, &py->minor, &py->micro)) {
		return -ENOENT;
	}
	snprintf(py->version, sizeof(py->version), "%u.%u.%u", py->major, py->minor, py->micro);
	return 0;
}

static void find_funcs(struct elf_file *ef, enum py_lib lib, struct py_interp *py)
{
	struct elf_sym_info sym;

	for (int i = 0; i < PYF__COUNT; i++) {
		if (py_funcs[i].lib != lib)
			continue;
		py->func_off[i] = 0;
		if (!elf_file__find_symbol(ef, py_funcs[i].name, &sym) && sym.value && sym.type == STT_FUNC)
			elf_file__vaddr_to_offset(ef, sym.value, &py->func_off[i]);
	}
}

static bool is_libc_name(const char *path)
{
	const char *base = strrchr(path, '/');

	base = base ? base + 1 : path;
	return !strncmp(base, "libc.so", 7) || !strncmp(base, "libc-2.", 7);
}

static int try_libc(const struct proc_map *m, void *arg)
{
	struct py_interp *py = arg;
	struct elf_file *ef;
	char host[PATH_MAX];
	int err;

	if (!is_libc_name(m->path))
		return 0;
	ef = open_mapped_start(py->pid, m, host, &err);
	if (!ef)
		return 0;
	find_funcs(ef, PYLIB_LIBC, py);
	if (!py->func_off[PYF_LIBC_MALLOC] || !py->func_off[PYF_LIBC_FREE]) {
		elf_file__free(ef);
		return 0;
	}
	snprintf(py->libc_host_path, sizeof(py->libc_host_path), "%s", host);
	py->libc_elf = ef;
	return 1;
}

/* Distributions ship static symbols apart (Debian's python3.X-dbg), found
 * by build-id under the target's own root, which the target controls: the
 * path is resolved inside that root, only a regular file is opened, and it
 * must carry the same build-id. Optional: NULL when absent or refused. */
static struct elf_file *open_debug_file(struct elf_file *ef, struct py_interp *py)
{
	char id[128], dbg_id[128];
	struct elf_file *dbg = NULL;
	int fd, err = 0; /* positive errno */

	py->debug_path[0] = '\0';
	if (py->has_symtab || elf_file__build_id(ef, id, sizeof(id)) || strlen(id) < 3)
		return NULL;
	snprintf(py->debug_path, sizeof(py->debug_path), "/usr/lib/debug/.build-id/%.2s/%s.debug", id, id + 2);
	fd = proc_open_in_root(py->pid, py->debug_path);
	if (fd < 0) {
		err = -fd;
	} else if ((dbg = elf_file__open_fd(fd, &err)) &&
		   (elf_file__build_id(dbg, dbg_id, sizeof(dbg_id)) || strcmp(id, dbg_id))) {
		elf_file__free(dbg);
		dbg = NULL;
		err = EBADMSG;
	}
	if (dbg)
		return dbg;
	if (err == ENOENT)
		py->debug_path[0] = '\0';
	else
		py->debug_refused = err; /* debug_path names the file refused */
	return NULL;
}

static void find_probe_points(struct elf_file *ef, struct py_interp *py)
{
	struct elf_sym_info sym;
	struct elf_file *dbg;

	find_funcs(ef, PYLIB_PYTHON, py);
	/* Without libc, native allocations stay unseen; not fatal. */
	if (proc_maps_foreach(py->pid, try_libc, py) != 1) {
		elf_file__free(py->libc_elf);
		py->libc_elf = NULL;
		py->libc_host_path[0] = '\0';
		for (int i = 0; i < PYF__COUNT; i++)
			if (py_funcs[i].lib == PYLIB_LIBC)
				py->func_off[i] = 0;
	}
	py->gc_usdt = elf_file__has_usdt(ef, "python", "gc__start") &&
		      elf_file__has_usdt(ef, "python", "gc__done");
	py->gc_main_off = 0;
	if (!py->gc_usdt && !elf_file__find_symbol(ef, py->layout.gc_main, &sym) && sym.type == STT_FUNC)
		elf_file__vaddr_to_offset(ef, sym.value, &py->gc_main_off);
	dbg = open_debug_file(ef, py);
	/* An unreadable .text only costs the inlined copies: the exported
	 * functions are still probed, and coverage will say what is missed. */
	if (guards__scan(ef, dbg, &py->guards)) {
		char why[sizeof(py->guards.why)];

		/* Nothing of a failed scan is used, but its reason is shown. */
		memcpy(why, py->guards.why, sizeof(why));
		memset(&py->guards, 0, sizeof(py->guards));
		memcpy(py->guards.why, why, sizeof(why));
	}
	elf_file__free(dbg);
}

/* 3.13+ describe their own layout at the start of _PyRuntime. Its initial
 * value is in the file (.PyRuntime is PROGBITS), so no live read is needed. */
static int apply_debug_offsets(struct elf_file *ef, struct py_interp *py, char *why, size_t whylen)
{
	uint8_t buf[PY_DEBUG_OFFSETS_MAX];
	char what[256];
	int err;

	err = elf_file__read_vaddr(ef, py->runtime_addr - py->load_bias, buf, sizeof(buf));
	if (err) {
		snprintf(why, whylen, "CPython %s (%s): cannot read _Py_DebugOffsets from the file: %s",
			 py->version, py->path, strerror(-err));
		return -ENOTSUP;
	}
	err = py_layout_apply_debug_offsets(&py->layout, buf, sizeof(buf), what, sizeof(what));
	if (err) {
		snprintf(why, whylen, "CPython %s (%s) is not supported: %s", py->version, py->path, what);
		return -ENOTSUP;
	}
	return 0;
}

void py_interp_release(struct py_interp *py)
{
	guards__free(&py->guards);
	elf_file__free(py->python_elf);
	elf_file__free(py->libc_elf);
	py->python_elf = py->libc_elf = NULL;
}

int py_interp_find(pid_t pid, struct py_interp *py, char *why, size_t whylen)
{
	struct find_ctx ctx = { .py = py };
	int ret;

	memset(py, 0, sizeof(*py));
	py->pid = pid;
	ret = proc_maps_foreach(pid, try_object, &ctx);
	if (ret < 0) {
		snprintf(why, whylen, "cannot read /proc/%d/maps: %s", pid, strerror(-ret));
		return ret == -ENOENT ? -ESRCH : ret;
	}
	if (!ctx.ef) {
		snprintf(why, whylen, "process %d is not a CPython 3 interpreter: no mapped object defines _PyRuntime%s",
			 pid, ctx.open_errors ? " (some mapped files could not be read)" : "");
		return -ENOENT;
	}
	py->shared = strstr(py->path, "libpython") != NULL;
	if (read_version(ctx.ef, py)) {
		const char *reason = elf_file__error(ctx.ef);

		snprintf(why, whylen, "cannot tell the CPython version of %s%s%s", py->path, reason[0] ? ": " : "",
			 reason);
		ret = -ENOTSUP;
		goto out;
	}
	if (py_layout_for(py->major, py->minor, &py->layout)) {
		snprintf(why, whylen, "CPython %s (%s) is not supported (supported: %s)", py->version,
			 py->path, py_layout_supported());
		ret = -ENOTSUP;
		goto out;
	}
	if (py->layout.debug_offsets) {
		ret = apply_debug_offsets(ctx.ef, py, why, whylen);
		if (ret)
			goto out;
	}
	find_probe_points(ctx.ef, py);
	/* Kept open: the probes attach through it. */
	py->python_elf = ctx.ef;
	return 0;
out:
	elf_file__free(ctx.ef);
	return ret;
}

/* Thread states a sane interpreter has at most, for the check below. */
#define MAX_THREADS_CHECKED 4096

/* Walks the interpreter's thread list: every tstate must point back at the
 * interpreter and, where thread states record it, one must be the main
 * thread's. The gilstate TSS key the BPF side reads must be initialised. */
static int check_threads(const struct py_interp *py, uint64_t interp, bool *main_found)
{
	const struct py_runtime_layout *r = &py->layout.runtime;
	uint64_t tstate = 0, back;
	pid_t ns_pid;
	uint32_t tid;
	int err, n = 0;

	*main_found = false;
	/* In a container CPython records the namespace's thread ids. */
	proc_ns_pid(py->pid, &ns_pid);
	err = proc_read(py->pid, interp + r->interp_threads_head, &tstate, sizeof(tstate));
	for (; !err && tstate && n < MAX_THREADS_CHECKED; n++) {
		err = proc_read(py->pid, tstate + r->tstate_interp, &back, sizeof(back));
		if (err || back != interp)
			return err ? err : -EPROTO;
		if (py->layout.bpf.tstate_native_tid != PY_OFF_NONE) {
			err = proc_read(py->pid, tstate + py->layout.bpf.tstate_native_tid, &tid, sizeof(tid));
			if (!err && (tid == (uint32_t)py->pid || tid == (uint32_t)ns_pid))
				*main_found = true;
		}
		if (!err)
			err = proc_read(py->pid, tstate + r->tstate_next, &tstate, sizeof(tstate));
	}
	if (err)
		return err;
	if (!n)
		return -EPROTO;
	if (py->layout.bpf.tstate_native_tid == PY_OFF_NONE)
		*main_found = true;
	return 0;
}

static int check_tss_key(const struct py_interp *py)
{
	uint32_t tss[2]; /* Py_tss_t: int _is_initialized; pthread_key_t _key */

	if (py->layout.bpf.runtime_tss_key == PY_OFF_NONE)
		return 0;
	if (proc_read(py->pid, py->runtime_addr + py->layout.bpf.runtime_tss_key - 4, tss, sizeof(tss)))
		return -EFAULT;
	return tss[0] == 1 && tss[1] < PY_TSS_INLINE_KEYS ? 0 : -EPROTO;
}

/* usedpools[] is 32 (nextpool, prevpool) pairs; class i's list head is a
 * pseudo pool header 16 bytes before its pair, so an empty class points at
 * itself and a used one at a pool of its own size class that points back. */
#define USEDPOOLS_CLASSES 32

static bool is_usedpools(pid_t pid, uint64_t addr, const uint64_t *slots)
{
	for (int i = 0; i < USEDPOOLS_CLASSES; i++) {
		uint64_t head = addr + 16 * (uint64_t)i - 16, next = slots[2 * i], prev = 0;
		uint32_t szidx = 0;

		if (next == head && slots[2 * i + 1] == head)
			continue;
		if (!next || next == head || proc_read(pid, next + PY_POOL_SZIDX, &szidx, sizeof(szidx)) ||
		    szidx != (uint32_t)i || proc_read(pid, next + PY_POOL_PREVPOOL, &prev, sizeof(prev)) ||
		    prev != head)
			return false;
	}
	return true;
}

/* From 3.12 pymalloc's state is per interpreter: inside PyInterpreterState
 * in 3.12, behind interp->obmalloc from 3.13. Neither offset is in the debug
 * offsets, so both shapes are searched for in the main interpreter, checking
 * every candidate against the pools it points to. Only the prediction of
 * inlined allocations (LTO builds) needs it; without it they are counted as
 * unforeseen. */
static void locate_usedpools(struct py_interp *py, uint64_t interp)
{
	uint32_t size = py->layout.runtime.interp_size;
	uint64_t slots[2 * USEDPOOLS_CLASSES], *words, pool_mask = py->layout.pool_size - 1;
	size_t n, checks = 0;

	if (py->guards.usedpools_vaddr) {
		py->usedpools_addr = py->guards.usedpools_vaddr + py->load_bias;
		return;
	}
	if (!size || !py->guards.nsites)
		return;
	/* interp_size is the target's claim (3.13+): search a bounded prefix. */
	if (size > USEDPOOLS_SEARCH_MAX)
		size = USEDPOOLS_SEARCH_MAX;
	/* The struct must not wrap the address space. */
	if (interp > UINT64_MAX - size)
		return;
	n = size / sizeof(*words);
	words = malloc(n * sizeof(*words));
	if (!words)
		return;
	if (proc_read(py->pid, interp, words, n * sizeof(*words)))
		goto out;
	/* i + 2 * USEDPOOLS_CLASSES <= n: is_usedpools reads that many words.
	 * Each full check costs up to 64 reads of the target: their number is
	 * capped too, so that a struct full of decoys cannot stall attach. */
	for (size_t i = 0; n >= 2 * USEDPOOLS_CLASSES && i <= n - 2 * USEDPOOLS_CLASSES && !py->usedpools_addr &&
			   checks < USEDPOOLS_MAX_CHECKS;
	     i++) {
		uint64_t at = interp + 8 * i, v = words[i];

		/* Embedded: class 0 empty or pointing at a pool. */
		if (v == at - 16 || (v && !(v & pool_mask))) {
			checks++;
			if (is_usedpools(py->pid, at, &words[i])) {
				py->usedpools_addr = at;
				break;
			}
		}
		/* Behind a pointer: anything 8-aligned outside the struct, with
		 * room for the whole array below 2^64. */
		if (!v || (v & 7) || (v >= interp && v - interp < size) || v > UINT64_MAX - sizeof(slots) ||
		    proc_read(py->pid, v, slots, sizeof(slots)))
			continue;
		if (slots[0] == v - 16 || (slots[0] && !(slots[0] & pool_mask))) {
			checks++;
			if (is_usedpools(py->pid, v, slots))
				py->usedpools_addr = v;
		}
	}
out:
	free(words);
}

int py_interp_verify(struct py_interp *py, char *why, size_t whylen)
{
	uint64_t interp = 0;
	bool main_found = false;
	const char *what = NULL;
	int err;

	err = proc_read(py->pid, py->runtime_addr + py->layout.runtime.interpreters_head, &interp,
			sizeof(interp));
	if (!err && interp) {
		err = check_threads(py, interp, &main_found);
		if (err)
			what = "the thread list does not hold together";
		else if (!main_found)
			what = "main thread state not found";
		else if ((err = check_tss_key(py)))
			what = "the gilstate TSS key is not where the table says";
		if (!what) {
			locate_usedpools(py, interp);
			return 0;
		}
	}
	if (proc_alive(py->pid))
		return -ESRCH;
	if (!interp) {
		/* Still starting up, or already finalised. */
		snprintf(why, whylen, "CPython %s in process %d has no interpreter yet (starting up or shutting down)",
			 py->version, py->pid);
		return -ENOTSUP;
	}
	snprintf(why, whylen, "CPython %s (%s) is not supported: the %u.%u layout does not match this build (%s%s%s)",
		 py->version, py->path, py->major, py->minor, what ? what : "unreadable", err ? ": " : "",
		 err ? strerror(-err) : "");
	return -ENOTSUP;
}
