// SPDX-License-Identifier: MIT
/* /proc/PID readers and process_vm_readv. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <unistd.h>
#include "procfs.h"

static int read_small_file(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd, err;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	return (int)n;
}

/* /proc/PID/<name> into buf, NUL-terminated: its length or a negative errno. */
static int read_proc_file(pid_t pid, const char *name, char *buf, size_t len)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
	return read_small_file(path, buf, len);
}

int proc_parse_stat_state(const char *stat)
{
	const char *p;

	/* comm may contain spaces and parentheses: the state follows the last ')'. */
	p = strrchr(stat, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EINVAL;
	return (unsigned char)p[2];
}

int proc_alive(pid_t pid)
{
	char buf[512];
	int state;

	if (read_proc_file(pid, "stat", buf, sizeof(buf)) < 0)
		return -ESRCH;
	state = proc_parse_stat_state(buf);
	if (state < 0 || state == 'Z' || state == 'X')
		return -ESRCH;
	return 0;
}

int proc_comm(pid_t pid, char *buf, size_t len)
{
	int n;

	n = read_proc_file(pid, "comm", buf, len);
	if (n < 0)
		return n;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int proc_tgid(pid_t pid, pid_t *tgid)
{
	char buf[4096], *p;
	int n;

	n = read_proc_file(pid, "status", buf, sizeof(buf));
	if (n < 0)
		return n;
	p = strstr(buf, "\nTgid:");
	if (!p || sscanf(p + 6, "%d", tgid) != 1)
		return -EINVAL;
	return 0;
}

int proc_parse_nspid(const char *status, pid_t *ns_pid)
{
	const char *p = status;
	long v = -1;

	while (strncmp(p, "NSpid:", 6)) {
		p = strchr(p, '\n');
		if (!p)
			return -ENOENT;
		p++;
	}
	/* NSpid: host pid, then one per nested namespace, innermost last. Only
	 * blanks separate them: strtol alone would run on into the next line. */
	for (p += 6; *p && *p != '\n';) {
		char *end;
		long n;

		if (*p == ' ' || *p == '\t') {
			p++;
			continue;
		}
		if (*p < '0' || *p > '9')
			return -EINVAL;
		errno = 0;
		n = strtol(p, &end, 10);
		if (errno || n <= 0 || n > INT_MAX)
			return -EINVAL;
		v = n;
		p = end;
	}
	if (v < 0)
		return -EINVAL;
	*ns_pid = (pid_t)v;
	return 0;
}

int proc_ns_pid(pid_t pid, pid_t *ns_pid)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int ret = 0;
	FILE *f;

	*ns_pid = pid;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -ESRCH;
	/* Line by line, not a fixed buffer: a process with thousands of
	 * supplementary groups pushes NSpid, which follows Groups, kilobytes
	 * down, and a cut line would give a wrong pid. No NSpid at all means a
	 * kernel before 4.1: no namespaces to see through. */
	while (getline(&line, &cap, f) > 0) {
		if (strncmp(line, "NSpid:", 6))
			continue;
		if (proc_parse_nspid(line, ns_pid))
			ret = -EINVAL;
		break;
	}
	free(line);
	fclose(f);
	return ret;
}

int proc_exe(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return 0;
}

int proc_root_path(pid_t pid, const char *path, char *buf, size_t len)
{
	int n = snprintf(buf, len, "/proc/%d/root%s", pid, path);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool same_inode(const char *path, uint64_t inode)
{
	struct stat st;

	return !stat(path, &st) && (uint64_t)st.st_ino == inode;
}

int proc_map_host_path(pid_t pid, const struct proc_map *m, char *buf, size_t len)
{
	int n;

	if (!proc_root_path(pid, m->path, buf, len) && same_inode(buf, m->inode))
		return 0;
	n = snprintf(buf, len, "%s", m->path);
	if (n > 0 && (size_t)n < len && same_inode(buf, m->inode))
		return 0;
	n = snprintf(buf, len, "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)m->start,
		     (unsigned long long)m->end);
	if (n > 0 && (size_t)n < len && same_inode(buf, m->inode))
		return 0;
	return -ENOENT;
}

int proc_parse_maps_line(char *line, struct proc_map *m)
{
	unsigned long long start, end, off, inode = 0;
	unsigned int major, minor;
	int path_at = 0;

	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, m->perms, &off, &major, &minor, &inode,
		   &path_at) < 7)
		return -EINVAL;
	m->inode = inode;
	m->dev = makedev(major, minor);
	m->start = start;
	m->end = end;
	m->offset = off;
	line[strcspn(line, "\n")] = '\0';
	m->path = path_at ? line + path_at : "";
	return 0;
}

int proc_maps_foreach(pid_t pid, int (*cb)(const struct proc_map *m, void *ctx), void *ctx)
{
	char path[64], *line = NULL;
	struct proc_map m;
	size_t cap = 0;
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (proc_parse_maps_line(line, &m))
			continue;
		ret = cb(&m, ctx);
		if (ret)
			break;
	}
	free(line);
	fclose(f);
	return ret;
}

int proc_rss(pid_t pid, uint64_t *bytes)
{
	unsigned long long size, resident;
	char buf[256];
	int n;

	n = read_proc_file(pid, "statm", buf, sizeof(buf));
	if (n < 0)
		return n;
	if (sscanf(buf, "%llu %llu", &size, &resident) != 2)
		return -EINVAL;
	*bytes = resident * (uint64_t)sysconf(_SC_PAGESIZE);
	return 0;
}

int proc_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n;

	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EFAULT;
}

int proc_rss_parts(pid_t pid, uint64_t *file, uint64_t *anon, uint64_t *shmem)
{
	unsigned long long kb;
	char path[64], *line = NULL;
	size_t cap = 0;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
			*anon = kb << 10, found++;
		else if (sscanf(line, "RssFile: %llu kB", &kb) == 1)
			*file = kb << 10, found++;
		else if (sscanf(line, "RssShmem: %llu kB", &kb) == 1)
			*shmem = kb << 10, found++;
	}
	free(line);
	fclose(f);
	return found == 3 ? 0 : -ENOENT;
}
