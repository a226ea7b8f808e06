/* SPDX-License-Identifier: MIT */
/* pyleakbpf's exit codes. Every failure a user can cause or meet has its own,
 * so scripts and the systemd unit can tell them apart. Documented in README. */
#ifndef PYLEAK_EXITCODES_H
#define PYLEAK_EXITCODES_H

enum pyleak_exit {
	EXIT_OK = 0,            /* observed until the end; no leak verdict implied */
	EXIT_LEAK = 1,          /* --fail-on-leak and a leak was judged */
	EXIT_USAGE = 2,         /* bad command line */
	EXIT_NO_PROCESS = 3,    /* no such pid */
	EXIT_NOT_PYTHON = 4,    /* the process has no CPython interpreter mapped */
	EXIT_UNSUPPORTED = 5,   /* a CPython build this version cannot walk */
	EXIT_PRIVILEGE = 6,     /* needs root, or CAP_BPF + CAP_PERFMON (+ CAP_SYS_PTRACE) */
	EXIT_NO_BTF = 7,        /* the kernel exposes no BTF */
	EXIT_BPF = 8,           /* loading or attaching BPF failed for another reason */
	EXIT_INTERNAL = 9,      /* out of memory or an unexpected error */
};

#endif
