// SPDX-License-Identifier: MIT
/* ELF lookups on real binaries of the machine image: a shared, unstripped
 * libpython, Debian's stripped static python3.11, and this test itself. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>
#include "caps.h"
#include "check.h"
#include "elfbuild.h"
#include "elfsym.h"

#define PYENV_LIB "/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"
#define DEBIAN_PY "/usr/bin/python3.11"

/* Lives in .bss: in memory, not in the file. */
char test_elfsym_bss[8192];

static void test_shared_libpython(void)
{
	char path[4096];
	struct elf_sym_info sym, malloc_sym;
	struct elf_file *ef;
	uint64_t off;
	uint32_t version = 0;
	uint8_t a[16], b[16];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s%s", getenv("HOME") ? getenv("HOME") : "/root", PYENV_LIB);
	ef = elf_file__open(path, &err);
	if (!CHECK(ef, "pyenv 3.11.7's libpython must be on the machine image"))
		return;
	CHECK_EQ_INT(elf_file__type(ef), ET_DYN, "libpython is ET_DYN");
	CHECK(elf_file__find_symbol(ef, "_PyRuntime", &sym) == 0 && sym.type == STT_OBJECT, "_PyRuntime");
	if (CHECK(elf_file__find_symbol(ef, "Py_Version", &sym) == 0, "Py_Version") &&
	    CHECK(elf_file__read_vaddr(ef, sym.value, &version, sizeof(version)) == 0, "read Py_Version"))
		CHECK_EQ_INT(version, 0x030b07f0, "Py_Version of 3.11.7");
	CHECK(elf_file__find_symbol(ef, "gc_collect_main", &sym) == 0 && !sym.dynamic && sym.type == STT_FUNC,
	      "static gc_collect_main from .symtab");
	CHECK(elf_file__find_symbol(ef, "PyObject_Malloc", &malloc_sym) == 0 && malloc_sym.type == STT_FUNC,
	      "PyObject_Malloc");
	CHECK(elf_file__find_symbol(ef, "no_such_symbol_anywhere", &sym) == -ENOENT, "missing symbol");
	/* The file offset must hold the same bytes as the address. */
	if (CHECK(elf_file__vaddr_to_offset(ef, malloc_sym.value, &off) == 0, "vaddr_to_offset") &&
	    CHECK(elf_file__read_vaddr(ef, malloc_sym.value, a, sizeof(a)) == 0, "read code") &&
	    (f = fopen(path, "rb"))) {
		CHECK(fseek(f, (long)off, SEEK_SET) == 0 && fread(b, 1, sizeof(b), f) == sizeof(b) &&
		      !memcmp(a, b, sizeof(a)), "offset and address agree");
		fclose(f);
	}
	CHECK(!elf_file__has_usdt(ef, "python", "gc__start"), "pyenv builds carry no USDT");
	elf_file__free(ef);
}

static void test_debian_static_python(void)
{
	struct elf_sym_info sym;
	struct elf_file *ef;
	uint64_t addr, size;
	char id[128], want[128] = "", line[512];
	FILE *p;
	int err = 0;

	ef = elf_file__open(DEBIAN_PY, &err);
	if (!CHECK(ef, "Debian's python3.11 must be installed"))
		return;
	CHECK_EQ_INT(elf_file__type(ef), ET_EXEC, "non-PIE executable");
	CHECK(elf_file__find_symbol(ef, "_PyRuntime", &sym) == 0 && sym.dynamic, "_PyRuntime from .dynsym");
	CHECK(elf_file__find_symbol(ef, "PyObject_Malloc", &sym) == 0 && sym.dynamic, "PyObject_Malloc");
	CHECK(elf_file__find_symbol(ef, "gc_collect_main", &sym) == -ENOENT, "stripped: no static symbols");
	CHECK(elf_file__find_section(ef, ".PyRuntime", &addr, &size) == 0 && size > 0, ".PyRuntime section");
	CHECK(elf_file__has_usdt(ef, "python", "gc__start"), "USDT python:gc__start");
	CHECK(elf_file__has_usdt(ef, "python", "gc__done"), "USDT python:gc__done");
	CHECK(!elf_file__has_usdt(ef, "python", "no_such"), "no USDT python:no_such");
	CHECK(!elf_file__has_usdt(ef, "other", "gc__start"), "provider must match");
	CHECK_EQ_INT(elf_file__first_load_vaddr(ef), 0x400000, "first PT_LOAD of a non-PIE x86-64 binary");
	/* The build-id as readelf prints it. */
	p = popen("readelf -n " DEBIAN_PY, "r");
	while (p && fgets(line, sizeof(line), p)) {
		char *at = strstr(line, "Build ID: ");

		if (at)
			sscanf(at + 10, "%127s", want);
	}
	if (p)
		pclose(p);
	if (CHECK(elf_file__build_id(ef, id, sizeof(id)) == 0, "build-id"))
		CHECK(strlen(id) == 40 && !strcmp(id, want), "build-id matches readelf");
	elf_file__free(ef);
}

static void test_self(void)
{
	struct elf_sym_info sym;
	struct elf_file *ef;
	char buf[16];
	int err = 0;

	ef = elf_file__open("/proc/self/exe", &err);
	if (!CHECK(ef, "open /proc/self/exe"))
		return;
	if (CHECK(elf_file__find_symbol(ef, "test_self", &sym) == 0 && sym.type == STT_FUNC, "own function"))
		CHECK((((uintptr_t)&test_self - sym.value) & 4095) == 0, "load bias is page aligned");
	if (CHECK(elf_file__find_symbol(ef, "test_elfsym_bss", &sym) == 0, "own .bss object"))
		CHECK(elf_file__read_vaddr(ef, sym.value, buf, sizeof(buf)) == -ENOENT, ".bss is not in the file");
	elf_file__free(ef);
}

static void test_errors(void)
{
	char path[] = "/tmp/pyleak-elfsym-XXXXXX";
	int err = 0, fd;

	CHECK(!elf_file__open("/nonexistent/file", &err) && err == ENOENT, "missing file: ENOENT");
	fd = mkstemp(path);
	if (!CHECK(fd >= 0, "temp file"))
		return;
	CHECK(write(fd, "not an ELF file\n", 16) == 16, "write");
	close(fd);
	err = 0;
	CHECK(!elf_file__open(path, &err) && err == ENOEXEC, "text file: ENOEXEC");
	unlink(path);
}

/* Anything but a regular file is refused, and opening a FIFO nobody writes
 * to must not block (a target can put one where its binary was). */
static void test_not_regular(void)
{
	char dir[] = "/tmp/pyleak-elfsym-XXXXXX", fifo[64];
	struct elf_file *ef;
	int err = 0, fd;

	if (!CHECK(mkdtemp(dir), "temp dir"))
		return;
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	if (CHECK(mkfifo(fifo, 0600) == 0, "mkfifo")) {
		alarm(5); /* a blocking open fails the test by SIGALRM, not a hang */
		ef = elf_file__open(fifo, &err);
		alarm(0);
		CHECK(!ef && err == ENOEXEC, "FIFO refused at once with ENOEXEC");
		unlink(fifo);
	}
	err = 0;
	CHECK(!elf_file__open(dir, &err) && err == ENOEXEC, "directory refused with ENOEXEC");
	err = 0;
	CHECK(!elf_file__open("/dev/null", &err) && err == ENOEXEC, "character device refused with ENOEXEC");
	rmdir(dir);
	/* open_fd owns the fd even when it refuses it. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (CHECK(fd >= 0, "open /dev/null")) {
		err = 0;
		CHECK(!elf_file__open_fd(fd, &err) && err == ENOEXEC, "open_fd refuses a device");
		CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF, "open_fd closed the refused fd");
	}
	fd = open(DEBIAN_PY, O_RDONLY | O_CLOEXEC);
	if (CHECK(fd >= 0, "open " DEBIAN_PY)) {
		ef = elf_file__open_fd(fd, &err);
		if (CHECK(ef, "open_fd of a real ELF"))
			CHECK_EQ_INT(elf_file__fd(ef), fd, "elf_file__fd gives the fd back");
		elf_file__free(ef);
		CHECK(fcntl(fd, F_GETFD) < 0 && errno == EBADF, "elf_file__free closed the fd");
	}
}

/* --- Crafted files: one broken header at a time. --- */

static const uint8_t build_id_note[] = {
	4, 0, 0, 0, 8, 0, 0, 0, NT_GNU_BUILD_ID, 0, 0, 0, 'G', 'N', 'U', 0,
	0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04,
};
static const char rodata[] = "x\0python-3.9.18\0";
static const struct elfb_sym syms[] = {
	{ "PyObject_Malloc", ELFB_BASE + 0x100, STT_FUNC },
	{ "_PyRuntime", ELFB_BASE + 0x200, STT_OBJECT },
};

static uint8_t *crafted(size_t *len)
{
	static uint8_t text[256];
	struct elfb_spec spec = {
		.text = text, .text_len = sizeof(text),
		.rodata = (const uint8_t *)rodata, .rodata_len = sizeof(rodata),
		.syms = syms, .nsyms = 2,
		.note_name = ".note.gnu.build-id", .notes = build_id_note, .notes_len = sizeof(build_id_note),
	};

	memset(text, 0xc3, sizeof(text));
	return elfb_build(&spec, len);
}

/* Opens the bytes through a memfd, as the fuzz harness does. */
static struct elf_file *open_bytes(const uint8_t *buf, size_t len, int *err)
{
	int fd = elfb_memfd(buf, len);

	*err = 0;
	if (fd < 0) {
		*err = errno;
		return NULL;
	}
	return elf_file__open_fd(fd, err);
}

static void test_crafted_good(void)
{
	struct elf_sym_info sym;
	struct elf_file *ef;
	unsigned int maj, min, mic;
	uint64_t addr, size;
	uint8_t *file, *buf;
	char id[64];
	size_t len;
	int err;

	file = crafted(&len);
	if (!CHECK(file, "build"))
		return;
	ef = open_bytes(file, len, &err);
	if (!CHECK(ef, "the crafted file opens"))
		goto out;
	CHECK(elf_file__find_symbol(ef, "_PyRuntime", &sym) == 0 && sym.value == ELFB_BASE + 0x200 && sym.dynamic,
	      "its symbol");
	if (CHECK(elf_file__build_id(ef, id, sizeof(id)) == 0, "its build-id"))
		CHECK(!strcmp(id, "deadbeef01020304"), "build-id hex");
	CHECK(elf_file__build_id(ef, id, 16) == -ENOENT, "build-id does not fit 16 bytes: refused");
	if (CHECK(elf_file__load_section(ef, ".rodata", ELF_MAX_RODATA, &buf, &addr, &size) == 0, ".rodata")) {
		CHECK(size == sizeof(rodata) && !memcmp(buf, rodata, size) && buf[size] == 0, ".rodata bytes and NUL");
		CHECK(elf_scan_py_version((const char *)buf, size, 9, &maj, &min, &mic) == 0 && min == 9 && mic == 18,
		      "PY_VERSION merged into a longer string, minor from the file name");
		CHECK(elf_scan_py_version((const char *)buf, size, -1, &maj, &min, &mic) == -ENOENT,
		      "without the file name only a string of its own counts");
		free(buf);
	}
	CHECK(elf_file__load_section(ef, ".rodata", 4, &buf, &addr, &size) == -EFBIG && !buf,
	      "a section over its cap is refused");
	CHECK(strstr(elf_file__error(ef), ".rodata") != NULL, "and the reason names it");
	elf_file__free(ef);
out:
	free(file);
}

/* .dynsym's entry size: 0, 1, 2^63, or 25 (not 24). */
static void test_crafted_entsize(void)
{
	const uint64_t bad[] = { 0, 1, 1ull << 63, 25 };
	struct elf_sym_info sym;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct elf_file *ef;
		uint8_t *file;
		size_t len;
		int err;

		file = crafted(&len);
		if (!file)
			continue;
		elfb_section(file, ".dynsym")->sh_entsize = bad[i];
		ef = open_bytes(file, len, &err);
		if (CHECK(ef, "opens: entsize is checked at lookup")) {
			CHECK(elf_file__find_symbol(ef, "_PyRuntime", &sym) == -ENOENT, "bad entsize: no symbols");
			CHECK(strstr(elf_file__error(ef), "entry size") != NULL, "reason: entry size");
		}
		elf_file__free(ef);
		free(file);
	}
}

static void test_crafted_tables(void)
{
	struct elf_sym_info sym;
	struct elf_file *ef;
	uint8_t *file;
	char id[64];
	size_t len;
	int err;

	/* A symbol table reaching past the end of the file. */
	file = crafted(&len);
	if (file) {
		elfb_section(file, ".dynsym")->sh_size = len * 24;
		CHECK(!open_bytes(file, len, &err) && err == ENOEXEC, "sh_size beyond the file: refused");
		elfb_section(file, ".dynsym")->sh_size = 24;
		elfb_section(file, ".dynsym")->sh_offset = UINT64_MAX - 8;
		CHECK(!open_bytes(file, len, &err) && err == ENOEXEC, "sh_offset + sh_size wraps: refused");
		free(file);
	}
	/* Linked to something that is not a string table. */
	file = crafted(&len);
	if (file) {
		elfb_section(file, ".dynsym")->sh_link = 1; /* .text */
		ef = open_bytes(file, len, &err);
		if (CHECK(ef, "opens"))
			CHECK(elf_file__find_symbol(ef, "_PyRuntime", &sym) == -ENOENT, "sh_link to PROGBITS: no symbols");
		elf_file__free(ef);
		elfb_section(file, ".dynsym")->sh_link = 60000;
		ef = open_bytes(file, len, &err);
		if (CHECK(ef, "opens"))
			CHECK(elf_file__find_symbol(ef, "_PyRuntime", &sym) == -ENOENT, "sh_link out of range: no symbols");
		elf_file__free(ef);
		free(file);
	}
	/* A symbol table over ELF_MAX_SYMTAB (the file grown sparse to hold it). */
	file = crafted(&len);
	if (file) {
		int fd = elfb_memfd(file, len);
		Elf64_Shdr *sh = elfb_section(file, ".dynsym");

		sh->sh_offset = 1 << 20;
		sh->sh_size = (ELF_MAX_SYMTAB / sizeof(Elf64_Sym) + 1) * sizeof(Elf64_Sym);
		if (fd >= 0 && CHECK(pwrite(fd, file, len, 0) == (ssize_t)len &&
				     ftruncate(fd, (off_t)(sh->sh_offset + sh->sh_size)) == 0, "sparse file")) {
			ef = elf_file__open_fd(fd, &err);
			fd = -1;
			if (CHECK(ef, "opens")) {
				CHECK(elf_file__find_symbol(ef, "_PyRuntime", &sym) == -ENOENT, "symtab over cap: no symbols");
				CHECK(strstr(elf_file__error(ef), "ELF_MAX_SYMTAB") != NULL, "reason: the cap");
			}
			elf_file__free(ef);
		}
		if (fd >= 0)
			close(fd);
		free(file);
	}
	/* Notes: a descriptor, then a name, running past the section. */
	file = crafted(&len);
	if (file) {
		Elf64_Shdr *sh = elfb_section(file, ".note.gnu.build-id");
		uint32_t big = 0x7ffffff0;

		memcpy(file + sh->sh_offset + 4, &big, 4); /* n_descsz */
		ef = open_bytes(file, len, &err);
		if (CHECK(ef, "opens"))
			CHECK(elf_file__build_id(ef, id, sizeof(id)) == -ENOENT, "n_descsz beyond the section");
		elf_file__free(ef);
		memcpy(file + sh->sh_offset + 4, "\x08\0\0\0", 4);
		memcpy(file + sh->sh_offset, &big, 4); /* n_namesz */
		ef = open_bytes(file, len, &err);
		if (CHECK(ef, "opens"))
			CHECK(elf_file__build_id(ef, id, sizeof(id)) == -ENOENT, "n_namesz beyond the section");
		elf_file__free(ef);
		memcpy(file + sh->sh_offset, "\x04\0\0\0", 4);
		sh->sh_size = 20; /* cuts the descriptor */
		ef = open_bytes(file, len, &err);
		if (CHECK(ef, "opens"))
			CHECK(elf_file__build_id(ef, id, sizeof(id)) == -ENOENT, "descriptor cut by the section's end");
		elf_file__free(ef);
		free(file);
	}
}

static void test_crafted_headers(void)
{
	uint8_t *file;
	size_t len;
	int err;

	file = crafted(&len);
	if (!file)
		return;
	((Elf64_Ehdr *)file)->e_shnum = ELF_MAX_SECTIONS + 1;
	CHECK(!open_bytes(file, len, &err) && err == ENOEXEC, "over ELF_MAX_SECTIONS: refused");
	((Elf64_Ehdr *)file)->e_shnum = 0;
	CHECK(!open_bytes(file, len, &err) && err == ENOEXEC, "extended section numbering: refused");
	free(file);
	file = crafted(&len);
	((Elf64_Ehdr *)file)->e_shentsize = 32;
	CHECK(!open_bytes(file, len, &err) && err == ENOEXEC, "e_shentsize 32: refused");
	((Elf64_Ehdr *)file)->e_shentsize = sizeof(Elf64_Shdr);
	((Elf64_Ehdr *)file)->e_phoff = UINT64_MAX - 8;
	CHECK(!open_bytes(file, len, &err) && err == ENOEXEC, "program headers past the end: refused");
	((Elf64_Ehdr *)file)->e_phoff = sizeof(Elf64_Ehdr);
	((Elf64_Ehdr *)file)->e_shstrndx = 1; /* .text, not a string table */
	CHECK(!open_bytes(file, len, &err) && err == ENOEXEC, "e_shstrndx not a string table: refused");
	((Elf64_Ehdr *)file)->e_ident[EI_CLASS] = ELFCLASS32;
	CHECK(!open_bytes(file, len, &err) && err == ENOEXEC, "32-bit: refused");
	CHECK(!open_bytes(file, 40, &err) && err == ENOEXEC, "shorter than its header: refused");
	free(file);
}

/* Segments whose sums wrap: p_vaddr + p_memsz and p_offset + offset. */
static void test_crafted_segments(void)
{
	Elf64_Phdr *ph;
	struct elf_file *ef;
	uint64_t off;
	uint8_t *file, b[8];
	size_t len;
	int err;

	file = crafted(&len);
	if (!file)
		return;
	ph = (Elf64_Phdr *)(file + sizeof(Elf64_Ehdr));
	ph->p_vaddr = UINT64_MAX - 0xfff;
	ph->p_memsz = ph->p_filesz = 0x2000; /* "ends" at 0x1000 after wrapping */
	ef = open_bytes(file, len, &err);
	if (CHECK(ef, "opens")) {
		CHECK(elf_file__vaddr_to_offset(ef, 0x800, &off) == -ENOENT, "no wrap into low addresses");
		CHECK(elf_file__read_vaddr(ef, 0x800, b, sizeof(b)) == -ENOENT, "no read through the wrap");
		CHECK(elf_file__read_vaddr(ef, UINT64_MAX - 3, b, sizeof(b)) == -ENOENT, "read crossing 2^64");
	}
	elf_file__free(ef);
	ph->p_vaddr = ELFB_BASE;
	ph->p_offset = UINT64_MAX - 0x10;
	ef = open_bytes(file, len, &err);
	if (CHECK(ef, "opens")) {
		CHECK(elf_file__vaddr_to_offset(ef, ELFB_BASE + 0x100, &off) == -ENOENT, "p_offset + offset wraps");
		CHECK(elf_file__read_vaddr(ef, ELFB_BASE + 0x100, b, sizeof(b)) != 0, "and cannot be read");
	}
	elf_file__free(ef);
	free(file);
}

/* The file shrinks under us (the target truncates its binary): every lookup
 * fails with an error. Mapped by libelf, these reads were a SIGBUS. */
static void test_truncated(void)
{
	struct elf_sym_info sym;
	struct elf_file *ef;
	uint64_t addr, size;
	uint8_t *buf;
	unsigned int maj, min, mic;
	char id[64];
	int err, fd;

	fd = open(DEBIAN_PY, O_RDONLY | O_CLOEXEC);
	if (!CHECK(fd >= 0, DEBIAN_PY))
		return;
	{
		int mfd = memfd_create("truncated", MFD_CLOEXEC);
		struct stat st;

		if (!CHECK(mfd >= 0 && !fstat(fd, &st) && sendfile(mfd, fd, NULL, (size_t)st.st_size) == st.st_size,
			   "copy python3.11 to a memfd")) {
			close(fd);
			if (mfd >= 0)
				close(mfd);
			return;
		}
		close(fd);
		fd = mfd;
	}
	ef = elf_file__open_fd(dup(fd), &err);
	if (!CHECK(ef, "open the copy"))
		goto out;
	/* Section headers (at the end of the file) are read once at open by
	 * our own check: truncate after that, before libelf reads anything. */
	CHECK(ftruncate(fd, 4096) == 0, "truncate to one page");
	CHECK(elf_file__find_symbol(ef, "_PyRuntime", &sym) == -ENOENT, "symbol lookup fails");
	CHECK(elf_file__load_section(ef, ".rodata", ELF_MAX_RODATA, &buf, &addr, &size) < 0, ".rodata fails");
	CHECK(!elf_file__has_usdt(ef, "python", "gc__start"), "notes fail");
	/* The build-id note sits in the first page: it may still be read. */
	elf_file__build_id(ef, id, sizeof(id));
	CHECK(elf_file__read_vaddr(ef, 0x400000 + 8192, id, 8) == -EIO, "read past the new end: -EIO");
	(void)maj, (void)min, (void)mic;
	elf_file__free(ef);
out:
	close(fd);
}

/* Quadratic scans of .rodata (an sscanf, and its strlen, at each candidate)
 * took 1.5 s on 1 MiB of "a3." and would take minutes at the cap. */
static void test_version_scan_linear(void)
{
	const char *pats[] = { "3.", "a3.", "x3.9.1 ", ("\0" "3.99999999") };
	const size_t plen[] = { 2, 3, 7, 11 };
	size_t n = 1 << 20;
	char *buf = malloc(n);
	unsigned int a, b, c;

	if (!CHECK(buf, "1 MiB"))
		return;
	for (size_t p = 0; p < sizeof(pats) / sizeof(pats[0]); p++) {
		struct timespec t0, t1;
		double s;

		for (size_t i = 0; i < n; i++)
			buf[i] = pats[p][i % plen[p]];
		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK(elf_scan_py_version(buf, n, 9, &a, &b, &c) == -ENOENT, "no version in the decoy");
		CHECK(elf_scan_py_version(buf, n, -1, &a, &b, &c) == -ENOENT, "nor without the file name");
		clock_gettime(CLOCK_MONOTONIC, &t1);
		s = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
		CHECK(s < 1.0, "1 MiB of decoys scanned in well under a second");
	}
	/* The shapes the old sscanf accepted that no PY_VERSION has. */
	CHECK(elf_scan_py_version("\0" "3.9.1234\0\0\0", 12, -1, &a, &b, &c) == -ENOENT, "4-digit micro");
	CHECK(elf_scan_py_version("\0" "3.10.13\0\0\0\0", 12, -1, &a, &b, &c) == 0 && b == 10 && c == 13, "3.10.13");
	CHECK(elf_scan_py_version("\0" "3.10.13", 8, -1, &a, &b, &c) == 0 && c == 13, "at the very end of the buffer");
	free(buf);
}

int main(void)
{
	test_shared_libpython();
	test_debian_static_python();
	test_self();
	test_errors();
	test_not_regular();
	test_crafted_good();
	test_crafted_entsize();
	test_crafted_tables();
	test_crafted_headers();
	test_crafted_segments();
	test_truncated();
	test_version_scan_linear();
	return check_summary();
}
