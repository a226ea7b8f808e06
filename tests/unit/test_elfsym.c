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
#include <sys/stat.h>
#include <unistd.h>
#include "check.h"
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

int main(void)
{
	test_shared_libpython();
	test_debian_static_python();
	test_self();
	test_errors();
	test_not_regular();
	return check_summary();
}
