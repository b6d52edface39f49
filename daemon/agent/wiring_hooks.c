// SPDX-License-Identifier: MIT
/*
 * The lifecycle hooks (hooks/hooks.h, docs/hooks.md) wired to the events of the other
 * modules, and the environment each hook gets:
 *
 *   vertex-up        agent_start, once everything is up (interface, sessions starting)
 *   vertex-down      agent_stop, first: waited for up to its time limit, then killed
 *   peer-up          peer_ops.on_session of a peer that was not up (a rekey is not an event)
 *   peer-down        peer_ops.on_session_down (the peer's state left UP)
 *   path-change      the kind or endpoint of a peer's chosen path differs from the last one
 *                    seen, checked on a timer every WIRING_HOOKS_PATH_POLL_MS for the peers that
 *                    are up: the choice (path_choose) is made per frame from liveness and
 *                    timestamps, with no event of its own, so polling it here keeps path/
 *                    untouched and costs O(peers) per second
 *   contact-request  rdv_ops.on_request; the hook's first line "approve" or "deny" (exit
 *                    status 0 only) is applied by rdv_approve/rdv_deny; anything else leaves
 *                    the request to the person
 *
 * What the hooks remember of each peer (up, the path last reported) lives here, in an array
 * indexed by the peer's overlay index, which the store hands out densely.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "agent/wiring.h"
#include "core/ev.h"
#include "core/log.h"
#include "core/sockaddr.h"
#include "hooks/hooks.h"
#include "link/link.h"
#include "peer/peer.h"
#include "rendezvous/purpose.h"
#include "rendezvous/rendezvous.h"
#include "store/store.h"
#include "trust/identity.h"

enum { WIRING_HOOKS_PATH_POLL_MS = 1000 };

struct hooks_peer {
	bool up;
	char path[8];                        /* "udp", "tcp", "relay" */
	char endpoint[SOCKADDR_STR_MAX * 2]; /* as VERTEX_ENDPOINT */
};

struct wiring_hooks {
	struct hooks *hooks;
	struct hooks_peer *peers; /* by overlay index */
	size_t npeers;
	struct ev_timer path_timer;
	struct agent *a;
};

static void
wiring_hooks_common(struct agent *a, struct hooks_env *env)
{
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET, a->own4, a4, sizeof(a4));
	inet_ntop(AF_INET6, a->own6, a6, sizeof(a6));
	hooks_env_init(env);
	hooks_env_add(env, "VERTEX_IDENTITY", "%s", a->cfg.identity);
	/* Userspace mode has no interface: empty, and VERTEX_MODE says why. */
	hooks_env_add(env, "VERTEX_INTERFACE", "%s", a->us ? "" : a->cfg.interface);
	hooks_env_add(env, "VERTEX_MODE", "%s", a->us ? "userspace" : "tun");
	hooks_env_add(env, "VERTEX_OWN_ADDR4", "%s", a4);
	hooks_env_add(env, "VERTEX_OWN_ADDR6", "%s", a6);
}

/* The path kind as `vertex peers` says it, and where it goes. */
static void
wiring_hooks_path(struct agent *a, const struct peer *p, struct hooks_peer *out)
{
	uint64_t now = ev_now_ms(peer_loop(p)), dead = peer_dead_after_ms(p);
	enum path_kind k = path_choose(&p->paths, now, dead);
	bool udp = path_set_udp_is_alive(&p->paths, now, dead);

	snprintf(out->path, sizeof(out->path), "%s",
		 udp               ? "udp"
		 : k == PATH_RELAY ? "relay"
		 : p->paths.stream ? "tcp"
				   : "udp");
	if (!strcmp(out->path, "relay")) {
		const char *ours = identity_domain_of(a->cfg.identity);
		const char *theirs = identity_domain_of(p->identity);

		snprintf(out->endpoint, sizeof(out->endpoint), "%s%s%s", ours,
			 strcmp(ours, theirs) ? " " : "", strcmp(ours, theirs) ? theirs : "");
	} else if (!strcmp(out->path, "tcp")) {
		sockaddr_show(link_remote(p->paths.stream), out->endpoint, sizeof(out->endpoint));
	} else {
		sockaddr_show(&p->paths.endpoint, out->endpoint, sizeof(out->endpoint));
	}
}

struct purposes_ctx {
	char buf[HOOKS_VAR_MAX - 32];
	size_t len;
};

static int
wiring_hooks_purpose(const struct store_approval *ap, void *arg)
{
	struct purposes_ctx *c = arg;
	int n = snprintf(c->buf + c->len, sizeof(c->buf) - c->len, "%s%s:%s/%s/%u",
			 c->len ? " " : "", ap->dir == STORE_APPROVAL_IN ? "in" : "out",
			 ap->purpose, purpose_proto_name(ap->proto), ap->port);

	if (n > 0 && (size_t)n < sizeof(c->buf) - c->len)
		c->len += (size_t)n;
	return 0;
}

static void
wiring_hooks_peer_env(struct agent *a, const struct peer *p, const struct hooks_peer *hp,
		      struct hooks_env *env)
{
	struct purposes_ctx pc = { .len = 0 };
	char a4[INET_ADDRSTRLEN], a6[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET, p->map.peer_view4, a4, sizeof(a4));
	inet_ntop(AF_INET6, p->map.peer_view6, a6, sizeof(a6));
	wiring_hooks_common(a, env);
	hooks_env_add(env, "VERTEX_PEER", "%s", p->identity);
	hooks_env_add(env, "VERTEX_PEER_ADDR4", "%s", a4);
	hooks_env_add(env, "VERTEX_PEER_ADDR6", "%s", a6);
	pc.buf[0] = '\0';
	store_approval_each(a->store, p->identity, wiring_hooks_purpose, &pc);
	hooks_env_add(env, "VERTEX_PURPOSES", "%s", pc.buf);
	hooks_env_add(env, "VERTEX_PATH", "%s", hp->path);
	hooks_env_add(env, "VERTEX_ENDPOINT", "%s", hp->endpoint);
}

static struct hooks_peer *
wiring_hooks_slot(struct wiring_hooks *w, const struct peer *p)
{
	if (p->index >= w->npeers) {
		size_t n = p->index + 64;
		struct hooks_peer *np = realloc(w->peers, n * sizeof(*np));

		if (!np)
			return NULL;
		memset(np + w->npeers, 0, (n - w->npeers) * sizeof(*np));
		w->peers = np;
		w->npeers = n;
	}
	return &w->peers[p->index];
}

static void
wiring_hooks_event(struct agent *a, const struct peer *p, enum hooks_event ev,
		   const struct hooks_peer *hp, const char *old_path, const char *old_endpoint)
{
	struct wiring_hooks *w = a->hooks;
	struct hooks_env env;

	if (!hooks_has(w->hooks, ev))
		return;
	wiring_hooks_peer_env(a, p, hp, &env);
	if (old_path) {
		hooks_env_add(&env, "VERTEX_OLD_PATH", "%s", old_path);
		hooks_env_add(&env, "VERTEX_OLD_ENDPOINT", "%s", old_endpoint);
	}
	hooks_run(w->hooks, ev, &env, NULL, NULL);
}

void
wiring_hooks_on_session(struct agent *a, struct peer *p)
{
	struct wiring_hooks *w = a->hooks;
	struct hooks_peer *hp;

	if (!w || !(hp = wiring_hooks_slot(w, p)) || hp->up)
		return;
	hp->up = true;
	wiring_hooks_path(a, p, hp);
	wiring_hooks_event(a, p, HOOKS_PEER_UP, hp, NULL, NULL);
}

void
wiring_hooks_on_session_down(struct agent *a, struct peer *p)
{
	struct wiring_hooks *w = a->hooks;
	struct hooks_peer *hp;

	if (!w || !(hp = wiring_hooks_slot(w, p)) || !hp->up)
		return;
	hp->up = false;
	wiring_hooks_event(a, p, HOOKS_PEER_DOWN, hp, NULL, NULL);
}

static void
wiring_hooks_check_path(struct peer *p, void *arg)
{
	struct agent *a = arg;
	struct wiring_hooks *w = a->hooks;
	struct hooks_peer *hp, now;

	if (p->state != PEER_UP || p->index >= w->npeers || !(hp = &w->peers[p->index])->up)
		return;
	wiring_hooks_path(a, p, &now);
	if (!strcmp(now.path, hp->path) && !strcmp(now.endpoint, hp->endpoint))
		return;
	/* A switch between UDP endpoints path.c has logged already, with its reason. */
	if (!strcmp(hp->path, "udp") && !strcmp(now.path, "udp"))
		log_debug(LOG_PATH, "peer %s: path udp %s -> udp %s", p->identity, hp->endpoint,
			  now.endpoint);
	else
		log_info("peer %s: path %s %s -> %s %s", p->identity, hp->path, hp->endpoint,
			 now.path, now.endpoint);
	now.up = true;
	wiring_hooks_event(a, p, HOOKS_PATH_CHANGE, &now, hp->path, hp->endpoint);
	wiring_direct_on_path_change(a, p, hp->path, now.path);
	*hp = now;
}

static void
wiring_hooks_on_path_timer(struct ev_timer *t)
{
	struct wiring_hooks *w = container_of(t, struct wiring_hooks, path_timer);

	peer_foreach(w->a->peers, wiring_hooks_check_path, w->a);
	ev_timer_start(w->a->loop, t, WIRING_HOOKS_PATH_POLL_MS, wiring_hooks_on_path_timer);
}

/* contact-request ended: its answer, if it gave one, is the person's answer. */
static void
wiring_hooks_on_answer(void *arg, const struct hooks_result *r)
{
	struct agent *a = arg;
	const char *from = hooks_env_get(r->env, "VERTEX_REQUEST_FROM");
	const char *purpose = hooks_env_get(r->env, "VERTEX_REQUEST_PURPOSE");
	enum hooks_answer ans = hooks_parse_answer(r->output, r->len);
	const char *why = NULL;
	int err;

	if (r->timed_out || r->exit_code != 0 || ans == HOOKS_ANSWER_NONE || !a->rdv || !from ||
	    !purpose) {
		log_info("hook contact-request: no answer; the request of %s for %s waits for a "
			 "person",
			 from ? from : "?", purpose ? purpose : "?");
		return;
	}
	err = ans == HOOKS_ANSWER_APPROVE ? rdv_approve(a->rdv, from, purpose, &why)
					  : rdv_deny(a->rdv, from, purpose, &why);
	if (err)
		log_info("hook contact-request: cannot %s %s for %s: %s",
			 ans == HOOKS_ANSWER_APPROVE ? "approve" : "deny", from, purpose,
			 why ? why : strerror(-err));
	else
		log_info("hook contact-request: %s %s for %s",
			 ans == HOOKS_ANSWER_APPROVE ? "approved" : "denied", from, purpose);
}

void
wiring_hooks_on_request(struct agent *a, const struct rdv_incoming *e)
{
	struct wiring_hooks *w = a->hooks;
	struct hooks_env env;
	char fpr[65];

	if (!w || !hooks_has(w->hooks, HOOKS_CONTACT_REQUEST))
		return;
	for (int i = 0; i < 32; i++)
		snprintf(fpr + 2 * i, 3, "%02x", e->fpr[i]);
	wiring_hooks_common(a, &env);
	hooks_env_add(&env, "VERTEX_REQUEST_FROM", "%s", e->from);
	hooks_env_add(&env, "VERTEX_REQUEST_PURPOSE", "%s", e->purpose);
	hooks_env_add(&env, "VERTEX_REQUEST_FPR", "%s", fpr);
	hooks_env_add(&env, "VERTEX_REQUEST_ID", "%llu", (unsigned long long)e->id);
	hooks_run(w->hooks, HOOKS_CONTACT_REQUEST, &env, wiring_hooks_on_answer, a);
}

int
wiring_hooks_open(struct agent *a)
{
	struct hooks_params params = {
		.dir = a->cfg.hooks_dir,
		.timeout_ms = a->cfg.hook_timeout_sec * 1000,
	};
	struct wiring_hooks *w = calloc(1, sizeof(*w));
	struct hooks_env env;
	int err;

	if (!w)
		return -ENOMEM;
	a->hooks = w;
	w->a = a;
	if ((err = hooks_new(&w->hooks, a->loop, &params)))
		return err;
	if ((err = ev_timer_start(a->loop, &w->path_timer, WIRING_HOOKS_PATH_POLL_MS,
				  wiring_hooks_on_path_timer)))
		return err;
	wiring_hooks_common(a, &env);
	hooks_run(w->hooks, HOOKS_VERTEX_UP, &env, NULL, NULL);
	return 0;
}

void
wiring_hooks_close(struct agent *a)
{
	struct wiring_hooks *w = a->hooks;
	struct hooks_env env;

	if (!w)
		return;
	a->hooks = NULL;
	ev_timer_stop(a->loop, &w->path_timer);
	if (!w->hooks)
		goto out;
	wiring_hooks_common(a, &env);
	hooks_run(w->hooks, HOOKS_VERTEX_DOWN, &env, NULL, NULL);
	/* Every hook still running or waiting gets the limit of one hook, then is killed. */
	hooks_drain(w->hooks, a->cfg.hook_timeout_sec * 1000);
	hooks_free(w->hooks);
out:
	free(w->peers);
	free(w);
}
