// SPDX-License-Identifier: MIT
/* Privilege and kernel-feature checks. */
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "exitcodes.h"
#include "preflight.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

static int has_cap(const struct __user_cap_data_struct d[2], int cap)
{
	return (d[cap / 32].effective >> (cap % 32)) & 1;
}

int preflight_privileges(char *why, size_t len)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	int bpf, perfmon, ptrace;

	if (syscall(SYS_capget, &hdr, data)) {
		snprintf(why, len, "cannot read this process's capabilities: %s", strerror(errno));
		return EXIT_PRIVILEGE;
	}
	/* CAP_SYS_ADMIN implies the BPF and perf rights on every kernel. */
	bpf = has_cap(data, CAP_BPF) || has_cap(data, CAP_SYS_ADMIN);
	perfmon = has_cap(data, CAP_PERFMON) || has_cap(data, CAP_SYS_ADMIN);
	/* process_vm_readv on another user's process. */
	ptrace = has_cap(data, CAP_SYS_PTRACE);
	if (bpf && perfmon && ptrace)
		return 0;
	snprintf(why, len, "insufficient privileges: needs root, or CAP_BPF, CAP_PERFMON and CAP_SYS_PTRACE (missing:%s%s%s); try sudo",
		 bpf ? "" : " CAP_BPF", perfmon ? "" : " CAP_PERFMON", ptrace ? "" : " CAP_SYS_PTRACE");
	return EXIT_PRIVILEGE;
}

int preflight_btf(const char *btf_path, char *why, size_t len)
{
	const char *path = btf_path ? btf_path : "/sys/kernel/btf/vmlinux";

	if (!access(path, R_OK))
		return 0;
	if (btf_path)
		snprintf(why, len, "cannot read BTF file %s: %s", path, strerror(errno));
	else
		snprintf(why, len, "this kernel exposes no BTF (%s: %s): it needs CONFIG_DEBUG_INFO_BTF=y, or pass --btf FILE",
			 path, strerror(errno));
	return EXIT_NO_BTF;
}
