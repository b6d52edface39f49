/* SPDX-License-Identifier: MIT */
/*
 * What the control socket (ctl.c) answers. The protocol is one request line, one response:
 *
 *   request:   WORD (" " WORD)* "\n"      words separated by single spaces:
 *              status | peers | trust list | trust show DOMAIN | trust forget DOMAIN |
 *              trust pin DOMAIN SHA256:BASE64 | the rendezvous verbs of ctl_rdv.h |
 *              the forward verbs of ctl_proxy.h | echo IDENTITY | echo-reply SEQ
 *              (userspace mode's `vertex ping`: an echo from lwIP, then its RTT)
 *   response:  ("KEY" " " "VALUE" "\n")* "end\n"     or    "error" " " MESSAGE "\n"
 *
 * A response is a flat list of facts; "peer IDENTITY" starts the facts about one peer, "pin
 * DOMAIN" those about one pin (fingerprint, first_seen, how: the rest of the line, spaces and
 * all), "domain DOMAIN" the foreign-domain state (foreign.h). Verbs that change trust (trust
 * forget, trust pin) are for root alone, since a daemon running unprivileged must not let its
 * own user re-pin a CA.
 */
#ifndef VERTEX_CTL_VERBS_H
#define VERTEX_CTL_VERBS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct agent;
struct ctl_verb;

enum { CTL_ARGS_MAX = 3 }; /* the most any verb takes (connect IDENTITY PURPOSE TTL) */

/* A request line, parsed: its verb and arguments (pointing into the line). */
struct ctl_request {
	const struct ctl_verb *verb;
	bool root_only; /* the verb changes trust */
	size_t nargs;   /* exactly what the verb takes */
	char *arg[CTL_ARGS_MAX];
};

/*
 * Splits line in place and finds its verb, for a caller with uid. 0; or -1 with one error line
 * ("error ...") written to err: malformed, unknown, the wrong number of arguments, or a verb
 * for root alone. The arguments' own syntax is each verb's to check.
 */
int ctl_request_parse(char *line, uid_t uid, struct ctl_request *req, FILE *err);

/*
 * Builds the response to one request line (split in place) from a caller with uid; returns a
 * malloc'd buffer the caller frees (NULL if out of memory), *len its length. A verb writes its
 * facts or a single error line; "end" is added only after facts.
 */
char *ctl_respond(struct agent *a, uid_t uid, char *line, size_t *len);

#endif
