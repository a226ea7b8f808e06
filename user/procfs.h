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
 * -ESRCH otherwise; for a pinned pid, -ESRCH once the pinned process has
 * exited even if another process has taken the number. */
int proc_alive(pid_t pid);
int proc_comm(pid_t pid, char *buf, size_t len);
/* The process a task id belongs to (itself for a process). */
int proc_tgid(pid_t pid, pid_t *tgid);
/* The pid the process has in its own (innermost) pid namespace: what
 * CPython records as a thread id in a container. Itself outside one. */
int proc_ns_pid(pid_t pid, pid_t *ns_pid);
int proc_exe(pid_t pid, char *buf, size_t len);
/* The file behind mapping m, opened once from /proc/PID/map_files/START-END:
 * the very file the target maps, whatever its root or mount namespace, with
 * no path for the target to swap. It must be a regular file with the
 * mapping's inode and device (stat's, or its mount's: see
 * proc_fd_mount_dev), or -ESTALE. Returns an O_RDONLY descriptor,
 * or a negative errno. Needs CAP_SYS_ADMIN (root). */
int proc_open_mapped(pid_t pid, const struct proc_map *m);
/* The device of the superblock behind fd, from its mount (fdinfo's mnt_id
 * in /proc/self/mountinfo): what maps shows where stat() gives another, as
 * btrfs does for a file in a subvolume. UINT64_MAX when unknown (a mount
 * this process cannot see). */
uint64_t proc_fd_mount_dev(int fd);
/* `path` (absolute) as the target sees it, resolved inside its root: symlinks,
 * absolute or "..", never leave /proc/PID/root (openat2 RESOLVE_IN_ROOT), and
 * magic links are refused. Only a regular file is opened for reading, so a
 * FIFO cannot block the tool and a device cannot see an open. Returns an
 * O_RDONLY descriptor, -EINVAL for anything but a regular file, -ENOSYS
 * without openat2 (Linux < 5.6), or another negative errno. */
int proc_open_in_root(pid_t pid, const char *path);
/* "/proc/self/fd/N": how libbpf and the kernel are given a file already
 * opened, so they attach to that inode and not to whatever a path names later. */
int proc_fd_path(int fd, char *buf, size_t len);

/* Pins pid to the process it names now: a pidfd, opened before anything else
 * is read, and its start time. From then on every read from the target
 * (proc_read, proc_maps_foreach) is discarded with -ESRCH once the process
 * has exited, so a process that later takes the number is never read in its
 * place. Returns the pidfd (owned by procfs, for poll()), or a negative errno. */
int proc_pin(pid_t pid);
/* 0 while the pinned process runs, -ESRCH once it has exited; 0 for a pid
 * never pinned. Cheap: one poll(). */
int proc_pin_check(pid_t pid);
/* proc_pin_check, and the start time read again must be the pinned one:
 * the identity check across attach. */
int proc_pin_verify(pid_t pid);
void proc_unpin(pid_t pid);
/* Start time in clock ticks since boot (stat field 22): with the pid, the
 * identity of a process. */
int proc_starttime(pid_t pid, uint64_t *ticks);
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
