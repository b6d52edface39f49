/* SPDX-License-Identifier: MIT */
/*
 * The read verbs that ask vertexd over its control socket: status, peers. Data comes from the
 * daemon as "KEY VALUE" lines (see daemon/agent/ctl.c); this module turns them into text for
 * people or JSON for scripts, and nothing else.
 */
#ifndef VERTEX_SHOW_H
#define VERTEX_SHOW_H

/* The control socket to use, from -s/--socket or the default. */
extern const char *show_socket_path;

int cmd_status(int argc, char **argv);
int cmd_peers(int argc, char **argv);

#endif
