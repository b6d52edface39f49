/* SPDX-License-Identifier: MIT */
/*
 * The read verbs that ask vertexd over its control socket: status, peers. Data comes from the
 * daemon as "KEY VALUE" lines (daemon/agent/ctl.c, asked through ctlclient.h); this module turns
 * them into text for people or JSON for scripts, and nothing else.
 */
#ifndef VERTEX_SHOW_H
#define VERTEX_SHOW_H

int cmd_status(int argc, char **argv);
int cmd_peers(int argc, char **argv);

#endif
