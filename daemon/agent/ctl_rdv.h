/* SPDX-License-Identifier: MIT */
/*
 * The control socket's rendezvous verbs (ctl_rdv.c), listed in ctl_verbs.c's table:
 *
 *   connect IDENTITY PURPOSE TTL   ask (or find the approval): state, and where to reach it
 *   request IDENTITY PURPOSE       where our request stands: state, message, address, port
 *   requests                       those waiting for us ("incoming ...") and ours ("outgoing ...")
 *   approve IDENTITY PURPOSE|*     answer a waiting request (* : all of that identity's)
 *   deny IDENTITY PURPOSE|*
 *   revoke IDENTITY PURPOSE|*      end approvals, both ways, and tell the peer
 *   resolve IDENTITY PURPOSE       overlay4, overlay6, proto, port of an approved purpose
 */
#ifndef VERTEX_CTL_RDV_H
#define VERTEX_CTL_RDV_H

#include <stdio.h>

struct agent;
struct peer;

void ctl_rdv_connect(struct agent *a, char **arg, FILE *f);
void ctl_rdv_request(struct agent *a, char **arg, FILE *f);
void ctl_rdv_requests(struct agent *a, char **arg, FILE *f);
void ctl_rdv_approve(struct agent *a, char **arg, FILE *f);
void ctl_rdv_deny(struct agent *a, char **arg, FILE *f);
void ctl_rdv_revoke(struct agent *a, char **arg, FILE *f);
void ctl_rdv_resolve(struct agent *a, char **arg, FILE *f);
/* ctl_direct.c: netcheck: server, reflexive, mapping, filtering, candidates, ipv6. */
void ctl_direct_netcheck(struct agent *a, char **arg, FILE *f);
/* ctl_direct.c: a peer's candidates and their state, for `peers` (`candidate KIND ADDR STATE`). */
struct peer;
void ctl_direct_peer_facts(struct agent *a, const struct peer *p, FILE *f);
/* The approvals with p, as facts of a peer ("approved_in ssh web", "approved_out ssh"). */
void ctl_rdv_peer_facts(struct agent *a, const struct peer *p, FILE *f);

#endif
