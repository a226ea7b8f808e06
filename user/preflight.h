/* SPDX-License-Identifier: MIT */
/* Checks made before touching BPF, so each missing piece gets its own
 * message and exit code instead of a libbpf error. */
#ifndef PYLEAK_PREFLIGHT_H
#define PYLEAK_PREFLIGHT_H

#include <stddef.h>

/* Each returns 0 or an exit code from exitcodes.h, with `why` filled. */
int preflight_privileges(char *why, size_t len);
int preflight_btf(const char *btf_path, char *why, size_t len);

#endif
