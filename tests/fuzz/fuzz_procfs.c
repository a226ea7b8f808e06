// SPDX-License-Identifier: MIT
/* libFuzzer harness for the /proc text parsers (procfs.h): the input is
 * taken as a whole /proc/PID/stat, a whole /proc/PID/status and a
 * /proc/PID/maps, line by line, all at once (the seeds are real files of
 * each kind). The kernel writes these files, but the names in them (comm,
 * mapped paths) are the target's. Whatever the bytes, each parser stays in
 * its NUL-terminated buffer (ASan) and what it accepts is well formed. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "procfs.h"

static void check_maps(char *text, size_t size)
{
	char *line = text, *next;

	for (; line < text + size; line = next + 1) {
		struct proc_map m;
		size_t len;
		char *copy;

		next = memchr(line, '\n', text + size - line);
		if (!next)
			next = text + size;
		/* Each line in a buffer of its own size, newline kept, as
		 * getline hands it over: ASan sees a read past its end. */
		len = next - line + (next < text + size);
		copy = malloc(len + 1);
		if (!copy)
			return;
		memcpy(copy, line, len);
		copy[len] = '\0';
		memset(&m, 0xa5, sizeof(m));
		if (!proc_parse_maps_line(copy, &m)) {
			/* The path is the rest of the line, newline cut, or "". */
			if (m.path[0] && (m.path < copy || m.path >= copy + len))
				abort();
			if (strchr(m.path, '\n') || strnlen(m.perms, sizeof(m.perms)) == sizeof(m.perms))
				abort();
		}
		free(copy);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	pid_t ns = -7;
	int state, err;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	state = proc_parse_stat_state(text);
	if (state != -EINVAL && (state <= 0 || state > 255))
		abort();

	err = proc_parse_nspid(text, &ns);
	if (err && err != -ENOENT && err != -EINVAL)
		abort();
	/* A pid on success; untouched otherwise. */
	if (err ? ns != -7 : ns <= 0)
		abort();

	check_maps(text, size);
	free(text);
	return 0;
}
