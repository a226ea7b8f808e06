// SPDX-License-Identifier: MIT
/* /proc readings on this very process and on a chrooted child that plays the
 * attacker: every file mapping opens as the mapped inode; a path inside a
 * target's root never leaves it, whatever its symlinks say, and never opens
 * anything but a regular file; a pin outlives its process's number.
 * (Containers are exercised for real by the integration matrix.) Needs root,
 * as make test runs it: chroot and map_files both do. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	if (CHECK(fstat(fd, &st) == 0 && (uint64_t)st.st_ino == m->inode, m->path))
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
	m.dev_minor ^= 1;
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

int main(void)
{
	pid_t ns;

	test_own_maps();
	test_in_root();
	test_pin();
	CHECK(proc_ns_pid(getpid(), &ns) == 0 && ns == getpid(), "no pid namespace here");
	return check_summary();
}
