// Seeded bug in the err_undo path of vfio_pci_dev_set_hot_reset()
// (vfio_pci_core.c; 002 v8 10/11 adds the vfio_pci_dma_buf_move() calls
// around the reset: revoke every device of the set, unrevoke in err_undo).
import { VfioPciCore } from '../impl/vfio/vfio_pci_core.ts';

/** A hot reset that lost a memory_lock trylock to an overlapping hot reset
 *  (-EBUSY) unlocks the devices it had already revoked without unrevoking
 *  them: their dma-bufs stay revoked while memory is enabled. Only a race
 *  reaches it: serially the trylock always succeeds. */
export class HotResetUndoKeepsRevoked extends VfioPciCore {
  override async hotResetUndo(site: string, ret: string): Promise<void> {
    if (ret === 'ok') return super.hotResetUndo(site, ret);
    this.vdev.memory_lock.upWrite(site); // BUG: vfio_pci_dma_buf_move(vdev, false) skipped on the error path
  }
}
