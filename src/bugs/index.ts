// The seeded bugs: one plugin each (of the kind whose suite must catch it),
// with the rule it breaks. Only `self-test` reads the rule; `run`, the
// search and the judgement see each bug as a plugin like any user's.
import type { ConversionImpl } from '../rules/conversion.ts';
import type { ConverterImpl } from '../rules/match-convert.ts';
import type { MatchImpl } from '../rules/match.ts';
import type { PalImpl } from '../rules/pal.ts';
import type { RuleId } from '../rules/registry.ts';
import type { RouteImpl } from '../rules/route.ts';
import type { Plugin } from '../harness/plugin.ts';
import { PROFILES, spec, type Profile } from '../../models/profiles.ts';
import { matchExporter, profilesOfLimit } from '../harness/bundled.ts';
import { lifecycleBugExporters, lifecycleBugImporters } from './lifecycle.ts';
import { revCloseDisablesFirst, revDrainNoWait } from './lifecycle-mainline.ts';
import { dmaErrcheckMissing } from './dma-errcheck-missing.ts';
import { dmaIovaNoSync } from './dma-iova-no-sync.ts';
import { dmaIovaLinkUnchecked } from './dma-iova-link-unchecked.ts';
import { lenAddrPhysNotDma } from './len-addr-phys-not-dma.ts';
import { dmaLeakNoUnmap } from './dma-leak-no-unmap.ts';
import { dmaUnmapBidirectional } from './dma-unmap-bidirectional.ts';
import { dmaUnwindSkipped } from './dma-unwind-skipped.ts';
import { lenAddrNoAdvance } from './len-addr-no-advance.ts';
import { lenAlignUintMax } from './len-align-uint-max.ts';
import { lenNentsWrap } from './len-nents-wrap.ts';
import { lenNocpuOrigNents } from './len-nocpu-orig-nents.ts';
import { lenSeg4G } from './len-seg-4g.ts';
import { lenSumDropTail } from './len-sum-drop-tail.ts';
import { routeNomapDefaultBus } from './route-nomap-default-bus.ts';
import { matchCallbackMismatched } from './match-callback-mismatched.ts';
import { matchCleanedAttach } from './match-cleaned-attach.ts';
import { matchConverterLeak } from './match-converter-leak.ts';
import { matchDynamicUnchecked } from './match-dynamic-unchecked.ts';
import { matchErrorsSwallowed } from './match-errors-swallowed.ts';
import { matchExportBoth } from './match-export-both.ts';
import { matchImporterPriority } from './match-importer-priority.ts';
import { matchLegacyP2p } from './match-legacy-p2p.ts';
import { matchP2pIgnored } from './match-p2p-ignored.ts';
import { matchPalAnyImporter } from './match-pal-any-importer.ts';
import { palFillNoStart } from './pal-fill-no-start.ts';
import { palInputNoSwiotlb } from './pal-input-no-swiotlb.ts';
import { palNvgraceResmemUnchecked } from './pal-nvgrace-resmem-unchecked.ts';
import { palListFirstOnly } from './pal-list-first-only.ts';
import { palSizeU32 } from './pal-size-u32.ts';
import { pluginExitOnUnbind } from './plugin-exit-on-unbind.ts';
import { pluginPatchesSet } from './plugin-patches-set.ts';
import { P2pdmaBusAddrSign } from './route-busaddr-sign.ts';
import { P2pdmaCacheNoDomain } from './route-cache-no-domain.ts';
import { P2pdmaClientAcsInclusive } from './route-acs-client-inclusive.ts';
import { P2pdmaDistManyLast } from './route-dist-many-last.ts';
import { P2pdmaDistNoReset } from './route-dist-no-reset.ts';
import { P2pdmaProviderAcsExclusive } from './route-acs-provider-exclusive.ts';
import { P2pdmaProviderIoBar } from './route-provider-io-bar.ts';

/** A seeded bug: the plugin, and the rule self-test requires it to break. */
export interface SeededBug {
  readonly plugin: Plugin;
  readonly rule: RuleId;
}

export const ROUTE_BUGS: readonly (RouteImpl & { readonly bugOf: RuleId })[] = [
  { name: 'bug:route-acs-provider-exclusive', bugOf: 'ROUTE-MAPTYPE', routing: 'classic', create: (t) => new P2pdmaProviderAcsExclusive(t.cpu) },
  { name: 'bug:route-acs-client-inclusive', bugOf: 'ROUTE-MAPTYPE', routing: 'classic', create: (t) => new P2pdmaClientAcsInclusive(t.cpu) },
  { name: 'bug:route-cache-no-domain', bugOf: 'ROUTE-MAPTYPE', routing: 'classic', create: (t) => new P2pdmaCacheNoDomain(t.cpu) },
  { name: 'bug:route-dist-no-reset', bugOf: 'ROUTE-DIST', routing: 'classic', create: (t) => new P2pdmaDistNoReset(t.cpu) },
  { name: 'bug:route-dist-many-last', bugOf: 'ROUTE-DIST', routing: 'classic', create: (t) => new P2pdmaDistManyLast(t.cpu) },
  { name: 'bug:route-busaddr-sign', bugOf: 'ROUTE-BUSADDR', routing: 'classic', create: (t) => new P2pdmaBusAddrSign(t.cpu) },
  { name: 'bug:route-provider-io-bar', bugOf: 'ROUTE-PROVIDER', routing: 'classic', create: (t) => new P2pdmaProviderIoBar(t.cpu) },
];

export const PAL_BUGS: readonly PalImpl[] = [palInputNoSwiotlb, palFillNoStart, palSizeU32, palListFirstOnly, palNvgraceResmemUnchecked];

export const CONVERSION_BUGS: readonly ConversionImpl[] = [
  lenSeg4G, lenAlignUintMax, lenSumDropTail, lenNentsWrap, lenNocpuOrigNents, lenAddrNoAdvance,
  dmaUnmapBidirectional, dmaErrcheckMissing, dmaIovaNoSync, dmaUnwindSkipped, dmaLeakNoUnmap, routeNomapDefaultBus,
  dmaIovaLinkUnchecked, lenAddrPhysNotDma,
];

export const MATCH_BUGS: readonly MatchImpl[] = [
  matchImporterPriority, matchErrorsSwallowed, matchCallbackMismatched, matchP2pIgnored,
  matchPalAnyImporter, matchExportBoth, matchLegacyP2p, matchDynamicUnchecked,
];

const MATCH_PROFILES: readonly Profile[] = PROFILES.filter((p) => spec(p).mappingTypes);

const described = (i: { name: string }, rule: RuleId) => `seeded bug (src/bugs/): breaks ${rule}`;
const need = (rule: RuleId | undefined, name: string): RuleId => {
  if (!rule) throw new Error(`seeded bug ${name} names no rule`);
  return rule;
};

/** Every seeded bug, as the plugin a user would write, with its rule. */
export function seededBugs(): SeededBug[] {
  const bug = (plugin: Plugin, rule: RuleId): SeededBug => ({ plugin, rule });
  return [
    ...ROUTE_BUGS.map(({ bugOf, ...i }) => bug({ ...i, kind: 'route', description: described(i, bugOf), profiles: PROFILES }, bugOf)),
    ...PAL_BUGS.map(({ bugOf, ...i }) => bug({ ...i, kind: 'pal', description: described(i, need(bugOf, i.name)), profiles: PROFILES }, need(bugOf, i.name))),
    ...CONVERSION_BUGS.map(({ bugOf, ...i }) => bug({ ...i, kind: 'conversion', description: described(i, need(bugOf, i.name)), profiles: profilesOfLimit(i.limit) }, need(bugOf, i.name))),
    ...MATCH_BUGS.map(({ bugOf, ...i }) => bug({ ...i, kind: 'match', description: described(i, need(bugOf, i.name)), profiles: MATCH_PROFILES }, need(bugOf, i.name))),
    bug({ name: matchConverterLeak.name, make: matchConverterLeak.make, kind: 'converter', description: described(matchConverterLeak, 'MATCH-CONVERT'), profiles: ['converter'] }, 'MATCH-CONVERT'),
    bug({ ...matchExporter('rfc', matchCleanedAttach), name: matchCleanedAttach.name }, 'MATCH-CLEANED'),
    ...[...lifecycleBugExporters(), revDrainNoWait, revCloseDisablesFirst, ...lifecycleBugImporters(), pluginExitOnUnbind, pluginPatchesSet].map(({ bugOf, ...p }) => bug(p, need(bugOf, p.name))),
  ];
}
