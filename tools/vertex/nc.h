/* SPDX-License-Identifier: MIT */
/* vertex nc (nc.c): a purpose by name through the application socket, stdin/stdout pumped. */
#ifndef VERTEX_CLI_NC_H
#define VERTEX_CLI_NC_H

int cmd_nc(int argc, char **argv);

#endif
