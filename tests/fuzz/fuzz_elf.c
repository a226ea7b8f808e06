// SPDX-License-Identifier: MIT
/* One input is an ELF file, opened through a memfd with elf_file__open_fd
 * as the tool opens a target's binary; every lookup of elfsym.h runs on it,
 * and the PY_VERSION scan on its .rodata. Promises checked: results lie
 * where the file says they are, strings end, and nothing reads outside. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "caps.h"
#include "elfsym.h"

static int memfd_of(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz_elf", MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		abort();
	while (off < size) {
		ssize_t n = write(fd, data + off, size - off);

		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	return fd;
}

static void lookups(struct elf_file *ef)
{
	static const char *const names[] = { "_PyRuntime", "Py_Version", "PyObject_Malloc", "usedpools", "" };
	static const char *const sections[] = { ".text", ".data", ".rodata", ".PyRuntime", ".note.stapsdt" };
	struct elf_sym_info sym;
	unsigned int maj, min, mic;
	uint64_t addr, size, off;
	uint8_t *buf, word[16];
	char id[64];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!elf_file__find_symbol(ef, names[i], &sym)) {
			/* A hit must read as far as the file backs it, or fail cleanly. */
			elf_file__read_vaddr(ef, sym.value, word, sizeof(word));
			elf_file__vaddr_to_offset(ef, sym.value, &off);
		}
		elf_file__find_static(ef, names[i], &sym);
	}
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		elf_file__find_section(ef, sections[i], &addr, &size);
		if (!elf_file__load_section(ef, sections[i], 1 << 20, &buf, &addr, &size)) {
			if (size > (1 << 20) || buf[size] != '\0')
				abort();
			if (!elf_scan_py_version((const char *)buf, size, -1, &maj, &min, &mic) &&
			    (maj != 3 || min < 5 || min >= 40 || mic > 999))
				abort();
			if (!elf_scan_py_version((const char *)buf, size, 9, &maj, &min, &mic) && min != 9)
				abort();
			free(buf);
		} else if (buf) {
			abort();
		}
	}
	elf_file__has_usdt(ef, "python", "gc__start");
	if (!elf_file__build_id(ef, id, sizeof(id)) && strnlen(id, sizeof(id)) == sizeof(id))
		abort();
	/* Build-ids longer than the buffer are refused, never cut. */
	if (!elf_file__build_id(ef, id, 9) && strlen(id) > 8)
		abort();
	elf_file__type(ef);
	elf_file__first_load_vaddr(ef);
	if (strnlen(elf_file__error(ef), 200) >= 160)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elf_file *ef;
	int err = 0, fd = memfd_of(data, size);

	ef = elf_file__open_fd(fd, &err);
	if (!ef) {
		if (err <= 0)
			abort();
		return 0;
	}
	if (elf_file__fd(ef) != fd)
		abort();
	lookups(ef);
	/* The target truncates its file under us: errors, never a signal. */
	if (size > 64 && !ftruncate(fd, (off_t)(size / 2)))
		lookups(ef);
	elf_file__free(ef);
	return 0;
}
