// SPDX-License-Identifier: MIT
/*
 * UPnP IGD through libminiupnpc (portmap.h): the one file that includes its headers. Every call
 * blocks (SSDP search, then HTTP/SOAP to the router), so portmap.c runs this on an offload
 * thread; it touches nothing but its job.
 *
 * UPNP_GetValidIGD's 2 ("an IGD, but not connected") is taken as usable: a router whose WAN
 * address is private or reserved says so, and still forwards (the lab's does).
 */
#include <arpa/inet.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#include <stdio.h>
#include <string.h>

#include "direct/portmap.h"

static void
portmap_upnp_discover(struct portmap_upnp_job *j)
{
	/*
	 * One search, for an IGD (version 1: UPnP devices answer searches for earlier versions
	 * of their type): upnpDiscover would try four types in turn, each waiting the full
	 * time when nothing answers (8 s), which is what a network without an IGD gets.
	 */
	static const char *const types[] = { "urn:schemas-upnp-org:device:InternetGatewayDevice:1",
					     NULL };
	struct UPNPUrls urls;
	struct IGDdatas data;
	struct UPNPDev *devs;
	char ext[40] = "";
	int err = 0, r;

	devs = upnpDiscoverDevices(types, PORTMAP_UPNP_DISCOVER_MS, NULL, NULL, UPNP_LOCAL_PORT_ANY,
				   0, 2, &err, 0);
	if (!devs) {
		snprintf(j->error, sizeof(j->error), "no UPnP device answered (%d)", err);
		return;
	}
	memset(&urls, 0, sizeof(urls));
	memset(&data, 0, sizeof(data));
	j->igd = UPNP_GetValidIGD(devs, &urls, &data, j->lan_addr, sizeof(j->lan_addr));
	freeUPNPDevlist(devs);
	if (j->igd != 1 && j->igd != 2) {
		snprintf(j->error, sizeof(j->error), "no internet gateway device (%d)", j->igd);
		if (j->igd)
			FreeUPNPUrls(&urls);
		return;
	}
	snprintf(j->control_url, sizeof(j->control_url), "%s", urls.controlURL);
	snprintf(j->service, sizeof(j->service), "%s", data.first.servicetype);
	FreeUPNPUrls(&urls);
	r = UPNP_GetExternalIPAddress(j->control_url, j->service, ext);
	if (r != UPNPCOMMAND_SUCCESS || inet_pton(AF_INET, ext, &j->external) != 1) {
		snprintf(j->error, sizeof(j->error), "GetExternalIPAddress: %s", strupnperror(r));
		return;
	}
	j->ok = true;
}

static void
portmap_upnp_map(struct portmap_upnp_job *j)
{
	char port[8], lease[16];
	int r;

	snprintf(port, sizeof(port), "%u", j->port);
	snprintf(lease, sizeof(lease), "%u", j->lifetime);
	r = UPNP_AddPortMapping(j->control_url, j->service, port, port, j->lan_addr, "vertex",
				j->protocol == 6 ? "TCP" : "UDP", NULL, lease);
	if (r != UPNPCOMMAND_SUCCESS) {
		snprintf(j->error, sizeof(j->error), "AddPortMapping: %s", strupnperror(r));
		return;
	}
	j->ok = true;
}

static void
portmap_upnp_delete(struct portmap_upnp_job *j)
{
	char port[8];
	int r;

	snprintf(port, sizeof(port), "%u", j->port);
	r = UPNP_DeletePortMapping(j->control_url, j->service, port,
				   j->protocol == 6 ? "TCP" : "UDP", NULL);
	if (r != UPNPCOMMAND_SUCCESS)
		snprintf(j->error, sizeof(j->error), "DeletePortMapping: %s", strupnperror(r));
	j->ok = r == UPNPCOMMAND_SUCCESS;
}

void
portmap_upnp_work(void *arg)
{
	struct portmap_upnp_job *j = arg;

	j->ok = false;
	j->error[0] = '\0';
	if (j->op == PORTMAP_UPNP_DISCOVER)
		portmap_upnp_discover(j);
	else if (j->op == PORTMAP_UPNP_MAP)
		portmap_upnp_map(j);
	else
		portmap_upnp_delete(j);
}
