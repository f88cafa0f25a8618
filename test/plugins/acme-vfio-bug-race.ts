// acme-vfio whose create decides "revoked at birth" before taking memory_lock (a check-then-act race):
// a mem-off between the check and the list_add leaves a live dma-buf on a device with memory off.
import {
  V8_PORT, vfioExporter, createPriv, vfioDmaBufPhysFromRequest, dma_buf_export, dma_buf_fd, dma_buf_put,
  __vfio_pci_memory_enabled, type VfioDmabufPort,
} from 'dmabuf-conform';

const SITE = 'acme_feature_dma_buf';
const feature_dma_buf: VfioDmabufPort['feature_dma_buf'] = async (vdev, ops, req, phys = vfioDmaBufPhysFromRequest) => {
  const { k } = vdev;
  const created = createPriv(vdev, req, phys, SITE);
  if (!created.ok) return created;
  const privObj = created.value;
  const priv = privObj.value;
  if (!vdev.registration.tryGet()) {
    k.heap.free(priv.phys_vec, SITE); k.heap.free(privObj, SITE);
    return { ok: false, errno: '-ENODEV' };
  }
  const dmabuf = dma_buf_export(k, `${vdev.name}.dmabuf${privObj.id}`, ops, priv.size, privObj);
  if (!dmabuf) {
    vdev.registration.put(SITE); k.heap.free(priv.phys_vec, SITE); k.heap.free(privObj, SITE);
    return { ok: false, errno: '-ENOMEM' };
  }
  priv.dmabuf = dmabuf;
  const revoked = !__vfio_pci_memory_enabled(vdev); // BUG: read before memory_lock is taken
  await vdev.memory_lock.downWrite(SITE);
  await dmabuf.resv.lock(SITE);
  priv.revoked = revoked;
  vdev.dmabufs.push(privObj);
  dmabuf.resv.unlock(SITE);
  vdev.memory_lock.upWrite(SITE);
  if (dma_buf_fd(k, dmabuf, req.openFlags) < 0) {
    await dma_buf_put(dmabuf, SITE);
    return { ok: false, errno: '-EMFILE' };
  }
  return { ok: true, value: dmabuf };
};

export default vfioExporter('acme-vfio-race', 'create reads memory-enabled before memory_lock', { port: { ...V8_PORT, feature_dma_buf } });
