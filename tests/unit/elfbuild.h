/* SPDX-License-Identifier: MIT */
/* Builds small ELF64 files in memory for the tests and fuzz harnesses that
 * need a file of a given shape: one PT_LOAD mapping the whole file at
 * ELFB_BASE (so vaddr = ELFB_BASE + file offset), .text, .rodata, .data,
 * .dynsym/.dynstr, an optional note section and .shstrtab. Tests then
 * break one header at a time through elfb_section(). Header-only: each
 * user includes it once. */
#ifndef PYLEAK_ELFBUILD_H
#define PYLEAK_ELFBUILD_H

#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ELFB_BASE 0x400000ull

struct elfb_sym {
	const char *name;
	uint64_t value;
	uint8_t type; /* STT_* */
};

struct elfb_spec {
	const uint8_t *text, *rodata, *data;
	size_t text_len, rodata_len, data_len;
	const struct elfb_sym *syms; /* into .dynsym */
	size_t nsyms;
	const char *note_name; /* a SHT_NOTE section, when not NULL */
	const uint8_t *notes;
	size_t notes_len;
};

struct elfb {
	uint8_t *buf;
	size_t len, cap;
	Elf64_Shdr sh[10];
	int nsh;
	char shstr[256];
	size_t shstr_len;
};

static inline int elfb_put(struct elfb *b, const void *p, size_t n, size_t align)
{
	size_t at = (b->len + align - 1) & ~(align - 1);

	if (at + n > b->cap) {
		size_t ncap = (at + n) * 2;
		uint8_t *nb = realloc(b->buf, ncap);

		if (!nb)
			return -1;
		b->buf = nb;
		b->cap = ncap;
	}
	memset(b->buf + b->len, 0, at - b->len);
	if (n)
		memcpy(b->buf + at, p, n);
	b->len = at + n;
	return (int)at;
}

static inline uint32_t elfb_shname(struct elfb *b, const char *name)
{
	uint32_t at = (uint32_t)b->shstr_len;

	memcpy(b->shstr + at, name, strlen(name) + 1);
	b->shstr_len += strlen(name) + 1;
	return at;
}

static inline void elfb_add(struct elfb *b, const char *name, uint32_t type, uint64_t flags, const void *p, size_t n,
		     uint64_t entsize, uint32_t link, size_t align)
{
	Elf64_Shdr *sh = &b->sh[b->nsh++];
	int at = elfb_put(b, p, n, align);

	memset(sh, 0, sizeof(*sh));
	sh->sh_name = elfb_shname(b, name);
	sh->sh_type = type;
	sh->sh_flags = flags;
	sh->sh_offset = at < 0 ? 0 : (uint64_t)at;
	sh->sh_addr = flags & SHF_ALLOC ? ELFB_BASE + sh->sh_offset : 0;
	sh->sh_size = n;
	sh->sh_entsize = entsize;
	sh->sh_link = link;
	sh->sh_addralign = align;
}

/* The file's bytes (free() them) and their length, or NULL. */
static inline uint8_t *elfb_build(const struct elfb_spec *s, size_t *len)
{
	struct elfb b = { .nsh = 1 };
	Elf64_Ehdr eh = {};
	Elf64_Phdr ph = {};
	Elf64_Sym *syms = calloc(s->nsyms + 1, sizeof(*syms));
	char *dynstr = NULL;
	size_t dynstr_len = 1, shoff;
	int dynstr_idx;

	for (size_t i = 0; i < s->nsyms; i++)
		dynstr_len += strlen(s->syms[i].name) + 1;
	dynstr = calloc(1, dynstr_len);
	if (!syms || !dynstr)
		goto fail;
	dynstr_len = 1;
	for (size_t i = 0; i < s->nsyms; i++) {
		syms[i + 1].st_name = (uint32_t)dynstr_len;
		syms[i + 1].st_value = s->syms[i].value;
		syms[i + 1].st_size = 16;
		syms[i + 1].st_info = ELF64_ST_INFO(STB_GLOBAL, s->syms[i].type);
		syms[i + 1].st_shndx = 1; /* .text */
		memcpy(dynstr + dynstr_len, s->syms[i].name, strlen(s->syms[i].name) + 1);
		dynstr_len += strlen(s->syms[i].name) + 1;
	}
	b.shstr_len = 1;
	elfb_put(&b, &eh, sizeof(eh), 1);
	elfb_put(&b, &ph, sizeof(ph), 8);
	elfb_add(&b, ".text", SHT_PROGBITS, SHF_ALLOC | SHF_EXECINSTR, s->text, s->text_len, 0, 0, 16);
	elfb_add(&b, ".rodata", SHT_PROGBITS, SHF_ALLOC, s->rodata, s->rodata_len, 0, 0, 16);
	elfb_add(&b, ".data", SHT_PROGBITS, SHF_ALLOC | SHF_WRITE, s->data, s->data_len, 0, 0, 16);
	dynstr_idx = b.nsh + 1;
	elfb_add(&b, ".dynsym", SHT_DYNSYM, SHF_ALLOC, syms, (s->nsyms + 1) * sizeof(*syms), sizeof(*syms),
		 (uint32_t)dynstr_idx, 8);
	b.sh[b.nsh - 1].sh_info = 1; /* the first global */
	elfb_add(&b, ".dynstr", SHT_STRTAB, SHF_ALLOC, dynstr, dynstr_len, 0, 0, 1);
	if (s->note_name)
		elfb_add(&b, s->note_name, SHT_NOTE, SHF_ALLOC, s->notes, s->notes_len, 0, 0, 4);
	eh.e_shstrndx = (uint16_t)b.nsh;
	/* Its own name must be in before its bytes are written. */
	elfb_add(&b, ".shstrtab", SHT_STRTAB, 0, NULL, 0, 0, 0, 1);
	b.sh[b.nsh - 1].sh_offset = (uint64_t)elfb_put(&b, b.shstr, b.shstr_len, 1);
	b.sh[b.nsh - 1].sh_size = b.shstr_len;
	shoff = (size_t)elfb_put(&b, b.sh, b.nsh * sizeof(Elf64_Shdr), 8);
	if (!b.buf)
		goto fail;
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(eh);
	eh.e_shoff = shoff;
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(ph);
	eh.e_phnum = 1;
	eh.e_shentsize = sizeof(Elf64_Shdr);
	eh.e_shnum = (uint16_t)b.nsh;
	ph.p_type = PT_LOAD;
	ph.p_flags = PF_R | PF_W | PF_X;
	ph.p_vaddr = ph.p_paddr = ELFB_BASE;
	ph.p_filesz = ph.p_memsz = b.len;
	ph.p_align = 0x1000;
	memcpy(b.buf, &eh, sizeof(eh));
	memcpy(b.buf + sizeof(eh), &ph, sizeof(ph));
	free(syms);
	free(dynstr);
	*len = b.len;
	return b.buf;
fail:
	free(b.buf);
	free(syms);
	free(dynstr);
	return NULL;
}

/* The section header of `name` inside a built file, to break it. */
static inline Elf64_Shdr *elfb_section(uint8_t *file, const char *name)
{
	Elf64_Ehdr *eh = (Elf64_Ehdr *)file;
	Elf64_Shdr *sh = (Elf64_Shdr *)(file + eh->e_shoff);
	const char *names = (const char *)file + sh[eh->e_shstrndx].sh_offset;

	for (int i = 0; i < eh->e_shnum; i++)
		if (!strcmp(names + sh[i].sh_name, name))
			return &sh[i];
	return NULL;
}

/* An anonymous file holding buf, positioned at 0; -1 on failure. */
static inline int elfb_memfd(const void *buf, size_t len)
{
	int fd = memfd_create("elfb", MFD_CLOEXEC);
	size_t off = 0;

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t n = write(fd, (const uint8_t *)buf + off, len - off);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		off += (size_t)n;
	}
	return fd;
}

#endif
