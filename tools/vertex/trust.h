/* SPDX-License-Identifier: MIT */
/*
 * vertex trust: list, show, forget or re-pin the CA fingerprints vertexd has pinned for other
 * domains (Trust On First Use, DESIGN §3), through its control socket. argv[0] is "trust";
 * returns the exit code: 0 ok, 1 failure (including a refusal by vertexd), 2 usage error.
 */
#ifndef VERTEX_TRUST_H
#define VERTEX_TRUST_H

int cmd_trust(int argc, char **argv);

#endif
