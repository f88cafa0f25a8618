// Seeded bugs in the call sites of vfio_pci_dma_buf_move()/cleanup()
// (vfio_pci_config.c, vfio_pci_core.c; 002 v8 10/11).
import type { DeviceEvent } from '../../models/lifecycle.ts';
import { VfioPciCore } from '../impl/vfio/vfio_pci_core.ts';

/** Memory disabled with the BARs zapped but the dma-bufs not revoked. */
export class ZapWithoutRevoke extends VfioPciCore {
  override async event(e: DeviceEvent): Promise<string> {
    if (e !== 'mem-off' || !this.open) return super.event(e);
    await this.vdev.memory_lock.downWrite('vfio_basic_config_write');
    // BUG: vfio_pci_dma_buf_move(vdev, true) missing
    this.vdev.cmdMemory = false;
    await this.restore('vfio_basic_config_write');
    return 'ok';
  }
}

/** D3 exit that unrevokes without taking memory_lock. */
export class D3ExitNoMemoryLock extends VfioPciCore {
  override async event(e: DeviceEvent): Promise<string> {
    if (e !== 'd3-exit' || !this.open) return super.event(e);
    this.vdev.power = 'D0'; // BUG: no down_write(&vdev->memory_lock)
    if (this.vdev.cmdMemory) await this.port.move(this.vdev, false);
    return 'ok';
  }
}

/** Runtime PM entry whose -EINVAL path forgets up_write(). */
export class PmEntryLeaksLock extends VfioPciCore {
  protected override async runtimePmEntry(): Promise<string> {
    const site = 'vfio_pci_runtime_pm_entry';
    await this.vdev.memory_lock.downWrite(site);
    await this.port.move(this.vdev, true);
    if (this.vdev.pm_runtime_engaged) return '-EINVAL'; // BUG: returns with memory_lock held
    this.vdev.pm_runtime_engaged = true;
    this.vdev.power = 'D3hot';
    this.vdev.memory_lock.upWrite(site);
    return 'ok';
  }
}

/** close_device() without vfio_pci_dma_buf_cleanup(): dma-bufs outlive the providers. */
export class CloseWithoutCleanup extends VfioPciCore {
  protected override async closeDevice(): Promise<string> {
    this.vdev.cmdMemory = false; // BUG: no vfio_pci_dma_buf_cleanup(vdev)
    this.open = false;
    return 'ok';
  }
}

/** An AF FLR hook that dereferences a capability the device does not have: the hook throws (PLUGIN-THROW). */
export class AfFlrThrows extends VfioPciCore {
  override async event(e: DeviceEvent): Promise<string> {
    if (e !== 'af-flr' || !this.open) return super.event(e);
    const afCap = undefined as unknown as { ctrl: number }; // BUG: pci_find_capability(PCI_CAP_ID_AF) returned 0, not checked
    return afCap.ctrl === 0 ? 'ok' : '-EIO';
  }
}

/** A reset that waits for a completion nobody signals (wait_for_completion() without a time-out): the hook never returns (PLUGIN-TIMEOUT). */
export class ResetNeverCompletes extends VfioPciCore {
  override async event(e: DeviceEvent): Promise<string> {
    if (e !== 'reset' || !this.open) return super.event(e);
    await new Promise<void>(() => undefined); // BUG: complete() is never called
    return 'ok';
  }
}
