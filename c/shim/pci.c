// SPDX-License-Identifier: MIT
/*
 * pci.c - the route unit's kernel services (kshim_pci.h): config reads go to
 * the runner with their C site; the xarray, seq_buf, printk and devres are
 * small userspace versions with the kernel's semantics.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kshim_pci.h>
#include "bridge.h"

struct cpuinfo_x86 kshim_cpu;
char kshim_seq_log[4096];
size_t kshim_seq_len;

/* ---- xarray: a growing array of (index, entry), NULL entries erased ------ */
struct xa_slot {
	unsigned long index;
	void *entry;
};

void xa_init(struct xarray *xa)
{
	xa->kshim_slots = NULL;
	xa->kshim_n = 0;
	xa->kshim_cap = 0;
}

void *xa_load(struct xarray *xa, unsigned long index)
{
	struct xa_slot *s = xa->kshim_slots;
	unsigned long i;

	for (i = 0; i < xa->kshim_n; i++)
		if (s[i].index == index)
			return s[i].entry;
	return NULL;
}

void *xa_store(struct xarray *xa, unsigned long index, void *entry, gfp_t gfp)
{
	struct xa_slot *s = xa->kshim_slots;
	unsigned long i;
	void *old;

	(void)gfp;
	for (i = 0; i < xa->kshim_n; i++) {
		if (s[i].index != index)
			continue;
		old = s[i].entry;
		s[i].entry = entry;
		return old;
	}
	if (!entry)
		return NULL;
	if (xa->kshim_n == xa->kshim_cap) {
		unsigned long cap = xa->kshim_cap ? 2 * xa->kshim_cap : 8;

		s = realloc(s, cap * sizeof(*s));
		if (!s)
			return xa_mk_value(0); /* the kernel's xa_err() pointer would be an error entry */
		xa->kshim_slots = s;
		xa->kshim_cap = cap;
	}
	s[xa->kshim_n].index = index;
	s[xa->kshim_n].entry = entry;
	xa->kshim_n++;
	return NULL;
}

void xa_destroy(struct xarray *xa)
{
	free(xa->kshim_slots);
	xa_init(xa);
}

/* ---- seq_buf, printk ------------------------------------------------------ */
int seq_buf_printf(struct seq_buf *s, const char *fmt, ...)
{
	va_list ap;
	char tmp[256];
	int n;
	size_t take;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	take = (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1;
	if (kshim_seq_len + take < sizeof(kshim_seq_log)) {
		memcpy(kshim_seq_log + kshim_seq_len, tmp, take);
		kshim_seq_len += take;
		kshim_seq_log[kshim_seq_len] = 0;
	}
	/* The kernel's seq_buf: the text when it fits, else the buffer is full (overflow). */
	if (s->len + take < s->size) {
		memcpy(s->buffer + s->len, tmp, take);
		s->len += take;
		s->buffer[s->len] = 0;
		return 0;
	}
	s->len = s->size;
	return -1;
}

int kshim_printk(const void *dev, const char *fmt, ...)
{
	va_list ap;
	char tmp[512];
	int n;

	(void)dev;
	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	return n;
}

/* ---- devres: released by kshim_devres_release_all() (driver unbind) ------ */
struct devres {
	void (*action)(void *);
	void *data;
	const void *mem;
	struct devres *next;
};
static struct devres *devres_head;

void *kshim_devm_kzalloc(struct device *dev, size_t size, const char *what, struct kshim_site at)
{
	void *p = kshim_kzalloc(size, what, at);
	struct devres *r;

	(void)dev;
	if (!p)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		abort();
	r->mem = p;
	r->next = devres_head;
	devres_head = r;
	return p;
}

void kshim_devm_kfree(struct device *dev, const void *p, struct kshim_site at)
{
	struct devres **pp;

	(void)dev;
	for (pp = &devres_head; *pp; pp = &(*pp)->next) {
		if ((*pp)->mem == p) {
			struct devres *r = *pp;

			*pp = r->next;
			free(r);
			break;
		}
	}
	kshim_kfree(p, at);
}

int kshim_devm_add_action(struct device *dev, void (*action)(void *), void *data)
{
	struct devres *r = calloc(1, sizeof(*r));

	(void)dev;
	if (!r)
		abort();
	r->action = action;
	r->data = data;
	r->next = devres_head;
	devres_head = r;
	return 0;
}

/* Unbind every driver: actions and frees in reverse order of registration, as devres does. */
void kshim_devres_release_all(void)
{
	struct kshim_site here = KSHIM_SITE;

	while (devres_head) {
		struct devres *r = devres_head;

		devres_head = r->next;
		if (r->action)
			r->action(r->data);
		else
			kshim_kfree(r->mem, here);
		free(r);
	}
}

/* ---- config space ---------------------------------------------------------- */
int kshim_pci_read_config_word(const struct pci_dev *dev, int where, u16 *val, struct kshim_site at)
{
	u64 args[2] = { dev->kshim_index, (u64)where };
	u64 r[2];

	kshim_call(KSHIM_OP_PCI_READ_CONFIG, at, args, 2, r);
	*val = (u16)r[1];
	return (int)r[0];
}
