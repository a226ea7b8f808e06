// SPDX-License-Identifier: MIT
/* libFuzzer: the symbolizer over a fake memory image. The input is a
 * header (interpreter version, frames to resolve) and the image, which the
 * reader repeats over a 64 MiB window so that lengths the image claims can
 * be read in full: big tables, many entries and evictions get exercised. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pyoffsets.h"
#include "symbolize.h"

#define BASE 0x100000000ull
#define WINDOW (64ull << 20)
#define FRAME_BYTES 12

struct image {
	const uint8_t *data;
	size_t len;
};

static int image_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	const struct image *im = ctx;
	uint8_t *out = buf;
	uint64_t off;

	if (addr < BASE || addr - BASE > WINDOW || len > WINDOW - (addr - BASE))
		return -1;
	off = (addr - BASE) % im->len;
	while (len) {
		size_t n = im->len - off < len ? im->len - off : len;

		memcpy(out, im->data + off, n);
		out += n;
		len -= n;
		off = 0;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned int minors[] = { 9, 10, 11, 12, 13, 14 };
	struct image im;
	struct symbolizer_opts o = { .read = image_read, .read_ctx = &im };
	struct symbolizer_stats st;
	struct symbolizer *s;
	struct py_layout l;
	size_t nframes;

	if (size < 2)
		return 0;
	if (py_layout_for(3, minors[data[0] % 6], &l))
		return 0;
	/* Odd versions get the smallest bound: evictions from the start. */
	o.max_bytes = data[0] & 1 ? SYMBOLIZER_MIN_BYTES : 0;
	nframes = data[1];
	if (size < 2 + nframes * FRAME_BYTES + 1)
		return 0;
	im.data = data + 2 + nframes * FRAME_BYTES;
	im.len = size - 2 - nframes * FRAME_BYTES;
	s = symbolizer__new_opts(-1, &l.code, &o);
	if (!s)
		return 0;
	/* Twice: the second pass hits the cache, or what eviction left of it. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < nframes; i++) {
			const uint8_t *p = data + 2 + i * FRAME_BYTES;
			struct py_frame f = { 0 };
			struct sym_frame sf;
			uint32_t off;

			memcpy(&off, p, 4);
			memcpy(&f.instr, p + 4, 4);
			memcpy(&f.firstlineno, p + 8, 4);
			f.code = BASE + off % WINDOW;
			symbolizer__frame(s, &f, &sf);
			if (!sf.file || !sf.function || sf.line < 0 || strlen(sf.file) > 2 * 4096 ||
			    strlen(sf.function) > 2 * 4096)
				abort();
			symbolizer__stats(s, &st);
			if (st.bytes > st.max_bytes)
				abort();
		}
	}
	symbolizer__free(s);
	return 0;
}
