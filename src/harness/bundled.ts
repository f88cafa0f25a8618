// The bundled implementations, as plugins: the faithful ports of every kind
// that `run` checks by default (the seeded bugs are in src/bugs/index.ts, for
// `self-test`). The runner loads them exactly as it loads a user's.
import type { Kernel } from '../kernel/kernel.ts';
import { VfioPciCore, V8_PORT, vfioPciDevSetHotReset, type VfioDmabufPort } from '../impl/vfio/vfio_pci_core.ts';
import { createOps, vfioDmaBufPhysFromRequest, type CreateOps } from '../impl/vfio/dmabuf_phys.ts';
import { dmaImporter, dmaImporterLate } from '../impl/dma_importer.ts';
import { iommufdImporter, iommufdMainline } from '../impl/iommufd.ts';
import { MAINLINE_FIRST_DRAIN_PORT, MAINLINE_PORT } from '../impl/vfio/vfio_pci_dmabuf_mainline.ts';
import type { DeviceConfig, ExporterPlugin, ImporterPlugin, Plugin } from './plugin.ts';
import type { RuleId } from '../rules/registry.ts';
import { PROFILES, spec, type Profile } from '../../models/profiles.ts';
import { MAINLINE_PHYS_VEC_TO_SGT, V8_DMA_BUF_MAP } from '../rules/conversion-impls.ts';
import type { ConversionImpl } from '../rules/conversion.ts';
import { CORE_CONVERTERS } from '../rules/match-convert.ts';
import { matchImporters } from '../impl/match_importers.ts';
import type { LifecycleConfig } from './lifecycle.ts';
import type { MapType } from '../../models/pci/types.ts';
import { RFC_MATCH_CORE } from '../rules/match.ts';
import { PAL_CREATE } from '../rules/pal.ts';
import { ROUTE_IMPLS } from '../rules/route.ts';
import type { DmaBuf } from '../impl/dma-buf-core.ts';
import type { DmaBufMatchCore } from '../impl/dma-buf-match.ts';
import { CONVERTER_PAL, RFC_POSTED, RFC_REVIEW_FIX, vfioMatchOps, type VfioMatchVariant } from '../impl/vfio/vfio_pci_dmabuf_match.ts';

/** What a variant of the bundled VFIO exporter changes; each is one seam of the port. */
export interface VfioExporterOptions {
  /** The dma-buf functions of vfio_pci_dmabuf.c (create, move, cleanup, iommufd map, the dma_buf_ops). */
  readonly port?: VfioDmabufPort;
  /** Steps of the create path's validation and fill (src/impl/vfio/dmabuf_phys.ts CreateOps). */
  readonly createOps?: Partial<CreateOps>;
  /** The device (vfio_pci_core.c: events, close, power, hot reset), a subclass of VfioPciCore. */
  readonly device?: new (k: Kernel, cfg: DeviceConfig, port: VfioDmabufPort) => VfioPciCore;
  readonly nvgrace?: boolean;
  readonly bugOf?: RuleId;
  /** The mapping-type half (RFC 12, 22/26) for the profiles with mapping types; the plugin then runs under `profile`. */
  readonly match?: { readonly variant: VfioMatchVariant; readonly profile: Profile };
  /** The profiles the plugin declares when it has no mapping-type half (default v8). */
  readonly profiles?: readonly Profile[];
}

const NVGRACE_MEMORY = { resmem: { memphys: 0x4000000000n, memlength: 0x200000n }, usemem: { memphys: 0x8000000000n, memlength: 0x400000n } };

/** The port a variant runs: its own, with its create-path steps swapped in. */
function portOf(opts: VfioExporterOptions): VfioDmabufPort {
  const port = opts.port ?? V8_PORT;
  const swapped = opts.createOps;
  if (!swapped) return port;
  return { ...port, feature_dma_buf: (vdev, ops, req) => port.feature_dma_buf(vdev, ops, req, (view, r) => vfioDmaBufPhysFromRequest(view, r, { ...createOps(view), ...swapped })) };
}

/** A plugin that a seeded bug is built as: it names the rule only self-test reads. */
export type SeededPlugin<P> = P & { readonly bugOf?: RuleId };

/** An exporter plugin around the VFIO device, with a port (faithful or bugged). */
export function vfioExporter(name: string, description: string, opts: VfioExporterOptions = {}): SeededPlugin<ExporterPlugin> {
  const Device = opts.device ?? VfioPciCore;
  const match = opts.match;
  return {
    kind: 'exporter', name, description, profiles: match ? [match.profile] : opts.profiles ?? ['v8'], vfio: true, ...(opts.bugOf ? { bugOf: opts.bugOf } : {}), ...(opts.nvgrace ? { deviceMemory: true } : {}),
    probe(k, cfg) {
      const dev = new Device(k, opts.nvgrace ? { ...cfg, nvgrace: cfg.nvgrace ?? NVGRACE_MEMORY } : cfg, portOf(opts));
      return match ? Object.assign(dev, { matchOps: (core: DmaBufMatchCore, dmabuf: DmaBuf) => vfioMatchOps(core, dmabuf, match.variant, cfg.name) }) : dev;
    },
    hotReset: (devices) => vfioPciDevSetHotReset(devices as VfioPciCore[]),
  };
}

export const vfioPci = vfioExporter('vfio-pci', 'vfio-pci dma-buf exporter (002 v8 10/11)');
export const nvgrace = vfioExporter('nvgrace-gpu', 'nvgrace-gpu: vfio-pci with device memory regions (002 v8 11/11)', { nvgrace: true });

/** The VFIO exporter as merged (mainline, with the 7.1-rc fix of its cleanup). */
export const vfioPciMainline = vfioExporter('vfio-pci:mainline', 'vfio-pci as merged: 7.0 revoke drain, revocable attachments, pin, dma_buf_phys_vec_to_sgt (torvalds/linux 1a8a5227f229, 0b45a66ffb1e; cleanup fix for 7.1-rc)', { port: MAINLINE_PORT, profiles: ['mainline'] });
/** The VFIO exporter as first merged with the drain (1a8a5227f229): close drains what a revoke drained (FINDINGS D1). */
export const vfioPciFirstDrain = vfioExporter('vfio-pci:mainline-1a8a5227', 'vfio-pci as first merged with the revoke drain (1a8a5227f229), before the cleanup fix', { port: MAINLINE_FIRST_DRAIN_PORT, profiles: ['mainline'] });

export type MatchProfile = 'rfc' | 'converter';

const MATCH_DESCRIPTIONS: Readonly<Record<MatchProfile, string>> = {
  rfc: 'vfio-pci with mapping types [PAL, SGT(P2P)] (RFC 12, 22/26)',
  converter: 'vfio-pci as a PAL-only exporter behind the core converters (004)',
};

/** The routing variants' descriptions (models/pci/routing.ts). */
const ROUTE_DESCRIPTIONS: Readonly<Record<(typeof ROUTE_IMPLS)[number]['routing'], string>> = {
  classic: 'drivers/pci/p2pdma.c (002 v8 01-04/11): classic routing, an ACS port with RR, CR or EC set sends the traffic through the host bridge',
  divergence: 'drivers/pci/p2pdma.c with the divergence routing proposal (linux-pci, 2025-26): every ACS port on both paths decides, the two below the common bridge by the other path\'s egress',
};

export const MATCH_VARIANTS: Readonly<Record<MatchProfile, VfioMatchVariant>> = { rfc: RFC_POSTED, converter: CONVERTER_PAL };

/** The VFIO exporter of a mapping-type profile: its devices give their dma-bufs the RFC ops (ExporterDevice.matchOps). */
/** What the review fix of RFC 12/26 changes (src/impl/vfio/vfio_pci_dmabuf_match.ts RFC_REVIEW_FIX; reports/FINDINGS.md
 *  M2, M3). The review is in the seeds only as 004's thread overview: "[PATCH RFC 12/26] vfio/pci: Change the
 *  DMA-buf exporter to use mapping_type", "2026-04-13 8:29 Baolu Lu", "2026-04-13 13:01 Jason Gunthorpe". */
export const REVIEW_FIX_DESCRIPTION = 'vfio-pci:rfc with the RFC 12/26 review fix: match_mapping without dma_resv_assert_held() (attach calls it unlocked, M2) or the !priv->vdev check (-EINVAL after cleanup, M3), the device from priv->pdev (RFC 12/26 review, Baolu Lu and Jason Gunthorpe 2026-04-13, 004 thread)';

export function matchExporter(profile: MatchProfile, variant: VfioMatchVariant = MATCH_VARIANTS[profile], name = `vfio-pci:${profile}`, description = MATCH_DESCRIPTIONS[profile]): ExporterPlugin {
  return vfioExporter(name, description, { match: { variant, profile } });
}

/** A lifecycle configuration for a mapping-type profile. */
export function matchLifecycleConfig(profile: MatchProfile, route: MapType = 'THRU_HOST_BRIDGE', variant: VfioMatchVariant = MATCH_VARIANTS[profile]): LifecycleConfig {
  return { exporter: matchExporter(profile, variant), importers: matchImporters(profile), devices: 2, route, profile };
}

export const bundledImporters = (): ImporterPlugin[] => [dmaImporter, dmaImporterLate, iommufdImporter, iommufdMainline];

/** Every faithful port `run` checks by default, of every kind. The importers are checked
 *  through the exporters they serve (and as targets of their own when given by name). */
export function bundledPlugins(): Plugin[] {
  return [
    vfioPci, nvgrace, vfioPciMainline, vfioPciFirstDrain, matchExporter('rfc'), matchExporter('converter'), matchExporter('rfc', RFC_REVIEW_FIX, 'vfio-pci:rfc-review-fix', REVIEW_FIX_DESCRIPTION),
    ...ROUTE_IMPLS.map((i): Plugin => ({ ...i, kind: 'route', description: ROUTE_DESCRIPTIONS[i.routing], profiles: PROFILES })),
    { ...PAL_CREATE, kind: 'pal', description: 'vfio_pci_core_feature_dma_buf validation and fill (002 v8 10/11)', profiles: PROFILES },
    { ...V8_DMA_BUF_MAP, kind: 'conversion', description: 'dma_buf_map (002 v8 06/11)', profiles: profilesOfLimit(V8_DMA_BUF_MAP.limit) },
    { ...MAINLINE_PHYS_VEC_TO_SGT, kind: 'conversion', description: 'dma_buf_phys_vec_to_sgt (drivers/dma-buf/dma-buf-mapping.c)', profiles: profilesOfLimit(MAINLINE_PHYS_VEC_TO_SGT.limit) },
    { ...RFC_MATCH_CORE, kind: 'match', description: 'dma_buf_mapping_attach match-making (001 RFC 01-02/26)', profiles: PROFILES.filter((p) => spec(p).mappingTypes) },
    { ...CORE_CONVERTERS, kind: 'converter', description: 'the core converters PAL to SGT and PAL to iommu_domain (004)', profiles: ['converter'] },
  ];
}

/** The profiles whose segment limit a conversion follows. */
export const profilesOfLimit = (limit: ConversionImpl['limit']): Profile[] => PROFILES.filter((p) => spec(p).segmentLimit === limit);
export { dmaImporter, dmaImporterLate, iommufdImporter, iommufdMainline };
