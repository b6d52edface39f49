/* SPDX-License-Identifier: MIT */
/* vertex forward (fwd.c): port forwards from loopback to a peer's purpose, at run time. */
#ifndef VERTEX_CLI_FWD_H
#define VERTEX_CLI_FWD_H

int cmd_forward(int argc, char **argv);

#endif
