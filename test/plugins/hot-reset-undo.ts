// A user's one-line bug in vfio_pci_dev_set_hot_reset()'s err_undo: a hot
// reset that lost memory_lock to a second, overlapping hot reset (-EBUSY)
// unlocks the devices it already revoked without unrevoking them. Only a
// race reaches it. Expected: a REV rule from the race's outcome.
import { VfioPciCore, vfioExporter } from 'dmabuf-conform';

class HotResetUndoKeepsRevoked extends VfioPciCore {
  override async hotResetUndo(site: string, ret: string): Promise<void> {
    if (ret === 'ok') return super.hotResetUndo(site, ret);
    this.vdev.memory_lock.upWrite(site); // BUG: vfio_pci_dma_buf_move(vdev, false) skipped
  }
}

export default vfioExporter('user-hot-reset-undo', 'hot reset -EBUSY undo keeps the dma-bufs revoked', { device: HotResetUndoKeepsRevoked });
