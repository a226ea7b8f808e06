/* SPDX-License-Identifier: MIT */
/* Making strings the target controls safe to print: file names, function
 * names, comm, paths from its maps, its version string, and error messages
 * that embed any of these.
 *
 * Input is bytes, not assumed UTF-8. It is read as UTF-8 strictly (no
 * overlong forms, no UTF-16 surrogates D800-DFFF, nothing above U+10FFFF,
 * no truncated sequences); each byte that is not part of a well-formed
 * sequence is an "invalid byte".
 *
 * Terminal form (ESC_TERM), for the table and stderr. Unambiguous: the
 * original bytes can be recovered from it.
 *   - printable ASCII and valid UTF-8 characters pass unchanged ("café.py");
 *   - `\` becomes `\\`;
 *   - C0 controls and DEL (single bytes) become `\xNN`, e.g. ESC is `\x1b`;
 *   - invalid bytes become `\xNN`, e.g. a lone 0x9b is `\x9b`, which a
 *     terminal in 8-bit mode would take for CSI;
 *   - C1 controls U+0080-U+009F (C2 80..C2 9F in UTF-8) and the characters
 *     that reorder or break what a terminal shows ("Trojan Source"): bidi
 *     embeddings, overrides and isolates U+202A-U+202E, U+2066-U+2069, the
 *     marks U+061C, U+200E, U+200F, and the separators U+2028, U+2029,
 *     become `\uNNNN`, e.g. `\u202e`.
 *   So `\xNN` always stands for one byte, `\uNNNN` for one UTF-8 character.
 *   The output holds no byte below 0x20, no 0x7f and no C1 control.
 *
 * JSON form (ESC_JSON), the inside of a JSON string (no quotes). Always
 * valid UTF-8 and valid JSON:
 *   - `"` and `\` are escaped as `\"` and `\\`;
 *   - C0 controls, DEL, C1 controls and the characters listed above are
 *     written `\u00NN` / `\uNNNN`, so they decode to the very character
 *     while the JSON text itself stays safe to cat to a terminal;
 *   - other valid UTF-8 passes unchanged;
 *   - an invalid byte cannot be a JSON character, so it is written as the
 *     four visible characters `\xNN` (`\\xNN` in the JSON source). Nothing is
 *     lost, and a consumer decodes what Python's
 *     bytes.decode("utf-8", "backslashreplace") gives for the same bytes.
 *   The decoded string equals the original whenever the original is valid
 *   UTF-8. With invalid bytes it is ambiguous only against a name that holds
 *   the literal text `\xNN`; the terminal form is the unambiguous one.
 *
 * NUL: the length-based functions take NUL as a control (`\x00`,
 * `\u0000`); the string ones stop at it.
 */
#ifndef PYLEAK_ESCAPE_H
#define PYLEAK_ESCAPE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

enum esc_form {
	ESC_TERM,
	ESC_JSON,
};

/* Longest output for one input byte, and so a buffer size that never
 * truncates: ESC_SIZE(form, len) bytes hold the escaped form of len bytes
 * and the NUL. (`\x1b` is 4 bytes, `\\x1b` 5, `\u001b` 6.) */
#define ESC_MAX_PER_BYTE(form) ((form) == ESC_JSON ? 6 : 4)
#define ESC_SIZE(form, len) ((len) * ESC_MAX_PER_BYTE(form) + 1)

/* Escapes len bytes of src into dst (size bytes, NUL-terminated when size
 * > 0). Like snprintf, returns the length the whole output needs; a result
 * >= size means it was cut, and then only at a boundary between two
 * characters or escapes: never inside `\x1b` nor inside a UTF-8 sequence. */
size_t esc_buf(enum esc_form form, char *dst, size_t size, const void *src, size_t len);

/* Writes the escaped form of len bytes of src, or of the string s, to f. */
void esc_fwrite(enum esc_form form, FILE *f, const void *src, size_t len);
void esc_fputs(enum esc_form form, FILE *f, const char *s);

/* For messages we compose around target strings (libbpf's log, say): the
 * printf output in terminal form, except that '\n' is kept so multi-line
 * logs stay readable. Returns the formatted length (as vfprintf would
 * have written unescaped), or -1. */
int esc_vfprintf_lines(FILE *f, const char *fmt, va_list args);

#endif
