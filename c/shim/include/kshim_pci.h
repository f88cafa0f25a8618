/* SPDX-License-Identifier: MIT */
/*
 * kshim_pci.h - the route unit's headers: what drivers/pci/p2pdma.c's routing
 * functions include (linux/pci.h, pci-p2pdma.h, xarray.h, seq_buf.h,
 * rcupdate.h, device.h, devres, asm/processor.h), written for dmabuf-conform
 * from the kernel's documented interfaces; no kernel text.
 *
 * The PCI hierarchy (host bridges, buses, bridges, functions, non-PCI
 * devices) is built by the route driver (c/units/route.c) from the runner's
 * topology, with the fields the routing reads: bus->parent/self, the
 * devices list of a bus in devfn order, vendor/device, devfn, the PCIe type,
 * the ACS capability offset and the BAR resources. Config space is the
 * runner's: pci_read_config_word() is a service answered from the topology
 * (the ACS Control word, or a failed read: ~0 as the kernel returns).
 * Allocations go to the runner like every unit's; the xarray and seq_buf are
 * small userspace versions with the kernel's semantics.
 */
#ifndef KSHIM_PCI_H
#define KSHIM_PCI_H

#define KSHIM_PCI_CORE 1
#include <kshim.h>

/* The kernel is built for x86: cpu_supports_p2pdma() reads cpu_data(0). */
#define CONFIG_X86 1
#define CONFIG_PCI_P2PDMA 1
#define CONFIG_PCI_P2PDMA_CORE 1

#define INT_MAX ((int)(~0U >> 1))
#define EREMOTEIO 121
#define GFP_ATOMIC 0x2u
#define __rcu

typedef u64 resource_size_t;
typedef u64 pci_bus_addr_t;

/* ---- asm/processor.h: the CPU of the topology ----------------------------- */
#define X86_VENDOR_INTEL 0
#define X86_VENDOR_AMD 2
#define X86_VENDOR_UNKNOWN 0xff
struct cpuinfo_x86 {
	u8 x86_vendor;
	u8 x86;
};
extern struct cpuinfo_x86 kshim_cpu;
#define cpu_data(cpu) (kshim_cpu)

/* ---- rcupdate.h: one thread of kernel code at a time -------------------- */
#define rcu_read_lock() do { } while (0)
#define rcu_read_unlock() do { } while (0)
#define rcu_dereference(p) (p)
#define rcu_dereference_protected(p, c) (p)
#define rcu_assign_pointer(p, v) ((p) = (v))
#define RCU_INIT_POINTER(p, v) ((p) = (v))
#define synchronize_rcu() do { } while (0)

/* ---- xarray.h: index -> entry, value entries tagged as the kernel tags them */
struct xarray {
	void *kshim_slots;
	unsigned long kshim_n;
	unsigned long kshim_cap;
};
static inline void *xa_mk_value(unsigned long v) { return (void *)((v << 1) | 1); }
static inline unsigned long xa_to_value(const void *entry) { return (unsigned long)entry >> 1; }
void xa_init(struct xarray *xa);
void *xa_load(struct xarray *xa, unsigned long index);
void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp);
void xa_destroy(struct xarray *xa);

/* ---- seq_buf.h ---------------------------------------------------------- */
struct seq_buf {
	char *buffer;
	size_t size;
	size_t len;
};
static inline void seq_buf_init(struct seq_buf *s, char *buf, unsigned int size)
{
	s->buffer = buf;
	s->size = size;
	s->len = 0;
	if (size)
		buf[0] = 0;
}
#define DECLARE_SEQ_BUF(NAME, SIZE) \
	char __##NAME##_buffer[SIZE] = ""; \
	struct seq_buf NAME = { .buffer = __##NAME##_buffer, .size = SIZE }
int seq_buf_printf(struct seq_buf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline const char *seq_buf_str(struct seq_buf *s) { return s->buffer; }
/* Everything seq_buf_printf() wrote since the route driver last reset it (the acs_list of calc_map_type_and_dist()). */
extern char kshim_seq_log[4096];
extern size_t kshim_seq_len;

/* ---- printk: formatted (so a bad format is the sanitizers'), not shown --- */
int kshim_printk(const void *dev, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define pci_warn(pdev, fmt, ...) kshim_printk((pdev), fmt, ##__VA_ARGS__)
#define pci_info(pdev, fmt, ...) kshim_printk((pdev), fmt, ##__VA_ARGS__)
#define pci_err(pdev, fmt, ...) kshim_printk((pdev), fmt, ##__VA_ARGS__)
#define pci_info_ratelimited(pdev, fmt, ...) kshim_printk((pdev), fmt, ##__VA_ARGS__)
#define dev_warn(dev, fmt, ...) kshim_printk((dev), fmt, ##__VA_ARGS__)
#define dev_info(dev, fmt, ...) kshim_printk((dev), fmt, ##__VA_ARGS__)
#define pr_err(fmt, ...) kshim_printk(NULL, fmt, ##__VA_ARGS__)
#define pr_warn(fmt, ...) kshim_printk(NULL, fmt, ##__VA_ARGS__)

/* ---- device.h, devres ---------------------------------------------------- */
static inline const char *dev_name(const struct device *dev) { return dev->init_name; }
#define get_device(dev) (dev)
#define put_device(dev) do { (void)(dev); } while (0)
/* Device-managed memory and actions: released when the route driver tears the topology down (driver unbind). */
void *kshim_devm_kzalloc(struct device *dev, size_t size, const char *what, struct kshim_site at);
void kshim_devm_kfree(struct device *dev, const void *p, struct kshim_site at);
int kshim_devm_add_action(struct device *dev, void (*action)(void *), void *data);
#define devm_kzalloc(dev, size, gfp) kshim_devm_kzalloc((dev), (size), #size, KSHIM_SITE)
#define devm_kfree(dev, p) kshim_devm_kfree((dev), (p), KSHIM_SITE)
#define devm_add_action_or_reset(dev, action, data) kshim_devm_add_action((dev), (action), (data))
#define devm_add_action(dev, action, data) kshim_devm_add_action((dev), (action), (data))
/* sysfs and the p2pmem pool are not modelled: the routing never reaches them, the release does (no pool: nothing to do). */
#define sysfs_remove_group(kobj, grp) do { } while (0)
#define gen_pool_destroy(pool) do { (void)(pool); } while (0)

/* ---- pci.h: the hierarchy ---------------------------------------------- */
#define IORESOURCE_IO 0x00000100
#define IORESOURCE_MEM 0x00000200
#define PCI_NUM_RESOURCES 17
#define PCI_ANY_ID (~0)
#define PCI_DEVFN(slot, func) ((((slot) & 0x1f) << 3) | ((func) & 0x07))
#define PCI_SLOT(devfn) (((devfn) >> 3) & 0x1f)
#define PCI_FUNC(devfn) ((devfn) & 0x07)
#define PCI_DEVID(bus, devfn) ((((u16)(bus)) << 8) | (devfn))

/* pci_regs.h */
#define PCI_EXT_CAP_ID_ACS 0x0d
#define PCI_ACS_CTRL 0x06
#define PCI_ACS_SV 0x0001
#define PCI_ACS_TB 0x0002
#define PCI_ACS_RR 0x0004
#define PCI_ACS_CR 0x0008
#define PCI_ACS_UF 0x0010
#define PCI_ACS_EC 0x0020
#define PCI_ACS_DT 0x0040
#define PCI_EXP_TYPE_ENDPOINT 0x0
#define PCI_EXP_TYPE_ROOT_PORT 0x4
#define PCI_EXP_TYPE_UPSTREAM 0x5
#define PCI_EXP_TYPE_DOWNSTREAM 0x6
#define PCI_EXP_TYPE_PCI_BRIDGE 0x7
#define PCIBIOS_SUCCESSFUL 0x00
#define PCIBIOS_DEVICE_NOT_FOUND 0x86

/* pci_ids.h: the vendors and devices the allow list names (values as include/linux/pci_ids.h,
 * drivers/dma/idxd/registers.h and qat_common/adf_accel_devices.h define them) */
#define PCI_VENDOR_ID_INTEL 0x8086
#define PCI_VENDOR_ID_GOOGLE 0x1ae0
#define PCI_VENDOR_ID_NVIDIA 0x10de
#define PCI_VENDOR_ID_ZHAOXIN 0x1d17
#define PCI_VENDOR_ID_AMD 0x1022
#define PCI_DEVICE_ID_INTEL_DSA_SPR0 0x0b25
#define PCI_DEVICE_ID_INTEL_IAX_SPR0 0x0cfe
#define PCI_DEVICE_ID_INTEL_DSA_GNRD 0x11fb
#define PCI_DEVICE_ID_INTEL_DSA_DMR 0x1212
#define PCI_DEVICE_ID_INTEL_IAA_DMR 0x1216
#define PCI_DEVICE_ID_INTEL_QAT_4XXX 0x4940
#define PCI_DEVICE_ID_INTEL_QAT_401XX 0x4942
#define PCI_DEVICE_ID_INTEL_QAT_402XX 0x4944
#define PCI_DEVICE_ID_INTEL_QAT_420XX 0x4946
#define PCI_DEVICE_ID_INTEL_QAT_6XXX 0x4948

struct resource {
	resource_size_t start;
	resource_size_t end;
	unsigned long flags;
};

struct pci_dev;
struct pci_host_bridge;
struct pci_p2pdma;

struct pci_bus {
	struct pci_bus *parent;
	struct pci_dev *self;
	struct list_head devices;
	unsigned char number;
	int kshim_domain;
	struct pci_host_bridge *kshim_host;
};

struct pci_host_bridge {
	struct device dev;
	struct pci_bus *bus;
};

struct pci_dev {
	struct list_head bus_list;
	struct pci_bus *bus;
	struct pci_bus *subordinate;
	unsigned int devfn;
	unsigned short vendor;
	unsigned short device;
	u16 acs_cap;
	u8 kshim_pcie_type;
	struct device dev;
	struct resource resource[PCI_NUM_RESOURCES];
	pci_bus_addr_t kshim_bus_addr[PCI_STD_NUM_BARS];
	struct pci_p2pdma __rcu *p2pdma;
	unsigned int non_mappable_bars:1;
	/* The runner's index of this function (config reads name it). */
	u32 kshim_index;
};

#define to_pci_dev(d) container_of(d, struct pci_dev, dev)
#define dev_is_pci(d) ((d)->kshim_is_pci)
#define pci_name(pdev) dev_name(&(pdev)->dev)
#define pci_dev_get(pdev) (pdev)
#define pci_dev_put(pdev) do { (void)(pdev); } while (0)
#define pci_resource_flags(dev, bar) ((dev)->resource[(bar)].flags)
#define pci_resource_start(dev, bar) ((dev)->resource[(bar)].start)
#define pci_resource_end(dev, bar) ((dev)->resource[(bar)].end)
#define pci_resource_len(dev, bar) \
	((pci_resource_end((dev), (bar)) == 0) ? 0 : (pci_resource_end((dev), (bar)) - pci_resource_start((dev), (bar)) + 1))

static inline bool pci_is_root_bus(struct pci_bus *pbus) { return !pbus->parent; }
static inline struct pci_dev *pci_upstream_bridge(struct pci_dev *dev)
{
	if (pci_is_root_bus(dev->bus))
		return NULL;
	return dev->bus->self;
}
static inline struct pci_host_bridge *pci_find_host_bridge(struct pci_bus *bus)
{
	while (bus->parent)
		bus = bus->parent;
	return bus->kshim_host;
}
static inline int pci_domain_nr(struct pci_bus *bus) { return bus->kshim_domain; }
static inline u16 pci_dev_id(struct pci_dev *dev) { return PCI_DEVID(dev->bus->number, dev->devfn); }
static inline int pci_pcie_type(const struct pci_dev *dev) { return dev->kshim_pcie_type; }
static inline pci_bus_addr_t pci_bus_address(struct pci_dev *pdev, int bar) { return pdev->kshim_bus_addr[bar]; }
static inline u16 pci_find_ext_capability(struct pci_dev *dev, int cap) { return cap == PCI_EXT_CAP_ID_ACS ? dev->acs_cap : 0; }

#define list_first_entry_or_null(ptr, type, member) \
	((ptr)->next != (ptr) ? list_entry((ptr)->next, type, member) : NULL)

/* Config space: a read the runner answers from the topology (kernel site carried). */
int kshim_pci_read_config_word(const struct pci_dev *dev, int where, u16 *val, struct kshim_site at);
#define pci_read_config_word(dev, where, val) kshim_pci_read_config_word((dev), (where), (val), KSHIM_SITE)

/* pci-p2pdma.h (mainline): the functions of drivers/pci/p2pdma.c the route unit compiles. */
int pcim_p2pdma_init(struct pci_dev *pdev);
struct p2pdma_provider *pcim_p2pdma_provider(struct pci_dev *pdev, int bar);
int pci_p2pdma_distance_many(struct pci_dev *provider, struct device **clients, int num_clients, bool verbose);
enum pci_p2pdma_map_type pci_p2pdma_map_type(struct p2pdma_provider *provider, struct device *dev);

#endif /* KSHIM_PCI_H */
