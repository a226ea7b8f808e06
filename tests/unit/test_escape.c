// SPDX-License-Identifier: MIT
/* escape.c: what a hostile name turns into on the terminal and in JSON.
 * The checks compare with hand-written expectations, then with an
 * independent UTF-8 decoder and JSON string parser written here, over
 * hand-picked and pseudo-random inputs. */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "escape.h"

#define BUF 4096

/* The whole escaped form of len bytes, in a buffer that never truncates. */
static const char *esc(enum esc_form form, const char *in, size_t len)
{
	static char out[2][BUF];
	char *o = out[form == ESC_JSON];

	if (esc_buf(form, o, sizeof(out[0]), in, len) >= sizeof(out[0]))
		return "<overflow>";
	return o;
}

static bool eq(enum esc_form form, const char *in, size_t len, const char *want)
{
	const char *got = esc(form, in, len);
	char msg[BUF * 2];

	snprintf(msg, sizeof(msg), "%s form: got [%s] want [%s]", form == ESC_JSON ? "json" : "term", got, want);
	return check_report(!strcmp(got, want), __FILE__, __LINE__, "escape", msg);
}

#define TERM(lit, want) eq(ESC_TERM, lit, sizeof(lit) - 1, want)
#define JSON(lit, want) eq(ESC_JSON, lit, sizeof(lit) - 1, want)

/* --- an independent reference: UTF-8 decoding by its definition ---------- */

/* Decodes one character at p: its length, or 0 if p starts no well-formed
 * one. Done the long way on purpose (count the lead's ones, collect the
 * bits, then reject what the shortest form, surrogates or the range rule
 * out), unlike escape.c's byte-range table. */
static size_t ref_utf8(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len = 0;
	uint32_t v;

	while (len < 8 && (p[0] & (0x80 >> len)))
		len++;
	if (len == 0) {
		*cp = p[0];
		return 1;
	}
	if (len == 1 || len > 4 || len > n)
		return 0;
	v = p[0] & (0xff >> (len + 1));
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && v < 0x80) || (len == 3 && v < 0x800) || (len == 4 && v < 0x10000))
		return 0; /* overlong */
	if ((v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
		return 0;
	*cp = v;
	return len;
}

static bool valid_utf8(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;

	for (size_t i = 0, l; i < n; i += l)
		if (!(l = ref_utf8(p + i, n - i, &cp)))
			return false;
	return true;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Python's bytes.decode("utf-8", "backslashreplace"): what the JSON form
 * must decode to. Returns the length. */
static size_t backslashreplace(const char *in, size_t n, char *o)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t k = 0, l;
	uint32_t cp;

	for (size_t i = 0; i < n; i += l) {
		l = ref_utf8(p + i, n - i, &cp);
		if (l) {
			memcpy(o + k, p + i, l);
			k += l;
		} else {
			k += (size_t)sprintf(o + k, "\\x%02x", p[i]);
			l = 1;
		}
	}
	return k;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long hex(const char *s, int digits)
{
	long v = 0;

	for (int i = 0; i < digits; i++) {
		int h = hexval(s[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* Parses the inside of a JSON string (RFC 8259) into UTF-8 bytes; returns
 * the length, or -1 if it is not valid JSON string content. */
static long json_decode(const char *s, size_t n, char *o)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		long cp;

		if (c == '"' || c < 0x20)
			return -1;
		if (c != '\\') {
			o[k++] = (char)c;
			continue;
		}
		if (++i >= n)
			return -1;
		switch (s[i]) {
		case '"': case '\\': case '/':
			o[k++] = s[i];
			break;
		case 'b': o[k++] = '\b'; break;
		case 'f': o[k++] = '\f'; break;
		case 'n': o[k++] = '\n'; break;
		case 'r': o[k++] = '\r'; break;
		case 't': o[k++] = '\t'; break;
		case 'u':
			if (i + 4 >= n)
				return -1;
			cp = hex(s + i + 1, 4);
			/* escape.c never needs a surrogate pair: reject them all. */
			if (cp < 0 || (cp >= 0xd800 && cp <= 0xdfff))
				return -1;
			k += put_utf8(o + k, (uint32_t)cp);
			i += 4;
			break;
		default:
			return -1;
		}
	}
	return (long)k;
}

/* Inverts the terminal form: `\\`, `\xNN` (a byte), `\uNNNN` (a
 * character). Returns the length, or -1 on anything else after `\`. */
static long term_decode(const char *s, size_t n, char *o)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		long v;

		if (s[i] != '\\') {
			o[k++] = s[i];
			continue;
		}
		if (i + 1 >= n)
			return -1;
		if (s[i + 1] == '\\') {
			o[k++] = '\\';
			i++;
		} else if (s[i + 1] == 'x' && i + 3 < n && (v = hex(s + i + 2, 2)) >= 0) {
			o[k++] = (char)v;
			i += 3;
		} else if (s[i + 1] == 'u' && i + 5 < n && (v = hex(s + i + 2, 4)) >= 0) {
			k += put_utf8(o + k, (uint32_t)v);
			i += 5;
		} else {
			return -1;
		}
	}
	return (long)k;
}

/* No C0, no DEL, no C1 (raw byte or UTF-8), no bidi control. */
static bool terminal_safe(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return false;
		if (p[i] == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			return false;
		if (p[i] == 0xe2 && i + 2 < n && p[i + 1] == 0x80 && p[i + 2] >= 0xaa && p[i + 2] <= 0xae)
			return false;
		if (p[i] == 0xe2 && i + 2 < n && p[i + 1] == 0x81 && p[i + 2] >= 0xa6 && p[i + 2] <= 0xa9)
			return false;
	}
	return true;
}

/* Notes a failed property by name: one check per input, not thousands. */
static void prop(bool holds, const char *name, char *failed, size_t size)
{
	if (!holds && !strstr(failed, name))
		snprintf(failed + strlen(failed), size - strlen(failed), "%s%s", failed[0] ? "; " : "", name);
}

/* Every property, on one input. */
static bool properties(const char *in, size_t n)
{
	static char full[BUF], cut[BUF], dec[BUF], tmp[BUF];
	char failed[512] = "", shown[BUF];
	size_t tl, jl;
	long dl;

	/* Terminal: safe, within the bound, and reversible. */
	tl = esc_buf(ESC_TERM, full, sizeof(full), in, n);
	prop(tl < sizeof(full) && tl + 1 <= ESC_SIZE(ESC_TERM, n), "term within ESC_SIZE", failed, sizeof(failed));
	prop(strlen(full) == tl, "term output has no NUL", failed, sizeof(failed));
	prop(terminal_safe(full, tl), "term output has no control", failed, sizeof(failed));
	prop(valid_utf8(full, tl), "term output is valid UTF-8", failed, sizeof(failed));
	dl = term_decode(full, tl, dec);
	prop(dl == (long)n && !memcmp(dec, in, n), "term form decodes back to the input", failed, sizeof(failed));

	/* JSON: valid UTF-8, valid JSON, no control, decodes to backslashreplace. */
	jl = esc_buf(ESC_JSON, full, sizeof(full), in, n);
	prop(jl < sizeof(full) && jl + 1 <= ESC_SIZE(ESC_JSON, n), "json within ESC_SIZE", failed, sizeof(failed));
	prop(strlen(full) == jl, "json output has no NUL", failed, sizeof(failed));
	prop(valid_utf8(full, jl), "json output is valid UTF-8", failed, sizeof(failed));
	prop(terminal_safe(full, jl), "json output has no raw control", failed, sizeof(failed));
	dl = json_decode(full, jl, dec);
	prop(dl >= 0, "json output parses", failed, sizeof(failed));
	if (dl >= 0) {
		size_t bl = backslashreplace(in, n, tmp);

		prop((size_t)dl == bl && !memcmp(dec, tmp, bl), "json decodes to backslashreplace", failed,
		     sizeof(failed));
		prop(valid_utf8(dec, (size_t)dl), "json decodes to valid UTF-8", failed, sizeof(failed));
	}

	/* Truncation: every size gives a prefix of the whole, cut where a
	 * prefix of the input ends with its escape complete. */
	for (int f = ESC_TERM; f <= ESC_JSON; f++) {
		size_t whole = esc_buf(f, full, sizeof(full), in, n);

		for (size_t size = 0; size <= whole + 1; size++) {
			size_t want = 0, got;

			memset(cut, 'Z', sizeof(cut));
			prop(esc_buf(f, cut, size, in, n) == whole, "truncated call returns the whole length", failed,
			     sizeof(failed));
			if (!size) {
				prop(cut[0] == 'Z', "size 0 writes nothing", failed, sizeof(failed));
				continue;
			}
			got = strlen(cut);
			/* The longest escaped input prefix that is a prefix of the
			 * whole output and fits. */
			for (size_t k = 0; k <= n; k++) {
				size_t l = esc_buf(f, tmp, sizeof(tmp), in, k);

				if (l < size && l <= whole && !memcmp(tmp, full, l) && l > want)
					want = l;
			}
			prop(got == want && !memcmp(cut, full, got) && cut[got + 1] == 'Z',
			     "cut between escapes, as far as fits", failed, sizeof(failed));
		}
	}
	esc_buf(ESC_TERM, shown, sizeof(shown), in, n);
	return check_report(!failed[0], __FILE__, __LINE__, shown, failed);
}

static void test_terminal(void)
{
	TERM("plain.py", "plain.py");
	TERM("caf\xc3\xa9.py", "caf\xc3\xa9.py");
	TERM("\xe6\x96\x87\xe4\xbb\xb6.py", "\xe6\x96\x87\xe4\xbb\xb6.py"); /* CJK */
	TERM("\xf0\x9f\x90\x8d", "\xf0\x9f\x90\x8d");                      /* U+1F40D, 4 bytes */
	TERM("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");                      /* U+10FFFF, the last */
	TERM("a\\b", "a\\\\b");
	TERM("\x1b[2Khidden", "\\x1b[2Khidden");
	TERM("\x1b]52;c;SGVsbG8=\x07", "\\x1b]52;c;SGVsbG8=\\x07"); /* OSC 52: set the clipboard */
	TERM("\x1b]52;c;SGVsbG8=\x1b\\", "\\x1b]52;c;SGVsbG8=\\x1b\\\\");
	TERM("a\nb\tc\rd", "a\\x0ab\\x09c\\x0dd");
	TERM("\x7f", "\\x7f");
	TERM("\xc2\x9b" "31m", "\\u009b31m");             /* C1 CSI in UTF-8 */
	TERM("\xc2\x80\xc2\x9f\xc2\xa0", "\\u0080\\u009f\xc2\xa0"); /* C1 ends, NBSP shown */
	TERM("\x9b" "31m", "\\x9b31m");                   /* raw 8-bit CSI: a lone continuation */
	TERM("\x80\xbf", "\\x80\\xbf");
	TERM("\xc0\xaf", "\\xc0\\xaf");                   /* overlong "/" */
	TERM("\xe0\x80\xaf", "\\xe0\\x80\\xaf");          /* overlong "/", 3 bytes */
	TERM("\xf0\x80\x80\xaf", "\\xf0\\x80\\x80\\xaf"); /* overlong "/", 4 bytes */
	TERM("\xe0\x9f\xbf", "\\xe0\\x9f\\xbf");          /* overlong U+07FF */
	TERM("\xed\xa0\x80", "\\xed\\xa0\\x80");          /* surrogate D800 */
	TERM("\xed\xbf\xbf", "\\xed\\xbf\\xbf");          /* surrogate DFFF */
	TERM("\xed\x9f\xbf", "\xed\x9f\xbf");             /* U+D7FF, just below */
	TERM("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80"); /* U+110000 */
	TERM("\xf5\x80\x80\x80", "\\xf5\\x80\\x80\\x80");
	TERM("\xff\xfe", "\\xff\\xfe");
	TERM("ok\xc3", "ok\\xc3");                        /* truncated at the end */
	TERM("ok\xe2\x80", "ok\\xe2\\x80");
	TERM("ok\xf0\x9f\x90", "ok\\xf0\\x9f\\x90");
	TERM("\xe2\x80" "A", "\\xe2\\x80A");              /* interrupted */
	TERM("\xc3\xc3\xa9", "\\xc3\xc3\xa9");            /* a lead, then a whole character */
	/* Trojan Source: every bidi control, and the marks. */
	TERM("\xe2\x80\xae" "cod.exe", "\\u202ecod.exe");
	TERM("\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad", "\\u202a\\u202b\\u202c\\u202d");
	TERM("\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9", "\\u2066\\u2067\\u2068\\u2069");
	TERM("\xe2\x80\x8e\xe2\x80\x8f\xd8\x9c", "\\u200e\\u200f\\u061c");
	TERM("\xe2\x80\xa8\xe2\x80\xa9", "\\u2028\\u2029");
	TERM("\xe2\x80\xa9\xe2\x80\xaf", "\\u2029\xe2\x80\xaf"); /* U+202F is a space: shown */
	/* NUL: a byte like any control when the length says so. */
	TERM("a\0b", "a\\x00b");
	TERM("", "");
}

static void test_json(void)
{
	JSON("plain.py", "plain.py");
	JSON("caf\xc3\xa9.py", "caf\xc3\xa9.py");
	JSON("say \"hi\" \\", "say \\\"hi\\\" \\\\");
	JSON("\x1b]52;c;SGVsbG8=\x07", "\\u001b]52;c;SGVsbG8=\\u0007");
	JSON("\x1b[2K\n", "\\u001b[2K\\u000a");
	JSON("\x7f\xc2\x9b", "\\u007f\\u009b");
	JSON("\xe2\x80\xae\xe2\x81\xa6", "\\u202e\\u2066");
	JSON("\xff", "\\\\xff");
	JSON("\xc0\xaf", "\\\\xc0\\\\xaf");
	JSON("\xed\xa0\x80", "\\\\xed\\\\xa0\\\\x80");
	JSON("\xf4\x90\x80\x80", "\\\\xf4\\\\x90\\\\x80\\\\x80");
	JSON("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");
	JSON("x\xe2\x80", "x\\\\xe2\\\\x80");
	JSON("a\0b", "a\\u0000b");
}

static void test_truncation(void)
{
	char out[16];

	/* "\x1b" needs 4 bytes: with 3 left, none of it goes in. */
	if (!CHECK_EQ_INT(esc_buf(ESC_TERM, out, 6, "ab\x1b", 3), 6, "whole length"))
		return;
	CHECK(!strcmp(out, "ab"), out);
	CHECK_EQ_INT(esc_buf(ESC_TERM, out, 7, "ab\x1b", 3), 6, "whole length");
	CHECK(!strcmp(out, "ab\\x1b"), out);
	/* A 4-byte character is not split either. */
	esc_buf(ESC_TERM, out, 5, "a\xf0\x9f\x90\x8d", 5);
	CHECK(!strcmp(out, "a"), out);
	esc_buf(ESC_TERM, out, 6, "a\xf0\x9f\x90\x8d", 5);
	CHECK(!strcmp(out, "a\xf0\x9f\x90\x8d"), out);
	/* Nor `\\xff` in JSON, nor `\u001b`. */
	esc_buf(ESC_JSON, out, 5, "\xff", 1);
	CHECK(!strcmp(out, ""), out);
	esc_buf(ESC_JSON, out, 7, "\x1b", 1);
	CHECK(!strcmp(out, "\\u001b"), out);
	esc_buf(ESC_JSON, out, 6, "\x1b", 1);
	CHECK(!strcmp(out, ""), out);
	/* Once cut, later shorter units do not slip in after the gap. */
	esc_buf(ESC_TERM, out, 4, "a\x1b" "b", 3);
	CHECK(!strcmp(out, "a"), out);
}

static FILE *memfile(char **buf, size_t *len)
{
	return open_memstream(buf, len);
}

static void test_files(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = memfile(&buf, &len);

	if (!CHECK(f, "open_memstream"))
		return;
	esc_fwrite(ESC_TERM, f, "a\0\x1b", 3);
	esc_fputs(ESC_JSON, f, "\"\xff");
	esc_fputs(ESC_TERM, f, "x\0ignored");
	fclose(f);
	CHECK(len == strlen(buf) && !strcmp(buf, "a\\x00\\x1b\\\"\\\\xffx"), buf);
	free(buf);
}

static int lines(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = esc_vfprintf_lines(f, fmt, ap);
	va_end(ap);
	return n;
}

static void test_lines(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = memfile(&buf, &len);

	if (!CHECK(f, "open_memstream"))
		return;
	CHECK_EQ_INT(lines(f, "libbpf: failed to open '%s'\n-- log --\n%s", "/tmp/\x1b[2K\nx", "end\x07"),
		     (long long)strlen("libbpf: failed to open '/tmp/\x1b[2K\nx'\n-- log --\nend\x07"), "formatted length");
	fclose(f);
	CHECK(!strcmp(buf, "libbpf: failed to open '/tmp/\\x1b[2K\nx'\n-- log --\nend\\x07"), buf);
	free(buf);
}

static void test_random(void)
{
	/* Bytes that matter to a decoder, more often than chance gives them. */
	static const unsigned char pick[] = { 0x00, 0x07, 0x0a, 0x1b, 0x22, 0x2f, 0x41, 0x5c, 0x7f, 0x80,
					      0x8f, 0x90, 0x9b, 0x9f, 0xa0, 0xaa, 0xae, 0xbf, 0xc0, 0xc1,
					      0xc2, 0xc3, 0xdf, 0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf4, 0xf5,
					      0xff, 0x81, 0xa6, 0xa9 };
	uint64_t x = 0x9e3779b97f4a7c15ull;
	bool ok = true;
	char in[24];

	for (int iter = 0; iter < 3000 && ok; iter++) {
		size_t n = iter % sizeof(in);

		for (size_t i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			in[i] = (char)(x & 1 ? pick[(x >> 8) % sizeof(pick)] : (x >> 16) & 0xff);
		}
		ok = properties(in, n);
	}
}

int main(void)
{
	static const char *const samples[] = {
		"caf\xc3\xa9", "\x1b]52;c;SGVsbG8=\x07", "\xc2\x9b\x9b\xc0\xaf", "\xed\xa0\x80\xf4\x8f\xbf\xbf",
		"ok\xf0\x9f\x90", "\xe2\x80\xae" "abc\\", "\"q\"\x7f",
	};

	test_terminal();
	test_json();
	test_truncation();
	test_files();
	test_lines();
	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++)
		properties(samples[i], strlen(samples[i]));
	test_random();
	return check_summary();
}
