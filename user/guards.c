// SPDX-License-Identifier: MIT
/* Inlined pymalloc discovery with Capstone; see guards.h for the why. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <capstone/capstone.h>
#include "caps.h"
#include "guards.h"

/* How far the guard of an exported allocator can be from its entry, and how
 * long a slow path may run before its indirect call. */
#define ENTRY_SCAN_INSNS 24
#define SLOW_PATH_INSNS 12
#define SLOW_PATH_JUMPS 2
/* usedpools[] has 2 * 32 slots (32 size classes, padded to a multiple of 8). */
#define USEDPOOLS_SLOTS 64

/* .text as read from the file, with what is left of the decode budget
 * (GUARD_MAX_DECODES): the scan's cost is driven by the target's bytes. */
struct text {
	const uint8_t *bytes;
	uint64_t vaddr;
	uint64_t size;
	size_t decodes_left;
};

/* vaddr inside .text, written so that vaddr + size cannot wrap. */
static bool in_text(const struct text *t, uint64_t vaddr)
{
	return vaddr >= t->vaddr && vaddr - t->vaddr < t->size;
}

static int reg_slot(x86_reg r, bool *is32)
{
	static const struct {
		x86_reg r64, r32;
		int slot;
	} map[] = {
		{ X86_REG_RAX, X86_REG_EAX, PY_REG_AX },   { X86_REG_RBX, X86_REG_EBX, PY_REG_BX },
		{ X86_REG_RCX, X86_REG_ECX, PY_REG_CX },   { X86_REG_RDX, X86_REG_EDX, PY_REG_DX },
		{ X86_REG_RSI, X86_REG_ESI, PY_REG_SI },   { X86_REG_RDI, X86_REG_EDI, PY_REG_DI },
		{ X86_REG_RBP, X86_REG_EBP, PY_REG_BP },   { X86_REG_R8, X86_REG_R8D, PY_REG_R8 },
		{ X86_REG_R9, X86_REG_R9D, PY_REG_R9 },    { X86_REG_R10, X86_REG_R10D, PY_REG_R10 },
		{ X86_REG_R11, X86_REG_R11D, PY_REG_R11 }, { X86_REG_R12, X86_REG_R12D, PY_REG_R12 },
		{ X86_REG_R13, X86_REG_R13D, PY_REG_R13 }, { X86_REG_R14, X86_REG_R14D, PY_REG_R14 },
		{ X86_REG_R15, X86_REG_R15D, PY_REG_R15 },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (r == map[i].r64 || r == map[i].r32) {
			if (is32)
				*is32 = r == map[i].r32;
			return map[i].slot;
		}
	}
	return PY_REG_NONE;
}

/* Decodes one instruction at vaddr into insn (allocated by the caller with
 * cs_malloc). Returns false outside .text, on an undecodable byte, or once
 * the decode budget is spent (the scan then fails as a whole). Every
 * address decoded comes from the target's bytes (symbols, branch targets):
 * this is the one place that bounds them. */
static bool decode(csh cs, struct text *t, uint64_t vaddr, cs_insn *insn)
{
	const uint8_t *code;
	size_t left;
	uint64_t addr = vaddr;

	if (!in_text(t, vaddr) || !t->decodes_left)
		return false;
	t->decodes_left--;
	code = t->bytes + (vaddr - t->vaddr);
	left = t->size - (vaddr - t->vaddr);
	return cs_disasm_iter(cs, &code, &left, &addr, insn);
}

/* `cmp reg64, imm` with imm inside .text: the PGO guard shape. */
static bool guard_imm(const cs_insn *insn, const struct text *t, uint64_t *imm)
{
	const cs_x86 *x = &insn->detail->x86;

	if (insn->id != X86_INS_CMP || x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
	    x->operands[1].type != X86_OP_IMM || x->operands[0].size != 8)
		return false;
	*imm = (uint64_t)x->operands[1].imm;
	return in_text(t, *imm);
}

/* The static allocator an exported one dispatches to: the target of the
 * first guard in its body. */
static uint64_t static_target(csh cs, struct text *t, struct elf_file *ef, const char *exported)
{
	struct elf_sym_info sym;
	cs_insn *insn = cs_malloc(cs);
	uint64_t pc, imm = 0;

	if (!insn)
		return 0;
	if (elf_file__find_symbol(ef, exported, &sym))
		goto out;
	pc = sym.value;
	for (int i = 0; i < ENTRY_SCAN_INSNS && decode(cs, t, pc, insn); i++) {
		if (guard_imm(insn, t, &imm))
			break;
		imm = 0;
		if (insn->id == X86_INS_RET)
			break;
		pc = insn->address + insn->size;
	}
out:
	cs_free(insn, 1);
	return imm;
}

static bool is_jump(const cs_insn *insn, unsigned int id, uint64_t *target)
{
	const cs_x86 *x = &insn->detail->x86;

	if (insn->id != id || x->op_count != 1 || x->operands[0].type != X86_OP_IMM)
		return false;
	*target = (uint64_t)x->operands[0].imm;
	return true;
}

static uint16_t written_regs(csh cs, const cs_insn *insn)
{
	cs_regs rd, wr;
	uint8_t nrd, nwr;
	uint16_t mask = 0;

	if (cs_regs_access(cs, insn, rd, &nrd, wr, &nwr))
		return 0xffff;
	for (int i = 0; i < nwr; i++) {
		int slot = reg_slot(wr[i], NULL);

		if (slot != PY_REG_NONE)
			mask |= 1u << slot;
	}
	return mask;
}

/* Registers along a slow path: which were written since the guard, and
 * which of those hold a constant the path loaded (`mov $0x1c,%ebp`). */
struct path_regs {
	uint16_t clobbered;
	uint16_t known;
	int64_t value[PY_REG__COUNT];
};

/* Reads the instruction that sets %rsi (or %esi) into an operand, if its
 * inputs still hold their values from the guard or are known constants. */
static bool rsi_source(const cs_insn *insn, const struct path_regs *pr, struct py_operand *op)
{
	uint16_t clobbered = pr->clobbered;
	const cs_x86 *x = &insn->detail->x86;
	const cs_x86_op *src;
	bool dst32, src32 = false;

	if (x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
	    reg_slot(x->operands[0].reg, &dst32) != PY_REG_SI)
		return false;
	src = &x->operands[1];
	memset(op, 0, sizeof(*op));
	op->base = op->index = PY_REG_NONE;
	op->width32 = dst32;
	if (insn->id == X86_INS_MOV && src->type == X86_OP_IMM) {
		op->disp = src->imm;
	} else if (insn->id == X86_INS_MOV && src->type == X86_OP_REG) {
		op->base = reg_slot(src->reg, &src32);
		op->width32 |= src32;
		if (op->base != PY_REG_NONE && (pr->known >> op->base & 1)) {
			op->disp = pr->value[op->base];
			op->base = PY_REG_NONE;
			return true;
		}
	} else if (insn->id == X86_INS_LEA && src->type == X86_OP_MEM && src->mem.segment == X86_REG_INVALID) {
		if (src->mem.base != X86_REG_INVALID && (op->base = reg_slot(src->mem.base, NULL)) == PY_REG_NONE)
			return false; /* rip-relative: not an argument */
		if (src->mem.index != X86_REG_INVALID &&
		    (op->index = reg_slot(src->mem.index, NULL)) == PY_REG_NONE)
			return false;
		op->scale = (uint8_t)src->mem.scale;
		op->disp = src->mem.disp;
	} else {
		return false;
	}
	if (op->base != PY_REG_NONE && (clobbered >> op->base & 1))
		return false;
	if (op->index != PY_REG_NONE && (clobbered >> op->index & 1))
		return false;
	if (src->type == X86_OP_REG && op->base == PY_REG_NONE)
		return false;
	return true;
}

static bool indirect(const cs_insn *insn)
{
	return insn->detail->x86.op_count == 1 && insn->detail->x86.operands[0].type != X86_OP_IMM;
}

/* Follows a slow path from pc to its indirect call (or tail jump) and reports
 * the %rsi it passes, in registers as they were at the start of the path.
 * Returns 1 with *op set, 0 when the path makes no indirect call (the guard
 * was not an allocation, e.g. a "is pymalloc in use" test), -1 when the
 * argument cannot be followed. */
static void track_write(csh cs, const cs_insn *insn, struct path_regs *pr)
{
	const cs_x86 *x = &insn->detail->x86;
	uint16_t w = written_regs(cs, insn);
	bool is32;
	int slot;

	pr->clobbered |= w;
	pr->known &= ~w;
	if (insn->id != X86_INS_MOV || x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
	    x->operands[1].type != X86_OP_IMM)
		return;
	slot = reg_slot(x->operands[0].reg, &is32);
	if (slot == PY_REG_NONE)
		return;
	pr->known |= 1u << slot;
	pr->value[slot] = is32 ? (int64_t)(uint32_t)x->operands[1].imm : x->operands[1].imm;
}

static int slow_path_arg(csh cs, struct text *t, uint64_t pc, cs_insn *insn, struct py_operand *op)
{
	struct path_regs pr = {};
	bool found = true;
	int jumps = 0;
	uint64_t target;

	/* Untouched on the way, %rsi already held the argument at the guard. */
	memset(op, 0, sizeof(*op));
	op->base = PY_REG_SI;
	op->index = PY_REG_NONE;
	for (int i = 0; i < SLOW_PATH_INSNS && decode(cs, t, pc, insn); i++) {
		if (insn->id == X86_INS_CALL || (insn->id == X86_INS_JMP && indirect(insn))) {
			if (!indirect(insn))
				return 0;
			return found ? 1 : -1;
		}
		if (is_jump(insn, X86_INS_JMP, &target) && jumps++ < SLOW_PATH_JUMPS) {
			pc = target;
			continue;
		}
		if (cs_insn_group(cs, insn, CS_GRP_RET))
			return 0;
		/* Any other control flow: the argument is not one straight line. */
		if (cs_insn_group(cs, insn, CS_GRP_JUMP))
			return -1;
		if (written_regs(cs, insn) >> PY_REG_SI & 1)
			found = rsi_source(insn, &pr, op);
		track_write(cs, insn, &pr);
		pc = insn->address + insn->size;
	}
	return -1;
}

/* After `cmp`: `jne slow` (inline body falls through), or `je inline;
 * jmp slow` (PGO moved the body away). Returns the slow path's start. */
static bool slow_path_start(csh cs, struct text *t, const cs_insn *cmp, cs_insn *insn, uint64_t *slow)
{
	uint64_t next = cmp->address + cmp->size, target;

	if (!decode(cs, t, next, insn))
		return false;
	if (is_jump(insn, X86_INS_JNE, &target)) {
		*slow = target;
		return true;
	}
	if (is_jump(insn, X86_INS_JE, &target)) {
		*slow = insn->address + insn->size;
		return true;
	}
	return false;
}

static int add_site(struct guard_scan *g, size_t *cap, struct elf_file *ef, uint64_t vaddr,
		    enum guard_kind kind, const struct py_operand *op)
{
	struct guard_site *s;
	uint64_t off;

	if (elf_file__vaddr_to_offset(ef, vaddr, &off))
		return 0;
	if (g->nsites == GUARD_MAX_SITES)
		return -E2BIG;
	if (g->nsites == *cap) {
		size_t ncap = *cap ? *cap * 2 : 256;

		s = realloc(g->sites, ncap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		g->sites = s;
		*cap = ncap;
	}
	s = &g->sites[g->nsites++];
	s->vaddr = vaddr;
	s->offset = off;
	s->kind = kind;
	s->op = *op;
	return 0;
}

/* Candidate guards are found by their 4-byte immediate, then confirmed by
 * decoding: far cheaper than disassembling all of .text. REX.W cmp with an
 * imm32 is 6 bytes (48 3d) for %rax, 7 (4x 81 /7) for the others. */
static int scan_guards(csh cs, struct text *t, struct elf_file *ef, uint64_t target, enum guard_kind kind,
		       struct guard_scan *g, size_t *cap)
{
	uint32_t imm32 = (uint32_t)target;
	cs_insn *insn = cs_malloc(cs), *tmp = cs_malloc(cs);
	int err = 0;

	if (!insn || !tmp) {
		err = -ENOMEM;
		goto out;
	}
	if (target >> 31)
		goto out; /* a PIE's guards compare registers, not immediates */
	for (uint64_t i = 3; i + 4 <= t->size; i++) {
		uint64_t at, imm, slow;
		struct py_operand op;
		bool hit = false;

		if (memcmp(t->bytes + i, &imm32, 4))
			continue;
		for (int back = 2; back <= 3 && !hit; back++) {
			at = t->vaddr + i - back;
			hit = decode(cs, t, at, insn) && insn->size == back + 4 && guard_imm(insn, t, &imm) &&
			      imm == target;
		}
		if (!hit)
			continue;
		if (!slow_path_start(cs, t, insn, tmp, &slow)) {
			g->unresolved++;
			continue;
		}
		switch (slow_path_arg(cs, t, slow, tmp, &op)) {
		case 1:
			err = add_site(g, cap, ef, insn->address, kind, &op);
			break;
		case -1:
			g->unresolved++;
			break;
		default:
			g->not_alloc++;
		}
		if (err)
			break;
	}
out:
	cs_free(insn, 1);
	cs_free(tmp, 1);
	return err;
}

uint64_t guards__find_usedpools(const uint8_t *data, size_t len, uint64_t vaddr)
{
	for (size_t i = 0; i + USEDPOOLS_SLOTS * 8 <= len; i += 8) {
		size_t k;

		for (k = 0; k < USEDPOOLS_SLOTS; k++) {
			uint64_t v, want = vaddr + i + (k & ~1ul) * 8 - 16;

			memcpy(&v, data + i + k * 8, 8);
			if (v != want)
				break;
		}
		if (k == USEDPOOLS_SLOTS)
			return vaddr + i;
	}
	return 0;
}

/* A name from the binary's own symbols, else from its debug file. */
static uint64_t named(struct elf_file *ef, struct elf_file *dbg, const char *name)
{
	struct elf_sym_info sym;

	if (!elf_file__find_static(ef, name, &sym) || (dbg && !elf_file__find_static(dbg, name, &sym)))
		return sym.value;
	return 0;
}

/* Optional: 0 when not found, including a .data over ELF_MAX_DATA. */
static uint64_t find_usedpools(struct elf_file *ef, struct elf_file *dbg)
{
	uint64_t addr, size, found;
	uint8_t *data;

	found = named(ef, dbg, "usedpools");
	if (found)
		return found;
	/* Stripped: the initial values are in .data unless the file is a PIE,
	 * whose pointers are relocations (left for later; see guards.h). */
	if (elf_file__load_section(ef, ".data", ELF_MAX_DATA, &data, &addr, &size))
		return 0;
	found = guards__find_usedpools(data, size, addr);
	free(data);
	return found;
}

static int add_entry(struct guard_scan *g, size_t *cap, struct elf_file *ef, uint64_t vaddr,
		     enum guard_kind kind)
{
	/* Static _PyObject_Malloc(ctx, n) / _PyObject_Free(ctx, p): %rsi. */
	struct py_operand op = { .base = PY_REG_SI, .index = PY_REG_NONE };

	return vaddr ? add_site(g, cap, ef, vaddr, kind, &op) : 0;
}

int guards__scan(struct elf_file *ef, struct elf_file *dbg, struct guard_scan *out)
{
	uint64_t sym_malloc, sym_free;
	struct text t = { .decodes_left = GUARD_MAX_DECODES };
	uint8_t *bytes = NULL;
	size_t cap = 0;
	csh cs;
	int err;

	memset(out, 0, sizeof(*out));
	err = elf_file__load_section(ef, ".text", ELF_MAX_TEXT, &bytes, &t.vaddr, &t.size);
	if (err) {
		snprintf(out->why, sizeof(out->why), "%s", elf_file__error(ef));
		return err;
	}
	t.bytes = bytes;
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK) {
		free(bytes);
		return -ENOMEM;
	}
	cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
	out->malloc_vaddr = static_target(cs, &t, ef, "PyObject_Malloc");
	out->free_vaddr = static_target(cs, &t, ef, "PyObject_Free");
	/* No guard in the exported functions: a plain build, nothing inlined. */
	if (!out->malloc_vaddr || !out->free_vaddr) {
		out->malloc_vaddr = out->free_vaddr = 0;
		goto out_close;
	}
	/* Where names exist they are the truth: a guard read wrongly must not
	 * send probes to the wrong places. */
	sym_malloc = named(ef, dbg, "_PyObject_Malloc");
	sym_free = named(ef, dbg, "_PyObject_Free");
	if ((sym_malloc && sym_malloc != out->malloc_vaddr) || (sym_free && sym_free != out->free_vaddr)) {
		err = -EPROTO;
		goto out_close;
	}
	out->usedpools_vaddr = find_usedpools(ef, dbg);
	err = scan_guards(cs, &t, ef, out->malloc_vaddr, GUARD_ALLOC, out, &cap);
	if (!err)
		err = scan_guards(cs, &t, ef, out->free_vaddr, GUARD_FREE, out, &cap);
	if (!err)
		err = add_entry(out, &cap, ef, out->malloc_vaddr, GUARD_ALLOC);
	if (!err)
		err = add_entry(out, &cap, ef, out->free_vaddr, GUARD_FREE);
out_close:
	cs_close(&cs);
	free(bytes);
	out->decodes = GUARD_MAX_DECODES - t.decodes_left;
	/* Out of budget, a result is partial: the whole scan fails. */
	if (!err && !t.decodes_left)
		err = -ETIMEDOUT;
	if (err == -ETIMEDOUT)
		snprintf(out->why, sizeof(out->why), ".text needs over %u decodes (GUARD_MAX_DECODES)",
			 GUARD_MAX_DECODES);
	else if (err == -E2BIG)
		snprintf(out->why, sizeof(out->why), "over %u guards (GUARD_MAX_SITES)", GUARD_MAX_SITES);
	else if (err == -EPROTO)
		snprintf(out->why, sizeof(out->why), "the guards disagree with the debug symbols");
	if (err)
		guards__free(out);
	return err;
}

void guards__free(struct guard_scan *g)
{
	free(g->sites);
	g->sites = NULL;
	g->nsites = 0;
}
