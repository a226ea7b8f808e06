// SPDX-License-Identifier: MIT
/* libelf-based lookups. Files are opened read-only and read with pread, never
 * mapped: the target may truncate them while we read. Every header is
 * checked against the file before libelf or a caller trusts it; the caps are
 * in caps.h. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "caps.h"
#include "elfsym.h"

struct elf_file {
	int fd;
	Elf *elf;
	GElf_Ehdr ehdr;
	uint64_t file_size; /* at open: later reads past a truncation fail */
	char error[160];    /* why the last lookup was refused */
};

static void set_error(struct elf_file *ef, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ef->error, sizeof(ef->error), fmt, ap);
	va_end(ap);
}

const char *elf_file__error(const struct elf_file *ef)
{
	return ef->error;
}

/* off + len within the file, without overflow. */
static bool in_file(const struct elf_file *ef, uint64_t off, uint64_t len)
{
	return off <= ef->file_size && len <= ef->file_size - off;
}

/* The header and the two header tables, read by hand before libelf sees
 * them: libelf sizes its own allocations from e_shnum (or, extended, from
 * section 0's sh_size) and would trust them. */
static int check_headers(struct elf_file *ef, const Elf64_Ehdr *eh)
{
	Elf64_Shdr *shdrs;
	int err = 0;

	/* Native byte order only: the guard scan and the probes are x86-64. */
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return ENOEXEC;
	if (eh->e_shnum == 0 && eh->e_shoff != 0)
		return ENOEXEC; /* extended section numbering */
	if (eh->e_shnum > ELF_MAX_SECTIONS || eh->e_phnum > ELF_MAX_PHDRS)
		return ENOEXEC; /* also PN_XNUM */
	if (eh->e_phnum && (eh->e_phentsize != sizeof(Elf64_Phdr) ||
			    !in_file(ef, eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr))))
		return ENOEXEC;
	if (!eh->e_shnum)
		return 0;
	if (eh->e_shentsize != sizeof(Elf64_Shdr) ||
	    !in_file(ef, eh->e_shoff, (uint64_t)eh->e_shnum * sizeof(Elf64_Shdr)))
		return ENOEXEC;
	if (eh->e_shstrndx != SHN_UNDEF && eh->e_shstrndx >= eh->e_shnum)
		return ENOEXEC; /* also SHN_XINDEX */
	shdrs = malloc(eh->e_shnum * sizeof(*shdrs));
	if (!shdrs)
		return ENOMEM;
	if (pread(ef->fd, shdrs, eh->e_shnum * sizeof(*shdrs), (off_t)eh->e_shoff) !=
	    (ssize_t)(eh->e_shnum * sizeof(*shdrs))) {
		err = ENOEXEC;
		goto out;
	}
	/* Every section's bytes in the file. Debug files keep their sections'
	 * sizes with SHT_NOBITS, which have no bytes. */
	for (uint16_t i = 0; i < eh->e_shnum && !err; i++) {
		const Elf64_Shdr *sh = &shdrs[i];

		if (sh->sh_type != SHT_NOBITS && !in_file(ef, sh->sh_offset, sh->sh_size))
			err = ENOEXEC;
		if (i == eh->e_shstrndx && i && (sh->sh_type != SHT_STRTAB || sh->sh_size > ELF_MAX_STRTAB))
			err = ENOEXEC;
	}
out:
	free(shdrs);
	return err;
}

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
	Elf64_Ehdr eh;
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
	*err = pread(fd, &eh, sizeof(eh), 0) == sizeof(eh) ? check_headers(ef, &eh) : ENOEXEC;
	if (*err) {
		elf_file__free(ef);
		return NULL;
	}
	/* ELF_C_READ reads with pread: a target that truncates the file under a
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

/* The symbol table of `type` and its string table's index, if both hold
 * together: whole entries of the one size we read, within the caps, and a
 * link to a string table. libelf reads both whole on the first lookup. */
static Elf_Data *symbol_table(struct elf_file *ef, Elf64_Word type, GElf_Shdr *shdr)
{
	Elf_Scn *scn = section_of_type(ef, type, shdr), *strscn;
	const char *what = type == SHT_SYMTAB ? ".symtab" : ".dynsym";
	GElf_Shdr strsh;
	Elf_Data *data;

	if (!scn)
		return NULL;
	if (shdr->sh_entsize != sizeof(Elf64_Sym) || shdr->sh_size % sizeof(Elf64_Sym)) {
		set_error(ef, "%s: entry size %llu, not %zu", what, (unsigned long long)shdr->sh_entsize,
			  sizeof(Elf64_Sym));
		return NULL;
	}
	if (shdr->sh_size > ELF_MAX_SYMTAB) {
		set_error(ef, "%s is %llu bytes, over the %u-byte cap (ELF_MAX_SYMTAB)", what,
			  (unsigned long long)shdr->sh_size, ELF_MAX_SYMTAB);
		return NULL;
	}
	strscn = elf_getscn(ef->elf, shdr->sh_link);
	if (!shdr->sh_link || !strscn || !gelf_getshdr(strscn, &strsh) || strsh.sh_type != SHT_STRTAB) {
		set_error(ef, "%s: its link is not a string table", what);
		return NULL;
	}
	if (strsh.sh_size > ELF_MAX_STRTAB) {
		set_error(ef, "%s's names are %llu bytes, over the %u-byte cap (ELF_MAX_STRTAB)", what,
			  (unsigned long long)strsh.sh_size, ELF_MAX_STRTAB);
		return NULL;
	}
	data = elf_getdata(scn, NULL);
	if (!data || !data->d_buf || data->d_size != shdr->sh_size) {
		set_error(ef, "%s unreadable: %s", what, elf_errmsg(-1));
		return NULL;
	}
	return data;
}

/* With lto_suffix, a suffixed name must be unique: two promoted statics of
 * the same name (from two files) are ambiguous. */
static int find_in_table(struct elf_file *ef, Elf64_Word type, const char *name, bool lto_suffix,
			 struct elf_sym_info *out)
{
	GElf_Shdr shdr;
	Elf_Data *data = symbol_table(ef, type, &shdr);
	int found = 0;
	size_t n;

	if (!data)
		return -ENOENT;
	n = data->d_size / sizeof(Elf64_Sym);
	for (size_t i = 0; i < n; i++) {
		const char *sname;
		GElf_Sym sym;

		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF)
			continue;
		/* elf_strptr bounds st_name by the table and its NUL. */
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

/* The PT_LOAD segment holding vaddr. A segment claiming to reach past 2^64
 * holds nothing. */
static int load_segment(struct elf_file *ef, uint64_t vaddr, GElf_Phdr *out)
{
	size_t n;

	if (elf_getphdrnum(ef->elf, &n))
		return -ENOENT;
	for (size_t i = 0; i < n; i++) {
		if (!gelf_getphdr(ef->elf, (int)i, out) || out->p_type != PT_LOAD ||
		    out->p_memsz > UINT64_MAX - out->p_vaddr)
			continue;
		if (vaddr >= out->p_vaddr && vaddr - out->p_vaddr < out->p_memsz)
			return 0;
	}
	return -ENOENT;
}

int elf_file__vaddr_to_offset(struct elf_file *ef, uint64_t vaddr, uint64_t *off)
{
	GElf_Phdr ph;
	uint64_t in_seg;

	if (load_segment(ef, vaddr, &ph))
		return -ENOENT;
	in_seg = vaddr - ph.p_vaddr;
	/* Only file-backed bytes have an offset a uprobe can use. */
	if (in_seg >= ph.p_filesz || ph.p_offset > UINT64_MAX - in_seg || !in_file(ef, ph.p_offset + in_seg, 1))
		return -ENOENT;
	*off = ph.p_offset + in_seg;
	return 0;
}

int elf_file__read_vaddr(struct elf_file *ef, uint64_t vaddr, void *buf, size_t len)
{
	GElf_Phdr ph;
	uint64_t in_seg, off;
	ssize_t n;

	if (load_segment(ef, vaddr, &ph))
		return -ENOENT;
	in_seg = vaddr - ph.p_vaddr;
	/* Past p_filesz the segment is zero-filled memory (.bss): not in the file. */
	if (len > ph.p_filesz || in_seg > ph.p_filesz - len)
		return -ENOENT;
	if (ph.p_offset > (uint64_t)INT64_MAX - in_seg)
		return -EIO;
	off = ph.p_offset + in_seg;
	if ((uint64_t)len > (uint64_t)INT64_MAX - off)
		return -EIO;
	n = pread(ef->fd, buf, len, (off_t)off);
	return n == (ssize_t)len ? 0 : -EIO;
}

static Elf_Scn *section_named(struct elf_file *ef, const char *name, GElf_Shdr *shdr)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(ef->elf, &shstrndx) || shstrndx == SHN_UNDEF)
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

int elf_file__load_section(struct elf_file *ef, const char *name, uint64_t max, uint8_t **buf,
			   uint64_t *addr, uint64_t *size)
{
	uint8_t *b;
	int err;

	*buf = NULL;
	if (elf_file__find_section(ef, name, addr, size)) {
		set_error(ef, "no %s section", name);
		return -ENOENT;
	}
	if (*size > max) {
		set_error(ef, "%s is %llu bytes, over the %llu-byte cap (caps.h)", name,
			  (unsigned long long)*size, (unsigned long long)max);
		return -EFBIG;
	}
	b = malloc(*size + 1);
	if (!b)
		return -ENOMEM;
	err = elf_file__read_vaddr(ef, *addr, b, *size);
	if (err) {
		set_error(ef, "%s unreadable through its segment (%s)", name, strerror(-err));
		free(b);
		return err;
	}
	b[*size] = '\0';
	*buf = b;
	return 0;
}

/* Calls match(desc, descsz, ctx) on each note of `type` and owner `owner` in
 * section `name`, until it returns true. The notes are walked by hand, each
 * name and descriptor checked to end inside the section. */
static bool any_note(struct elf_file *ef, const char *name, const char *owner, uint32_t type,
		     bool (*match)(const uint8_t *desc, size_t len, const void *ctx), const void *ctx)
{
	GElf_Shdr shdr;
	Elf_Scn *scn = section_named(ef, name, &shdr);
	size_t owner_len = strlen(owner) + 1, off = 0, size, align;
	const uint8_t *p;
	Elf_Data *data;

	if (!scn || shdr.sh_type != SHT_NOTE)
		return false;
	if (shdr.sh_size > ELF_MAX_NOTES) {
		set_error(ef, "%s is %llu bytes, over the %u-byte cap (ELF_MAX_NOTES)", name,
			  (unsigned long long)shdr.sh_size, ELF_MAX_NOTES);
		return false;
	}
	data = elf_rawdata(scn, NULL);
	if (!data || !data->d_buf)
		return false;
	p = data->d_buf;
	size = data->d_size;
	/* Notes in an 8-aligned section (.note.gnu.property) pad to 8. */
	align = shdr.sh_addralign == 8 ? 8 : 4;
	while (size - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		size_t name_off, desc_off, namesz, descsz;

		memcpy(&nh, p + off, sizeof(nh));
		name_off = off + sizeof(nh);
		namesz = (nh.n_namesz + align - 1) & ~(align - 1);
		if (nh.n_namesz > size - name_off || namesz > size - name_off)
			return false;
		desc_off = name_off + namesz;
		descsz = (nh.n_descsz + align - 1) & ~(align - 1);
		if (nh.n_descsz > size - desc_off)
			return false;
		if (nh.n_type == type && nh.n_namesz == owner_len && !memcmp(p + name_off, owner, owner_len) &&
		    match(p + desc_off, nh.n_descsz, ctx))
			return true;
		/* The last note may end without its padding. */
		if (descsz > size - desc_off)
			return false;
		off = desc_off + descsz;
	}
	return false;
}

struct usdt_name {
	const char *provider;
	const char *name;
};

/* An SDT note's descriptor: pc, base, semaphore (8 bytes each on 64-bit),
 * then provider\0name\0args\0. Both strings must end inside it. */
static bool usdt_matches(const uint8_t *desc, size_t len, const void *arg)
{
	const struct usdt_name *want = arg;
	const char *provider = (const char *)desc + 24, *name;
	size_t plen, left;

	if (len <= 24)
		return false;
	left = len - 24;
	plen = strnlen(provider, left);
	if (plen == left || strcmp(provider, want->provider))
		return false;
	name = provider + plen + 1;
	left -= plen + 1;
	return strnlen(name, left) < left && !strcmp(name, want->name);
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

	if (!len || len > (out->len - 1) / 2)
		return false;
	for (size_t i = 0; i < len; i++)
		snprintf(out->buf + 2 * i, 3, "%02x", desc[i]);
	return true;
}

int elf_file__build_id(struct elf_file *ef, char *buf, size_t buflen)
{
	struct build_id_out out = { buf, buflen };

	if (!buflen)
		return -ENOENT;
	return any_note(ef, ".note.gnu.build-id", "GNU", NT_GNU_BUILD_ID, copy_build_id, &out) ? 0 : -ENOENT;
}

/* One version component: 1 to 3 digits at buf[*j], no sign, no blanks. At
 * most 4 bytes are looked at, which keeps the scan below linear. */
static bool version_component(const char *buf, size_t len, size_t *j, unsigned int *v)
{
	size_t n = 0;

	*v = 0;
	while (*j < len && n < 4 && buf[*j] >= '0' && buf[*j] <= '9') {
		*v = *v * 10 + (unsigned int)(buf[*j] - '0');
		(*j)++;
		n++;
	}
	return n >= 1 && n <= 3;
}

int elf_scan_py_version(const char *buf, size_t len, int want_minor, unsigned int *maj, unsigned int *min,
			unsigned int *mic)
{
	for (size_t i = 1; i + 6 < len; i++) {
		char before = buf[i - 1];
		unsigned int b, c;
		size_t j = i + 2;

		if (buf[i] != '3' || buf[i + 1] != '.' || before == '.' || (before >= '0' && before <= '9'))
			continue;
		if (want_minor < 0 && before != '\0')
			continue;
		if (!version_component(buf, len, &j, &b) || j >= len || buf[j] != '.')
			continue;
		j++;
		/* The end of the buffer counts as the string's NUL. */
		if (!version_component(buf, len, &j, &c) || (j < len && buf[j] != '\0'))
			continue;
		if (want_minor < 0 ? b >= 5 && b < 40 : b == (unsigned int)want_minor) {
			*maj = 3, *min = b, *mic = c;
			return 0;
		}
	}
	return -ENOENT;
}
