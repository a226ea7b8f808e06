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
	char perms[5];
	const char *path; /* as the target sees it; "" for anonymous */
};

/* 0 when the process exists and has not exited (a zombie counts as exited),
 * -ESRCH otherwise. */
int proc_alive(pid_t pid);
int proc_comm(pid_t pid, char *buf, size_t len);
/* The process a task id belongs to (itself for a process). */
int proc_tgid(pid_t pid, pid_t *tgid);
int proc_exe(pid_t pid, char *buf, size_t len);
/* "/proc/PID/root" + path: the target's file even inside a chroot or container. */
int proc_host_path(pid_t pid, const char *path, char *buf, size_t len);
/* Calls cb for each line of /proc/PID/maps until it returns non-zero, which
 * is then returned. Returns a negative errno if the file cannot be read. */
int proc_maps_foreach(pid_t pid, int (*cb)(const struct proc_map *m, void *ctx), void *ctx);
/* Resident set size, from statm. */
int proc_rss(pid_t pid, uint64_t *bytes);
/* RssFile, RssAnon and RssShmem from status, in bytes: the same counters the
 * kernel's rss_stat tracepoint reports, to seed them at attach. */
int proc_rss_parts(pid_t pid, uint64_t *file, uint64_t *anon, uint64_t *shmem);
/* Copies len bytes from the target's address space; 0 or a negative errno. */
int proc_read(pid_t pid, uint64_t addr, void *buf, size_t len);

#endif
