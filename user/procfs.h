/* SPDX-License-Identifier: MIT */
/* What the loader needs from /proc/PID: identity, mappings, memory. */
#ifndef PYLEAK_PROCFS_H
#define PYLEAK_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_map {
	uint64_t start;
	uint64_t end;
	uint64_t offset;
	uint64_t inode;
	uint64_t dev; /* makedev(major, minor) of the mapped file: compare with st_dev */
	char perms[5];
	const char *path; /* as /proc/PID/maps shows it; "" for anonymous */
};

/* 0 when the process exists and has not exited (a zombie counts as exited),
 * -ESRCH otherwise. */
int proc_alive(pid_t pid);
int proc_comm(pid_t pid, char *buf, size_t len);
/* The process a task id belongs to (itself for a process). */
int proc_tgid(pid_t pid, pid_t *tgid);
/* The pid the process has in its own (innermost) pid namespace: what
 * CPython records as a thread id in a container. Itself outside one. */
int proc_ns_pid(pid_t pid, pid_t *ns_pid);
int proc_exe(pid_t pid, char *buf, size_t len);
/* A path by which this process can open the file behind mapping m, even
 * when the target runs in a chroot or container: maps shows a chroot's files
 * by their host path but a mount namespace's by the container's, so each
 * reading is tried and the one with the mapping's inode wins, with
 * /proc/PID/map_files/ as the last resort. 0, or -ENOENT. */
int proc_map_host_path(pid_t pid, const struct proc_map *m, char *buf, size_t len);
/* "/proc/PID/root" + path: a file by its name inside the target's root. */
int proc_root_path(pid_t pid, const char *path, char *buf, size_t len);
/* Calls cb for each line of /proc/PID/maps until it returns non-zero, which
 * is then returned. Returns a negative errno if the file cannot be read. */
int proc_maps_foreach(pid_t pid, int (*cb)(const struct proc_map *m, void *ctx), void *ctx);
/* The text parsers behind the readers above, on a NUL-terminated buffer
 * (so that they can be fuzzed and tested without a process).
 * One line of /proc/PID/maps into *m; m->path points into line, whose
 * newline is cut. 0, or -EINVAL for a line that is not a mapping. */
int proc_parse_maps_line(char *line, struct proc_map *m);
/* The state letter of /proc/PID/stat ('R', 'S', 'Z'...), or -EINVAL. */
int proc_parse_stat_state(const char *stat);
/* The innermost pid of the "NSpid:" line of status text (the whole file or
 * that line alone). 0; -ENOENT when there is no such line; -EINVAL when it
 * holds anything but positive pids. */
int proc_parse_nspid(const char *status, pid_t *ns_pid);
/* Resident set size, from statm. */
int proc_rss(pid_t pid, uint64_t *bytes);
/* RssFile, RssAnon and RssShmem from status, in bytes: the same counters the
 * kernel's rss_stat tracepoint reports, to seed them at attach. */
int proc_rss_parts(pid_t pid, uint64_t *file, uint64_t *anon, uint64_t *shmem);
/* Copies len bytes from the target's address space; 0 or a negative errno. */
int proc_read(pid_t pid, uint64_t addr, void *buf, size_t len);

#endif
