// The parts of drivers/dma-buf/dma-buf.c the lifecycle exercises, ported to
// the simulated kernel: export, dynamic attach, detach, map/unmap of an
// attachment under the reservation lock, move_notify, and the release that
// runs when the last file reference is dropped.
import type { Errno } from '../../models/errno.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { KFile } from '../kernel/files.ts';
import type { ResvLock } from '../kernel/locks.ts';
import { objName, type KObj } from '../kernel/objects.ts';
import type { DmaDir } from '../kernel/dma.ts';

export interface DmaBufOps {
  attach?(dmabuf: DmaBuf, attach: DmaBufAttachment): number;
  map_dma_buf(attach: DmaBufAttachment, dir: DmaDir): { ok: true; sgt: KObj<unknown> } | { ok: false; errno: Errno };
  unmap_dma_buf(attach: DmaBufAttachment, sgt: KObj<unknown>, dir: DmaDir): void;
  release(dmabuf: DmaBuf): Promise<void>;
  /** Mainline (drivers/dma-buf/dma-buf.c dma_buf_pin): an exporter that can pin; absent, pinning succeeds. */
  pin?(attach: DmaBufAttachment): number;
  unpin?(attach: DmaBufAttachment): void;
}

/** struct dma_buf_attach_ops: what a dynamic importer provides. */
export interface DmaBufAttachOps {
  readonly allow_peer2peer: boolean;
  move_notify?(attach: DmaBufAttachment): void;
}

export interface DmaBuf {
  readonly name: string;
  readonly size: bigint;
  readonly ops: DmaBufOps;
  readonly priv: KObj<unknown>;
  readonly resv: ResvLock;
  readonly file: KFile;
  readonly attachments: Set<KObj<DmaBufAttachment>>;
  readonly obj: KObj<null>;
}

export interface DmaBufAttachment {
  readonly dmabuf: DmaBuf;
  /** The importing device (NULL for iommufd, 003). */
  readonly dev: string | null;
  readonly peer2peer: boolean;
  readonly importer_ops: DmaBufAttachOps;
  importer_priv: unknown;
  /** dma_buf_pin() calls not yet undone by dma_buf_unpin() (REV-PIN). */
  pins?: number;
  /** Tables handed out by dma_buf_map_attachment() and not unmapped yet: what the importer can still DMA through. */
  maps?: number;
}

export function dma_buf_export(k: Kernel, name: string, ops: DmaBufOps, size: bigint, priv: KObj<unknown>): DmaBuf | null {
  const obj = k.heap.alloc('dma_buf', 'dma_buf_export', null);
  if (!obj) return null;
  const file = k.newFile(name, () => dma_buf_release(k, dmabuf));
  const dmabuf: DmaBuf = { name, size, ops, priv, obj, file, resv: k.newResv(`${name}.resv`, file), attachments: new Set() };
  exported.set(obj, dmabuf);
  return dmabuf;
}

/** Each dma-buf by its struct dma_buf (the heap object dma_buf_export() allocated). */
const exported = new WeakMap<KObj<null>, DmaBuf>();

/** The dma-buf whose struct dma_buf `obj` is (the case's names of a failed create's dma-buf), if it is one. */
export function dmaBufOf(obj: KObj<unknown>): DmaBuf | undefined {
  return exported.get(obj as KObj<null>);
}

/** dma_buf_fd() (drivers/dma-buf/dma-buf.c): install the dma-buf's file in a new descriptor, consuming the
 *  export's reference. `_flags` are the open flags (O_CLOEXEC...), accepted and not modelled.
 *  @returns the descriptor (3 and up), or a negative errno as a number: -24 (-EMFILE) when get_unused_fd_flags()
 *  finds the table full (the create's `fd` fault point), in which case the reference is still the caller's to
 *  put (dma_buf_put(), which releases the dma-buf: the exporter's release frees priv). A use of a released
 *  dma-buf is UAF-OBJ. */
export function dma_buf_fd(k: Kernel, dmabuf: DmaBuf, _flags: number): number {
  k.heap.use(dmabuf.obj, 'dma_buf_fd');
  return k.get_unused_fd_flags('dma_buf_fd');
}

/** dma_buf_release(): the file's last reference is gone. */
async function dma_buf_release(k: Kernel, dmabuf: DmaBuf): Promise<void> {
  await dmabuf.ops.release(dmabuf);
  k.heap.free(dmabuf.obj, 'dma_buf_release');
}

/** dma_buf_put(). */
export function dma_buf_put(dmabuf: DmaBuf, site: string): Promise<void> {
  return dmabuf.file.fput(site);
}

/** dma_buf_dynamic_attach(): the exporter's attach op decides. */
export async function dma_buf_dynamic_attach(k: Kernel, dmabuf: DmaBuf, dev: string | null, importer_ops: DmaBufAttachOps): Promise<{ ok: true; attach: KObj<DmaBufAttachment> } | { ok: false; errno: Errno }> {
  const site = 'dma_buf_dynamic_attach';
  if (!importer_ops.move_notify) return { ok: false, errno: '-EINVAL' };
  k.heap.use(dmabuf.obj, site);
  const attach = k.heap.alloc<DmaBufAttachment>('attachment', site, { dmabuf, dev, peer2peer: importer_ops.allow_peer2peer, importer_ops, importer_priv: null });
  if (!attach) return { ok: false, errno: '-ENOMEM' };
  const ret = dmabuf.ops.attach?.(dmabuf, attach.value) ?? 0;
  if (ret) {
    k.heap.free(attach, site);
    return { ok: false, errno: ret === -95 ? '-EOPNOTSUPP' : ret === -19 ? '-ENODEV' : '-EINVAL' };
  }
  await dmabuf.resv.lock(site);
  dmabuf.attachments.add(attach);
  dmabuf.resv.unlock(site);
  return { ok: true, attach };
}

/** dma_buf_pin() (mainline drivers/dma-buf/dma-buf.c): resv held; the exporter's pin op decides. */
export function dma_buf_pin(k: Kernel, attach: KObj<DmaBufAttachment>): number {
  const site = 'dma_buf_pin';
  const a = k.heap.use(attach, site);
  a.dmabuf.resv.assertHeld('LOCK-RESV', site);
  const ret = a.dmabuf.ops.pin?.(a) ?? 0;
  if (ret === 0) a.pins = (a.pins ?? 0) + 1;
  return ret;
}

/** dma_buf_unpin(): undoes one dma_buf_pin(); an unpin without a pin is REV-PIN. */
export function dma_buf_unpin(k: Kernel, attach: KObj<DmaBufAttachment>): void {
  const site = 'dma_buf_unpin';
  const a = k.heap.use(attach, site);
  a.dmabuf.resv.assertHeld('LOCK-RESV', site);
  if (!a.pins) {
    k.report('REV-PIN', `dma_buf_unpin() of ${objName(attach)} of ${a.dmabuf.name}, which is not pinned`, { dmabuf: a.dmabuf.name, pins: 0 });
    return;
  }
  a.pins--;
  a.dmabuf.ops.unpin?.(a);
}

/** dma_buf_detach(). */
export async function dma_buf_detach(k: Kernel, attach: KObj<DmaBufAttachment>): Promise<void> {
  const site = 'dma_buf_detach';
  const { dmabuf, pins } = k.heap.use(attach, site);
  // An importer undoes its pins before it detaches (iommufd: unpin, then detach; a42ec590c0b0); a pin left at detach is never undone.
  if (pins) k.report('REV-PIN', `dma_buf_detach() of ${objName(attach)} of ${dmabuf.name}, still pinned ${pins} time(s): the pin is never undone`, { dmabuf: dmabuf.name, pins });
  await dmabuf.resv.lock(site);
  dmabuf.attachments.delete(attach);
  dmabuf.resv.unlock(site);
  k.heap.free(attach, site);
}

/** dma_buf_map_attachment(): the caller holds the reservation lock. */
export function dma_buf_map_attachment(k: Kernel, attach: KObj<DmaBufAttachment>, dir: DmaDir) {
  const a = k.heap.use(attach, 'dma_buf_map_attachment');
  a.dmabuf.resv.assertHeld('LOCK-RESV', 'dma_buf_map_attachment');
  const r = a.dmabuf.ops.map_dma_buf(a, dir);
  if (r.ok) a.maps = (a.maps ?? 0) + 1;
  return r;
}

export function dma_buf_unmap_attachment(k: Kernel, attach: KObj<DmaBufAttachment>, sgt: KObj<unknown>, dir: DmaDir): void {
  const a = k.heap.use(attach, 'dma_buf_unmap_attachment');
  a.dmabuf.resv.assertHeld('LOCK-RESV', 'dma_buf_unmap_attachment');
  // The importer hands back a table it no longer owns (unmapped already, by itself or in its
  // move_notify): its stale mapping is used here, first; the exporter is not called with it.
  if (sgt.freed) {
    k.report('UAF-MAPPING', `the importer of ${objName(attach)} unmaps an sg_table of ${a.dmabuf.name} already unmapped and freed in ${sgt.freeSite}`, { dmabuf: a.dmabuf.name, allocSite: sgt.allocSite, freeSite: sgt.freeSite });
    return;
  }
  a.maps = Math.max(0, (a.maps ?? 0) - 1);
  a.dmabuf.ops.unmap_dma_buf(a, sgt, dir);
}

/** dma_buf_move_notify(): every attachment's importer is told, resv held. */
export function dma_buf_move_notify(k: Kernel, dmabuf: DmaBuf): void {
  dmabuf.resv.assertHeld('LOCK-RESV', 'dma_buf_move_notify');
  dmabuf.file.touch('dma_buf_move_notify', 'notifies the importers');
  for (const attach of dmabuf.attachments) {
    const a = k.heap.use(attach, 'dma_buf_move_notify');
    a.importer_ops.move_notify?.(a);
  }
}
