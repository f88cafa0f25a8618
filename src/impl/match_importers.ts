// The lifecycle's two importers attached through the mapping-type core, for
// the rfc and converter profiles: the DMA importer lists
// [DMA_BUF_IMAPPING_SGT(dev, p2p)] and maps through the exporter's SGT ops
// (rfc) or the core's PAL→SGT converter (converter); iommufd lists
// [DMA_BUF_IMAPPING_PAL()] and maps every range with IOMMU_MMIO (RFC 23-24/26),
// or lists the iommu_domain type and lets the core's PAL→iommu_domain
// converter map (004). Both unmap on move_notify; iommufd stays revoked.
import type { PhysVec } from '../../models/pal.ts';
import type { MapType } from '../../models/pci/types.ts';
import { routable } from '../../models/mapping.ts';
import { spec, type Profile } from '../../models/profiles.ts';
import type { DmaDir } from '../kernel/dma.ts';
import { IOMMU_MMIO, IOMMU_READ, IOMMU_WRITE } from '../kernel/iommu.ts';
import type { Kernel } from '../kernel/kernel.ts';
import { objName, type KObj } from '../kernel/objects.ts';
import type { ExporterDevice, ImporterAttachment, ImporterPlugin } from '../harness/plugin.ts';
import { P2pdma } from './p2pdma.ts';
import { DmaBufConverters, type DomainConversion, type SgtConversion } from './converters.ts';
import { dma_buf_put, type DmaBuf, type DmaBufAttachment } from './dma-buf-core.ts';
import { asMatchDmaBuf, dma_buf_pal_map_phys, dma_buf_pal_unmap_phys, DmaBufMatchCore, imappingPal, imappingSgt, NO_SGT, type DmaBufMappingMatch, type MatchAttachment, type MatchDmaBuf } from './dma-buf-match.ts';
import type { MappingKernel } from './dma-buf-mapping.ts';
import { iommufdDomain } from './iommufd.ts';
import type { VfioPciDmaBuf } from './vfio/vfio_pci_dmabuf.ts';

const DIR: DmaDir = 'DMA_BIDIRECTIONAL';
let nextArea = 1;

/** The services the PAL→SGT converter needs, with the route from the exporting device to the importer's. */
function mappingKernel(k: Kernel, route: MapType): MappingKernel {
  const p2p = new P2pdma({ vendor: 'other', family: 0 });
  return {
    heap: k.heap, dma: k.dma, log: k.log,
    p2pdmaMapType: () => route,
    busAddrMap: (provider, paddr) => p2p.pci_p2pdma_bus_addr_map({ owner: null, bus_offset: provider.busOffset }, paddr),
    assertResvHeld: (resv, site) => (resv as DmaBuf['resv']).assertHeld('LOCK-RESV', site),
  };
}

abstract class MatchImporterAttachment implements ImporterAttachment {
  attach!: KObj<MatchAttachment>;

  constructor(readonly k: Kernel, readonly dmabuf: DmaBuf, readonly view: MatchDmaBuf, readonly core: DmaBufMatchCore, readonly exporter: ExporterDevice, readonly route: MapType) {}

  abstract move_notify(): void;
  protected abstract mapLocked(a: MatchAttachment): string;
  protected abstract unmapLocked(): void;
  abstract mapped(): boolean;

  protected get mapType(): DmaBufMappingMatch {
    return this.k.heap.use(this.attach, 'importer').map_type!;
  }

  async map(): Promise<string> {
    const site = 'importer_map';
    await this.dmabuf.resv.lock(site);
    const ret = this.mapped() ? '-EBUSY' : this.mapLocked(this.k.heap.use(this.attach, site));
    this.dmabuf.resv.unlock(site);
    return ret;
  }

  async unmap(): Promise<string> {
    const site = 'importer_unmap';
    await this.dmabuf.resv.lock(site);
    const had = this.mapped();
    if (had) this.unmapLocked();
    this.dmabuf.resv.unlock(site);
    return had ? 'ok' : '-EINVAL';
  }

  async detach(): Promise<void> {
    if (this.mapped()) await this.unmap();
    await this.core.dma_buf_detach(this.view, this.attach);
    await dma_buf_put(this.dmabuf, 'importer_detach');
  }

  access(): string {
    return this.mapped() ? 'ok' : '-ENODEV';
  }
}

class DmaMatchAttachment extends MatchImporterAttachment {
  private sgt: KObj<unknown> | null = null;
  private conv: SgtConversion | null = null;

  move_notify(): void {
    if (this.mapped()) this.unmapLocked();
  }

  mapped(): boolean {
    return this.sgt !== null || this.conv !== null;
  }

  protected mapLocked(a: MatchAttachment): string {
    const mt = this.mapType;
    if (!mt.converter) {
      // The SGT type's exporter ops are the dma-buf's own map_dma_buf (vfio_pci_dma_buf_map).
      const r = this.dmabuf.ops.map_dma_buf(a as unknown as DmaBufAttachment, DIR);
      if (r.ok) this.sgt = r.sgt;
      return r.ok ? 'ok' : r.errno;
    }
    // 004 leaves open where the core's converter gets the p2pdma provider; here it reads the VFIO dma-buf's.
    const priv = this.k.heap.use(this.dmabuf.priv as KObj<VfioPciDmaBuf>, 'dma_buf_pal_to_sgt');
    const r = new DmaBufConverters(mappingKernel(this.k, this.route)).palToSgtMap({ dev: a.dev, dmabuf: this.dmabuf }, () => this.k.heap.use(priv.provider, 'dma_buf_pal_to_sgt'), mt.conv_src!.pal!, this.dmabuf.size, DIR);
    if (r.ok) this.conv = r.conv;
    return r.ok ? 'ok' : r.errno;
  }

  protected unmapLocked(): void {
    const a = this.k.heap.use(this.attach, 'importer_unmap');
    if (this.sgt) this.dmabuf.ops.unmap_dma_buf(a as unknown as DmaBufAttachment, this.sgt, DIR);
    if (this.conv) new DmaBufConverters(mappingKernel(this.k, this.route)).palToSgtUnmap({ dev: a.dev, dmabuf: this.dmabuf }, this.mapType.conv_src!.pal!, this.conv, DIR);
    this.sgt = null;
    this.conv = null;
  }
}

class IommufdMatchAttachment extends MatchImporterAttachment {
  readonly area = `marea${nextArea++}`;
  /** Ranges mapped into the domain, for the IOMMUFD-MMIO checker. */
  nranges = 0;
  private pal: KObj<readonly PhysVec[]> | null = null;
  private conv: DomainConversion | null = null;
  private iovas: bigint[] = [];
  revoked = false;

  move_notify(): void {
    if (!this.exporter.isRevoked(this.dmabuf)) this.k.report('REV-IMPORTER', `iommufd got move_notify for ${objName(this.attach)} of ${this.dmabuf.name} while it is not revoked: a move, which an importer that cannot fault must never see`, { dmabuf: this.dmabuf.name, afterRevoke: this.revoked });
    if (this.mapped()) this.unmapLocked();
    this.revoked = true;
  }

  mapped(): boolean {
    return this.pal !== null || this.conv !== null;
  }

  protected mapLocked(a: MatchAttachment): string {
    if (this.revoked) return '-ENODEV';
    const domain = iommufdDomain(this.k);
    const mt = this.mapType;
    if (mt.converter) {
      const r = new DmaBufConverters(mappingKernel(this.k, this.route)).palToDomainMap(domain, this.area, mt.conv_src!.pal!);
      if (!r.ok) return r.errno;
      this.conv = r.conv;
      this.nranges = r.conv.iovas.length;
      return 'ok';
    }
    const r = dma_buf_pal_map_phys(this.k, a, 'iommufd');
    if (!r.ok) return r.errno;
    this.pal = r.pal;
    this.iovas = r.pal.value.map((p) => domain.iommu_map(p.paddr, p.len, IOMMU_READ | IOMMU_WRITE | IOMMU_MMIO, this.area));
    this.nranges = this.iovas.length;
    return 'ok';
  }

  protected unmapLocked(): void {
    const domain = iommufdDomain(this.k);
    if (this.conv) new DmaBufConverters(mappingKernel(this.k, this.route)).palToDomainUnmap(domain, this.mapType.conv_src!.pal!, this.conv);
    if (this.pal) {
      const phys = this.k.heap.use(this.pal, 'iopt_unmap_dmabuf');
      this.iovas.forEach((iova, i) => domain.iommu_unmap(iova, phys[i]!.len));
      dma_buf_pal_unmap_phys(this.k.heap.use(this.attach, 'iopt_unmap_dmabuf'), this.pal);
    }
    this.pal = null;
    this.conv = null;
    this.iovas = [];
    this.nranges = 0;
  }
}

type Kind = 'dma' | 'iommufd';

function matchImporter(kind: Kind, profile: Profile): ImporterPlugin {
  return {
    kind: 'importer', name: `${kind}:${profile}`, importer: kind, profiles: [profile],
    description: kind === 'dma' ? `DMA importer through match-making (${profile})` : `iommufd through ${spec(profile).iommufdPath === 'pal' ? 'the PAL type' : 'the PAL→iommu_domain converter'}`,
    async attach(k, dmabuf, exporter, { p2p, dev, route }) {
      // An exporter without mapping types has no place in this profile.
      if (!exporter.matchOps) return { ok: false, errno: '-EOPNOTSUPP' };
      const core = new DmaBufMatchCore(k, profile, (p, c) => (p === exporter.name && c === dev && routable(route) ? 2 : -1));
      const view = asMatchDmaBuf(dmabuf, exporter.matchOps(core, dmabuf));
      const imp = kind === 'dma' ? new DmaMatchAttachment(k, dmabuf, view, core, exporter, route) : new IommufdMatchAttachment(k, dmabuf, view, core, exporter, route);
      const list: DmaBufMappingMatch[] = kind === 'dma' ? [imappingSgt(core, dev, p2p)] : spec(profile).iommufdPath === 'pal' ? [imappingPal(core)] : [{ type: core.iommu_domain_type, sgt_data: NO_SGT, imp_priv: imp.constructor.name }];
      dmabuf.file.get('dma_buf_get');
      const r = await core.dma_buf_mapping_attach(view, list, { allow_peer2peer: kind === 'iommufd' || p2p, move_notify: () => imp.move_notify() }, null);
      if (!r.ok) {
        await dma_buf_put(dmabuf, 'dma_buf_get');
        return r;
      }
      imp.attach = r.value;
      return { ok: true, value: imp };
    },
  };
}

/** The DMA and iommufd importers of a mapping-type profile; the exporter supplies its match list (ExporterDevice.matchOps). */
export function matchImporters(profile: Profile): { dma: ImporterPlugin; iommufd: ImporterPlugin } {
  return { dma: matchImporter('dma', profile), iommufd: matchImporter('iommufd', profile) };
}
