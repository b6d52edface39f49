// SPDX-License-Identifier: MIT
/* Port forwards: one parsed, the table of them (forward.h). */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "core/sockaddr.h"
#include "forward/forward.h"

static bool
forward_is_loopback(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in *s4 = (const void *)ss;
	const struct sockaddr_in6 *s6 = (const void *)ss;

	if (ss->ss_family == AF_INET)
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	return ss->ss_family == AF_INET6 && IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
}

int
forward_parse_listen(const char *listen, struct sockaddr_storage *out, const char **why)
{
	struct sockaddr_storage ss;

	if (sockaddr_parse(listen, &ss) < 0) {
		*why = "the address to listen on is not a numeric 127.0.0.1:PORT or [::1]:PORT "
		       "(port 1..65535)";
		return -EINVAL;
	}
	if (!forward_is_loopback(&ss)) {
		*why = "only a loopback address (127.0.0.0/8 or ::1) may be listened on: whoever "
		       "reaches it uses our approvals";
		return -EINVAL;
	}
	*out = ss;
	return 0;
}

int
forward_parse(const char *listen, const char *target, struct forward *out, const char **why)
{
	struct forward f;

	memset(&f, 0, sizeof(f));
	if (forward_parse_listen(listen, &f.listen, why))
		return -EINVAL;
	if (identity_parse(target, IDENTITY_PURPOSE_REQUIRED, &f.target, why))
		return -EINVAL;
	*out = f;
	return 0;
}

void
forward_print(const struct forward *f, FILE *out)
{
	char addr[SOCKADDR_STR_MAX], id[IDENTITY_STR_MAX + IDENTITY_PURPOSE_MAX + 2];

	sockaddr_format(&f->listen, addr, sizeof(addr));
	identity_format(&f->target, id, sizeof(id));
	fprintf(out, "%s %s", addr, id);
}

bool
forward_equal(const struct forward *a, const struct forward *b)
{
	return sockaddr_equal(&a->listen, &b->listen) && identity_equal(&a->target, &b->target);
}

const struct forward *
forward_table_find(const struct forward_table *t, const struct sockaddr_storage *listen)
{
	for (size_t i = 0; i < t->n; i++)
		if (sockaddr_equal(&t->f[i].listen, listen))
			return &t->f[i];
	return NULL;
}

int
forward_table_add(struct forward_table *t, const struct forward *f)
{
	if (forward_table_find(t, &f->listen))
		return -EEXIST;
	if (t->n == FORWARDS_MAX)
		return -ENOSPC;
	t->f[t->n++] = *f;
	return 0;
}

int
forward_table_remove(struct forward_table *t, const struct sockaddr_storage *listen)
{
	for (size_t i = 0; i < t->n; i++) {
		if (sockaddr_equal(&t->f[i].listen, listen)) {
			memmove(&t->f[i], &t->f[i + 1], (t->n - i - 1) * sizeof(t->f[0]));
			t->n--;
			return 0;
		}
	}
	return -ENOENT;
}
