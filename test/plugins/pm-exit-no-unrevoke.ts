// A user's one-line bug: vfio_pci_runtime_pm_exit() powers the device up but
// drops memory_lock without vfio_pci_dma_buf_move(vdev, false): the dma-bufs
// stay revoked while memory is enabled. Smallest: create(dev0); pm-entry(dev0); pm-exit(dev0).
import { VfioPciCore, vfioExporter } from 'dmabuf-conform';

class PmExitNoUnrevoke extends VfioPciCore {
  protected override async runtimePmExit(): Promise<string> {
    const site = 'vfio_pci_runtime_pm_exit';
    await this.vdev.memory_lock.downWrite(site);
    if (this.vdev.pm_runtime_engaged) {
      this.vdev.pm_runtime_engaged = false;
      this.vdev.power = 'D0';
    }
    this.vdev.memory_lock.upWrite(site); // BUG: this.restore(site) unrevokes first
    return 'ok';
  }
}

export default vfioExporter('user-pm-exit-no-unrevoke', 'runtime PM exit forgets to unrevoke', { device: PmExitNoUnrevoke });
