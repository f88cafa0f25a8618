// SPDX-License-Identifier: MIT
/*
 * route.c - drives the route unit: the routing functions of
 * drivers/pci/p2pdma.c of the kernel under test (pcim_p2pdma_init,
 * pcim_p2pdma_provider, pci_p2pdma_map_type, calc_map_type_and_dist,
 * pci_p2pdma_distance_many, with the static helpers and the host-bridge
 * allow list they use), on the PCI hierarchy of a route-suite topology.
 *
 * Included at the end of the generated translation unit, after the kernel's
 * own text, so the static functions are in scope. The runner sends the
 * topology (ROUTE_SETUP), then one request per call of the route checkers;
 * a new topology first unbinds the old one (its devres actions run: the
 * kernel's pci_p2pdma_release()).
 */
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

void kshim_devres_release_all(void);

#define KR_NONE (~(u64)0)
#define KR_BAR_WORDS 4
#define KR_DEV_WORDS (8 + KR_BAR_WORDS * PCI_STD_NUM_BARS + 1)

static struct pci_host_bridge *kr_hosts;
static struct pci_bus *kr_buses;
static struct pci_dev *kr_pdevs;
static struct device *kr_plain;
static bool *kr_is_pci;
static char **kr_names;
static u64 kr_nhosts, kr_nbuses, kr_ndevs;

static void kr_teardown(void)
{
	u64 i;

	kshim_devres_release_all();
	for (i = 0; i < kr_ndevs + kr_nhosts; i++)
		free(kr_names[i]);
	free(kr_names);
	free(kr_hosts);
	free(kr_buses);
	free(kr_pdevs);
	free(kr_plain);
	free(kr_is_pci);
	kr_names = NULL;
	kr_hosts = NULL;
	kr_buses = NULL;
	kr_pdevs = NULL;
	kr_plain = NULL;
	kr_is_pci = NULL;
	kr_nhosts = kr_nbuses = kr_ndevs = 0;
}

/* A name of `len` bytes in the words at *at; *at moves past it. */
static char *kr_name(const u64 *args, u64 *at, u64 nargs)
{
	u64 len = args[(*at)++], words = (len + 7) / 8;
	char *s;

	if (*at + words > nargs)
		abort();
	s = calloc(1, len + 1);
	if (!s)
		abort();
	memcpy(s, &args[*at], len);
	*at += words;
	return s;
}

static struct device *kr_device(u64 i)
{
	if (i >= kr_ndevs)
		abort();
	return kr_is_pci[i] ? &kr_pdevs[i].dev : &kr_plain[i];
}

/*
 * args: cpu vendor, cpu family, hosts, buses, devices; each host: its name;
 * each bus: domain, number, bridge (device index or ~0 for a root bus), host;
 * each device: pci?, bus (PCI) or parent device (plain), devfn, vendor,
 * device, PCIe type, ACS capability offset, non-mappable BARs, then per BAR
 * flags/start/len/bus address, then its name. Devices of a bus come in
 * devfn order (the bus's devices list).
 */
static void kr_setup(const u64 *args, u64 nargs)
{
	u64 at = 5, i, b;

	kr_teardown();
	if (nargs < 5)
		abort();
	kshim_cpu.x86_vendor = (u8)args[0];
	kshim_cpu.x86 = (u8)args[1];
	kr_nhosts = args[2];
	kr_nbuses = args[3];
	kr_ndevs = args[4];
	kr_hosts = calloc(kr_nhosts + 1, sizeof(*kr_hosts));
	kr_buses = calloc(kr_nbuses + 1, sizeof(*kr_buses));
	kr_pdevs = calloc(kr_ndevs + 1, sizeof(*kr_pdevs));
	kr_plain = calloc(kr_ndevs + 1, sizeof(*kr_plain));
	kr_is_pci = calloc(kr_ndevs + 1, sizeof(*kr_is_pci));
	kr_names = calloc(kr_ndevs + kr_nhosts + 1, sizeof(*kr_names));
	if (!kr_hosts || !kr_buses || !kr_pdevs || !kr_plain || !kr_is_pci || !kr_names)
		abort();
	for (i = 0; i < kr_nhosts; i++) {
		kr_names[kr_ndevs + i] = kr_name(args, &at, nargs);
		kr_hosts[i].dev.init_name = kr_names[kr_ndevs + i];
	}
	if (at + 4 * kr_nbuses > nargs)
		abort();
	for (b = 0; b < kr_nbuses; b++, at += 4) {
		struct pci_bus *bus = &kr_buses[b];

		INIT_LIST_HEAD(&bus->devices);
		bus->kshim_domain = (int)args[at];
		bus->number = (unsigned char)args[at + 1];
		bus->self = args[at + 2] == KR_NONE ? NULL : &kr_pdevs[args[at + 2]];
		bus->kshim_host = &kr_hosts[args[at + 3]];
		if (!bus->self)
			kr_hosts[args[at + 3]].bus = bus;
	}
	for (i = 0; i < kr_ndevs; i++) {
		const u64 *d = &args[at];
		u64 where;
		int bar;

		if (at + KR_DEV_WORDS > nargs)
			abort();
		kr_is_pci[i] = d[0] == 0;
		where = d[1];
		if (kr_is_pci[i]) {
			struct pci_dev *pdev = &kr_pdevs[i];

			pdev->bus = &kr_buses[where];
			pdev->devfn = (unsigned int)d[2];
			pdev->vendor = (unsigned short)d[3];
			pdev->device = (unsigned short)d[4];
			pdev->kshim_pcie_type = (u8)d[5];
			pdev->acs_cap = (u16)d[6];
			pdev->non_mappable_bars = d[7] != 0;
			pdev->kshim_index = (u32)i;
			pdev->dev.kshim_is_pci = true;
			for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
				const u64 *r = &d[8 + KR_BAR_WORDS * bar];

				pdev->resource[bar].flags = (unsigned long)r[0];
				pdev->resource[bar].start = r[1];
				pdev->resource[bar].end = r[2] ? r[1] + r[2] - 1 : 0;
				pdev->kshim_bus_addr[bar] = r[3];
			}
			list_add_tail(&pdev->bus_list, &pdev->bus->devices);
		} else {
			kr_plain[i].parent = kr_device(where);
		}
		at += KR_DEV_WORDS - 1;
		kr_names[i] = kr_name(args, &at, nargs);
		kr_device(i)->init_name = kr_names[i];
	}
	/* A bridge's bus hangs below the bus the bridge sits on. */
	for (b = 0; b < kr_nbuses; b++) {
		struct pci_bus *bus = &kr_buses[b];

		if (!bus->self)
			continue;
		bus->parent = bus->self->bus;
		bus->self->subordinate = bus;
	}
	for (i = 0; i < kr_ndevs; i++)
		if (kr_is_pci[i])
			kr_pdevs[i].dev.parent = kr_pdevs[i].bus->self ? &kr_pdevs[i].bus->self->dev : &kr_pdevs[i].bus->kshim_host->dev;
	kshim_reply(KSHIM_OP_DONE, NULL, 0);
}

static struct pci_dev *kr_pdev(u64 i)
{
	if (i >= kr_ndevs || !kr_is_pci[i])
		abort();
	return &kr_pdevs[i];
}

static void kr_provider(const u64 *args)
{
	struct p2pdma_provider *p = pcim_p2pdma_provider(kr_pdev(args[0]), (int)args[1]);
	u64 w[3] = { (u64)(uintptr_t)p, KR_NONE, 0 };

	if (p && !IS_ERR(p)) {
		if (p->owner && p->owner->kshim_is_pci)
			w[1] = to_pci_dev(p->owner)->kshim_index;
		w[2] = p->bus_offset;
	}
	kshim_reply(KSHIM_OP_DONE, w, 3);
}

/* The map type, the distance, then what seq_buf_printf() wrote (the acs_list). */
static void kr_calc(const u64 *args)
{
	int dist = -1;
	u64 w[3 + sizeof(kshim_seq_log) / 8];
	enum pci_p2pdma_map_type t;

	kshim_seq_len = 0;
	kshim_seq_log[0] = 0;
	t = calc_map_type_and_dist(kr_pdev(args[0]), kr_pdev(args[1]), &dist, false);
	memset(w, 0, sizeof(w));
	w[0] = (u64)t;
	w[1] = (u64)(s64)dist;
	w[2] = kshim_seq_len;
	memcpy(&w[3], kshim_seq_log, kshim_seq_len);
	kshim_reply(KSHIM_OP_DONE, w, 3 + (kshim_seq_len + 7) / 8);
}

static void kr_dist_many(const u64 *args, u64 nargs)
{
	u64 n = args[1], i;
	struct device **clients = calloc(n + 1, sizeof(*clients));
	u64 w;

	if (!clients || nargs != 2 + n)
		abort();
	for (i = 0; i < n; i++)
		clients[i] = kr_device(args[2 + i]);
	w = (u64)(s64)pci_p2pdma_distance_many(kr_pdev(args[0]), clients, (int)n, false);
	free(clients);
	kshim_reply(KSHIM_OP_DONE, &w, 1);
}

void kshim_unit_request(u64 op, const u64 *args, u64 nargs)
{
	u64 w;

	switch (op) {
	case KSHIM_REQ_ROUTE_SETUP:
		kr_setup(args, nargs);
		break;
	case KSHIM_REQ_ROUTE_INIT:
		w = (u64)(s64)pcim_p2pdma_init(kr_pdev(args[0]));
		kshim_reply(KSHIM_OP_DONE, &w, 1);
		break;
	case KSHIM_REQ_ROUTE_PROVIDER:
		kr_provider(args);
		break;
	case KSHIM_REQ_ROUTE_MAP_TYPE:
		w = (u64)pci_p2pdma_map_type((struct p2pdma_provider *)(uintptr_t)args[0], kr_device(args[1]));
		kshim_reply(KSHIM_OP_DONE, &w, 1);
		break;
	case KSHIM_REQ_ROUTE_CALC:
		kr_calc(args);
		break;
	case KSHIM_REQ_ROUTE_DIST_MANY:
		kr_dist_many(args, nargs);
		break;
	default:
		abort();
	}
}
