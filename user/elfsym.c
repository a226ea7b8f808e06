// SPDX-License-Identifier: MIT
/* libelf-based lookups. Files are opened read-only and read with pread, never
 * mapped: the target may truncate them while we read. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "elfsym.h"

struct elf_file {
	int fd;
	Elf *elf;
	GElf_Ehdr ehdr;
	uint64_t file_size; /* at open: later reads past a truncation fail */
};

/* A regular file only: a FIFO would block the read and a device could be
 * anything. O_NONBLOCK makes the open itself return at once on a FIFO so
 * that the fstat can refuse it. */
struct elf_file *elf_file__open(const char *path, int *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);

	if (fd < 0) {
		*err = errno;
		return NULL;
	}
	return elf_file__open_fd(fd, err);
}

struct elf_file *elf_file__open_fd(int fd, int *err)
{
	struct elf_file *ef;
	struct stat st;

	if (fstat(fd, &st)) {
		*err = errno;
		close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		*err = ENOEXEC;
		close(fd);
		return NULL;
	}
	if (elf_version(EV_CURRENT) == EV_NONE) {
		*err = EINVAL;
		close(fd);
		return NULL;
	}
	ef = calloc(1, sizeof(*ef));
	if (!ef) {
		*err = ENOMEM;
		close(fd);
		return NULL;
	}
	ef->fd = fd;
	ef->file_size = (uint64_t)st.st_size;
	/* ELF_C_READ reads with pread: a target truncating the file under a
	 * mapping (ELF_C_READ_MMAP) would kill the tool with SIGBUS, while a
	 * short pread is just an error. */
	ef->elf = elf_begin(ef->fd, ELF_C_READ, NULL);
	if (!ef->elf || elf_kind(ef->elf) != ELF_K_ELF || gelf_getclass(ef->elf) != ELFCLASS64 ||
	    !gelf_getehdr(ef->elf, &ef->ehdr)) {
		*err = ENOEXEC;
		elf_file__free(ef);
		return NULL;
	}
	return ef;
}

int elf_file__fd(const struct elf_file *ef)
{
	return ef->fd;
}

void elf_file__free(struct elf_file *ef)
{
	if (!ef)
		return;
	if (ef->elf)
		elf_end(ef->elf);
	if (ef->fd >= 0)
		close(ef->fd);
	free(ef);
}

static Elf_Scn *section_of_type(struct elf_file *ef, Elf64_Word type, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(ef->elf, scn))) {
		if (gelf_getshdr(scn, shdr) && shdr->sh_type == type)
			return scn;
	}
	return NULL;
}

/* GCC's LTO renames the statics it promotes: usedpools.lto_priv.0. */
static bool name_matches(const char *sname, const char *name, bool lto_suffix)
{
	size_t len = strlen(name);

	if (strncmp(sname, name, len))
		return false;
	if (!sname[len])
		return true;
	return lto_suffix && !strncmp(sname + len, ".lto_priv.", 10);
}

/* With lto_suffix, a suffixed name must be unique: two promoted statics of
 * the same name (from two files) are ambiguous. */
static int find_in_table(struct elf_file *ef, Elf64_Word type, const char *name, bool lto_suffix,
			 struct elf_sym_info *out)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = section_of_type(ef, type, &shdr);
	Elf_Data *data;
	int found = 0;
	size_t n;

	if (!scn || !shdr.sh_entsize)
		return -ENOENT;
	data = elf_getdata(scn, NULL);
	if (!data)
		return -ENOENT;
	n = shdr.sh_size / shdr.sh_entsize;
	for (size_t i = 0; i < n; i++) {
		const char *sname;
		GElf_Sym sym;

		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		sname = elf_strptr(ef->elf, shdr.sh_link, sym.st_name);
		if (!sname || !name_matches(sname, name, lto_suffix))
			continue;
		out->value = sym.st_value;
		out->size = sym.st_size;
		out->type = GELF_ST_TYPE(sym.st_info);
		out->bind = GELF_ST_BIND(sym.st_info);
		out->dynamic = type == SHT_DYNSYM;
		if (!lto_suffix)
			return 0;
		found++;
	}
	return found == 1 ? 0 : -ENOENT;
}

int elf_file__find_symbol(struct elf_file *ef, const char *name, struct elf_sym_info *out)
{
	if (!find_in_table(ef, SHT_SYMTAB, name, false, out))
		return 0;
	return find_in_table(ef, SHT_DYNSYM, name, false, out);
}

int elf_file__find_static(struct elf_file *ef, const char *name, struct elf_sym_info *out)
{
	if (!find_in_table(ef, SHT_SYMTAB, name, false, out))
		return 0;
	return find_in_table(ef, SHT_SYMTAB, name, true, out);
}

static int load_segment(struct elf_file *ef, uint64_t vaddr, GElf_Phdr *out)
{
	size_t n;

	if (elf_getphdrnum(ef->elf, &n))
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getphdr(ef->elf, (int)i, out) || out->p_type != PT_LOAD)
			continue;
		if (vaddr >= out->p_vaddr && vaddr < out->p_vaddr + out->p_memsz)
			return 0;
	}
	return -ENOENT;
}

int elf_file__vaddr_to_offset(struct elf_file *ef, uint64_t vaddr, uint64_t *off)
{
	GElf_Phdr ph;

	if (load_segment(ef, vaddr, &ph))
		return -ENOENT;
	*off = vaddr - ph.p_vaddr + ph.p_offset;
	return 0;
}

int elf_file__read_vaddr(struct elf_file *ef, uint64_t vaddr, void *buf, size_t len)
{
	GElf_Phdr ph;
	ssize_t n;

	if (load_segment(ef, vaddr, &ph))
		return -ENOENT;
	/* Past p_filesz the segment is zero-filled memory (.bss): not in the file. */
	if (vaddr + len > ph.p_vaddr + ph.p_filesz || vaddr + len < vaddr)
		return -ENOENT;
	n = pread(ef->fd, buf, len, (off_t)(vaddr - ph.p_vaddr + ph.p_offset));
	return n == (ssize_t)len ? 0 : -EIO;
}

static Elf_Scn *section_named(struct elf_file *ef, const char *name, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(ef->elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(ef->elf, scn))) {
		const char *sname;

		if (!gelf_getshdr(scn, shdr))
			continue;
		sname = elf_strptr(ef->elf, shstrndx, shdr->sh_name);
		if (sname && !strcmp(sname, name))
			return scn;
	}
	return NULL;
}

int elf_file__find_section(struct elf_file *ef, const char *name, uint64_t *addr, uint64_t *size)
{
	GElf_Shdr shdr;

	if (!section_named(ef, name, &shdr))
		return -ENOENT;
	*addr = shdr.sh_addr;
	*size = shdr.sh_size;
	return 0;
}

/* Calls match(desc, descsz, ctx) on each note of `type` and owner `owner` in
 * section `name`, until it returns true. */
static bool any_note(struct elf_file *ef, const char *name, const char *owner, uint32_t type,
		     bool (*match)(const uint8_t *desc, size_t len, const void *ctx), const void *ctx)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = section_named(ef, name, &shdr);
	Elf_Data *data;
	size_t off = 0, name_off, desc_off;
	GElf_Nhdr nhdr;

	if (!scn || shdr.sh_type != SHT_NOTE)
		return false;
	data = elf_getdata(scn, NULL);
	if (!data)
		return false;
	while ((off = gelf_getnote(data, off, &nhdr, &name_off, &desc_off)) > 0) {
		const char *nname = (const char *)data->d_buf + name_off;

		if (nhdr.n_type != type || nhdr.n_namesz != strlen(owner) + 1 || strcmp(nname, owner))
			continue;
		if (match((const uint8_t *)data->d_buf + desc_off, nhdr.n_descsz, ctx))
			return true;
	}
	return false;
}

struct usdt_name {
	const char *provider;
	const char *name;
};

/* An SDT note's descriptor: pc, base, semaphore (8 bytes each on 64-bit),
 * then provider\0name\0args\0. */
static bool usdt_matches(const uint8_t *desc, size_t len, const void *arg)
{
	const struct usdt_name *want = arg;
	const char *provider = (const char *)desc + 24, *name;
	size_t plen;

	if (len <= 24)
		return false;
	plen = strnlen(provider, len - 24);
	if (plen == len - 24 || strcmp(provider, want->provider))
		return false;
	name = provider + plen + 1;
	return (size_t)(name - (const char *)desc) < len &&
	       strnlen(name, len - (name - (const char *)desc)) < len - (size_t)(name - (const char *)desc) &&
	       !strcmp(name, want->name);
}

bool elf_file__has_usdt(struct elf_file *ef, const char *provider, const char *name)
{
	struct usdt_name want = { provider, name };

	return any_note(ef, ".note.stapsdt", "stapsdt", 3, usdt_matches, &want);
}

int elf_file__type(const struct elf_file *ef)
{
	return ef->ehdr.e_type;
}

uint64_t elf_file__first_load_vaddr(const struct elf_file *ef)
{
	uint64_t lowest = UINT64_MAX;
	size_t n;

	if (elf_getphdrnum(ef->elf, &n))
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(ef->elf, (int)i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr < lowest)
			lowest = ph.p_vaddr;
	}
	return lowest == UINT64_MAX ? 0 : lowest & ~(uint64_t)(sysconf(_SC_PAGESIZE) - 1);
}

struct build_id_out {
	char *buf;
	size_t len;
};

static bool copy_build_id(const uint8_t *desc, size_t len, const void *arg)
{
	const struct build_id_out *out = arg;

	if (!len || out->len < 2 * len + 1)
		return false;
	for (size_t i = 0; i < len; i++)
		snprintf(out->buf + 2 * i, 3, "%02x", desc[i]);
	return true;
}

int elf_file__build_id(struct elf_file *ef, char *buf, size_t buflen)
{
	struct build_id_out out = { buf, buflen };

	return any_note(ef, ".note.gnu.build-id", "GNU", NT_GNU_BUILD_ID, copy_build_id, &out) ? 0 : -ENOENT;
}
