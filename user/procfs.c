// SPDX-License-Identifier: MIT
/* /proc/PID readers and process_vm_readv. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/openat2.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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

	/* A pinned process that exited is gone, whoever holds its number now. */
	if (proc_pin_check(pid) || read_proc_file(pid, "stat", buf, sizeof(buf)) < 0)
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

/* Calls cb on each line of /proc/PID/status until it returns non-zero, which
 * is returned; -errno if the file cannot be opened. Line by line, not into a
 * fixed buffer: thousands of supplementary groups push the lines after
 * Groups (NSpid, the Rss* counters) kilobytes down. */
static int status_foreach(pid_t pid, int (*cb)(const char *line, void *ctx), void *ctx)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (!ret && getline(&line, &cap, f) > 0)
		ret = cb(line, ctx);
	free(line);
	fclose(f);
	return ret;
}

static int nspid_line(const char *line, void *ns_pid)
{
	if (strncmp(line, "NSpid:", 6))
		return 0;
	return proc_parse_nspid(line, ns_pid) ? -EINVAL : 1;
}

int proc_ns_pid(pid_t pid, pid_t *ns_pid)
{
	int ret;

	*ns_pid = pid;
	/* No NSpid at all means a kernel before 4.1: no namespaces to see through. */
	ret = status_foreach(pid, nspid_line, ns_pid);
	if (ret == -EINVAL)
		return ret;
	return ret < 0 ? -ESRCH : 0;
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

int proc_fd_path(int fd, char *buf, size_t len)
{
	int n = snprintf(buf, len, "/proc/self/fd/%d", fd);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* Re-opens an O_PATH descriptor for reading once fstat has shown a regular
 * file: opening by O_PATH first means no FIFO, device or socket ever sees an
 * open from us. Consumes path_fd. */
static int reopen_regular(int path_fd, struct stat *st)
{
	char self[64];
	int fd;

	if (fstat(path_fd, st)) {
		fd = -errno;
	} else if (!S_ISREG(st->st_mode)) {
		fd = -EINVAL;
	} else {
		proc_fd_path(path_fd, self, sizeof(self));
		fd = open(self, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0)
			fd = -errno;
	}
	close(path_fd);
	return fd;
}

/* Reads one "key:\tvalue" number from a small /proc file. */
static int proc_file_field(const char *path, const char *key, unsigned long long *v)
{
	char buf[4096], *p;
	size_t klen = strlen(key);

	if (read_small_file(path, buf, sizeof(buf)) < 0)
		return -ENOENT;
	for (p = buf; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (!strncmp(p, key, klen) && p[klen] == ':' && sscanf(p + klen + 1, " %llu", v) == 1)
			return 0;
	return -ENOENT;
}

uint64_t proc_fd_mount_dev(int fd)
{
	unsigned long long mnt_id, id;
	unsigned int major, minor;
	char path[64], *line = NULL;
	uint64_t dev = UINT64_MAX;
	size_t cap = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	if (proc_file_field(path, "mnt_id", &mnt_id))
		return UINT64_MAX;
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return UINT64_MAX;
	/* "36 35 98:0 / /mnt ...": mount id, parent id, the superblock's device. */
	while (getline(&line, &cap, f) > 0)
		if (sscanf(line, "%llu %*u %u:%u", &id, &major, &minor) == 3 && id == mnt_id) {
			dev = makedev(major, minor);
			break;
		}
	free(line);
	fclose(f);
	return dev;
}

int proc_open_mapped(pid_t pid, const struct proc_map *m)
{
	char path[96];
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", pid, (unsigned long long)m->start,
		 (unsigned long long)m->end);
	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	fd = reopen_regular(fd, &st);
	if (fd < 0)
		return fd;
	/* The mapping may have been replaced between reading maps and here. */
	if ((uint64_t)st.st_ino != m->inode ||
	    ((uint64_t)st.st_dev != m->dev && proc_fd_mount_dev(fd) != m->dev)) {
		close(fd);
		return -ESTALE;
	}
	if (proc_pin_check(pid)) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

int proc_open_in_root(pid_t pid, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	char root[64];
	struct stat st;
	int rootfd, fd;

	snprintf(root, sizeof(root), "/proc/%d/root", pid);
	rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (fd < 0)
		fd = -errno;
	close(rootfd);
	if (fd < 0)
		return fd;
	fd = reopen_regular(fd, &st);
	if (fd >= 0 && proc_pin_check(pid)) {
		close(fd);
		return -ESRCH;
	}
	return fd;
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

/* Longer maps are refused rather than read: the kernel caps a process at
 * vm.max_map_count mappings (65530 by default), some 10 MiB of text with
 * ordinary paths; only names near PATH_MAX on every mapping go past this,
 * and the tool's 64 MiB must hold more than the maps. */
#define MAPS_MAX_BYTES (16u << 20)

/* All of /proc/PID/maps, NUL-terminated, read before any line is believed:
 * the pin is checked once the whole file is in. */
static char *read_maps(pid_t pid, int *err)
{
	size_t cap = 1 << 16, len = 0;
	char path[64], *buf = NULL;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		*err = -errno;
		return NULL;
	}
	for (;;) {
		if (len + 1 >= cap || !buf) {
			char *nb = cap >= MAPS_MAX_BYTES ? NULL : realloc(buf, cap *= 2);

			if (!nb) {
				*err = -ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			*err = -errno;
			goto fail;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	*err = proc_pin_check(pid);
	if (!*err)
		return buf;
	free(buf);
	return NULL;
fail:
	close(fd);
	free(buf);
	return NULL;
}

int proc_maps_foreach(pid_t pid, int (*cb)(const struct proc_map *m, void *ctx), void *ctx)
{
	char *buf, *line, *next;
	struct proc_map m;
	int ret = 0;

	buf = read_maps(pid, &ret);
	if (!buf)
		return ret;
	for (line = buf; *line; line = next) {
		next = strchrnul(line, '\n');
		if (*next)
			*next++ = '\0';
		if (proc_parse_maps_line(line, &m))
			continue;
		ret = cb(&m, ctx);
		if (ret)
			break;
	}
	free(buf);
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
	/* Checked after the read: a pin still running now was the one read. */
	if (proc_pin_check(pid))
		return -ESRCH;
	return (size_t)n == len ? 0 : -EFAULT;
}

struct rss_parts {
	uint64_t *file, *anon, *shmem;
	int found;
};

static int rss_line(const char *line, void *arg)
{
	struct rss_parts *r = arg;
	unsigned long long kb;

	if (sscanf(line, "RssAnon: %llu kB", &kb) == 1)
		*r->anon = kb << 10, r->found++;
	else if (sscanf(line, "RssFile: %llu kB", &kb) == 1)
		*r->file = kb << 10, r->found++;
	else if (sscanf(line, "RssShmem: %llu kB", &kb) == 1)
		*r->shmem = kb << 10, r->found++;
	return 0;
}

int proc_rss_parts(pid_t pid, uint64_t *file, uint64_t *anon, uint64_t *shmem)
{
	struct rss_parts r = { file, anon, shmem, 0 };
	int err = status_foreach(pid, rss_line, &r);

	if (err)
		return err;
	return r.found == 3 ? 0 : -ENOENT;
}

int proc_starttime(pid_t pid, uint64_t *ticks)
{
	char buf[1024], *p;
	unsigned long long v;
	int n;

	n = read_proc_file(pid, "stat", buf, sizeof(buf));
	if (n < 0)
		return n;
	/* Field 22; comm (field 2) may hold spaces and ')': count from the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu",
			 &v) != 1)
		return -EINVAL;
	*ticks = v;
	return 0;
}

/* The pinned processes. Reads come from the window-closing threads too. */
struct pin {
	pid_t pid;
	int pidfd;
	uint64_t starttime;
};

static struct pin *pins;
static size_t npins;
static pthread_mutex_t pins_lock = PTHREAD_MUTEX_INITIALIZER;

static struct pin *find_pin(pid_t pid)
{
	for (size_t i = 0; i < npins; i++)
		if (pins[i].pid == pid)
			return &pins[i];
	return NULL;
}

int proc_pin(pid_t pid)
{
	struct pin pin = { .pid = pid }, *grown;
	int err;

	pin.pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pin.pidfd < 0)
		return errno == EINVAL ? -ESRCH : -errno;
	/* Read after the pidfd exists, and believed only if it is still
	 * running afterwards: then the start time is that process's. */
	err = proc_starttime(pid, &pin.starttime);
	if (!err && proc_alive(pid))
		err = -ESRCH;
	if (!err) {
		struct pollfd pfd = { .fd = pin.pidfd, .events = POLLIN };

		if (poll(&pfd, 1, 0) != 0)
			err = -ESRCH;
	}
	pthread_mutex_lock(&pins_lock);
	grown = err ? NULL : realloc(pins, (npins + 1) * sizeof(*pins));
	if (grown) {
		pins = grown;
		pins[npins++] = pin;
	} else if (!err) {
		err = -ENOMEM;
	}
	pthread_mutex_unlock(&pins_lock);
	if (err) {
		close(pin.pidfd);
		return err;
	}
	return pin.pidfd;
}

int proc_pin_check(pid_t pid)
{
	struct pollfd pfd = { .events = POLLIN };
	struct pin *p;

	pthread_mutex_lock(&pins_lock);
	p = find_pin(pid);
	pfd.fd = p ? p->pidfd : -1;
	pthread_mutex_unlock(&pins_lock);
	if (pfd.fd < 0)
		return 0;
	/* A pidfd polls readable once its process has exited; the number is
	 * free for another process only after that. */
	return poll(&pfd, 1, 0) == 0 ? 0 : -ESRCH;
}

int proc_pin_verify(pid_t pid)
{
	uint64_t now, then = 0;
	struct pin *p;
	int err;

	pthread_mutex_lock(&pins_lock);
	p = find_pin(pid);
	if (p)
		then = p->starttime;
	pthread_mutex_unlock(&pins_lock);
	if (!p)
		return -ESRCH;
	err = proc_starttime(pid, &now);
	if (!err && now != then)
		err = -ESRCH;
	return err ? -ESRCH : proc_pin_check(pid);
}

void proc_unpin(pid_t pid)
{
	struct pin *p;

	pthread_mutex_lock(&pins_lock);
	p = find_pin(pid);
	if (p) {
		close(p->pidfd);
		*p = pins[--npins];
	}
	pthread_mutex_unlock(&pins_lock);
}
