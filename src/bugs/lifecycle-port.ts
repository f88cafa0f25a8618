// Seeded bugs in vfio_pci_dmabuf.c (002 v8 10/11): each is the function
// with one change, marked BUG, plugged into the VFIO device as its port.
import { dma_buf_move_notify, type DmaBuf, type DmaBufAttachment } from '../impl/dma-buf-core.ts';
import { V8_PORT, type VfioDmabufPort } from '../impl/vfio/vfio_pci_core.ts';
import { VfioPciDmabufOps, list_del, type VfioPciDmaBuf } from '../impl/vfio/vfio_pci_dmabuf.ts';
import type { KObj } from '../kernel/objects.ts';
import type { DmaDir } from '../kernel/dma.ts';
import { dma_buf_map } from '../impl/dma-buf-mapping.ts';

/** vfio_pci_dma_buf_move() with the listed changes. */
function move(bug: { noResv?: boolean; noTransitionCheck?: boolean; doublePut?: boolean; moveNotRevoke?: boolean }): VfioDmabufPort['move'] {
  return async (vdev, revoked) => {
    const site = 'vfio_pci_dma_buf_move';
    const { k } = vdev;
    vdev.memory_lock.assertHeldWrite('LOCK-MEMLOCK', site);
    for (const privObj of [...vdev.dmabufs]) {
      const priv = k.heap.use(privObj, site);
      const dmabuf = priv.dmabuf!;
      if (!dmabuf.file.getFileActive()) continue;
      if (bug.noTransitionCheck || priv.revoked !== revoked) { // BUG (noTransitionCheck): notify without a transition
        if (!bug.noResv) await dmabuf.resv.lock(site); // BUG (noResv): move_notify without the reservation lock
        if (!bug.moveNotRevoke) priv.revoked = revoked; // BUG (moveNotRevoke): the importers are told the buffer moved, not that it is gone
        dma_buf_move_notify(k, dmabuf);
        if (!bug.noResv) dmabuf.resv.unlock(site);
      }
      await dmabuf.file.fput(site);
      if (bug.doublePut) await dmabuf.file.fput(site); // BUG (doublePut): dma_buf_put() and fput() both
    }
  };
}

/** vfio_pci_dma_buf_cleanup() with the listed changes. */
function cleanup(bug: { keepOnList?: boolean; keepVdev?: boolean; ignoreDying?: boolean }): VfioDmabufPort['cleanup'] {
  return async (vdev) => {
    const site = 'vfio_pci_dma_buf_cleanup';
    const { k } = vdev;
    await vdev.memory_lock.downWrite(site);
    for (const privObj of [...vdev.dmabufs]) {
      const priv = k.heap.use(privObj, site);
      const dmabuf = priv.dmabuf!;
      if (bug.ignoreDying) dmabuf.file.get(site); // BUG: get_file() instead of get_file_active(), dying files not skipped
      else if (!dmabuf.file.getFileActive()) continue;
      await dmabuf.resv.lock(site);
      if (!bug.keepOnList) list_del(vdev, privObj); // BUG (keepOnList): stays on vdev->dmabufs
      if (!bug.keepVdev) priv.vdev = null; // BUG (keepVdev): release puts the registration again
      priv.revoked = true;
      dma_buf_move_notify(k, dmabuf);
      dmabuf.resv.unlock(site);
      vdev.registration.put(site);
      await dmabuf.file.fput(site);
    }
    vdev.memory_lock.upWrite(site);
  };
}

export const moveNotifyNoResv: VfioDmabufPort = { ...V8_PORT, move: move({ noResv: true }) };
export const notifyNoopTransition: VfioDmabufPort = { ...V8_PORT, move: move({ noTransitionCheck: true }) };
export const moveDoublePut: VfioDmabufPort = { ...V8_PORT, move: move({ doublePut: true }) };
export const moveNotRevoke: VfioDmabufPort = { ...V8_PORT, move: move({ moveNotRevoke: true }) };
export const cleanupKeepsOnList: VfioDmabufPort = { ...V8_PORT, cleanup: cleanup({ keepOnList: true, keepVdev: true }) };
export const cleanupKeepsVdev: VfioDmabufPort = { ...V8_PORT, cleanup: cleanup({ keepVdev: true }) };
export const cleanupIgnoresDying: VfioDmabufPort = { ...V8_PORT, cleanup: cleanup({ ignoreDying: true }) };

/** vfio_pci_core_feature_dma_buf() that never starts revoked. */
export const createNeverRevoked: VfioDmabufPort = {
  ...V8_PORT,
  feature_dma_buf: async (vdev, ops, req) => {
    const r = await V8_PORT.feature_dma_buf(vdev, ops, req);
    if (r.ok) (r.value.priv as KObj<VfioPciDmaBuf>).value.revoked = false; // BUG: priv->revoked = !__vfio_pci_memory_enabled() dropped
    return r;
  },
};

/** vfio_pci_dma_buf_iommufd_map() (003) with the listed changes. */
function iommufdMap(bug: { anyRanges?: boolean; ignoreRevoked?: boolean }): VfioDmabufPort['iommufd_map'] {
  return (k, ops, attachment) => {
    const site = 'vfio_pci_dma_buf_iommufd_map';
    attachment.dmabuf.resv.assertHeld('LOCK-RESV', site);
    if (attachment.dmabuf.ops !== ops) return { ok: false, errno: '-EOPNOTSUPP' };
    const priv = ops.priv(attachment.dmabuf, site);
    if (!bug.ignoreRevoked && priv.revoked) return { ok: false, errno: '-ENODEV' }; // BUG (ignoreRevoked): iommufd's first map after a revoke gets the range
    if (!bug.anyRanges && priv.nr_ranges !== 1) return { ok: false, errno: '-EOPNOTSUPP' }; // BUG (anyRanges): nr_ranges != 1 not refused
    return { ok: true, value: k.heap.use(priv.phys_vec, site)[0]! };
  };
}

export const iommufdAnyRanges: VfioDmabufPort = { ...V8_PORT, iommufd_map: iommufdMap({ anyRanges: true }) };
export const iommufdMapIgnoresRevoked: VfioDmabufPort = { ...V8_PORT, iommufd_map: iommufdMap({ ignoreRevoked: true }) };

class MapIgnoresRevoked extends VfioPciDmabufOps {
  override map_dma_buf(attachment: DmaBufAttachment, dir: DmaDir) {
    const site = 'vfio_pci_dma_buf_map';
    const priv = this.priv(attachment.dmabuf, site);
    attachment.dmabuf.resv.assertHeld('LOCK-RESV', site);
    // BUG: no `if (priv->revoked) return ERR_PTR(-ENODEV);`
    const r = dma_buf_map(this.mappingKernel, { dev: attachment.dev, dmabuf: attachment.dmabuf }, this.k.heap.use(priv.provider, site), this.k.heap.use(priv.phys_vec, site), priv.size, dir);
    return r.ok ? { ok: true as const, sgt: r.dma as KObj<unknown> } : r;
  }
}

class ReleaseResvFirst extends VfioPciDmabufOps {
  override async release(dmabuf: DmaBuf): Promise<void> {
    const site = 'vfio_pci_dma_buf_release';
    await dmabuf.resv.lock(site); // BUG: resv taken before memory_lock
    const priv = this.priv(dmabuf, site);
    if (priv.vdev) {
      await priv.vdev.memory_lock.downWrite(site);
      list_del(priv.vdev, dmabuf.priv as KObj<VfioPciDmaBuf>);
      priv.vdev.memory_lock.upWrite(site);
      priv.vdev.registration.put(site);
    }
    dmabuf.resv.unlock(site);
    this.k.heap.free(priv.phys_vec, site);
    this.k.heap.free(dmabuf.priv, site);
  }
}

export const mapIgnoresRevoked: VfioDmabufPort = { ...V8_PORT, makeOps: (k, cfg) => new MapIgnoresRevoked(k, cfg.routeTo) };
export const releaseResvFirst: VfioDmabufPort = { ...V8_PORT, makeOps: (k, cfg) => new ReleaseResvFirst(k, cfg.routeTo) };
