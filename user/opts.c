// SPDX-License-Identifier: MIT
/* Command-line parsing and --help. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "exitcodes.h"
#include "opts.h"

static const char usage[] =
"Usage: pyleakbpf -p PID [options]\n"
"\n"
"Find memory leaks in a running CPython process from outside it: no restart,\n"
"no code added to the target. BPF probes on the interpreter's allocator record\n"
"which Python stack owns each sampled allocation; every interval the live bytes\n"
"of each stack are fitted against time and the stacks that keep growing are\n"
"ranked. The kernel's RSS counters are the exact clock of growth: a site is\n"
"called a leak only while RSS grows too.\n"
"\n"
"  -p, --pid PID          process to observe (required)\n"
"  -i, --interval SEC     seconds between reports (default 2)\n"
"  -d, --duration SEC     stop after SEC seconds (default: until Ctrl-C or the\n"
"                         target exits); a final report is always printed\n"
"  -n, --top N            sites shown in the table (default 10)\n"
"  -c, --callers N        caller frames shown under each site (default 3)\n"
"  -j, --json             one JSON object per interval on stdout (schema:\n"
"                         report.schema.json), the last with \"final\": true\n"
"      --fail-on-leak     exit 1 if the final verdict is a leak\n"
"      --exact            probe every allocation and free all the time instead\n"
"                         of sampling: exact bytes, but every call traps (about\n"
"                         17 us each here); allocation-heavy code runs 10-500x\n"
"                         slower. For test machines, not production.\n"
"  -b, --budget PCT       sampled mode: share of the target's time the probe\n"
"                         traps may cost, over any stretch of time: a bucket of\n"
"                         one period's worth, refilled at PCT (default 2);\n"
"                         higher finds leaks sooner\n"
"      --period SEC       sampled mode: one probe window per period (default 4);\n"
"                         every window also pays for its detach, so shorter\n"
"                         periods leave less of the budget to recording\n"
"      --max-allocs N     live allocations tracked at once (default 524288);\n"
"                         beyond that, allocations are counted as dropped\n"
"      --max-stacks N     distinct Python stacks kept (default 16384); beyond\n"
"                         that, bytes go to an \"[untracked stacks]\" site\n"
"      --btf PATH         kernel BTF to use instead of /sys/kernel/btf/vmlinux\n"
"  -v, --verbose          print libbpf's messages and probe details on stderr\n"
"  -h, --help             this text\n"
"\n"
"Modes. By default (\"sampled\") the allocator probes are attached in short\n"
"windows, each cut off by BPF once it has taken the traps --budget allows, so\n"
"no quiet moment buys a burst of trapping (JSON \"sampling\" says how it went);\n"
"sampled blocks are then checked from outside (pymalloc's pool bookkeeping,\n"
"glibc's chunk headers) to tell which are still live, and live bytes are\n"
"scaled up by the share of allocations the windows saw. --exact probes all\n"
"the time. Probed: the interpreter's allocator (PyObject_*/PyMem_*, and on LTO\n"
"builds such as Debian's python3.11 every inlined copy of it, found by\n"
"disassembly) and libc's malloc family (C extensions, ctypes). The\n"
"\"coverage\" figure says how much of the RSS growth the sites account for.\n"
"\n"
"Targets. CPython 3.9 to 3.14 with the GIL on x86_64 glibc: static or shared\n"
"libpython, stripped or not (3.13+ describe their own layout, which is used).\n"
"A process in a container or chroot is given by its pid on the host; its\n"
"files are read through /proc/PID. Free-threaded builds (3.13t, 3.14t) and\n"
"other versions are refused with exit status 5 and the reason.\n"
"\n"
"Examples:\n"
"  sudo pyleakbpf -p 1234                 live table until Ctrl-C\n"
"  sudo pyleakbpf -p 1234 -d 60 --json    one minute, machine-readable\n"
"  sudo pyleakbpf -p 1234 -b 5            find a slow leak sooner, at <= 5%\n"
"\n"
"Exit status: 0 done, 1 leak (with --fail-on-leak), 2 usage, 3 no such process,\n"
"4 not a Python process, 5 unsupported CPython, 6 insufficient privileges,\n"
"7 no kernel BTF, 8 BPF load/attach error, 9 internal error.\n";

static int parse_num(const char *name, const char *arg, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || v < min || v > max) {
		fprintf(stderr, "pyleakbpf: %s: '%s' is not a number from %.15g to %.15g\n", name, arg, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

enum { OPT_FAIL_ON_LEAK = 256, OPT_MAX_ALLOCS, OPT_MAX_STACKS, OPT_BTF, OPT_EXACT, OPT_PERIOD };

static const struct option long_opts[] = {
	{ "pid", required_argument, NULL, 'p' },
	{ "interval", required_argument, NULL, 'i' },
	{ "duration", required_argument, NULL, 'd' },
	{ "top", required_argument, NULL, 'n' },
	{ "callers", required_argument, NULL, 'c' },
	{ "json", no_argument, NULL, 'j' },
	{ "fail-on-leak", no_argument, NULL, OPT_FAIL_ON_LEAK },
	{ "max-allocs", required_argument, NULL, OPT_MAX_ALLOCS },
	{ "max-stacks", required_argument, NULL, OPT_MAX_STACKS },
	{ "btf", required_argument, NULL, OPT_BTF },
	{ "exact", no_argument, NULL, OPT_EXACT },
	{ "budget", required_argument, NULL, 'b' },
	{ "period", required_argument, NULL, OPT_PERIOD },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{},
};

int opts_parse(int argc, char **argv, struct pyleak_opts *o, int *exit_code)
{
	double v;
	int c;

	memset(o, 0, sizeof(*o));
	o->interval_s = DEFAULT_INTERVAL_S;
	o->top = DEFAULT_TOP;
	o->callers = DEFAULT_CALLERS;
	o->max_allocs = DEFAULT_MAX_ALLOCS;
	o->max_stacks = DEFAULT_MAX_STACKS;
	o->budget = DEFAULT_BUDGET_PCT / 100.0;
	o->period_s = DEFAULT_PERIOD_S;
	*exit_code = EXIT_USAGE;

	while ((c = getopt_long(argc, argv, "p:i:d:n:c:b:jvh", long_opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_num("--pid", optarg, 1, INT_MAX, &v) || v != (pid_t)v) {
				if (v != (pid_t)v)
					fprintf(stderr, "pyleakbpf: --pid: '%s' is not a process id\n", optarg);
				return -1;
			}
			o->pid = (pid_t)v;
			break;
		case 'i':
			if (parse_num("--interval", optarg, 0.1, 3600, &o->interval_s))
				return -1;
			break;
		case 'd':
			if (parse_num("--duration", optarg, 0.1, 1e9, &o->duration_s))
				return -1;
			break;
		case 'n':
			if (parse_num("--top", optarg, 1, 1000, &v))
				return -1;
			o->top = (int)v;
			break;
		case 'c':
			if (parse_num("--callers", optarg, 0, 31, &v))
				return -1;
			o->callers = (int)v;
			break;
		case 'j':
			o->json = true;
			break;
		case OPT_FAIL_ON_LEAK:
			o->fail_on_leak = true;
			break;
		case OPT_MAX_ALLOCS:
			if (parse_num("--max-allocs", optarg, 16, 1 << 26, &v))
				return -1;
			o->max_allocs = (unsigned int)v;
			break;
		case OPT_MAX_STACKS:
			if (parse_num("--max-stacks", optarg, 16, 1 << 22, &v))
				return -1;
			o->max_stacks = (unsigned int)v;
			break;
		case OPT_EXACT:
			o->exact = true;
			break;
		case 'b':
			if (parse_num("--budget", optarg, 0.1, 50, &v))
				return -1;
			o->budget = v / 100;
			break;
		case OPT_PERIOD:
			if (parse_num("--period", optarg, 0.2, 60, &o->period_s))
				return -1;
			break;
		case OPT_BTF:
			o->btf_path = optarg;
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			*exit_code = EXIT_OK;
			return -1;
		default:
			fprintf(stderr, "Try 'pyleakbpf --help'.\n");
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pyleakbpf: unexpected argument '%s'\nTry 'pyleakbpf --help'.\n", argv[optind]);
		return -1;
	}
	if (!o->pid) {
		fprintf(stderr, "pyleakbpf: no target: give -p PID\nTry 'pyleakbpf --help'.\n");
		return -1;
	}
	return 0;
}
