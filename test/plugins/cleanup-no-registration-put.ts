// A user's one-line bug in the close path: vfio_pci_dma_buf_cleanup() lets each
// dma-buf go without vfio_device_put_registration(), so the reference the
// create took leaks (the release does not put it either: the cleanup cleared
// priv->vdev). Expected: UAF-REF at unregister (an unbind after the close).
import { V8_PORT, vfio_pci_dma_buf_cleanup, vfioExporter } from 'dmabuf-conform';

export default vfioExporter('user-cleanup-no-registration-put', 'vfio_pci_dma_buf_cleanup() without the registration put', {
  port: { ...V8_PORT, cleanup: (vdev) => vfio_pci_dma_buf_cleanup(vdev, () => undefined) }, // BUG: no vfio_device_put_registration()
});
