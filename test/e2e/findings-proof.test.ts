// Known findings never end a search (issue 11, "What to build" 3): for each
// bundled implementation that carries documented findings, the same code with
// a one-line bug added is found by the default budget under every profile it
// supports, through the same targets and runner as `run` (in this thread).
import { describe, expect, it } from 'vitest';
import { PROFILES, type Profile } from '../../models/profiles.ts';
import { DEFAULT_RUNS, DEFAULT_SEED } from '../../src/commands/run.ts';
import { MATCH_VARIANTS, nvgrace, vfioExporter, vfioPciMainline } from '../../src/harness/bundled.ts';
import type { Plugin } from '../../src/harness/plugin.ts';
import { runConformance } from '../../src/harness/runner.ts';
import { allTargets } from '../../src/harness/targets.ts';
import { DmaBufMatchCore, type DmaBufMappingMatch } from '../../src/impl/dma-buf-match.ts';
import { createOps, vfioDmaBufPhysFromRequest } from '../../src/impl/vfio/dmabuf_phys.ts';
import { VfioPciCore } from '../../src/impl/vfio/vfio_pci_core.ts';
import { RFC_REVIEW_FIX } from '../../src/impl/vfio/vfio_pci_dmabuf_match.ts';
import { MAINLINE_PORT } from '../../src/impl/vfio/vfio_pci_dmabuf_mainline.ts';
import { MAINLINE_PHYS_VEC_TO_SGT, V8_DMA_BUF_MAP } from '../../src/rules/conversion-impls.ts';
import type { ConversionImpl } from '../../src/rules/conversion.ts';
import { RFC_MATCH_CORE } from '../../src/rules/match.ts';
import { PAL_CREATE } from '../../src/rules/pal.ts';
import type { RuleId } from '../../src/rules/registry.ts';

/** vfio_pci_runtime_pm_exit() without the unrevoke. */
class PmExitNoUnrevoke extends VfioPciCore {
  protected override async runtimePmExit(): Promise<string> {
    await this.vdev.memory_lock.downWrite('vfio_pci_runtime_pm_exit');
    this.vdev.power = 'D0';
    this.vdev.pm_runtime_engaged = false;
    this.vdev.memory_lock.upWrite('vfio_pci_runtime_pm_exit'); // BUG: no vfio_pci_dma_buf_move(vdev, false)
    return 'ok';
  }
}

/** The conversion with the provider's bus offset dropped on BUS_ADDR. */
const noBusOffset = (c: ConversionImpl): ConversionImpl => ({ ...c, map: (k, a, p, phys, size, dir) => c.map(k, a, p && { ...p, busOffset: 0n }, phys, size, dir) });

/** The compat match of a legacy exporter requiring P2P (001 RFC 02/26 says it must not). */
class LegacyP2p extends DmaBufMatchCore {
  override compat_match(): DmaBufMappingMatch {
    const m = super.compat_match();
    return { ...m, sgt_data: { ...m.sgt_data, exporter_requires_p2p: 'DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE' } };
  }
}

const CASES: readonly [string, Plugin, RuleId][] = [
  ['vfio-pci (L1, L2)', vfioExporter('one-line:vfio-pci', 'pm exit without unrevoke', { device: PmExitNoUnrevoke }), 'REV-WINDOW'],
  ['nvgrace-gpu (L1, L2, bar-ends-at-2^64)', { ...vfioExporter('one-line:nvgrace', 'accepts the ROM', { nvgrace: true, createOps: { region_index_valid: (r) => r <= 6 } }), deviceMemory: nvgrace.deviceMemory }, 'PAL-INPUT'],
  ['vfio-pci:rfc (L1, L2, M2)', vfioExporter('one-line:rfc', 'pm exit without unrevoke', { device: PmExitNoUnrevoke, match: { variant: MATCH_VARIANTS.rfc, profile: 'rfc' } }), 'REV-WINDOW'],
  ['vfio-pci:converter (L1, L2, M2)', vfioExporter('one-line:converter', 'pm exit without unrevoke', { device: PmExitNoUnrevoke, match: { variant: MATCH_VARIANTS.converter, profile: 'converter' } }), 'REV-WINDOW'],
  ['vfio-pci:rfc-review-fix (M3)', vfioExporter('one-line:review-fix', 'pm exit without unrevoke', { device: PmExitNoUnrevoke, match: { variant: RFC_REVIEW_FIX, profile: 'rfc' } }), 'REV-WINDOW'],
  ['vfio-pci:mainline', vfioExporter('one-line:mainline', 'pm exit without unrevoke', { device: PmExitNoUnrevoke, port: MAINLINE_PORT, profiles: vfioPciMainline.profiles }), 'REV-WINDOW'],
  ['v8:dma_buf_map (findings 1-9)', { ...noBusOffset(V8_DMA_BUF_MAP), name: 'one-line:v8-map', kind: 'conversion', description: 'no bus offset', profiles: ['v8'] }, 'ROUTE-BUSADDR'],
  ['mainline:dma_buf_phys_vec_to_sgt (1, 5-8)', { ...noBusOffset(MAINLINE_PHYS_VEC_TO_SGT), name: 'one-line:phys-vec', kind: 'conversion', description: 'no bus offset', profiles: PROFILES.filter((p) => p !== 'v8') }, 'ROUTE-BUSADDR'],
  ['vfio_pci_core_feature_dma_buf (bar-ends-at-2^64)', { ...PAL_CREATE, name: 'one-line:pal', kind: 'pal', description: 'accepts the ROM', profiles: PROFILES, create: (v, r) => vfioDmaBufPhysFromRequest(v, r, { ...createOps(v), region_index_valid: (i) => i <= 6 }) }, 'PAL-INPUT'],
  ['rfc:dma_buf_match_mapping (rfc-pal-type-open)', { ...RFC_MATCH_CORE, name: 'one-line:match', kind: 'match', description: 'legacy compat requires P2P', profiles: ['rfc', 'converter'], make: (k, p, d) => new LegacyP2p(k, p, d) }, 'MATCH-LEGACY'],
];

describe('a one-line bug in an implementation with documented findings is found under every profile it supports', () => {
  it.each(CASES)('%s', async (_what, plugin, rule) => {
    const targets = allTargets([plugin]);
    const { report } = await runConformance({ seed: DEFAULT_SEED, runs: DEFAULT_RUNS, profiles: [...PROFILES], targets, baseline: { version: 1, findings: [] }, bail: false, replayCommand: (id) => id, progress: () => undefined });
    for (const profile of plugin.profiles as readonly Profile[]) {
      const names = targets.filter((t) => t.profiles.includes(profile)).map((t) => t.name);
      const found = report.violations.filter((v) => names.includes(v.implementation) && v.rule === rule && !v.known);
      expect(found.length, `${plugin.name} under ${profile}: ${rule} not found`).toBeGreaterThan(0);
    }
  });
});
