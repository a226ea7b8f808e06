// SPDX-License-Identifier: MIT
/* The version table and the 3.13+ debug-offsets reader. The debug offsets
 * come from real files: pyenv's CPython 3.13.0 (whose DWARF gave the table's
 * 3.13 row) and, when `make matrix` / `make python314` have made them, the
 * stripped Debian builds in the chroots. Damaged copies of a real header
 * check each refusal. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "elfsym.h"
#include "pyoffsets.h"

#define PYENV_313 "/.pyenv/versions/3.13.0/lib/libpython3.13.so.1.0"
#define CHROOTS "/var/cache/pyleakbpf"

static void test_table(void)
{
	struct py_layout l;

	for (unsigned int minor = 9; minor <= 14; minor++) {
		char what[64];

		snprintf(what, sizeof(what), "3.%u", minor);
		if (!CHECK(py_layout_for(3, minor, &l) == 0, what))
			continue;
		CHECK(l.bpf.frame_read_size <= PY_FRAME_READ_MAX, what);
		CHECK(l.bpf.frame_code + 8u <= l.bpf.frame_read_size, what);
		CHECK(l.bpf.frame_previous + 8u <= l.bpf.frame_read_size, what);
		CHECK(l.bpf.frame_instr + 4u <= l.bpf.frame_read_size, what);
		CHECK(l.bpf.frame_owner == PY_OFF_NONE || l.bpf.frame_owner < l.bpf.frame_read_size, what);
		CHECK(l.bpf.runtime_tss_key != PY_OFF_NONE, what);
		CHECK_EQ_INT(l.debug_offsets, minor >= 13, what);
		CHECK_EQ_INT(l.pool_size, minor == 9 ? 4096 : 16384, what);
	}
	CHECK(py_layout_for(3, 8, &l) == -ENOTSUP, "3.8 has no layout");
	CHECK(py_layout_for(3, 15, &l) == -ENOTSUP, "3.15 has no layout");
}

/* The first PY_DEBUG_OFFSETS_MAX bytes of _PyRuntime in the file at path. */
static bool read_runtime(const char *path, uint8_t *buf)
{
	struct elf_sym_info sym;
	struct elf_file *ef;
	bool ok;
	int err;

	ef = elf_file__open(path, &err);
	if (!ef)
		return false;
	ok = !elf_file__find_symbol(ef, "_PyRuntime", &sym) &&
	     !elf_file__read_vaddr(ef, sym.value, buf, PY_DEBUG_OFFSETS_MAX);
	elf_file__free(ef);
	return ok;
}

/* The debug offsets must give back what the table says for that version:
 * for 3.13 the table came from DWARF, for 3.14 from py-spy's bindings. */
static void check_agrees(const char *path, unsigned int minor, const uint8_t *buf)
{
	struct py_layout table, l;
	char why[256];

	py_layout_for(3, minor, &table);
	l = table;
	if (!CHECK(py_layout_apply_debug_offsets(&l, buf, PY_DEBUG_OFFSETS_MAX, why, sizeof(why)) == 0, path)) {
		fprintf(stderr, "  %s\n", why);
		return;
	}
	CHECK_EQ_INT(l.bpf.tstate_frame, table.bpf.tstate_frame, "current_frame");
	CHECK_EQ_INT(l.bpf.tstate_native_tid, table.bpf.tstate_native_tid, "native_thread_id");
	CHECK_EQ_INT(l.bpf.frame_previous, table.bpf.frame_previous, "previous");
	CHECK_EQ_INT(l.bpf.frame_code, table.bpf.frame_code, "f_executable");
	CHECK_EQ_INT(l.bpf.frame_instr, table.bpf.frame_instr, "instr_ptr");
	CHECK_EQ_INT(l.bpf.frame_owner, table.bpf.frame_owner, "owner");
	CHECK_EQ_INT(l.bpf.frame_read_size, table.bpf.frame_read_size, "frame bytes read");
	CHECK_EQ_INT(l.bpf.runtime_finalizing, table.bpf.runtime_finalizing, "_finalizing");
	CHECK_EQ_INT(l.runtime.interpreters_head, table.runtime.interpreters_head, "interpreters.head");
	CHECK_EQ_INT(l.runtime.interp_threads_head, table.runtime.interp_threads_head, "threads.head");
	CHECK_EQ_INT(l.code.code_filename, table.code.code_filename, "co_filename");
	CHECK_EQ_INT(l.code.code_qualname, table.code.code_qualname, "co_qualname");
	CHECK_EQ_INT(l.code.code_linetable, table.code.code_linetable, "co_linetable");
	CHECK_EQ_INT(l.code.code_firstlineno, table.code.code_firstlineno, "co_firstlineno");
	CHECK_EQ_INT(l.code.code_adaptive, table.code.code_adaptive, "co_code_adaptive");
	/* Grows between micro releases (194968 in 3.13.0, 194976 in 3.13.5):
	 * why the debug offsets' value wins over the table's. */
	CHECK(l.runtime.interp_size > l.runtime.interp_threads_head, "sizeof(PyInterpreterState)");
	printf("debug offsets of %s agree with the 3.%u table\n", path, minor);
}

static void test_refusals(const uint8_t *real)
{
	uint8_t buf[PY_DEBUG_OFFSETS_MAX];
	struct py_layout l;
	char why[256];
	uint64_t v;

	py_layout_for(3, 13, &l);
	memcpy(buf, real, sizeof(buf));
	v = 1;
	memcpy(buf + 16, &v, sizeof(v));
	CHECK(py_layout_apply_debug_offsets(&l, buf, sizeof(buf), why, sizeof(why)) == -ENOTSUP, "free-threaded");
	CHECK(strstr(why, "free-threaded") != NULL, why);

	memcpy(buf, real, sizeof(buf));
	buf[0] = 'X';
	CHECK(py_layout_apply_debug_offsets(&l, buf, sizeof(buf), why, sizeof(why)) == -EPROTO, "bad cookie");

	memcpy(buf, real, sizeof(buf));
	v = 0x030c01f0; /* 3.12.1 */
	memcpy(buf + 8, &v, sizeof(v));
	CHECK(py_layout_apply_debug_offsets(&l, buf, sizeof(buf), why, sizeof(why)) == -EPROTO, "other version");

	memcpy(buf, real, sizeof(buf));
	v = 4096; /* interpreter_frame.owner: beyond what the BPF walk copies */
	memcpy(buf + 224 + 5 * 8, &v, sizeof(v));
	CHECK(py_layout_apply_debug_offsets(&l, buf, sizeof(buf), why, sizeof(why)) == -EPROTO, "owner too far");

	py_layout_for(3, 12, &l);
	CHECK(py_layout_apply_debug_offsets(&l, real, PY_DEBUG_OFFSETS_MAX, why, sizeof(why)) == -ENOTSUP,
	      "3.12 has no debug offsets");
	py_layout_for(3, 13, &l);
	CHECK(py_layout_apply_debug_offsets(&l, real, 100, why, sizeof(why)) == -ENOTSUP, "short buffer");
}

int main(void)
{
	static const struct { const char *path; unsigned int minor; } chroots[] = {
		{ CHROOTS "/chroot-trixie/usr/bin/python3.13", 13 },
		{ CHROOTS "/chroot-sid/usr/bin/python3.14", 14 },
	};
	uint8_t buf[PY_DEBUG_OFFSETS_MAX];
	char path[4096];
	const char *home = getenv("HOME");

	test_table();
	snprintf(path, sizeof(path), "%s" PYENV_313, home ? home : "/root");
	if (CHECK(read_runtime(path, buf), "pyenv 3.13.0's libpython must be on the machine image")) {
		check_agrees(path, 13, buf);
		test_refusals(buf);
	}
	for (size_t i = 0; i < sizeof(chroots) / sizeof(chroots[0]); i++) {
		if (read_runtime(chroots[i].path, buf))
			check_agrees(chroots[i].path, chroots[i].minor, buf);
		else
			printf("not checked: %s (no such chroot yet)\n", chroots[i].path);
	}
	return check_summary();
}
