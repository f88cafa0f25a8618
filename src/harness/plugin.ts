// The plugin API: what an implementation under test provides. Exporters and
// importers have hooks that mirror the kernel's (export/create, attach/detach,
// map/unmap, move/revoke around device events, cleanup at close, release, the
// iommufd private interconnect); the component kinds are one kernel function
// each (route, pal, conversion, match, converter). All use only src/kernel
// services. The bundled implementations (src/harness/bundled.ts), every
// seeded bug (src/bugs/index.ts) and a user's plugins are plugins of this
// same interface, loaded, searched and judged the same way.
import type { Result } from '../../models/errno.ts';
import type { DeviceEvent, Importer } from '../../models/lifecycle.ts';
import type { DmaBufRequest, NvgraceMemory, PhysVec } from '../../models/pal.ts';
import type { Bar, MapType } from '../../models/pci/types.ts';
import type { Profile } from '../../models/profiles.ts';
import type { PageSize } from '../../models/u64.ts';
import type { DmaBuf, DmaBufAttachment } from '../impl/dma-buf-core.ts';
import type { DmaBufMatchCore, MatchDmaBufOps } from '../impl/dma-buf-match.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { ConversionImpl } from '../rules/conversion.ts';
import type { ConverterImpl } from '../rules/match-convert.ts';
import type { MatchImpl } from '../rules/match.ts';
import type { PalImpl } from '../rules/pal.ts';
import type { RouteImpl } from '../rules/route.ts';
import type { ViolationLog } from '../rules/violation.ts';

/** One device an exporter is probed on. */
export interface DeviceConfig {
  readonly name: string;
  readonly bars: readonly Bar[];
  readonly pageSize: PageSize;
  readonly nvgrace?: NvgraceMemory;
  /** false: pcim_p2pdma_init() failed -EOPNOTSUPP at probe (a device quirked off P2P, as 002 v8 09/11
   *  plans), which vfio-pci tolerates: no BAR has a p2pdma provider. Absent: p2pdma is set up. */
  readonly p2pdma?: boolean;
  /** BARs whose regions another driver holds: pci_request_selected_regions() on them fails -EBUSY. */
  readonly busy?: readonly number[];
  /** pci_p2pdma_map_type() from this device to an importing device (null: iommufd). */
  readonly routeTo: (importerDev: string | null) => MapType;
}

/** A probed exporter device. Results are 'ok' or an errno name. */
export interface ExporterDevice {
  readonly name: string;
  /** Export a dma-buf for a range request (VFIO_DEVICE_FEATURE_DMA_BUF for vfio-pci). */
  create(req: DmaBufRequest): Promise<Result<DmaBuf>>;
  /** A device event; the exporter revokes and restores around it. '-EOPNOTSUPP' when it has no such event. */
  event(e: DeviceEvent): Promise<string>;
  /** Checker access to the observable state: is this dma-buf revoked now? */
  isRevoked(dmabuf: DmaBuf): boolean;
  /** The private interconnect of 003 (vfio_pci_dma_buf_iommufd_map), when offered: the attachment's one range, or
   *  -ENODEV (revoked), -EOPNOTSUPP (not this exporter's, or several ranges). Without it iommufd's map of this
   *  device's dma-bufs fails -EOPNOTSUPP, as the model expects (002 alone). */
  iommufdMap?(attach: DmaBufAttachment): Result<PhysVec>;
  /** Profiles rfc and converter (001, 000, 004): the mapping-type dma_buf_ops of one of this device's
   *  dma-bufs — attach, and match_mapping with the exporter's match list (PAL entries carry
   *  map_phys/unmap_phys, SGT entries their P2P requirement), built on `core`. Without it the
   *  exporter only runs under v8. */
  matchOps?(core: DmaBufMatchCore, dmabuf: DmaBuf): MatchDmaBufOps;
}

export interface ExporterPlugin extends PluginBase {
  readonly kind: 'exporter';
  /** It exports a device's coherent memory regions (nvgrace-gpu, 002 v8 11/11) when the device
   *  config has them (`DeviceConfig.nvgrace`); others are never probed on such devices. */
  readonly deviceMemory?: boolean;
  /** Its create() is VFIO_DEVICE_FEATURE_DMA_BUF (drivers/vfio/pci/vfio_pci_dmabuf.c): the create path
   *  is then judged by models/pal.ts and one map by models/sgt.ts (the export part of the convert suite). */
  readonly vfio?: boolean;
  probe(k: Kernel, cfg: DeviceConfig): ExporterDevice;
  /** Hot reset of a set of this exporter's devices (VFIO_DEVICE_PCI_HOT_RESET). */
  hotReset?(devices: readonly ExporterDevice[]): Promise<string>;
}

/** An importer's handle on one attachment. */
export interface ImporterAttachment {
  map(): Promise<string>;
  unmap(): Promise<string>;
  detach(): Promise<void>;
  /** DMA by the importer through its mapping: 'ok', or '-ENODEV' without one. */
  access(): string;
  /** Holds a usable mapping (for REV-WINDOW and DMA-LEAK). */
  mapped(): boolean;
}

export interface ImporterPlugin extends PluginBase {
  readonly kind: 'importer';
  readonly importer: Importer;
  /** `route` is pci_p2pdma_map_type() from the exporting device to `dev`: the PCI topology's answer, which the harness knows.
   *  `profile` is the design the run checks (models/profiles.ts). */
  attach(k: Kernel, dmabuf: DmaBuf, exporter: ExporterDevice, opts: AttachOptions): Promise<Result<ImporterAttachment>>;
}

/** What the harness tells an importer at attach. */
export interface AttachOptions {
  /** The importer allows peer-to-peer DMA (dma_buf_attach_ops.allow_peer2peer). */
  readonly p2p: boolean;
  /** The importing device's name. */
  readonly dev: string;
  /** pci_p2pdma_map_type() from the exporting device to `dev`. */
  readonly route: MapType;
  readonly profile: Profile;
}

/** What every plugin declares. */
interface PluginBase {
  readonly name: string;
  readonly description: string;
  /** The designs it follows (models/profiles.ts); it is checked under each. */
  readonly profiles: readonly Profile[];
}

/** `pci_p2pdma_map_type()`, `pci_p2pdma_distance_many()` and provider set-up
 *  (drivers/pci/p2pdma.c) on a topology: checked by the route suite (ROUTE-*). */
export interface RoutePlugin extends PluginBase, Omit<RouteImpl, 'name' | 'bugOf'> {
  readonly kind: 'route';
  /** After the checks of one topology, on the implementation `create` gave and the log from
   *  violation `from` on: what only the implementation knows (the kernel's C, src/kernel-c/route.ts:
   *  its crashes as findings, the C file:line of each violation). */
  readonly judgeC?: (impl: ReturnType<RouteImpl['create']>, log: ViolationLog, from: number) => void;
}

/** The VFIO create path, `VFIO_DEVICE_FEATURE_DMA_BUF` validation and PAL fill
 *  (drivers/vfio/pci/vfio_pci_dmabuf.c, 002 v8 10/11): checked by the PAL suite (PAL-*). */
export interface PalPlugin extends PluginBase, Omit<PalImpl, 'name' | 'bugOf'> {
  readonly kind: 'pal';
}

/** PAL → SGT conversion and its free (`dma_buf_phys_vec_to_sgt` / `dma_buf_free_sgt`,
 *  drivers/dma-buf/dma-buf-mapping.c; `dma_buf_map` in 002 v8 06/11): the conversion suite (LEN-*, DMA-*). */
export interface ConversionPlugin extends PluginBase, Omit<ConversionImpl, 'name' | 'bugOf'> {
  readonly kind: 'conversion';
}

/** The dma-buf match-making core (`dma_buf_mapping_attach`, 001 RFC 01–02/26): the match suite (MATCH-*). */
export interface MatchPlugin extends PluginBase, Omit<MatchImpl, 'name' | 'bugOf'> {
  readonly kind: 'match';
}

/** The core converters of the converter profile (004: PAL→SGT, PAL→iommu_domain): MATCH-CONVERT. */
export interface ConverterPlugin extends PluginBase, Omit<ConverterImpl, 'name' | 'bugOf'> {
  readonly kind: 'converter';
}

export type Plugin = ExporterPlugin | ImporterPlugin | RoutePlugin | PalPlugin | ConversionPlugin | MatchPlugin | ConverterPlugin;
export type PluginKind = Plugin['kind'];
export const PLUGIN_KINDS: readonly PluginKind[] = ['exporter', 'importer', 'route', 'pal', 'conversion', 'match', 'converter'];
