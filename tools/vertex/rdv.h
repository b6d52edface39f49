/* SPDX-License-Identifier: MIT */
/* The rendezvous verbs (rdv.c); each returns the exit code: 0 ok, 1 failure, 2 usage. */
#ifndef VERTEX_CLI_RDV_H
#define VERTEX_CLI_RDV_H

int cmd_connect(int argc, char **argv);
int cmd_requests(int argc, char **argv);
int cmd_approve(int argc, char **argv);
int cmd_deny(int argc, char **argv);
int cmd_revoke(int argc, char **argv);
int cmd_resolve(int argc, char **argv);
/* netcheck.c */
int cmd_netcheck(int argc, char **argv);
/* ping.c */
int cmd_ping(int argc, char **argv);

#endif
