/* SPDX-License-Identifier: MIT */
/*
 * The control socket's port-forward verbs (ctl_proxy.c), listed in ctl_verbs.c's table:
 *
 *   forward LISTEN USER@DOMAIN/PURPOSE   a forward from a loopback address, until the agent stops
 *   unforward LISTEN                     remove one (a config's too, until the agent restarts)
 *   forwards                             every forward: "forward LISTEN TARGET" each
 */
#ifndef VERTEX_CTL_PROXY_H
#define VERTEX_CTL_PROXY_H

#include <stdio.h>

struct agent;

void ctl_proxy_forward(struct agent *a, char **arg, FILE *f);
void ctl_proxy_unforward(struct agent *a, char **arg, FILE *f);
void ctl_proxy_forwards(struct agent *a, char **arg, FILE *f);

#endif
