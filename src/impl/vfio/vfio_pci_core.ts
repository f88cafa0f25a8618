// The call sites of vfio_pci_dma_buf_move()/cleanup() in 002 v8 10/11
// (vfio_pci_config.c: memory enable/disable, PCIe and AF FLR, power state;
// vfio_pci_core.c: reset ioctl, hot reset with its undo path, runtime PM
// entry/exit, close_device), as one probed exporter device of the plugin API.
import type { Result } from '../../../models/errno.ts';
import type { DeviceEvent } from '../../../models/lifecycle.ts';
import type { DmaBufRequest, PhysVec } from '../../../models/pal.ts';
import type { P2PProvider } from '../../../models/pci/types.ts';
import type { Kernel } from '../../kernel/kernel.ts';
import { objName, type KObj } from '../../kernel/objects.ts';
import { PciRegions } from '../../kernel/pci.ts';
import type { DmaBuf, DmaBufAttachment } from '../dma-buf-core.ts';
import type { DeviceConfig, ExporterDevice } from '../../harness/plugin.ts';
import { iommufdDomain } from '../iommufd.ts';
import {
  VfioPciDmabufOps, __vfio_pci_memory_enabled, vfio_pci_core_feature_dma_buf, vfio_pci_dma_buf_cleanup,
  vfio_pci_dma_buf_iommufd_map, vfio_pci_dma_buf_move, type VfioPciCoreDevice, type VfioPciDmaBuf,
} from './vfio_pci_dmabuf.ts';

/** The vfio_pci_dmabuf.c functions a device calls; a seeded bug replaces one. */
export interface VfioDmabufPort {
  readonly feature_dma_buf: typeof vfio_pci_core_feature_dma_buf;
  readonly move: typeof vfio_pci_dma_buf_move;
  readonly cleanup: typeof vfio_pci_dma_buf_cleanup;
  /** The private interconnect (003); a file without it (002 alone) offers iommufd nothing. */
  readonly iommufd_map?: typeof vfio_pci_dma_buf_iommufd_map;
  readonly makeOps: (k: Kernel, cfg: DeviceConfig) => VfioPciDmabufOps;
  /** vfio_pci_core_close_device(): vfio_pci_core_disable() before vfio_pci_dma_buf_cleanup() (002 v8 10/11, and
   *  torvalds/linux until d97708701434), or the cleanup first ("vfio/pci: Clean up DMABUFs before disabling
   *  function", d97708701434; models/profiles.ts closeCleansUpFirst). */
  readonly closeOrder: 'disable-first' | 'cleanup-first';
}

export const V8_PORT: VfioDmabufPort = {
  feature_dma_buf: vfio_pci_core_feature_dma_buf,
  move: vfio_pci_dma_buf_move,
  cleanup: vfio_pci_dma_buf_cleanup,
  iommufd_map: vfio_pci_dma_buf_iommufd_map,
  makeOps: (k, cfg) => new VfioPciDmabufOps(k, cfg.routeTo),
  closeOrder: 'disable-first',
};

export class VfioPciCore implements ExporterDevice {
  readonly vdev: VfioPciCoreDevice;
  readonly ops: VfioPciDmabufOps;
  open = true;
  bound = true;
  /** vfio_pci_dma_buf_iommufd_map() (003), when the port has it. */
  readonly iommufdMap?: (attach: DmaBufAttachment) => Result<PhysVec>;

  constructor(readonly k: Kernel, readonly cfg: DeviceConfig, readonly port: VfioDmabufPort = V8_PORT) {
    this.ops = port.makeOps(k, cfg);
    // The prototype's method, not a closure made per device: a closure here made every lifecycle run's
    // objects outlive young-generation collections (3x the GC time, 60 % more per step).
    if (port.iommufd_map) this.iommufdMap = this.privateInterconnectMap;
    this.vdev = {
      name: cfg.name, k, memory_lock: k.newRwSem(`${cfg.name}.memory_lock`), dmabufs: [], registration: k.newRegistration(cfg.name),
      providers: this.pcim_p2pdma_init(), view: { hasGetDmabufPhys: true, bars: cfg.bars, pageSize: cfg.pageSize, ...(cfg.nvgrace ? { nvgrace: cfg.nvgrace } : {}) },
      cmdMemory: true, power: 'D0', pm_runtime_engaged: false, regions: new PciRegions(cfg.bars, cfg.busy ?? []), barmap: [],
    };
  }

  get name(): string {
    return this.cfg.name;
  }

  /** pcim_p2pdma_init(): device-managed providers, one per MEM BAR with a CPU address; none when the
   *  init failed -EOPNOTSUPP (cfg.p2pdma false), which vfio_pci_core_init_dev() tolerates (002 v8 09/11). */
  private pcim_p2pdma_init(): (KObj<P2PProvider> | null)[] {
    const out: (KObj<P2PProvider> | null)[] = [];
    for (let bar = 0; bar < 6; bar++) {
      const b = this.cfg.p2pdma === false ? undefined : this.cfg.bars.find((x) => x.index === bar);
      out.push(b?.type === 'mem' && b.mappable !== false ? this.k.heap.alloc('provider', 'pcim_p2pdma_init', { owner: this.cfg.name, bar, busOffset: b.busOffset }) : null);
    }
    return out;
  }

  async create(req: DmaBufRequest): Promise<Result<DmaBuf>> {
    if (!this.open) return { ok: false, errno: '-EBADF' };
    return this.port.feature_dma_buf(this.vdev, this.ops, req);
  }

  /** vfio_pci_dma_buf_iommufd_map() of the port: the device's iommufdMap when the port has one. */
  private privateInterconnectMap(attach: DmaBufAttachment): Result<PhysVec> {
    return this.port.iommufd_map!(this.k, this.ops, attach);
  }

  isRevoked(dmabuf: DmaBuf): boolean {
    return (dmabuf.priv as KObj<VfioPciDmaBuf>).value.revoked;
  }

  /** vfio_pci_zap_and_down_write_memory_lock(). */
  private zapAndDownWrite(site: string): Promise<void> {
    return this.vdev.memory_lock.downWrite(site);
  }

  /** The tail every call site shares: unrevoke if memory is enabled, then up_write. */
  async restore(site: string): Promise<void> {
    if (__vfio_pci_memory_enabled(this.vdev)) await this.port.move(this.vdev, false);
    this.vdev.memory_lock.upWrite(site);
  }

  /** One device's share of vfio_pci_dev_set_hot_reset()'s err_undo (`ret` is the reset's result). */
  async hotResetUndo(site: string, _ret: string): Promise<void> {
    await this.restore(site);
  }

  /** A call site that revokes, changes the device (`effect`: what stops answering at its BARs), and restores. */
  private async zapped(site: string, effect: string, change: () => void): Promise<void> {
    await this.zapAndDownWrite(site);
    await this.port.move(this.vdev, true);
    this.mmioGone(effect, site);
    change();
    await this.restore(site);
  }

  /** Who can still reach this device's MMIO through its dma-bufs: attachments holding a table from
   *  dma_buf_map_attachment(), and iommufd's IOMMU mappings of one of its BARs; each as the evidence lists it
   *  (`an importer of vdev0.dmabuf7 (dma-client)`) and as the message names it (the attachment itself,
   *  `attachment#15 (dma-client) of vdev0.dmabuf7`, which a lifecycle case's message calls att1 of buf0). */
  mmioUsers(): { evidence: string[]; named: string[] } {
    const evidence: string[] = [];
    const named: string[] = [];
    for (const privObj of this.vdev.dmabufs) {
      if (privObj.freed) continue;
      const dmabuf = privObj.value.dmabuf;
      for (const a of dmabuf?.attachments ?? []) {
        if (a.freed || !a.value.maps) continue;
        const dev = a.value.dev ? ` (${a.value.dev})` : '';
        evidence.push(`an importer of ${dmabuf!.name}${dev}`);
        named.push(`${objName(a)}${dev} of ${dmabuf!.name}`);
      }
    }
    // By BAR, not by iommufd's area name: area names count across the process, a report must not.
    for (const m of iommufdDomain(this.k).mappings) {
      const bar = this.cfg.bars.find((b) => b.type === 'mem' && m.paddr >= b.start && m.paddr < b.start + b.size);
      if (!bar) continue;
      evidence.push(`an iommufd IOMMU mapping of BAR ${bar.index}`);
      named.push(`an iommufd IOMMU mapping of BAR ${bar.index}`);
    }
    return { evidence, named };
  }

  /** The device stops answering at its BARs (memory decode off, regions released, a reset, D3): an importer that
   *  still maps them is inside the revoke window (REV-WINDOW; 002 v8 10/11 revokes before every such change, and
   *  d97708701434: "a tiny window exists in which the function's MSE is cleared and yet BARs could still be
   *  accessed via the DMABUF"). */
  mmioGone(effect: string, site: string): void {
    const { evidence: users, named } = this.mmioUsers();
    if (users.length) this.k.report('REV-WINDOW', `${this.name}: ${effect} in ${site} while ${named.join(', ')} still map${users.length === 1 ? 's' : ''} its MMIO`, { kind: 'mmio-gone', device: this.name, effect, site, users });
  }

  async event(e: DeviceEvent): Promise<string> {
    if (e === 'open') return this.openDevice();
    if (e === 'unbind') return this.unbind();
    if (!this.open) return '-EBADF';
    const v = this.vdev;
    switch (e) {
      case 'mem-off': // vfio_basic_config_write(), PCI_COMMAND_MEMORY cleared
        await this.zapped('vfio_basic_config_write', 'memory decode off', () => (v.cmdMemory = false));
        return 'ok';
      case 'mem-on':
        await v.memory_lock.downWrite('vfio_basic_config_write');
        v.cmdMemory = true;
        await this.restore('vfio_basic_config_write');
        return 'ok';
      case 'flr': // vfio_exp_config_write(), PCI_EXP_DEVCTL_BCR_FLR
        await this.zapped('vfio_exp_config_write', 'function reset (FLR)', () => undefined);
        return 'ok';
      case 'af-flr': // vfio_af_config_write()
        await this.zapped('vfio_af_config_write', 'function reset (AF FLR)', () => undefined);
        return 'ok';
      case 'reset': // vfio_pci_ioctl_reset(): D0, then the reset
        await this.zapAndDownWrite('vfio_pci_ioctl_reset');
        v.power = 'D0';
        await this.port.move(v, true);
        this.mmioGone('function reset', 'vfio_pci_ioctl_reset');
        await this.restore('vfio_pci_ioctl_reset');
        return 'ok';
      case 'd3-enter': // vfio_lock_and_set_power_state(D3hot)
        await this.zapped('vfio_lock_and_set_power_state', 'D3hot', () => (v.power = 'D3hot'));
        return 'ok';
      case 'd3-exit':
        await v.memory_lock.downWrite('vfio_lock_and_set_power_state');
        v.power = 'D0';
        await this.restore('vfio_lock_and_set_power_state');
        return 'ok';
      case 'pm-entry':
        return this.runtimePmEntry();
      case 'pm-exit':
        return this.runtimePmExit();
      case 'close':
        return this.closeDevice();
    }
  }

  /** vfio_pci_runtime_pm_entry(). */
  protected async runtimePmEntry(): Promise<string> {
    const site = 'vfio_pci_runtime_pm_entry';
    await this.zapAndDownWrite(site);
    await this.port.move(this.vdev, true);
    if (this.vdev.pm_runtime_engaged) {
      this.vdev.memory_lock.upWrite(site);
      return '-EINVAL';
    }
    this.vdev.pm_runtime_engaged = true;
    this.mmioGone('D3hot (runtime PM)', site);
    this.vdev.power = 'D3hot';
    this.vdev.memory_lock.upWrite(site);
    return 'ok';
  }

  /** vfio_pci_runtime_pm_exit(): power back up and, with memory enabled, unrevoke. */
  protected async runtimePmExit(): Promise<string> {
    const site = 'vfio_pci_runtime_pm_exit';
    await this.vdev.memory_lock.downWrite(site);
    if (this.vdev.pm_runtime_engaged) {
      this.vdev.pm_runtime_engaged = false;
      this.vdev.power = 'D0';
    }
    await this.restore(site);
    return 'ok';
  }

  /** vfio_pci_core_close_device(): vfio_pci_core_disable() and vfio_pci_dma_buf_cleanup() in the port's order
   *  (VfioDmabufPort.closeOrder). Before issue 13 this port only cleared the memory flag and cleaned up, so
   *  the disable-first window of the seed's order was invisible (a port bug, fixed here). */
  protected async closeDevice(): Promise<string> {
    if (this.port.closeOrder === 'cleanup-first') {
      await this.port.cleanup(this.vdev);
      this.vfio_pci_core_disable();
    } else {
      this.vfio_pci_core_disable();
      await this.port.cleanup(this.vdev);
    }
    this.open = false;
    return 'ok';
  }

  /** vfio_pci_core_disable() (drivers/vfio/pci/vfio_pci_core.c; read at torvalds/linux c61302aa48f7, the order
   *  of its steps is the same in the trees with dma-buf export): what it does to the MMIO, in its order:
   *  pci_iounmap() and pci_release_selected_regions() of every mapped BAR, then PCI_COMMAND written to
   *  PCI_COMMAND_INTX_DISABLE (memory decode off), then the function reset (__pci_reset_function_locked);
   *  pci_restore_state() and pci_disable_device() follow. An importer still mapping the BARs at the first
   *  of these is REV-WINDOW, once. */
  protected vfio_pci_core_disable(): void {
    const site = 'vfio_pci_core_disable';
    this.mmioGone('BAR regions released, memory decode off and the function reset', site);
    // for each BAR: if (!vdev->barmap[bar]) continue; pci_iounmap(); pci_release_selected_regions(pdev, 1 << bar); vdev->barmap[bar] = NULL;
    const { regions, barmap } = this.vdev;
    barmap?.forEach((io, bar) => {
      if (!io) return;
      regions?.release(bar);
      barmap[bar] = null;
    });
    this.vdev.cmdMemory = false;
  }

  private openDevice(): string {
    if (!this.bound) return '-ENODEV';
    if (this.open) return '-EBUSY';
    Object.assign(this.vdev, { cmdMemory: true, power: 'D0', pm_runtime_engaged: false });
    this.open = true;
    return 'ok';
  }

  /** Driver unbind: vfio_unregister_group_dev() drops the registration; devres frees the providers. */
  private unbind(): string {
    if (!this.bound) return '-ENODEV';
    if (this.open) return '-EBUSY';
    this.vdev.registration.unregistering = true;
    this.vdev.registration.put('vfio_unregister_group_dev');
    if (this.vdev.registration.count !== 0) this.k.report('UAF-REF', `${this.name}: ${this.vdev.registration.count} registration reference(s) still held at unregister`, { device: this.name, count: this.vdev.registration.count });
    for (const p of this.vdev.providers) if (p) this.k.heap.free(p, 'devres_release_all');
    this.bound = false;
    return 'ok';
  }
}

/** vfio_pci_dev_set_hot_reset(): revoke every device of the set, reset, then undo in reverse. */
export async function vfioPciDevSetHotReset(devices: readonly VfioPciCore[]): Promise<string> {
  const site = 'vfio_pci_dev_set_hot_reset';
  if (devices.some((d) => !d.open)) return '-EINVAL';
  const locked: VfioPciCore[] = [];
  let ret = 'ok';
  for (const d of devices) {
    if (!d.vdev.memory_lock.tryDownWrite(site)) {
      ret = '-EBUSY';
      break;
    }
    locked.push(d);
    await d.port.move(d.vdev, true);
  }
  // The bus reset happens only when every device of the set was locked and revoked.
  if (ret === 'ok') for (const d of locked) d.mmioGone('bus reset', site);
  // err_undo:
  for (const d of [...locked].reverse()) await d.hotResetUndo(site, ret);
  return ret;
}
