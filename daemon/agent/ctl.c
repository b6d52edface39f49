// SPDX-License-Identifier: MIT
/*
 * The control socket: a UNIX stream socket the vertex CLI connects to. Callers are checked with
 * SO_PEERCRED (root or the daemon's own user; the verbs, ctl_verbs.h, decide what each may do).
 * One request line, one response, then the connection closes.
 *
 * Every client is bounded: CTL_MAX_CLIENTS at once, a request line of at most CTL_LINE_MAX bytes,
 * CTL_TIMEOUT_MS to send it. Anything else gets an error line and the connection is closed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent/agent.h"
#include "core/ev.h"
#include "core/log.h"
#include "agent/ctl_verbs.h"

enum {
	CTL_MAX_CLIENTS = 16,
	CTL_LINE_MAX = 512, /* "trust pin" with a 253-byte domain and a fingerprint fits */
	CTL_TIMEOUT_MS = 5000,
};

struct ctl_client {
	struct ctl *ctl;
	int fd;
	struct ev_io io;
	struct ev_timer deadline;
	char line[CTL_LINE_MAX];
	size_t llen;
	uid_t uid; /* SO_PEERCRED, checked per verb */
	char *out; /* response being written */
	size_t olen, ooff;
	struct ctl_client *next;
};

struct ctl {
	struct agent *agent;
	int fd;
	struct ev_io io;
	struct ctl_client *clients;
	unsigned nclients;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

static void
ctl_client_free(struct ctl_client *c)
{
	struct ctl *ctl = c->ctl;
	struct ctl_client **pp;

	for (pp = &ctl->clients; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	ctl->nclients--;
	ev_io_stop(ctl->agent->loop, &c->io);
	ev_timer_stop(ctl->agent->loop, &c->deadline);
	close(c->fd);
	free(c->out);
	free(c);
}

static void
ctl_client_write(struct ctl_client *c)
{
	while (c->ooff < c->olen) {
		ssize_t n = write(c->fd, c->out + c->ooff, c->olen - c->ooff);

		if (n < 0 && errno == EAGAIN) {
			ev_io_set_events(c->ctl->agent->loop, &c->io, EV_WRITE);
			return;
		}
		if (n <= 0)
			break;
		c->ooff += (size_t)n;
	}
	ctl_client_free(c);
}

static void
ctl_client_reply_error(struct ctl_client *c, const char *msg)
{
	size_t n = strlen(msg);

	c->out = malloc(n + 8);
	if (!c->out) {
		ctl_client_free(c);
		return;
	}
	c->olen = (size_t)snprintf(c->out, n + 8, "error %s\n", msg);
	ctl_client_write(c);
}

static void
ctl_client_on_io(struct ev_io *io, uint32_t revents)
{
	struct ctl_client *c = container_of(io, struct ctl_client, io);
	char *nl;
	ssize_t n;

	if (c->out) {
		ctl_client_write(c);
		return;
	}
	(void)revents;
	n = read(c->fd, c->line + c->llen, sizeof(c->line) - 1 - c->llen);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		ctl_client_free(c);
		return;
	}
	c->llen += (size_t)n;
	c->line[c->llen] = '\0';
	nl = memchr(c->line, '\n', c->llen);
	if (!nl) {
		if (c->llen == sizeof(c->line) - 1)
			ctl_client_reply_error(c, "request line too long");
		return;
	}
	*nl = '\0';
	if (strlen(c->line) != (size_t)(nl - c->line)) {
		ctl_client_reply_error(c, "request contains a NUL byte");
		return;
	}
	log_debug(LOG_CTL, "control request: %s", c->line);
	c->out = ctl_respond(c->ctl->agent, c->uid, c->line, &c->olen);
	if (!c->out) {
		ctl_client_free(c);
		return;
	}
	ctl_client_write(c);
}

static void
ctl_client_on_deadline(struct ev_timer *t)
{
	struct ctl_client *c = container_of(t, struct ctl_client, deadline);

	log_debug(LOG_CTL, "control client timed out");
	ctl_client_free(c);
}

/* Root or our own user may connect; *uid is kept for the verbs that are root's alone. */
static bool
ctl_caller_allowed(int fd, uid_t *uid)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
		return false;
	*uid = cred.uid;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void
ctl_on_accept(struct ev_io *io, uint32_t revents)
{
	struct ctl *ctl = container_of(io, struct ctl, io);
	struct ctl_client *c;
	uid_t uid;
	int fd;

	(void)revents;
	fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (!ctl_caller_allowed(fd, &uid)) {
		static const char refusal[] = "error permission denied: only root and vertexd's "
					      "user may use the control socket\n";

		log_warnx("control socket: refused a caller that is neither root nor our user");
		/* Best effort on a fresh socket (its buffer is empty): the caller learns why. */
		if (write(fd, refusal, sizeof(refusal) - 1) < 0)
			log_debug(LOG_CTL, "control socket: refusal not sent: %s", strerror(errno));
		close(fd);
		return;
	}
	if (ctl->nclients >= CTL_MAX_CLIENTS || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
	c->uid = uid;
	c->next = ctl->clients;
	ctl->clients = c;
	ctl->nclients++;
	ev_io_start(ctl->agent->loop, &c->io, fd, EV_READ, ctl_client_on_io);
	ev_timer_start(ctl->agent->loop, &c->deadline, CTL_TIMEOUT_MS, ctl_client_on_deadline);
}

int
ctl_open(struct agent *a)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ctl *ctl;
	mode_t old;
	int err;

	if (strlen(a->cfg.control_path) >= sizeof(sun.sun_path)) {
		log_warnx("control socket path %s is too long", a->cfg.control_path);
		return -ENAMETOOLONG;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->agent = a;
	strcpy(sun.sun_path, a->cfg.control_path);
	strcpy(ctl->path, a->cfg.control_path);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0)
		goto err_free;
	/* A socket file left by a crash would make bind fail: it is ours to replace. */
	unlink(sun.sun_path);
	old = umask(0117);
	err = bind(ctl->fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (err < 0 || listen(ctl->fd, CTL_MAX_CLIENTS) < 0)
		goto err_close;
	if (ev_io_start(a->loop, &ctl->io, ctl->fd, EV_READ, ctl_on_accept))
		goto err_close;
	a->ctl = ctl;
	return 0;

err_close:
	err = -errno;
	log_warn("control socket %s", a->cfg.control_path);
	close(ctl->fd);
	free(ctl);
	return err;
err_free:
	err = -errno;
	free(ctl);
	return err;
}

void
ctl_close(struct agent *a)
{
	struct ctl *ctl = a->ctl;

	if (!ctl)
		return;
	while (ctl->clients)
		ctl_client_free(ctl->clients);
	ev_io_stop(a->loop, &ctl->io);
	close(ctl->fd);
	unlink(ctl->path);
	free(ctl);
	a->ctl = NULL;
}
