/* SPDX-License-Identifier: MIT */
/* Seconds as a double, the one time unit the loader computes with. */
#ifndef PYLEAK_CLOCK_H
#define PYLEAK_CLOCK_H

#include <time.h>

static inline double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
