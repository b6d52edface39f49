/* SPDX-License-Identifier: MIT */
/*
 * The offline certificate verbs (tools/vertex/cmd_cert.c): domain CAs, agent keys, issuing and
 * showing certificates, like nebula-cert. argv[0] is the verb ("ca", "key", "cert"); each
 * returns the process exit code: 0 ok, 1 failure, 2 usage error.
 */
#ifndef VERTEX_CMD_H
#define VERTEX_CMD_H

int cmd_ca(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_cert(int argc, char **argv);

#endif
