// SPDX-License-Identifier: MIT
/* libFuzzer harness for escape.c: whatever the bytes, the terminal form
 * holds no control (C0, DEL, C1 raw or in UTF-8) and the JSON form is valid
 * UTF-8 with no raw control and every quote escaped, and neither overruns its ESC_SIZE bound or a
 * short buffer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "escape.h"

/* Structural UTF-8 check, written apart from escape.c's decoder: the lead
 * gives the length, then shortest form, surrogates and the U+10FFFF limit. */
static void assert_utf8(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = p[i];
		size_t len = c < 0x80 ? 1 : c >= 0xc0 && c < 0xe0 ? 2 : c >= 0xe0 && c < 0xf0 ? 3 : c >= 0xf0 && c < 0xf8 ? 4 : 0;
		uint32_t v;

		if (!len || i + len > n)
			abort();
		v = len == 1 ? c : c & (0x7f >> len);
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				abort();
			v = v << 6 | (p[i + k] & 0x3f);
		}
		if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000) ||
		    (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
			abort();
		i += len;
	}
}

static void assert_no_control(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f || (i > 0 && p[i - 1] == 0xc2 && p[i] >= 0x80 && p[i] <= 0x9f))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int form = ESC_TERM; form <= ESC_JSON; form++) {
		size_t cap = ESC_SIZE(form, size);
		char *out = malloc(cap), small[7];
		size_t n;

		if (!out)
			return 0;
		n = esc_buf(form, out, cap, data, size);
		if (n >= cap || strlen(out) != n)
			abort();
		/* Both forms: valid UTF-8, so a raw 0x80-0x9f can only be a
		 * continuation byte, and the check below finds C1 in UTF-8. */
		assert_utf8((const unsigned char *)out, n);
		assert_no_control((const unsigned char *)out, n);
		if (form == ESC_JSON) {
			/* Every '"' escaped: never an odd run of backslashes before one. */
			for (size_t i = 0; i < n; i++) {
				size_t bs = 0;

				if (out[i] != '"')
					continue;
				while (bs < i && out[i - 1 - bs] == '\\')
					bs++;
				if (bs % 2 == 0)
					abort();
			}
		}
		/* A short buffer gets a prefix, NUL-terminated, in bounds (ASan). */
		if (esc_buf(form, small, sizeof(small), data, size) != n || strlen(small) >= sizeof(small) ||
		    memcmp(small, out, strlen(small)))
			abort();
		free(out);
	}
	return 0;
}
