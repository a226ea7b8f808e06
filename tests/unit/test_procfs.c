// SPDX-License-Identifier: MIT
/* /proc readings on this very process: every file mapping resolves to a
 * path with the mapping's inode, and outside a pid namespace the namespace
 * pid is the pid. (A chroot and a pid namespace are exercised for real by
 * the integration matrix.) */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
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
	if (CHECK(stat(host, &st) == 0 && (uint64_t)st.st_ino == m->inode, host))
		w->resolved++;
	return 0;
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
	return check_summary();
}
