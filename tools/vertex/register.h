/* SPDX-License-Identifier: MIT */
/*
 * vertex register: enrol this machine's agent with its domain's server (tools/vertex/register.c).
 */
#ifndef VERTEX_REGISTER_H
#define VERTEX_REGISTER_H

int cmd_register(int argc, char **argv);

#endif
