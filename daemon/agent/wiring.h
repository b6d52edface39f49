/* SPDX-License-Identifier: MIT */
/*
 * The callbacks start.c gives each module (wiring.c): what one module reports, routed to the
 * module that acts on it. Each takes the struct agent as its arg.
 */
#ifndef VERTEX_AGENT_WIRING_H
#define VERTEX_AGENT_WIRING_H

#include "core/listener.h"
#include "dataplane/dataplane.h"
#include "domains/domains.h"
#include "home/home.h"
#include "path/udp.h"
#include "peer/peer.h"

struct agent;

extern const struct peer_ops wiring_peer_ops;
extern const struct path_udp_ops wiring_udp_ops;
extern const struct dataplane_ops wiring_dataplane_ops;
extern const struct listener_ops wiring_listener_ops;
extern const struct domains_ops wiring_domains_ops;
extern const struct home_ops wiring_home_ops;

/* The record and message handlers of the links and the home channel. 0 or -errno. */
int wiring_handle_links(struct agent *a);
int wiring_handle_home(struct agent *a);
/* The before-sleep hook of the loop: what a turn queued goes out in one batch. */
void wiring_before_sleep(void *arg);

#endif
