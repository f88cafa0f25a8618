// The plugin API: what an exporter or importer under test provides. Hooks
// mirror the kernel's (export/create, attach/detach, map/unmap, move/revoke
// around device events, cleanup at close, release, the iommufd private
// interconnect) and use only src/kernel services. The bundled
// implementations (src/harness/bundled.ts) and every seeded bug are plugins
// of this same interface; so is examples/plugins/gpu-exporter.ts.
import type { Result } from '../../models/errno.ts';
import type { DeviceEvent, Importer } from '../../models/lifecycle.ts';
import type { DmaBufRequest, NvgraceMemory, PhysVec } from '../../models/pal.ts';
import type { Bar, MapType } from '../../models/pci/types.ts';
import type { Profile } from '../../models/profiles.ts';
import type { PageSize } from '../../models/u64.ts';
import type { DmaBuf, DmaBufAttachment } from '../impl/dma-buf-core.ts';
import type { DmaBufMatchCore, MatchDmaBufOps } from '../impl/dma-buf-match.ts';
import type { Kernel } from '../kernel/kernel.ts';
import type { RuleId } from '../rules/registry.ts';

/** One device an exporter is probed on. */
export interface DeviceConfig {
  readonly name: string;
  readonly bars: readonly Bar[];
  readonly pageSize: PageSize;
  readonly nvgrace?: NvgraceMemory;
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
  /** The private interconnect of 003 (vfio_pci_dma_buf_iommufd_map), when offered. */
  iommufdMap?(attach: DmaBufAttachment): Result<PhysVec>;
  /** Profiles rfc and converter (001, 000, 004): the mapping-type dma_buf_ops of one of this device's
   *  dma-bufs — attach, and match_mapping with the exporter's match list (PAL entries carry
   *  map_phys/unmap_phys, SGT entries their P2P requirement), built on `core`. Without it the
   *  exporter only runs under v8. */
  matchOps?(core: DmaBufMatchCore, dmabuf: DmaBuf): MatchDmaBufOps;
}

export interface ExporterPlugin {
  readonly kind: 'exporter';
  readonly name: string;
  readonly description: string;
  readonly profiles: readonly Profile[];
  /** Set on a seeded bug: the rule it breaks. */
  readonly bugOf?: RuleId;
  /** The bundled exporter whose code this one reuses (e.g. 'vfio-pci'): its documented findings apply here too. */
  readonly basedOn?: string;
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

export interface ImporterPlugin {
  readonly kind: 'importer';
  readonly name: string;
  readonly description: string;
  readonly importer: Importer;
  readonly profiles: readonly Profile[];
  readonly bugOf?: RuleId;
  /** `route` is pci_p2pdma_map_type() from the exporting device to `dev`: the PCI topology's answer, which the harness knows. */
  attach(k: Kernel, dmabuf: DmaBuf, exporter: ExporterDevice, opts: { p2p: boolean; dev: string; route: MapType }): Promise<Result<ImporterAttachment>>;
}

export type Plugin = ExporterPlugin | ImporterPlugin;
