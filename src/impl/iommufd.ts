// The iommufd dma-buf importer over the private interconnect of 003
// (drivers/iommu/iommufd/pages.c in torvalds/linux): it cannot fault, so a
// move_notify means revoke: it unmaps the MMIO from the IOMMU domain and the
// pages stay revoked. Mappings carry IOMMU_MMIO.
import type { Kernel } from '../kernel/kernel.ts';
import { objName, type KObj } from '../kernel/objects.ts';
import { IOMMU_MMIO, IOMMU_READ, IOMMU_WRITE, IommuDomain, type IommuMapping } from '../kernel/iommu.ts';
import type { ExporterDevice, ImporterAttachment, ImporterPlugin } from '../harness/plugin.ts';
import type { RuleId } from '../rules/registry.ts';
import { dma_buf_detach, dma_buf_dynamic_attach, dma_buf_pin, dma_buf_put, dma_buf_unpin, type DmaBuf, type DmaBufAttachment } from './dma-buf-core.ts';

/** The one IOMMU domain iommufd maps into on a simulated kernel (the kernel keeps it: a WeakMap
 *  entry per kernel is an ephemeron every garbage collection walks, and every run has a kernel). */
export function iommufdDomain(k: Kernel): IommuDomain {
  return (k.iommufdDomain ??= new IommuDomain());
}

let nextArea = 1;

export class IommufdAttachment implements ImporterAttachment {
  attach!: KObj<DmaBufAttachment>;
  mapping: IommuMapping | null = null;
  /** iopt_map_dmabuf() got the range from the exporter: pages->dmabuf.phys is filled. */
  filled = false;
  /** iopt_revoke_notify() ran (pages->dmabuf.phys.len = 0): filled pages are never mapped again in v8. */
  revoked = false;
  readonly area = `area${nextArea++}`;

  constructor(readonly k: Kernel, readonly dmabuf: DmaBuf, readonly exporter: ExporterDevice) {}

  /** iopt_revoke_notify-style handler: resv is held by the exporter. */
  move_notify(_a: DmaBufAttachment): void {
    if (!this.exporter.isRevoked(this.dmabuf)) {
      this.k.report('REV-IMPORTER', `iommufd got move_notify for ${objName(this.attach)} of ${this.dmabuf.name} while it is not revoked: a move, which an importer that cannot fault must never see`, { dmabuf: this.dmabuf.name, afterRevoke: this.revoked });
    }
    this.unmapDomain();
    this.revoked = true;
  }

  protected unmapDomain(): void {
    if (!this.mapping) return;
    iommufdDomain(this.k).iommu_unmap(this.mapping.iova, this.mapping.size);
    this.mapping = null;
  }

  async map(): Promise<string> {
    const site = 'iopt_map_dmabuf';
    await this.dmabuf.resv.lock(site);
    const ret = this.mapLocked();
    this.dmabuf.resv.unlock(site);
    return ret;
  }

  protected mapLocked(): string {
    if (this.mapping) return '-EBUSY';
    // Before the first fill a revoke zeroed nothing: the exporter answers (vfio_pci_dma_buf_iommufd_map refuses a revoked dma-buf).
    if (this.filled && this.revoked) return '-ENODEV';
    const phys = this.exporter.iommufdMap ? this.exporter.iommufdMap(this.k.heap.use(this.attach, 'iopt_map_dmabuf')) : { ok: false as const, errno: '-EOPNOTSUPP' as const };
    if (!phys.ok) return phys.errno;
    this.filled = true;
    this.revoked = false;
    const iova = iommufdDomain(this.k).iommu_map(phys.value.paddr, phys.value.len, IOMMU_READ | IOMMU_WRITE | IOMMU_MMIO, this.area);
    this.mapping = { iova, paddr: phys.value.paddr, size: phys.value.len, prot: IOMMU_READ | IOMMU_WRITE | IOMMU_MMIO, owner: this.area };
    return 'ok';
  }

  async unmap(): Promise<string> {
    const site = 'iopt_unmap_dmabuf';
    await this.dmabuf.resv.lock(site);
    const had = this.mapping !== null;
    this.unmapDomain();
    this.dmabuf.resv.unlock(site);
    return had ? 'ok' : '-EINVAL';
  }

  /** Mainline (a42ec590c0b0 "iommufd: Add dma_buf_pin()"): pinned after attach, unpinned before detach. */
  pinned = false;

  /** The unpin before detach, under resv (a seeded bug leaves it out). */
  protected async unpinForDetach(): Promise<void> {
    if (!this.pinned) return;
    await this.dmabuf.resv.lock('iopt_release_dmabuf');
    dma_buf_unpin(this.k, this.attach);
    this.pinned = false;
    this.dmabuf.resv.unlock('iopt_release_dmabuf');
  }

  async detach(): Promise<void> {
    if (this.mapping) await this.unmap();
    await this.unpinForDetach();
    await dma_buf_detach(this.k, this.attach);
    await dma_buf_put(this.dmabuf, 'iommufd_detach');
  }

  access(): string {
    return this.mapping ? 'ok' : '-ENODEV';
  }

  mapped(): boolean {
    return this.mapping !== null;
  }
}

/** Builds the iommufd importer plugin around an attachment class (seeded bugs subclass it). */
export function iommufdPlugin(name: string, make: (k: Kernel, d: DmaBuf, e: ExporterDevice) => IommufdAttachment, bugOf?: RuleId, pins = false): ImporterPlugin & { readonly bugOf?: RuleId } {
  return {
    kind: 'importer', name, importer: 'iommufd', profiles: [pins ? 'mainline' : 'v8'], ...(bugOf ? { bugOf } : {}),
    description: pins ? 'iommufd as merged: private interconnect, pins its attachment (dma_buf_pin), IOMMU_MMIO mappings, revoke = unmap for good' : 'iommufd: private interconnect, IOMMU_MMIO mappings, revoke = unmap for good',
    async attach(k, dmabuf, exporter) {
      const imp = make(k, dmabuf, exporter);
      dmabuf.file.get('dma_buf_get');
      // iommufd has no DMA-able struct device: dev is NULL (003).
      const r = await dma_buf_dynamic_attach(k, dmabuf, null, { allow_peer2peer: true, move_notify(a) { imp.move_notify(a); } });
      if (!r.ok) {
        await dma_buf_put(dmabuf, 'dma_buf_get');
        return r;
      }
      imp.attach = r.attach;
      if (pins) {
        // iopt_map_dmabuf-time pin of mainline: under resv, right after attach; a refused pin detaches again.
        await dmabuf.resv.lock('iommufd_dmabuf_pin');
        const ret = dma_buf_pin(k, r.attach);
        dmabuf.resv.unlock('iommufd_dmabuf_pin');
        if (ret) {
          await dma_buf_detach(k, r.attach);
          await dma_buf_put(dmabuf, 'dma_buf_get');
          return { ok: false, errno: ret === -95 ? '-EOPNOTSUPP' : '-EINVAL' };
        }
        imp.pinned = true;
      }
      return { ok: true, value: imp };
    },
  };
}

/** iommufd as merged (drivers/iommu/iommufd/pages.c with a42ec590c0b0): it pins the attachment. */
export const iommufdMainline = iommufdPlugin('iommufd:mainline', (k, d, e) => new IommufdAttachment(k, d, e), undefined, true);

export const iommufdImporter = iommufdPlugin('iommufd', (k, d, e) => new IommufdAttachment(k, d, e));
