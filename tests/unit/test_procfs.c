// SPDX-License-Identifier: MIT
/* /proc readings on this very process and on a chrooted child that plays the
 * attacker: every file mapping opens as the mapped inode; a path inside a
 * target's root never leaves it, whatever its symlinks say, and never opens
 * anything but a regular file; a pin outlives its process's number. The text
 * parsers on lines the kernel writes and on lines it never would, and a pid
 * namespace whose status has NSpid kilobytes down. (Containers are exercised
 * for real by the integration matrix.) Needs root, as make test runs it:
 * chroot, map_files and unshare all do. */
#include <errno.h>
#include <fcntl.h>
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
	int opened;
	const struct proc_map *first;
	struct proc_map copy;
};

static int each_map(const struct proc_map *m, void *arg)
{
	struct walk *w = arg;
	struct stat st;
	int fd;

	if (m->path[0] != '/' || !m->inode)
		return 0;
	w->files++;
	fd = proc_open_mapped(getpid(), m);
	if (!CHECK(fd >= 0, m->path))
		return 0;
	if (CHECK(fstat(fd, &st) == 0 && (uint64_t)st.st_ino == m->inode, m->path) &&
	    CHECK((uint64_t)st.st_dev == m->dev, m->path) &&
	    /* ext4 here: the mount's device is stat's; on btrfs it is maps'. */
	    CHECK(proc_fd_mount_dev(fd) == m->dev, m->path))
		w->opened++;
	close(fd);
	if (!w->first) {
		w->copy = *m;
		w->first = &w->copy;
	}
	return 0;
}

static void test_own_maps(void)
{
	struct walk w = { 0 };
	struct proc_map m;

	CHECK(proc_maps_foreach(getpid(), each_map, &w) == 0, "own maps");
	if (!CHECK(w.files > 0 && w.opened == w.files, "every file mapping opens as its inode"))
		return;
	/* The same range with another inode or device: the mapping changed. */
	m = w.copy;
	m.path = "";
	m.inode++;
	CHECK_EQ_INT(proc_open_mapped(getpid(), &m), -ESTALE, "inode mismatch refused");
	m = w.copy;
	m.path = "";
	m.dev ^= 1;
	CHECK_EQ_INT(proc_open_mapped(getpid(), &m), -ESTALE, "device mismatch refused");
	m.start = 0x1000, m.end = 0x2000;
	CHECK_EQ_INT(proc_open_mapped(getpid(), &m), -ENOENT, "no such mapping");
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* A root the attacker controls: a real file, a FIFO, a directory, and
 * symlinks that would climb out of it if resolved from the host. */
static int build_root(const char *root, const char *host_secret)
{
	char p[PATH_MAX], target[2 * PATH_MAX];
	int err = 0;

	snprintf(p, sizeof(p), "%s/dbg", root);
	err |= mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dbg/real", root);
	err |= write_file(p, "inside");
	snprintf(p, sizeof(p), "%s/dbg/fifo", root);
	err |= mkfifo(p, 0644);
	snprintf(p, sizeof(p), "%s/dbg/dir", root);
	err |= mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/dbg/abs", root);
	err |= symlink(host_secret, p);
	snprintf(target, sizeof(target), "../../../../../../../../..%s", host_secret);
	snprintf(p, sizeof(p), "%s/dbg/dotdot", root);
	err |= symlink(target, p);
	snprintf(p, sizeof(p), "%s/dbg/tofifo", root);
	err |= symlink("/dbg/fifo", p);
	snprintf(p, sizeof(p), "%s/dbg/self", root);
	err |= symlink("/proc/self/root/etc/hostname", p);
	return err ? -1 : 0;
}

static void test_in_root(void)
{
	char tmpl[] = "/tmp/pyleak-root-XXXXXX", secret[PATH_MAX], buf[16] = "";
	int pipefd[2], fd;
	pid_t child;

	if (!CHECK(mkdtemp(tmpl) != NULL, "temp root"))
		return;
	/* A host file outside the root, named by the symlinks inside it. */
	snprintf(secret, sizeof(secret), "%s-secret", tmpl);
	if (!CHECK(write_file(secret, "host") == 0 && build_root(tmpl, secret) == 0, "attacker's root"))
		goto out;
	if (!CHECK(pipe(pipefd) == 0, "pipe"))
		goto out;
	child = fork();
	if (child == 0) {
		char c;

		close(pipefd[1]);
		if (chroot(tmpl) || chdir("/"))
			_exit(1);
		read(pipefd[0], &c, 1);
		_exit(0);
	}
	close(pipefd[0]);
	usleep(100 * 1000);
	fd = proc_open_in_root(child, "/dbg/real");
	if (CHECK(fd >= 0, "a regular file inside the root opens")) {
		CHECK(read(fd, buf, sizeof(buf) - 1) == 6 && !strcmp(buf, "inside"), "and is the one inside");
		close(fd);
	}
	CHECK_EQ_INT(proc_open_in_root(child, "/dbg/abs"), -ENOENT, "absolute symlink stays inside the root");
	CHECK_EQ_INT(proc_open_in_root(child, "/dbg/dotdot"), -ENOENT, "../ cannot climb out");
	/* Would block forever if opened for reading without O_NONBLOCK. */
	CHECK_EQ_INT(proc_open_in_root(child, "/dbg/fifo"), -EINVAL, "a FIFO is refused, at once");
	CHECK_EQ_INT(proc_open_in_root(child, "/dbg/tofifo"), -EINVAL, "a symlink to a FIFO is refused");
	CHECK_EQ_INT(proc_open_in_root(child, "/dbg/dir"), -EINVAL, "a directory is refused");
	CHECK(proc_open_in_root(child, "/dbg/self") < 0, "no way out through /proc magic links");
	close(pipefd[1]);
	waitpid(child, NULL, 0);
out:
	unlink(secret);
	{
		char cmd[PATH_MAX + 16];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpl);
		system(cmd);
	}
}

/* Once the pinned process exits, its number reads as gone even while
 * another process could hold it. */
static void test_pin(void)
{
	uint64_t t1 = 0, t2 = 0;
	char byte = 7, got = 0;
	pid_t child;
	int pfd;

	child = fork();
	if (child == 0) {
		pause();
		_exit(0);
	}
	pfd = proc_pin(child);
	if (!CHECK(pfd >= 0, "pin a live child"))
		goto out;
	CHECK(proc_starttime(child, &t1) == 0 && proc_starttime(getpid(), &t2) == 0 && t1 >= t2,
	      "a child starts after its parent");
	CHECK_EQ_INT(proc_pin_check(child), 0, "pinned and running");
	CHECK_EQ_INT(proc_pin_verify(child), 0, "same start time");
	CHECK_EQ_INT(proc_read(getpid(), (uint64_t)(uintptr_t)&byte, &got, 1), 0, "an unpinned read");
	kill(child, SIGKILL);
	usleep(50 * 1000);
	/* A zombie still holds its number: the pin must tell it has exited. */
	CHECK_EQ_INT(proc_pin_check(child), -ESRCH, "exit seen through the pin");
	CHECK_EQ_INT(proc_read(child, (uint64_t)(uintptr_t)&byte, &got, 1), -ESRCH, "reads refused after exit");
	proc_unpin(child);
out:
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	CHECK(proc_pin(child) < 0, "no pin on a reaped process");
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
	pid_t ns;

	test_own_maps();
	test_in_root();
	test_pin();
	test_maps_lines();
	test_stat_state();
	test_nspid();
	test_nspid_far_down();
	CHECK(proc_ns_pid(getpid(), &ns) == 0 && ns == getpid(), "no pid namespace here");
	return check_summary();
}
