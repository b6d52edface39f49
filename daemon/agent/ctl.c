// SPDX-License-Identifier: MIT
/*
 * The control socket: a UNIX stream socket the vertex CLI connects to. Callers are checked with
 * SO_PEERCRED (root or the daemon's own user). The protocol is one request line, one response:
 *
 *   request:   VERB "\n"                 (status | peers)
 *   response:  ("KEY" " " "VALUE" "\n")* "end\n"     or    "error" " " MESSAGE "\n"
 *
 * A response is a flat list of facts; "peer IDENTITY" starts the facts about one peer. The CLI
 * owns presentation (text or --json), the daemon only gathers data (STYLE §23).
 *
 * Every client is bounded: CTL_MAX_CLIENTS at once, a request line of at most CTL_LINE_MAX bytes,
 * CTL_TIMEOUT_MS to send it. Anything else gets an error line and the connection is closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "agent/agent.h"

enum { CTL_MAX_CLIENTS = 16, CTL_LINE_MAX = 256, CTL_TIMEOUT_MS = 5000 };

struct ctl_client {
	struct ctl *ctl;
	int fd;
	struct ev_io io;
	struct ev_timer deadline;
	char line[CTL_LINE_MAX];
	size_t llen;
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
ctl_fmt_addr(int family, const void *addr, char *buf, size_t len)
{
	if (!inet_ntop(family, addr, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

static void
ctl_status(struct agent *a, FILE *f)
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];
	size_t up = 0;

	for (size_t i = 0; i < a->npeers; i++)
		up += a->peers[i].state == PEER_UP;
	ctl_fmt_addr(AF_INET, a->own4, a4, sizeof(a4));
	ctl_fmt_addr(AF_INET6, a->own6, a6, sizeof(a6));
	fprintf(f, "identity %s\ninterface %s\nmtu %u\noverlay4 %s\noverlay6 %s\nport %u\n",
		a->cfg.identity, a->cfg.interface, a->mtu, a4, a6, a->cfg.port);
	fprintf(f, "peers %zu\npeers_up %zu\n", a->npeers, up);
	for (int d = 0; d < AGENT_DROP_COUNT; d++)
		fprintf(f, "drop.%s %llu\n", agent_drop_name(d), (unsigned long long)a->drops[d]);
	home_status(a, f);
}

static void
ctl_peer(struct peer *p, FILE *f)
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN], ep[64];
	const struct peer_stats *s = &p->stats;

	ctl_fmt_addr(AF_INET, p->map.peer_view4, a4, sizeof(a4));
	ctl_fmt_addr(AF_INET6, p->map.peer_view6, a6, sizeof(a6));
	underlay_format(&p->endpoint, ep, sizeof(ep));
	fprintf(f, "peer %s\noverlay4 %s\noverlay6 %s\nendpoint %s\nstate %s\n", p->cfg->identity,
		a4, a6, ep, peer_state_name(p->state));
	fprintf(f, "path %s\n",
		p->state != PEER_UP    ? "none"
		: peer_udp_is_alive(p) ? "udp"
		: p->link              ? "tcp"
				       : "udp");
	fprintf(f, "last_handshake %lld\nhandshakes %llu\n", (long long)p->last_handshake,
		(unsigned long long)p->handshakes);
	fprintf(f, "rx_bytes %llu\ntx_bytes %llu\nrx_packets %llu\ntx_packets %llu\n",
		(unsigned long long)s->rx_bytes, (unsigned long long)s->tx_bytes,
		(unsigned long long)s->rx_packets, (unsigned long long)s->tx_packets);
	for (int d = 0; d < PEER_DROP_COUNT; d++)
		fprintf(f, "drop.%s %llu\n", peer_drop_name(d), (unsigned long long)s->drops[d]);
}

/* Builds the response to one request line; returns a malloc'd buffer the client frees. */
static char *
ctl_respond(struct agent *a, const char *verb, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	if (!strcmp(verb, "status")) {
		ctl_status(a, f);
		fputs("end\n", f);
	} else if (!strcmp(verb, "peers")) {
		for (size_t i = 0; i < a->npeers; i++)
			ctl_peer(&a->peers[i], f);
		fputs("end\n", f);
	} else {
		fputs("error unknown request (expected status or peers)\n", f);
	}
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
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
	c->out = ctl_respond(c->ctl->agent, c->line, &c->olen);
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

static bool
ctl_caller_allowed(int fd)
{
	struct ucred cred;
	socklen_t cl = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0)
		return false;
	return cred.uid == 0 || cred.uid == geteuid();
}

static void
ctl_on_accept(struct ev_io *io, uint32_t revents)
{
	struct ctl *ctl = container_of(io, struct ctl, io);
	struct ctl_client *c;
	int fd;

	(void)revents;
	fd = accept4(ctl->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (!ctl_caller_allowed(fd)) {
		log_warnx("control socket: refused a caller that is neither root nor our user");
		close(fd);
		return;
	}
	if (ctl->nclients >= CTL_MAX_CLIENTS || !(c = calloc(1, sizeof(*c)))) {
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
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
