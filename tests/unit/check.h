/* SPDX-License-Identifier: MIT */
/* A minimal assertion kit for the C unit tests, in the spirit of the BPF
 * selftests' ASSERT_*: each check evaluates to its truth value, so a test
 * writes `if (!CHECK(...)) goto cleanup;` and no control flow hides in a macro. */
#ifndef PYLEAK_CHECK_H
#define PYLEAK_CHECK_H

#include <stdbool.h>
#include <stdio.h>

static int check_passed, check_failed;

static bool check_report(bool ok, const char *file, int line, const char *expr, const char *msg)
{
	if (ok) {
		check_passed++;
	} else {
		check_failed++;
		fprintf(stderr, "FAIL %s:%d: %s%s%s\n", file, line, expr, msg[0] ? ": " : "", msg);
	}
	return ok;
}

#define CHECK(cond, msg) check_report(!!(cond), __FILE__, __LINE__, #cond, (msg))

#define CHECK_EQ_INT(got, want, what)                                                          \
	({                                                                                     \
		long long _g = (got), _w = (want);                                             \
		char _m[256];                                                                  \
		snprintf(_m, sizeof(_m), "%s: got %lld, want %lld", (what), _g, _w);          \
		check_report(_g == _w, __FILE__, __LINE__, #got " == " #want, _m);             \
	})

#define CHECK_NEAR(got, want, tol, what)                                                       \
	({                                                                                     \
		double _g = (got), _w = (want);                                                \
		char _m[256];                                                                  \
		snprintf(_m, sizeof(_m), "%s: got %g, want %g +- %g", (what), _g, _w, (double)(tol)); \
		check_report(_g >= _w - (tol) && _g <= _w + (tol), __FILE__, __LINE__, #got " ~ " #want, _m); \
	})

/* The closing line test runners recognise. Returns the exit status. */
static int check_summary(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
