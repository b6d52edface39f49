// SPDX-License-Identifier: MIT
/* NAT classification from reflection's answers (natclass.h). */
#include "direct/natclass.h"

#include "core/sockaddr.h"

static int
natclass_mapping(const struct nat_question q[NATQ_COUNT], bool alt)
{
	static const enum natq asked[] = { NATQ_PORT, NATQ_ADDRESS };
	bool pending = false, answered = false;

	if (!q[NATQ_BASE].answered)
		return DIRECT_MAPPING_UNKNOWN;
	for (size_t i = 0; i < sizeof(asked) / sizeof(asked[0]); i++) {
		const struct nat_question *a = &q[asked[i]];

		if (asked[i] == NATQ_ADDRESS && !alt)
			continue;
		if (a->answered && !sockaddr_same(&a->seen, &q[NATQ_BASE].seen))
			return DIRECT_MAPPING_DEPENDENT;
		answered |= a->answered;
		pending |= !a->settled;
	}
	return answered && !pending ? DIRECT_MAPPING_INDEPENDENT : DIRECT_MAPPING_UNKNOWN;
}

static int
natclass_filtering(const struct nat_question q[NATQ_COUNT], bool alt)
{
	const struct nat_question *port = &q[NATQ_FROM_PORT], *addr = &q[NATQ_FROM_ADDRESS];

	if (!q[NATQ_BASE].answered)
		return DIRECT_FILTERING_UNKNOWN;
	if (!alt)
		return port->answered  ? DIRECT_FILTERING_NOT_PORT
		       : port->settled ? DIRECT_FILTERING_PORT
				       : DIRECT_FILTERING_UNKNOWN;
	if (addr->answered)
		return DIRECT_FILTERING_OPEN;
	if (!addr->settled || !port->settled)
		return DIRECT_FILTERING_UNKNOWN;
	return port->answered ? DIRECT_FILTERING_ADDRESS : DIRECT_FILTERING_PORT;
}

void
natclass(const struct nat_question q[NATQ_COUNT], bool alt, int *mapping, int *filtering)
{
	int m = natclass_mapping(q, alt), f = natclass_filtering(q, alt);

	if (m != DIRECT_MAPPING_UNKNOWN)
		*mapping = m;
	if (f != DIRECT_FILTERING_UNKNOWN)
		*filtering = f;
}

const char *
natclass_mapping_name(int m)
{
	return m == DIRECT_MAPPING_INDEPENDENT ? "endpoint-independent"
	       : m == DIRECT_MAPPING_DEPENDENT ? "endpoint-dependent"
					       : "unknown";
}

const char *
natclass_filtering_name(int f)
{
	return f == DIRECT_FILTERING_OPEN       ? "open"
	       : f == DIRECT_FILTERING_PORT     ? "port-dependent"
	       : f == DIRECT_FILTERING_ADDRESS  ? "address-dependent"
	       : f == DIRECT_FILTERING_NOT_PORT ? "address-dependent-or-open"
						: "unknown";
}
