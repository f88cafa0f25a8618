// The mainline VFIO dma-buf exporter (drivers/vfio/pci/vfio_pci_dmabuf.c in
// torvalds/linux after the 7.0 revoke series), written in our own words on the
// 002 v8 port it grew from (./vfio_pci_dmabuf.ts):
// - "vfio: Wait for dma-buf invalidation to complete" (1a8a5227f229): each
//   dma-buf counts its live mappings in a kref (one reference for itself plus
//   one per map_dma_buf, dropped by unmap_dma_buf); a revoke invalidates the
//   importers, waits for the fences on the reservation object, drops its own
//   reference and waits for the completion the last put fires; an unrevoke
//   re-arms both. Close drains every dma-buf it still finds on the list.
// - its 7.1-rc fix: close revokes and drains only the dma-bufs not revoked
//   already (the first proposal, lore 20260416131815.2729131-2-mattev@meta.com;
//   merged as c64a647c84f3, which drains through the idempotent revoke path
//   instead: the same outcome under the suite).
// - "dma-buf: Add dma_buf_attach_revocable()" (588650a367b0) and "vfio: Permit
//   VFIO to work with pinned importers" (0b45a66ffb1e): attach refuses an
//   importer that cannot be revoked with -EOPNOTSUPP; pin succeeds (before
//   it, at 1f97d9dcf536, pin returned -EOPNOTSUPP).
// - dma_buf_move_notify() is dma_buf_invalidate_mappings() (e55edc9c9be5); the
//   simulated core keeps one function for both names.
// - the create claims the BAR first ("vfio/pci: Check BAR resources before
//   exporting a DMABUF", 702809dabdec) and a failed dma_buf_fd() only puts the
//   dma-buf ("vfio/pci: Fix double free in dma-buf feature", e98137f0a874; the
//   files at 1f97d9dcf536 and 06fddc7a1961 predate both).
// The conversion is mainline's dma_buf_phys_vec_to_sgt() (drivers/dma-buf/
// dma-buf-mapping.c at 0b9828c7231e).
import type { MapType } from '../../../models/pci/types.ts';
import type { DmaDir } from '../../kernel/dma.ts';
import type { Kernel } from '../../kernel/kernel.ts';
import type { KObj } from '../../kernel/objects.ts';
import { Completion, Kref } from '../../kernel/completion.ts';
import { dma_buf_free_sgt, dma_buf_phys_vec_to_sgt, type DmaBufDma } from '../dma-buf-mapping.ts';
import { dma_buf_fd, dma_buf_move_notify, dma_buf_put, type DmaBuf, type DmaBufAttachment } from '../dma-buf-core.ts';
import type { VfioDmabufPort } from './vfio_pci_core.ts';
import { V8_PORT } from './vfio_pci_core.ts';
import { VfioPciDmabufOps, cleanupWalk, createAndExport, list_del, moveWalk, vfio_device_put_registration, type PutRegistration, type VfioPciCoreDevice, type VfioPciDmaBuf } from './vfio_pci_dmabuf.ts';
import { vfioDmaBufPhysFromRequest } from './dmabuf_phys.ts';

/** The drain state mainline adds to struct vfio_pci_dma_buf. */
export interface Drain {
  readonly kref: Kref;
  readonly comp: Completion;
}

/** struct vfio_pci_dma_buf as mainline has it: with its kref and completion (on the struct, as in the kernel;
 *  a WeakMap beside it made every dma-buf an ephemeron the garbage collector walks). */
interface MainlineVfioPciDmaBuf extends VfioPciDmaBuf {
  drain?: Drain;
}

export function drainOf(k: Kernel, priv: VfioPciDmaBuf): Drain {
  const p = priv as MainlineVfioPciDmaBuf;
  if (!p.drain) {
    const name = priv.dmabuf?.name ?? 'dmabuf';
    const kref = new Kref(k, `${name}.kref`);
    p.drain = { kref, comp: new Completion(k, `${name}.comp`, kref) };
  }
  return p.drain;
}

/** The release of the drain kref: the last mapping is gone. */
const done = (d: Drain) => () => d.comp.complete();

/** dma_buf_attach_revocable(): the importer can be told its mappings are gone. */
export function dma_buf_attach_revocable(a: DmaBufAttachment): boolean {
  return a.importer_ops.move_notify !== undefined;
}

export class MainlineDmabufOps extends VfioPciDmabufOps {
  constructor(k: Kernel, routeTo: (dev: string | null) => MapType) {
    super(k, routeTo);
  }

  override attach(dmabuf: DmaBuf, attachment: DmaBufAttachment): number {
    const ret = super.attach(dmabuf, attachment);
    if (ret) return ret;
    return dma_buf_attach_revocable(attachment) ? 0 : -95; // -EOPNOTSUPP
  }

  /** Pinning is allowed: attach admitted only importers that can be revoked (0b45a66ffb1e). */
  pin(_a: DmaBufAttachment): number {
    return 0;
  }

  unpin(_a: DmaBufAttachment): void {
    /* nothing to undo */
  }

  override map_dma_buf(attachment: DmaBufAttachment, dir: DmaDir) {
    const site = 'vfio_pci_dma_buf_map';
    const priv = this.priv(attachment.dmabuf, site);
    attachment.dmabuf.resv.assertHeld('LOCK-RESV', site);
    if (priv.revoked) return { ok: false as const, errno: '-ENODEV' as const };
    const provider = this.k.heap.use(priv.provider, site);
    const phys = this.k.heap.use(priv.phys_vec, site);
    const r = dma_buf_phys_vec_to_sgt(this.mappingKernel, { dev: attachment.dev, dmabuf: attachment.dmabuf }, provider, phys, priv.size, dir);
    if (!r.ok) return r;
    drainOf(this.k, priv).kref.get(site);
    return { ok: true as const, sgt: r.dma as KObj<unknown> };
  }

  override unmap_dma_buf(attachment: DmaBufAttachment, sgt: KObj<unknown>, dir: DmaDir): void {
    const site = 'vfio_pci_dma_buf_unmap';
    const priv = this.priv(attachment.dmabuf, site);
    dma_buf_free_sgt(this.mappingKernel, { dev: attachment.dev, dmabuf: attachment.dmabuf }, sgt as KObj<DmaBufDma>, dir);
    const d = drainOf(this.k, priv);
    d.kref.put(site, done(d));
  }
}

/** dma_resv_wait_timeout(resv, DMA_RESV_USAGE_BOOKKEEP, ...): the simulated importers fence nothing, so it returns at once. */
function waitFences(dmabuf: DmaBuf, site: string): void {
  dmabuf.resv.assertHeld('LOCK-RESV', site);
}

/** The revoke's drain: invalidate under resv, wait fences, drop our reference, then (resv released) wait for the last unmap. */
async function revokeAndDrain(k: Kernel, priv: VfioPciDmaBuf, dmabuf: DmaBuf, site: string, underResv: () => void = () => undefined): Promise<void> {
  const d = drainOf(k, priv);
  await dmabuf.resv.lock(site);
  underResv();
  priv.revoked = true;
  dma_buf_move_notify(k, dmabuf);
  waitFences(dmabuf, site);
  d.kref.put(site, done(d));
  dmabuf.resv.unlock(site);
  await d.comp.wait(site);
}

/** vfio_pci_dma_buf_move() of mainline. */
export async function vfio_pci_dma_buf_move_mainline(vdev: VfioPciCoreDevice, revoked: boolean): Promise<void> {
  const site = 'vfio_pci_dma_buf_move';
  const { k } = vdev;
  await moveWalk(vdev, revoked, site, async (priv, dmabuf) => {
    if (revoked) return revokeAndDrain(k, priv, dmabuf, site);
    const d = drainOf(k, priv);
    await dmabuf.resv.lock(site);
    d.kref.init();
    d.comp.reinit();
    priv.revoked = false;
    dma_buf_move_notify(k, dmabuf);
    dmabuf.resv.unlock(site);
  });
}

/** vfio_pci_dma_buf_cleanup(): `skipRevoked` false is the code as first merged (1a8a5227f229), true its 7.1-rc fix;
 *  `put_registration` is cleanupWalk's (`cleanupMainline(true, () => undefined)`: the cleanup without the put). */
export function cleanupMainline(skipRevoked: boolean, put_registration: PutRegistration = vfio_device_put_registration) {
  return async function vfio_pci_dma_buf_cleanup(vdev: VfioPciCoreDevice): Promise<void> {
    const site = 'vfio_pci_dma_buf_cleanup';
    await cleanupWalk(vdev, site, async (privObj, priv, dmabuf) => {
      const detachFromDevice = () => {
        list_del(vdev, privObj);
        priv.vdev = null;
      };
      if (!(skipRevoked && priv.revoked)) return revokeAndDrain(vdev.k, priv, dmabuf, site, detachFromDevice);
      await dmabuf.resv.lock(site);
      detachFromDevice();
      dmabuf.resv.unlock(site);
    }, put_registration);
  };
}

/** vfio_pci_core_setup_barmap() (drivers/vfio/pci/vfio_pci_rdwr.c): claim the BAR's regions and iomap it,
 *  once; a failed iomap gives the regions back (-ENOMEM). */
export function vfio_pci_core_setup_barmap(vdev: VfioPciCoreDevice, bar: number): number {
  const { regions, barmap } = vdev;
  if (!regions || !barmap) return 0;
  if (barmap[bar]) return 0;
  const ret = regions.request(bar);
  if (ret) return ret;
  const io = regions.iomap(bar);
  if (!io) {
    regions.release(bar);
    return -12; // -ENOMEM
  }
  barmap[bar] = io;
  return 0;
}

/** vfio_pci_core_feature_dma_buf() of mainline: v8's steps with
 *  - the BAR claimed with the region-index check, -ENODEV when it cannot be ("vfio/pci: Check BAR resources
 *    before exporting a DMABUF", 702809dabdec);
 *  - the drain armed on the new dma-buf (kref_init, init_completion; 1a8a5227f229);
 *  - a failed dma_buf_fd() puts the dma-buf and returns: its release frees priv and phys_vec and puts the
 *    registration ("vfio/pci: Fix double free in dma-buf feature", e98137f0a874, CVE-2026-31468). */
/** vfio_pci_core_feature_dma_buf() as merged: the BAR claimed first (702809dabdec), a failed dma_buf_fd() only
 *  puts the dma-buf (e98137f0a874). Errors as the v8 create's, plus -ENODEV for a BAR that cannot be claimed. */
export const vfio_pci_core_feature_dma_buf_mainline: VfioDmabufPort['feature_dma_buf'] = async (vdev, ops, req, phys = vfioDmaBufPhysFromRequest) => {
  const site = 'vfio_pci_core_feature_dma_buf';
  const { k } = vdev;
  // A method, not a named arrow: under tsx (esbuild keepNames) an arrow costs a defineProperty per create.
  const exported = await createAndExport(vdev, ops, req, phys, site, { setupBarmap(bar) { return vfio_pci_core_setup_barmap(vdev, bar); } });
  if (!exported.ok) return exported;
  const { privObj, dmabuf } = exported.value;
  drainOf(k, privObj.value);
  if (dma_buf_fd(k, dmabuf, req.openFlags) < 0) {
    await dma_buf_put(dmabuf, site);
    return { ok: false, errno: '-EMFILE' };
  }
  return { ok: true, value: dmabuf };
};

/** The port as merged with the fix of its cleanup. */
export const MAINLINE_PORT: VfioDmabufPort = {
  ...V8_PORT,
  feature_dma_buf: vfio_pci_core_feature_dma_buf_mainline,
  move: vfio_pci_dma_buf_move_mainline,
  cleanup: cleanupMainline(true),
  makeOps: (k, cfg) => new MainlineDmabufOps(k, cfg.routeTo),
  // "vfio/pci: Clean up DMABUFs before disabling function" (torvalds/linux d97708701434).
  closeOrder: 'cleanup-first',
};

/** The port with the cleanup as first merged (1a8a5227f229): close drains dma-bufs a revoke already
 *  drained (FINDINGS D1). Only the cleanup is the old one, so this port shows D1 alone: its create is
 *  today's (at 1a8a5227f229 the create had neither the BAR check nor the unwind fix). */
export const MAINLINE_FIRST_DRAIN_PORT: VfioDmabufPort = { ...MAINLINE_PORT, cleanup: cleanupMainline(false) };
