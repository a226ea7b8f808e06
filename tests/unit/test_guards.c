// SPDX-License-Identifier: MIT
/* Inlined-allocator discovery on real binaries: Debian's LTO+PGO python3.11
 * (many guarded copies) and pyenv's plain libpython (none), plus the
 * usedpools pattern on synthetic data. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <capstone/capstone.h>
#include <errno.h>
#include <time.h>
#include "caps.h"
#include "check.h"
#include "elfbuild.h"
#include "guards.h"

#define DEBIAN_PY "/usr/bin/python3.11"
#define PYENV_LIB "/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"

/* An independent look at each reported guard: re-decode its bytes from the
 * file and check it is `cmp $target, %reg` for the right target. */
static bool is_guard_in_file(struct elf_file *ef, const struct guard_site *s, uint64_t target)
{
	uint8_t code[16];
	const uint8_t *p = code;
	size_t left = sizeof(code);
	uint64_t addr = s->vaddr;
	cs_insn *insn;
	bool ok = false;
	csh cs;

	if (elf_file__read_vaddr(ef, s->vaddr, code, sizeof(code)) || cs_open(CS_ARCH_X86, CS_MODE_64, &cs))
		return false;
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	insn = cs_malloc(cs);
	if (insn && cs_disasm_iter(cs, &p, &left, &addr, insn))
		ok = insn->id == X86_INS_CMP && insn->detail->x86.op_count == 2 &&
		     insn->detail->x86.operands[1].type == X86_OP_IMM &&
		     (uint64_t)insn->detail->x86.operands[1].imm == target;
	cs_free(insn, 1);
	cs_close(&cs);
	return ok;
}

static void test_debian_lto(void)
{
	struct guard_scan g;
	struct elf_file *ef;
	size_t allocs = 0, frees = 0, bad = 0, consts = 0, entries = 0;
	uint64_t slots[2];
	int err = 0;

	ef = elf_file__open(DEBIAN_PY, &err);
	if (!CHECK(ef, "Debian's python3.11 must be installed (make deps)"))
		return;
	if (!CHECK(guards__scan(ef, NULL, &g) == 0, "scan Debian python3.11"))
		goto out;
	CHECK(g.malloc_vaddr && g.free_vaddr && g.malloc_vaddr != g.free_vaddr, "static allocators found");
	for (size_t i = 0; i < g.nsites; i++) {
		const struct guard_site *s = &g.sites[i];
		uint64_t target = s->kind == GUARD_ALLOC ? g.malloc_vaddr : g.free_vaddr;

		if (s->vaddr == target) {
			entries++;
			continue;
		}
		if (s->kind == GUARD_ALLOC)
			allocs++;
		else
			frees++;
		if (s->op.base == PY_REG_NONE && s->op.index == PY_REG_NONE)
			consts++;
		if (!is_guard_in_file(ef, s, target))
			bad++;
	}
	printf("debian python3.11: %zu alloc guards, %zu free guards (%zu constant sizes), %zu unresolved, %zu tests\n",
	       allocs, frees, consts, g.unresolved, g.not_alloc);
	/* measured.md: ~190 inlined malloc copies and ~51 free copies. */
	CHECK(allocs >= 150, "most inlined malloc copies located");
	CHECK(frees >= 40, "most inlined free copies located");
	CHECK(consts > 0, "some copies allocate a compile-time constant");
	CHECK_EQ_INT(entries, 2, "both static entry points added");
	CHECK_EQ_INT(bad, 0, "every reported guard decodes as cmp $static_allocator");
	CHECK(g.unresolved * 10 < allocs + frees, "arguments located for > 90% of the guards");
	/* usedpools[0] and [1] both point 16 bytes before slot 0 at start-up. */
	if (CHECK(g.usedpools_vaddr, "usedpools found in .data") &&
	    CHECK(elf_file__read_vaddr(ef, g.usedpools_vaddr, slots, sizeof(slots)) == 0, "read usedpools")) {
		CHECK(slots[0] == g.usedpools_vaddr - 16 && slots[1] == slots[0], "usedpools self-pointers");
	}
	guards__free(&g);
out:
	elf_file__free(ef);
}

/* With Debian's detached debug symbols (python3.11-dbg, installed by make
 * deps) the names are known: the guard-derived addresses and the .data
 * pattern must give the same answers as the symbols. */
static void test_debian_debug_symbols(void)
{
	char id[128], path[4096];
	struct elf_file *ef, *dbg = NULL;
	struct elf_sym_info sym;
	struct guard_scan bare, with;
	int err = 0;

	ef = elf_file__open(DEBIAN_PY, &err);
	if (!CHECK(ef, "Debian's python3.11") || !CHECK(elf_file__build_id(ef, id, sizeof(id)) == 0, "build-id"))
		goto out;
	snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug", id, id + 2);
	dbg = elf_file__open(path, &err);
	if (!CHECK(dbg, "python3.11-dbg's debug file for the installed python3.11 (make deps)"))
		goto out;
	if (!CHECK(guards__scan(ef, NULL, &bare) == 0, "scan without names"))
		goto out;
	if (CHECK(guards__scan(ef, dbg, &with) == 0, "scan with names: guards agree with the symbols")) {
		CHECK(elf_file__find_static(dbg, "_PyObject_Malloc", &sym) == 0 && sym.value == bare.malloc_vaddr,
		      "guard target is _PyObject_Malloc");
		CHECK(elf_file__find_static(dbg, "_PyObject_Free", &sym) == 0 && sym.value == bare.free_vaddr,
		      "guard target is _PyObject_Free");
		CHECK(elf_file__find_static(dbg, "usedpools", &sym) == 0 && sym.value == bare.usedpools_vaddr,
		      "the .data pattern found usedpools");
		CHECK_EQ_INT(with.nsites, bare.nsites, "same sites either way");
		guards__free(&with);
	}
	guards__free(&bare);
out:
	elf_file__free(dbg);
	elf_file__free(ef);
}

static void test_plain_build(void)
{
	char path[4096];
	struct guard_scan g;
	struct elf_file *ef;
	int err = 0;

	snprintf(path, sizeof(path), "%s%s", getenv("HOME") ? getenv("HOME") : "/root", PYENV_LIB);
	ef = elf_file__open(path, &err);
	if (!CHECK(ef, "pyenv 3.11.7's libpython must be on the machine image"))
		return;
	if (CHECK(guards__scan(ef, NULL, &g) == 0, "scan pyenv libpython")) {
		CHECK_EQ_INT(g.nsites, 0, "a plain build has no inlined allocator copies");
		CHECK_EQ_INT(g.malloc_vaddr, 0, "no guard in the exported PyObject_Malloc");
		guards__free(&g);
	}
	elf_file__free(ef);
}

static void test_usedpools_pattern(void)
{
	uint64_t data[8 + 64 + 4];
	uint64_t base = 0x900000, at = base + 8 * 8;

	memset(data, 0xab, sizeof(data));
	for (int k = 0; k < 64; k++)
		data[8 + k] = at + (uint64_t)(k & ~1) * 8 - 16;
	CHECK_EQ_INT(guards__find_usedpools((uint8_t *)data, sizeof(data), base), at, "pattern found");
	data[8 + 63] ^= 8;
	CHECK_EQ_INT(guards__find_usedpools((uint8_t *)data, sizeof(data), base), 0, "one wrong slot: no match");
}

/* .text as elfbuild lays it out: right after the ELF and program headers. */
#define CRAFT_TEXT (ELFB_BASE + 0x80)
#define CRAFT_MALLOC (CRAFT_TEXT + 0x40)
#define CRAFT_FREE (CRAFT_TEXT + 0x50)

/* A file whose exported allocators guard like Debian's (cmp $static, %rax)
 * followed by `ndecoys` copies of `cmp $static_malloc, %rax; jne +0`: each
 * a guard candidate costing 4 decodes. */
static struct elf_file *decoy_file(size_t ndecoys)
{
	static const struct elfb_sym syms[] = {
		{ "PyObject_Malloc", CRAFT_TEXT, STT_FUNC },
		{ "PyObject_Free", CRAFT_TEXT + 0x10, STT_FUNC },
	};
	size_t len = 0x100 + 8 * ndecoys, flen;
	uint8_t *text = calloc(1, len), *file = NULL;
	uint32_t m = (uint32_t)CRAFT_MALLOC, f = (uint32_t)CRAFT_FREE;
	struct elf_file *ef = NULL;
	int err, fd;

	if (!text)
		return NULL;
	memset(text, 0xc3, 0x100);
	memcpy(text, "\x48\x3d", 2);
	memcpy(text + 2, &m, 4);
	memcpy(text + 0x10, "\x48\x3d", 2);
	memcpy(text + 0x12, &f, 4);
	for (size_t i = 0; i < ndecoys; i++) {
		uint8_t *d = text + 0x100 + 8 * i;

		memcpy(d, "\x48\x3d", 2);
		memcpy(d + 2, &m, 4);
		memcpy(d + 6, "\x75\x00", 2);
	}
	{
		struct elfb_spec spec = { .text = text, .text_len = len, .syms = syms, .nsyms = 2 };

		file = elfb_build(&spec, &flen);
	}
	if (file && elfb_section(file, ".text")->sh_addr == CRAFT_TEXT && (fd = elfb_memfd(file, flen)) >= 0)
		ef = elf_file__open_fd(fd, &err);
	free(file);
	free(text);
	return ef;
}

static void test_decoys(void)
{
	struct timespec t0, t1;
	struct guard_scan g;
	struct elf_file *ef;
	double s;

	ef = decoy_file(1000);
	if (CHECK(ef, "crafted file with 1000 decoys")) {
		if (CHECK(guards__scan(ef, NULL, &g) == 0, "scan within budget")) {
			CHECK(g.malloc_vaddr == CRAFT_MALLOC && g.free_vaddr == CRAFT_FREE, "static allocators from the guards");
			/* ... and the exported PyObject_Malloc's own guard, whose
			 * next instruction is no branch. */
			CHECK_EQ_INT(g.unresolved, 1001, "every decoy seen, none taken for a guard");
			CHECK_EQ_INT(g.nsites, 2, "only the two entries");
			guards__free(&g);
		}
		elf_file__free(ef);
	}
	/* 4 decodes a decoy: 2^19 decoys need twice GUARD_MAX_DECODES. */
	ef = decoy_file(1u << 19);
	if (CHECK(ef, "crafted file with 2^19 decoys")) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK(guards__scan(ef, NULL, &g) == -ETIMEDOUT, "over the decode budget: the scan fails");
		clock_gettime(CLOCK_MONOTONIC, &t1);
		s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		printf("decoy scan: %zu decodes in %.2f s\n", g.decodes, s);
		CHECK(g.decodes == GUARD_MAX_DECODES && !g.nsites && !g.sites, "budget spent, nothing kept");
		CHECK(strstr(g.why, "GUARD_MAX_DECODES") != NULL, "and why says so");
		CHECK(s < 5.0, "stopped within seconds");
		guards__free(&g);
		elf_file__free(ef);
	}
}

int main(void)
{
	test_debian_lto();
	test_debian_debug_symbols();
	test_plain_build();
	test_usedpools_pattern();
	test_decoys();
	return check_summary();
}
