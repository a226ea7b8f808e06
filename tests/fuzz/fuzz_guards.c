// SPDX-License-Identifier: MIT
/* One input is the .text of an interpreter-like file: bytes 0-1 and 2-3
 * place the exported PyObject_Malloc and PyObject_Free in it (little-endian
 * offsets, modulo its size), the rest is the code. The harness wraps it in
 * an ELF (tests/unit/elfbuild.h) with the input's tail also as .data, and
 * runs the guard scan, checking that every site lies in .text, with a file
 * offset that maps back, and that the decode budget holds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../unit/elfbuild.h"
#include "caps.h"
#include "guards.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elfb_sym syms[3];
	struct elfb_spec spec = {};
	struct guard_scan g;
	struct elf_file *ef;
	uint64_t text_addr, text_size;
	uint8_t *file;
	size_t len, code_len;
	int err, fd;

	if (size < 5)
		return 0;
	code_len = size - 4;
	/* .text starts at ELFB_BASE + 0x80 in elfbuild's layout. */
	syms[0] = (struct elfb_sym){ "PyObject_Malloc", ELFB_BASE + 0x80 + (data[0] | data[1] << 8) % code_len, STT_FUNC };
	syms[1] = (struct elfb_sym){ "PyObject_Free", ELFB_BASE + 0x80 + (data[2] | data[3] << 8) % code_len, STT_FUNC };
	syms[2] = (struct elfb_sym){ "_PyObject_Malloc", ELFB_BASE + 0x80 + (data[4] % code_len), STT_FUNC };
	spec.text = data + 4;
	spec.text_len = code_len;
	spec.data = data + 4;
	spec.data_len = code_len & ~(size_t)7;
	spec.syms = syms;
	spec.nsyms = data[4] & 1 ? 3 : 2;
	file = elfb_build(&spec, &len);
	if (!file)
		return 0;
	fd = elfb_memfd(file, len);
	free(file);
	if (fd < 0)
		abort();
	ef = elf_file__open_fd(fd, &err);
	if (!ef)
		abort(); /* elfbuild's files are well formed */
	if (elf_file__find_section(ef, ".text", &text_addr, &text_size) || text_addr != ELFB_BASE + 0x80)
		abort();
	if (!guards__scan(ef, NULL, &g)) {
		for (size_t i = 0; i < g.nsites; i++) {
			const struct guard_site *s = &g.sites[i];

			if (s->vaddr < text_addr || s->vaddr - text_addr >= text_size ||
			    s->offset != s->vaddr - ELFB_BASE || s->kind > GUARD_FREE)
				abort();
		}
		if (g.nsites > GUARD_MAX_SITES || g.decodes > GUARD_MAX_DECODES)
			abort();
		if (g.usedpools_vaddr && (g.usedpools_vaddr < ELFB_BASE || g.usedpools_vaddr & 7))
			abort();
	} else if (g.sites || g.nsites) {
		abort();
	}
	guards__free(&g);
	elf_file__free(ef);
	return 0;
}
