/* SPDX-License-Identifier: MIT */
/* The firewall verb (firewall.c); returns the exit code: 0 ok, 1 failure, 2 usage. */
#ifndef VERTEX_CLI_FIREWALL_H
#define VERTEX_CLI_FIREWALL_H

int cmd_firewall(int argc, char **argv);

#endif
