// The lifecycle of issue 5 under the rfc and converter profiles: the VFIO
// exporter (same device port) seen through mapping types, with the DMA and
// iommufd importers attached by match-making. For the runner and the tests.
import type { MapType } from '../../models/pci/types.ts';
import { vfioExporter } from '../harness/bundled.ts';
import type { LifecycleConfig } from '../harness/lifecycle.ts';
import type { ExporterPlugin } from '../harness/plugin.ts';
import { matchImporters } from '../impl/match_importers.ts';
import { CONVERTER_PAL, RFC_POSTED, type VfioMatchVariant } from '../impl/vfio/vfio_pci_dmabuf_match.ts';

export type MatchProfile = 'rfc' | 'converter';

const DESCRIPTIONS: Readonly<Record<MatchProfile, string>> = {
  rfc: 'vfio-pci with mapping types [PAL, SGT(P2P)] (RFC 12, 22/26)',
  converter: 'vfio-pci as a PAL-only exporter behind the core converters (004)',
};

export const MATCH_VARIANTS: Readonly<Record<MatchProfile, VfioMatchVariant>> = { rfc: RFC_POSTED, converter: CONVERTER_PAL };

/** The VFIO exporter of a mapping-type profile: its devices give their dma-bufs the RFC ops (ExporterDevice.matchOps). */
export function matchExporter(profile: MatchProfile, variant: VfioMatchVariant = MATCH_VARIANTS[profile]): ExporterPlugin {
  return vfioExporter(`vfio-pci:${profile}`, DESCRIPTIONS[profile], { match: { variant, profile } });
}

/** A lifecycle configuration for a mapping-type profile. */
export function matchLifecycleConfig(profile: MatchProfile, route: MapType = 'THRU_HOST_BRIDGE', variant: VfioMatchVariant = MATCH_VARIANTS[profile]): LifecycleConfig {
  return { exporter: matchExporter(profile, variant), importers: matchImporters(profile), devices: 2, route, profile };
}
