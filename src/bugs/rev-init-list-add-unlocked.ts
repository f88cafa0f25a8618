// Seeded bug in the create's registration on the device list (002 v8 10/11 vfio_pci_core_feature_dma_buf():
// under down_write(&vdev->memory_lock), `priv->revoked = !__vfio_pci_memory_enabled(vdev);` and
// `list_add_tail(&priv->dmabufs_elm, &vdev->dmabufs);`, then up_write()). Only a race reaches it: serially
// nothing runs between the two, and the dma-buf starts as memory says.
import { vfioExporter } from '../harness/bundled.ts';
import { dma_buf_export, dma_buf_fd, dma_buf_put } from '../impl/dma-buf-core.ts';
import { vfioDmaBufPhysFromRequest } from '../impl/vfio/dmabuf_phys.ts';
import { V8_PORT, type VfioDmabufPort } from '../impl/vfio/vfio_pci_core.ts';
import { __vfio_pci_memory_enabled, createPriv, freeCreateAllocs } from '../impl/vfio/vfio_pci_dmabuf.ts';

const SITE = 'vfio_pci_core_feature_dma_buf';

/** The v8 create that decides revoked-at-birth under memory_lock but puts the dma-buf on vdev->dmabufs after
 *  up_write(): a memory disable, D3 entry or runtime PM entry that takes the lock in between walks a list without it,
 *  so the dma-buf stays unrevoked on a device whose memory is off (and an enable in between leaves it revoked). */
const listAddUnlocked: VfioDmabufPort['feature_dma_buf'] = async (vdev, ops, req, phys = vfioDmaBufPhysFromRequest) => {
  const { k } = vdev;
  const created = createPriv(vdev, req, phys, SITE);
  if (!created.ok) return created;
  const privObj = created.value;
  const priv = privObj.value;
  if (!vdev.registration.tryGet()) {
    freeCreateAllocs(k, { privObj, phys_vec: priv.phys_vec }, SITE);
    return { ok: false, errno: '-ENODEV' };
  }
  const dmabuf = dma_buf_export(k, `${vdev.name}.dmabuf${privObj.id}`, ops, priv.size, privObj);
  if (!dmabuf) {
    vdev.registration.put(SITE);
    freeCreateAllocs(k, { privObj, phys_vec: priv.phys_vec }, SITE);
    return { ok: false, errno: '-ENOMEM' };
  }
  priv.dmabuf = dmabuf;
  await vdev.memory_lock.downWrite(SITE);
  await dmabuf.resv.lock(SITE);
  priv.revoked = !__vfio_pci_memory_enabled(vdev);
  dmabuf.resv.unlock(SITE);
  vdev.memory_lock.upWrite(SITE);
  await vdev.memory_lock.downRead(SITE); // BUG: the list_add_tail() under a new hold, after the state was decided
  vdev.dmabufs.push(privObj);
  vdev.memory_lock.upRead(SITE);
  if (dma_buf_fd(k, dmabuf, req.openFlags) < 0) {
    await dma_buf_put(dmabuf, SITE);
    return { ok: false, errno: '-EMFILE' };
  }
  return { ok: true, value: dmabuf };
};

export const revInitListAddUnlocked = vfioExporter('bug:rev-init-list-add-unlocked', 'the create decides revoked-at-birth under memory_lock, then drops it before putting the dma-buf on the device list', { port: { ...V8_PORT, feature_dma_buf: listAddUnlocked }, bugOf: 'REV-INIT' });
