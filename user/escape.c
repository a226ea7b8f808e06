// SPDX-License-Identifier: MIT
/* Escaping of untrusted strings for the terminal and for JSON (escape.h). */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "escape.h"

/* One unit of input, escaped: a character or an invalid byte. The longest
 * is a 4-byte UTF-8 character passed through, or `\u202e` (6). */
struct unit {
	char s[8];
	size_t n;
};

/* Length of the well-formed UTF-8 sequence at p (n bytes left), or 0 when
 * p[0] does not start one. The ranges are the Unicode standard's table of
 * well-formed sequences (3-7): they exclude overlongs (C0, C1, E0 80-9F,
 * F0 80-8F), surrogates (ED A0-BF) and code points past U+10FFFF (F4 90+,
 * F5-FF). */
static size_t utf8_len(const unsigned char *p, size_t n, uint32_t *cp)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		*cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		*cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	/* Only the second byte has a narrowed range. */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (p[i] & 0x3f);
	}
	return len;
}

/* Characters a terminal would act on rather than show: C1 controls, and
 * the bidi controls and separators that reorder or split a line. */
static bool hidden_char(uint32_t cp)
{
	return (cp >= 0x80 && cp <= 0x9f) || cp == 0x061c || cp == 0x200e || cp == 0x200f ||
	       cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

/* Escapes the unit at p (n > 0 bytes left) into u; returns bytes consumed. */
static size_t next_unit(enum esc_form form, const unsigned char *p, size_t n, struct unit *u)
{
	uint32_t cp;
	size_t len = utf8_len(p, n, &cp);

	if (!len) {
		u->n = (size_t)snprintf(u->s, sizeof(u->s), form == ESC_JSON ? "\\\\x%02x" : "\\x%02x", p[0]);
		return 1;
	}
	if (cp == '\\' || (form == ESC_JSON && cp == '"')) {
		u->s[0] = '\\';
		u->s[1] = (char)cp;
		u->n = 2;
	} else if (cp < 0x20 || cp == 0x7f) {
		u->n = (size_t)snprintf(u->s, sizeof(u->s), form == ESC_JSON ? "\\u%04x" : "\\x%02x", cp);
	} else if (hidden_char(cp)) {
		u->n = (size_t)snprintf(u->s, sizeof(u->s), "\\u%04x", cp);
	} else {
		memcpy(u->s, p, len);
		u->n = len;
	}
	return len;
}

size_t esc_buf(enum esc_form form, char *dst, size_t size, const void *src, size_t len)
{
	const unsigned char *p = src;
	size_t out = 0, kept = 0;
	bool cut = false;
	struct unit u;

	while (len) {
		size_t used = next_unit(form, p, len, &u);

		/* Once one unit does not fit, none after it goes in either: what
		 * is kept is a prefix of the whole output, cut between units. */
		if (!cut && out + u.n < size) {
			memcpy(dst + out, u.s, u.n);
			kept = out + u.n;
		} else {
			cut = true;
		}
		out += u.n;
		p += used;
		len -= used;
	}
	if (size)
		dst[kept] = '\0';
	return out;
}

void esc_fwrite(enum esc_form form, FILE *f, const void *src, size_t len)
{
	const unsigned char *p = src;
	struct unit u;

	while (len) {
		size_t used = next_unit(form, p, len, &u);

		fwrite(u.s, 1, u.n, f);
		p += used;
		len -= used;
	}
}

void esc_fputs(enum esc_form form, FILE *f, const char *s)
{
	esc_fwrite(form, f, s, strlen(s));
}

int esc_vfprintf_lines(FILE *f, const char *fmt, va_list args)
{
	char *msg = NULL, *p, *nl;
	int n = vasprintf(&msg, fmt, args);

	if (n < 0)
		return -1;
	for (p = msg; (nl = memchr(p, '\n', (size_t)(msg + n - p))); p = nl + 1) {
		esc_fwrite(ESC_TERM, f, p, (size_t)(nl - p));
		fputc('\n', f);
	}
	esc_fwrite(ESC_TERM, f, p, (size_t)(msg + n - p));
	free(msg);
	return n;
}
