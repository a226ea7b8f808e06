/* SPDX-License-Identifier: MIT */
/* Caps on every size the target controls, in one place.
 *
 * pyleakbpf runs as root and reads files and memory that the target owns:
 * its binary, its libraries, their debug files and its live heap. A size
 * read from any of them (a section header, a debug offset, a pool header)
 * is a claim, not a fact. Each one is checked against the file or buffer it
 * describes, and each one that decides an allocation or a loop count is
 * capped here. Going over a cap refuses that one file or that one search
 * with a reason (elf_file__error(), -EFBIG); it never allocates what the
 * header asks for.
 *
 * The caps come from the real interpreters on the reference machine
 * (Debian 12 python3.11 and its -dbg files, pyenv 2.7 and 3.6 to 3.13 shared
 * libpythons, the /var/cache/pyleakbpf matrix: trixie's python3.13, the
 * static and free-threaded 3.13 builds, the stripped copies), with a margin
 * of about 5x for builds we have not seen (-O0, sanitizers, embedding
 * applications). Largest measured value next to each cap.
 *
 * Memory: sections are read whole into the heap (pread, never mmap: a
 * target truncating its file under a mapping would kill the tool with
 * SIGBUS). The worst case held at once is the guard scan: .text plus .data
 * (16 + 8 MiB) with the symbol tables cached by libelf (2 x 8 MiB), under the
 * tool's 64 MiB RSS budget even when every cap is hit. Real files need a
 * tenth of that. */
#ifndef PYLEAK_CAPS_H
#define PYLEAK_CAPS_H

/* ELF headers. Sections: 74 (a Debian .debug file); interpreters 27-43;
 * relocatable objects built with -ffunction-sections (never mapped) 1481.
 * Program headers: 14. Extended numbering (e_shnum == 0, PN_XNUM) is
 * refused: only objects with more than 65279 sections need it. */
#define ELF_MAX_SECTIONS 4096
#define ELF_MAX_PHDRS 256

/* Section contents read whole:
 * .text, disassembled for the inlined allocator guards:
 *   3.2 MiB (trixie python3.13), 2.8 MiB (Debian python3.11).
 * .rodata, scanned for PY_VERSION before 3.11:
 *   2.2 MiB (python3.11d), 0.65 MiB (libpython3.9, 3.10: the ones scanned).
 * .data, scanned for usedpools[] in stripped builds: 1.1 MiB (python3.11). */
#define ELF_MAX_TEXT (16u << 20)
#define ELF_MAX_RODATA (16u << 20)
#define ELF_MAX_DATA (8u << 20)

/* Symbol tables (.symtab, .dynsym) and their string tables, read by libelf
 * on the first lookup: 0.96 MiB / 41733 symbols and 0.6 MiB of names
 * (python3.11's debug file). Every mapped library of the target is opened
 * while looking for the interpreter; a C++ giant over these caps (libtorch)
 * is not the interpreter and simply has no symbols to us. */
#define ELF_MAX_SYMTAB (8u << 20)
#define ELF_MAX_STRTAB (8u << 20)

/* Note sections (.note.gnu.build-id, .note.stapsdt): 656 bytes. */
#define ELF_MAX_NOTES (1u << 20)

/* Capstone decoding in the guard scan, as a count of decoded instructions:
 * Debian's python3.11 (2.8 MiB .text, 241 guards) takes 1121 decodes in
 * 6 ms, trixie's python3.13 1774. A crafted .text full of the guards'
 * immediate makes every 6 bytes a candidate costing up to ~20 decodes
 * (~14 s at ELF_MAX_TEXT); at ~0.25 us a decode the cap stops it within
 * a quarter of a second (tests/unit/test_guards.c, test_decoys). */
#define GUARD_MAX_DECODES 1000000u
/* Guards kept: python3.11 has 241, trixie's python3.13 295. */
#define GUARD_MAX_SITES 16384u

/* The live search for usedpools[] in the main PyInterpreterState (3.12+),
 * whose size comes from the table (3.12: 383552 bytes) or the target's own
 * debug offsets (3.13: 194968). Only this much of it is searched. */
#define USEDPOOLS_SEARCH_MAX (1u << 20)
/* Candidates in that search checked against the pools they point to, each
 * costing up to 64 reads of the target's memory (~1 us each): 4096 keeps
 * the search under half a second. trixie's python3.13 finds it at the 9th. */
#define USEDPOOLS_MAX_CHECKS 4096

#endif
