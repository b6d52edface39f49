// SPDX-License-Identifier: MIT
/*
 * Least privilege after start-up (STYLE §20). Once the TUN device, the routes and the sockets
 * exist, vertexd keeps only CAP_NET_ADMIN (to remove its routes at shutdown, and for the
 * interface and firewall changes of later features), drops every other capability from its
 * effective, permitted, inheritable and bounding sets, and sets no_new_privs so nothing it runs
 * can regain them.
 *
 * With `user NAME` in the configuration it also stops being root: it takes NAME's uid, gid and
 * groups, keeping CAP_NET_ADMIN across the change (PR_SET_KEEPCAPS), so a flaw in the code that
 * parses network input no longer runs with uid 0's ownership of every file. What it must still
 * do as that user is checked at once, so a wrong file owner is a start-up failure rather than a
 * renewal that fails days later: read its key (a renewal reloads it), and write the directory
 * of its certificate (a renewal replaces the file there) when it has a home server. Its state
 * database, opened as root, is handed to the user first. Without `user` it stays uid 0 with
 * CAP_NET_ADMIN alone.
 *
 * Userspace mode needs no privilege: started by an ordinary user it only sets no_new_privs;
 * started as root it drops every capability, CAP_NET_ADMIN too (and becomes `user` if set).
 *
 * Splitting the key-holding process from the network-parsing one (the OpenBSD pattern) is the
 * next step and not done yet.
 */
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <limits.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent/agent.h"
#include "core/log.h"

/* Keeps CAP_NET_ADMIN alone, or (userspace mode) nothing. */
static int
privs_keep(bool net_admin)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };
	uint32_t keep = net_admin ? 1u << CAP_NET_ADMIN : 0;

	data[0].effective = data[0].permitted = keep;
	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

/*
 * The state database was opened (or created) as root: it is the agent's own, so it and its
 * WAL files become the user's, which SQLite needs when it reopens them.
 */
static int
privs_give_state(const char *state_path, uid_t uid, gid_t gid)
{
	static const char *const suffix[] = { "", "-wal", "-shm" };
	char path[PATH_MAX + 8];

	for (size_t i = 0; i < sizeof(suffix) / sizeof(suffix[0]); i++) {
		snprintf(path, sizeof(path), "%s%s", state_path, suffix[i]);
		if (chown(path, uid, gid) < 0 && (errno != ENOENT || !i)) {
			log_warn("cannot hand %s to uid %u", path, (unsigned)uid);
			return -errno;
		}
	}
	return 0;
}

/*
 * The control and application sockets were bound as root (mode 0660): they become the user's,
 * or the user the agent runs as could not connect to its own sockets (SO_PEERCRED would let it
 * in; the file's mode would not).
 */
static int
privs_give_sockets(const struct config *c, uid_t uid, gid_t gid)
{
	const char *const paths[] = { c->control_path, c->app_path };

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (paths[i][0] && chown(paths[i], uid, gid) < 0 && errno != ENOENT) {
			log_warn("cannot hand %s to uid %u", paths[i], (unsigned)uid);
			return -errno;
		}
	return 0;
}

/* Becomes user, keeping the capabilities we hold (then reduced to CAP_NET_ADMIN). */
static int
privs_become(const struct config *c, const char *user, const char *state_path)
{
	struct passwd *pw = getpwnam(user);
	int err;

	if (!pw) {
		log_warnx("user %s: no such user", user);
		return -ENOENT;
	}
	if (pw->pw_uid == 0) {
		log_warnx("user %s: is root; name an unprivileged user, or leave 'user' out", user);
		return -EINVAL;
	}
	if ((err = privs_give_state(state_path, pw->pw_uid, pw->pw_gid)) ||
	    (err = privs_give_sockets(c, pw->pw_uid, pw->pw_gid)))
		return err;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || initgroups(user, pw->pw_gid) < 0 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) < 0 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0) {
		log_warn("cannot become user %s", user);
		return -errno;
	}
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	return 0;
}

/* What the agent must still be able to do as its user; -EACCES (said) if it cannot. */
static int
privs_check_files(const struct config *c)
{
	char dir[PATH_MAX];

	if (access(c->key_path, R_OK) < 0) {
		log_warn("user %s cannot read its key %s (a renewal reloads it)", c->user,
			 c->key_path);
		return -EACCES;
	}
	snprintf(dir, sizeof(dir), "%s", c->cert_path);
	if (c->server.enabled && access(dirname(dir), W_OK | X_OK) < 0) {
		log_warn("user %s cannot write the directory of its certificate %s (a renewal "
			 "replaces the file there)",
			 c->user, c->cert_path);
		return -EACCES;
	}
	if (access(c->state_path, R_OK | W_OK) < 0) {
		log_warn("user %s cannot read and write its state database %s", c->user,
			 c->state_path);
		return -EACCES;
	}
	return 0;
}

int
privs_drop(const struct config *c)
{
	bool net_admin = !c->userspace; /* userspace mode needs no privilege at all */
	int err;

	if (c->userspace && geteuid() != 0) {
		/* An ordinary user already: nothing to give up but the right to gain more. */
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			return -errno;
		log_info("userspace mode: running as uid %u, without privileges",
			 (unsigned)getuid());
		return 0;
	}
	/* The bounding set first: dropping from it needs CAP_SETPCAP, which goes next. */
	for (int cap = 0; cap <= CAP_LAST_CAP; cap++)
		if ((cap != CAP_NET_ADMIN || !net_admin) &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
			return -errno;
	if (c->user[0] && (err = privs_become(c, c->user, c->state_path)))
		return err;
	if ((err = privs_keep(net_admin)))
		return err;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (c->user[0] && (err = privs_check_files(c)))
		return err;
	if (c->user[0])
		log_info("running as user %s (uid %u) with %s", c->user, (unsigned)getuid(),
			 net_admin ? "CAP_NET_ADMIN only" : "no capabilities (userspace mode)");
	else if (!net_admin)
		log_info("userspace mode: running as root without capabilities");
	return 0;
}
