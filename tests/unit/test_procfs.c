// SPDX-License-Identifier: MIT
/* /proc readings on this very process: every file mapping resolves to a
 * path with the mapping's inode and device, and outside a pid namespace the
 * namespace pid is the pid. The text parsers on lines the kernel writes and
 * on lines it never would. A pid namespace whose status has NSpid kilobytes
 * down, as root. (A chroot and a pid namespace are exercised for real by
 * the integration matrix.) */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "procfs.h"

struct walk {
	int files;
	int resolved;
};

static int each_map(const struct proc_map *m, void *arg)
{
	struct walk *w = arg;
	char host[PATH_MAX];
	struct stat st;

	if (m->path[0] != '/' || !m->inode)
		return 0;
	w->files++;
	if (!CHECK(proc_map_host_path(getpid(), m, host, sizeof(host)) == 0, m->path))
		return 0;
	if (CHECK(stat(host, &st) == 0 && (uint64_t)st.st_ino == m->inode, host) &&
	    CHECK((uint64_t)st.st_dev == m->dev, host))
		w->resolved++;
	return 0;
}

static void test_maps_lines(void)
{
	char anon[] = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n";
	char bare[] = "7f0000000000-7f0000001000 rw-p 00000000 00:00 0";
	char file[] = "55d0c0a00000-55d0c0a21000 r-xp 0001f000 fe:01 1234567                    /usr/bin/my prog (deleted)\n";
	char heap[] = "55d0c2000000-55d0c2021000 rw-p 00000000 00:00 0                          [heap]\n";
	char huge[] = "ffffffffffffffff-ffffffffffffffff ---p ffffffffffffffff fff:fffff 18446744073709551615 /x\n";
	char nodev[] = "7f0000000000-7f0000001000 rw-p 00000000 0 /lib/x.so\n";
	char empty[] = "";
	struct proc_map m;

	if (CHECK(proc_parse_maps_line(anon, &m) == 0, "anonymous"))
		CHECK(m.path[0] == '\0' && m.inode == 0 && m.dev == 0 && !strcmp(m.perms, "rw-p"), "anonymous");
	if (CHECK(proc_parse_maps_line(bare, &m) == 0, "no newline"))
		CHECK(m.path[0] == '\0', "no newline");
	if (CHECK(proc_parse_maps_line(file, &m) == 0, "file")) {
		/* Spaces inside a name are kept: only the kernel's padding goes. */
		CHECK(!strcmp(m.path, "/usr/bin/my prog (deleted)"), m.path);
		CHECK_EQ_INT(m.inode, 1234567, "inode");
		CHECK_EQ_INT(m.dev, makedev(0xfe, 1), "device");
		CHECK_EQ_INT(m.offset, 0x1f000, "offset");
		CHECK(m.start == 0x55d0c0a00000ull && m.end == 0x55d0c0a21000ull, "range");
	}
	if (CHECK(proc_parse_maps_line(heap, &m) == 0, "heap"))
		CHECK(!strcmp(m.path, "[heap]") && m.inode == 0, m.path);
	if (CHECK(proc_parse_maps_line(huge, &m) == 0, "largest values"))
		CHECK(m.inode == UINT64_MAX && m.end == UINT64_MAX && !strcmp(m.path, "/x"), "largest values");
	CHECK(proc_parse_maps_line(nodev, &m) == -EINVAL, "no device field");
	CHECK(proc_parse_maps_line(empty, &m) == -EINVAL, "empty line");
}

static void test_stat_state(void)
{
	CHECK_EQ_INT(proc_parse_stat_state("42 (python3) S 1 42 42 0 -1"), 'S', "plain");
	/* A comm of ") Z (" must not pass for a zombie, nor ") R" for running. */
	CHECK_EQ_INT(proc_parse_stat_state("42 (a) Z (b) T 1 42"), 'T', "parentheses in comm");
	CHECK_EQ_INT(proc_parse_stat_state("42 (a\n) R 1"), 'R', "newline in comm");
	CHECK_EQ_INT(proc_parse_stat_state("42 (python3)"), -EINVAL, "cut after comm");
	CHECK_EQ_INT(proc_parse_stat_state("42 (python3) "), -EINVAL, "cut before state");
	CHECK_EQ_INT(proc_parse_stat_state("no parenthesis"), -EINVAL, "no comm");
}

static void test_nspid(void)
{
	pid_t p = -7;

	CHECK(proc_parse_nspid("Name:\tx\nNSpid:\t4242\t17\t1\nNSpgid:\t4242\t17\t1\n", &p) == 0 && p == 1,
	      "nested");
	CHECK(proc_parse_nspid("NSpid:\t4242\n", &p) == 0 && p == 4242, "line alone, no namespace");
	CHECK(proc_parse_nspid("NSpid:\t4242", &p) == 0 && p == 4242, "no newline");
	p = -7;
	/* The old parser ran strtol into the next line and cast a long to pid_t. */
	CHECK(proc_parse_nspid("NSpid:\t4242\t99999999999\n", &p) == -EINVAL && p == -7, "beyond pid_t");
	CHECK(proc_parse_nspid("NSpid:\t4242\t4294967297\n", &p) == -EINVAL && p == -7, "wraps to 1 as pid_t");
	CHECK(proc_parse_nspid("NSpid:\t4242\t-1\n", &p) == -EINVAL && p == -7, "negative");
	CHECK(proc_parse_nspid("NSpid:\t4242\t0\n", &p) == -EINVAL && p == -7, "zero");
	CHECK(proc_parse_nspid("NSpid:\n5\n", &p) == -EINVAL && p == -7, "empty, digits on the next line");
	CHECK(proc_parse_nspid("NSpid:\t12x\n", &p) == -EINVAL && p == -7, "junk");
	CHECK(proc_parse_nspid("Name:\tNSpid: 3\nPid:\t5\n", &p) == -ENOENT && p == -7, "NSpid inside a line");
	CHECK(proc_parse_nspid("", &p) == -ENOENT, "empty");
}

/* A process in its own pid namespace with 3000 supplementary groups: its
 * status holds NSpid some 20 KiB down. The reader used to look in the first
 * 4 KiB only, so it saw no NSpid (or half of one) and answered the host pid. */
static void test_nspid_far_down(void)
{
	int ready[2] = { -1, -1 };
	pid_t child = -1, ns = 0, inner = 0;

	if (geteuid() != 0) {
		printf("test_procfs: pid namespace check needs root, not run\n");
		return;
	}
	if (!CHECK(pipe(ready) == 0, "pipe"))
		return;
	child = fork();
	if (child == 0) {
		static gid_t groups[3000];
		pid_t pid;

		for (int i = 0; i < 3000; i++)
			groups[i] = 1000000 + i;
		if (setgroups(3000, groups) || unshare(CLONE_NEWPID))
			_exit(1);
		pid = fork();
		if (pid == 0) {
			/* pid 1 in the new namespace, with the groups: wait to be killed. */
			pause();
			_exit(0);
		}
		if (pid < 0 || write(ready[1], &pid, sizeof(pid)) != sizeof(pid))
			_exit(1);
		waitpid(pid, NULL, 0);
		_exit(0);
	}
	close(ready[1]);
	if (!CHECK(child > 0, "fork"))
		goto cleanup;
	if (!CHECK(read(ready[0], &inner, sizeof(inner)) == sizeof(inner), "grandchild in a new pid namespace"))
		goto cleanup;
	if (CHECK(proc_ns_pid(inner, &ns) == 0, "ns pid read"))
		CHECK_EQ_INT(ns, 1, "pid inside the namespace, NSpid far down");
cleanup:
	if (inner > 0)
		kill(inner, SIGKILL);
	if (child > 0)
		waitpid(child, NULL, 0);
	close(ready[0]);
}

int main(void)
{
	struct proc_map fake = { .start = 0x1000, .end = 0x2000, .inode = 1, .path = "/no/such/file" };
	struct walk w = { 0 };
	char buf[PATH_MAX];
	pid_t ns;

	CHECK(proc_maps_foreach(getpid(), each_map, &w) == 0, "own maps");
	CHECK(w.files > 0 && w.resolved == w.files, "every file mapping resolved");
	CHECK(proc_map_host_path(getpid(), &fake, buf, sizeof(buf)) == -ENOENT, "no such mapping");
	CHECK(proc_ns_pid(getpid(), &ns) == 0 && ns == getpid(), "no pid namespace here");
	CHECK(proc_root_path(getpid(), "/usr", buf, sizeof(buf)) == 0 && strstr(buf, "/root/usr"), buf);
	test_maps_lines();
	test_stat_state();
	test_nspid();
	test_nspid_far_down();
	return check_summary();
}
