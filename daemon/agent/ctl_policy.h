/* SPDX-License-Identifier: MIT */
/*
 * The control socket's `firewall` verb (ctl_policy.c), listed in ctl_verbs.c's table: the policy
 * as the daemon understands it, as facts:
 *
 *   table inet vertex / interface IF / icmp_echo on|off / batches N / failures N
 *   dnat NAME PROTO/PORT ADDR:PORT           one per purpose with a local target
 *   peer IDENTITY                            then, for that peer:
 *     chain peer-INDEX / addr4 A / addr6 A / mode ports|all|outbound-only / rule RULE ...
 */
#ifndef VERTEX_CTL_POLICY_H
#define VERTEX_CTL_POLICY_H

#include <stdio.h>

struct agent;

void ctl_policy_firewall(struct agent *a, char **arg, FILE *f);

#endif
