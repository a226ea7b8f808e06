/* SPDX-License-Identifier: MIT */
/* The two outputs: a live table for people, JSON lines for programs
 * (../shared/report.schema.json). */
#ifndef PYLEAK_REPORT_H
#define PYLEAK_REPORT_H

#include <stdbool.h>
#include <stdio.h>
#include "session.h"

struct report_opts {
	int top;
	int callers;
	bool clear_screen; /* redraw in place: stdout is a terminal */
	double budget;     /* sampled mode's cost budget, for the attach line */
};

void report_human(FILE *f, const struct session *s, const struct report_opts *o, bool final);
void report_json(FILE *f, const struct session *s, const struct report_opts *o, bool final);
/* Warnings worth a line on stderr once, at attach. */
void report_attach(FILE *f, const struct session *s, const struct report_opts *o);

#endif
