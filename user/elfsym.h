/* SPDX-License-Identifier: MIT */
/* ELF symbol lookup with libelf: the one place that parses binaries.
 * Unit-tested in tests/unit/test_elfsym.c. */
#ifndef PYLEAK_ELFSYM_H
#define PYLEAK_ELFSYM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "caps.h" /* the caps its callers pass and meet */

struct elf_file;

struct elf_sym_info {
	uint64_t value; /* st_value: link-time virtual address */
	uint64_t size;
	int type;       /* STT_* */
	int bind;       /* STB_* */
	bool dynamic;   /* found in .dynsym rather than .symtab */
};

/* Every header is checked against the file at open (section and program
 * header tables in the file, each section's bytes in the file, the caps of
 * caps.h); anything malformed is refused as not an ELF file (ENOEXEC). */

/* Opens `path` read-only (O_NONBLOCK, O_NOCTTY: opening a FIFO or a
 * terminal must neither block nor adopt it). Returns NULL and sets *err to a
 * positive errno on failure: the open's own, or ENOEXEC for anything that is
 * not a regular 64-bit ELF file (a directory, a FIFO, a device, a text file).
 * The file is read with pread, never mapped: a file truncated while open
 * makes lookups fail, never the tool crash. */
struct elf_file *elf_file__open(const char *path, int *err);

/* The same from an open fd, which the elf_file takes over: it is closed by
 * elf_file__free(), or here on failure. The fd must be of a regular file
 * (checked with fstat: ENOEXEC otherwise). */
struct elf_file *elf_file__open_fd(int fd, int *err);

/* The fd behind ef, still owned by ef (e.g. for uprobes through
 * /proc/self/fd/N, or to fstat it). */
int elf_file__fd(const struct elf_file *ef);
void elf_file__free(struct elf_file *ef);

/* Looks `name` up in .symtab, then .dynsym. Undefined symbols (st_shndx == SHN_UNDEF)
 * never match. Returns 0, or -ENOENT. */
int elf_file__find_symbol(struct elf_file *ef, const char *name, struct elf_sym_info *out);

/* A static in .symtab by name, also under the name LTO gives it when it
 * promotes it (name.lto_priv.N), if that is unique. Returns 0, or -ENOENT. */
int elf_file__find_static(struct elf_file *ef, const char *name, struct elf_sym_info *out);

/* Link-time virtual address -> offset in the file, through the PT_LOAD headers.
 * This is what uprobes want. Returns 0, or -ENOENT when no segment maps vaddr. */
int elf_file__vaddr_to_offset(struct elf_file *ef, uint64_t vaddr, uint64_t *off);

/* Copies len bytes of initialised data at link-time vaddr out of the file. Returns 0,
 * -ENOENT when the range is not file-backed (e.g. .bss), or -EIO. */
int elf_file__read_vaddr(struct elf_file *ef, uint64_t vaddr, void *buf, size_t len);

/* Section by name: its sh_addr and sh_size. Returns 0, or -ENOENT. The size
 * is the header's claim: read the contents with elf_file__load_section. */
int elf_file__find_section(struct elf_file *ef, const char *name, uint64_t *addr, uint64_t *size);

/* Reads section `name` whole, through the segment that loads it (the bytes
 * the process maps), into a new buffer with one NUL byte after its *size
 * bytes; free() it. A section over `max` bytes (a cap from caps.h) is refused
 * with -EFBIG before any allocation. Returns 0, -ENOENT (no such section, or
 * not file-backed), -EFBIG, -ENOMEM or -EIO (e.g. truncated since the open);
 * elf_file__error() then says why. */
int elf_file__load_section(struct elf_file *ef, const char *name, uint64_t max, uint8_t **buf,
			   uint64_t *addr, uint64_t *size);

/* Why the last refused lookup was refused ("" if none was): a cap from
 * caps.h, a malformed table, an unreadable section. For messages. */
const char *elf_file__error(const struct elf_file *ef);

/* True when the file carries a SystemTap SDT note (.note.stapsdt) for provider:name. */
bool elf_file__has_usdt(struct elf_file *ef, const char *provider, const char *name);

/* ET_EXEC or ET_DYN. */
int elf_file__type(const struct elf_file *ef);

/* Lowest p_vaddr of the PT_LOAD segments, rounded down to the page: with a mapping's
 * start and file offset from /proc/PID/maps this gives the load bias. */
uint64_t elf_file__first_load_vaddr(const struct elf_file *ef);

/* Hex build-id from .note.gnu.build-id into buf (NUL-terminated); -ENOENT if absent. */
int elf_file__build_id(struct elf_file *ef, char *buf, size_t buflen);

/* PY_VERSION ("3.9.18") in a buffer of read-only data: see
 * version_from_rodata() in pytarget.c for the rules. Linear in len: each
 * position looks at no more than a dozen bytes (1-3 digits a component).
 * Returns 0 with the version, or -ENOENT. */
int elf_scan_py_version(const char *buf, size_t len, int want_minor, unsigned int *maj, unsigned int *min,
			unsigned int *mic);

#endif
