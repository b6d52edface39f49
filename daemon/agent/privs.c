// SPDX-License-Identifier: MIT
/*
 * Least privilege after start-up (STYLE §20). Once the TUN device, the routes and the sockets
 * exist, vertexd keeps only CAP_NET_ADMIN (to remove its routes at shutdown, and for the
 * interface and firewall changes of later features), drops every other capability from its
 * effective, permitted, inheritable and bounding sets, and sets no_new_privs so nothing it runs
 * can regain them. It stays uid 0, and owns its state files, so it needs no DAC override.
 *
 * Splitting the key-holding process from the network-parsing one (the OpenBSD pattern) is the
 * next step and not done yet.
 */
#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/agent.h"

int
privs_drop(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };
	uint32_t keep = 1u << CAP_NET_ADMIN;

	/* The bounding set first: dropping from it needs CAP_SETPCAP, which goes next. */
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if (cap != CAP_NET_ADMIN && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
		    errno != EINVAL)
			return -errno;
	data[0].effective = data[0].permitted = keep;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}
