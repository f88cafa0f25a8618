// Issue 13 item 3.3: the close path with vfio_pci_core_disable()'s effects in the code's order.
// 002 v8 10/11 (and torvalds/linux until d97708701434) disables first: the BAR regions are released,
// PCI_COMMAND written to INTX_DISABLE (memory decode off) and the function reset while importers still
// map the BARs, and only then does vfio_pci_dma_buf_cleanup() revoke them. Mainline cleans up first.
import { describe, expect, it } from 'vitest';
import type { LcCmd } from '../models/lifecycle.ts';
import { DIFFERENCES, spec } from '../models/profiles.ts';
import { createCmd, requestFor, runLifecycle } from '../src/harness/lifecycle.ts';
import { Kernel } from '../src/kernel/kernel.ts';
import type { VfioPciCore } from '../src/impl/vfio/vfio_pci_core.ts';
import { explainAll } from '../src/harness/lifecycle-prop.ts';
import { lifecycleConfig, lifecycleSuite } from '../src/harness/suites/lifecycle.ts';
import { dmaImporter, dmaImporterLate, iommufdImporter, iommufdMainline, vfioPci, vfioPciMainline } from '../src/harness/bundled.ts';
import { revCloseDisablesFirst } from '../src/bugs/lifecycle-mainline.ts';
import type { ExporterPlugin } from '../src/harness/plugin.ts';
import { budget } from './budget.ts';

const v8 = (e: ExporterPlugin) => lifecycleConfig(e, { dma: dmaImporter, iommufd: iommufdImporter }, 'v8');
const mainline = (e: ExporterPlugin) => lifecycleConfig(e, { dma: dmaImporterLate, iommufd: iommufdMainline }, 'mainline');
const CLOSE: LcCmd = { op: 'event', dev: 0, event: 'close' };
const withImporter = (importer: 'dma' | 'iommufd'): LcCmd[] => [createCmd(0, 1), { op: 'attach', buf: 0, importer, p2p: true }, { op: 'map', att: 0 }, CLOSE];

describe('close: vfio_pci_core_disable() and the dma-buf cleanup in the order of the code', () => {
  for (const importer of ['dma', 'iommufd'] as const) {
    it(`v8, a mapped ${importer} importer: the disable meets its mapping (REV-WINDOW), the documented finding close-disables-before-cleanup`, async () => {
      const cmds = withImporter(importer);
      const r = await runLifecycle(v8(vfioPci), cmds, { keepGoing: true });
      const window = r.violations.filter((v) => v.rule === 'REV-WINDOW');
      expect(window).toHaveLength(1);
      expect(window[0]!.step).toBe(3);
      expect(window[0]!.message).toMatch(/^dev0: BAR regions released, memory decode off and the function reset in vfio_pci_core_disable while (att0 \(dma-client\) of buf0|an iommufd IOMMU mapping of BAR 0) still maps its MMIO$/);
      expect((await explainAll({ cfg: v8(vfioPci), names: r.names, results: r.results }, r.violations, cmds)).filter((_, i) => r.violations[i]!.rule === 'REV-WINDOW')).toEqual(['close-disables-before-cleanup']);
      // The cleanup after it still revokes: nothing is mapped when close returns.
      expect(r.violations.filter((v) => v.rule !== 'REV-WINDOW' && v.rule !== 'REV-NOTIFY')).toEqual([]);
    });

    it(`mainline (cleanup first, d97708701434), a mapped ${importer} importer: clean`, async () => {
      expect((await runLifecycle(mainline(vfioPciMainline), withImporter(importer), { keepGoing: true })).violations).toEqual([]);
    });
  }

  it('no importer mapping: the seed order is clean too (the finding is the window, not the order)', async () => {
    const r = await runLifecycle(v8(vfioPci), [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, CLOSE], { keepGoing: true });
    expect(r.violations).toEqual([]);
  });

  it('the finding is keyed to the seed profiles: under mainline the same behaviour is new (bug:rev-close-disables-first)', async () => {
    const cmds = withImporter('dma');
    const r = await runLifecycle(mainline(revCloseDisablesFirst), cmds, { keepGoing: true });
    const i = r.violations.findIndex((v) => v.rule === 'REV-WINDOW');
    expect(i).toBeGreaterThanOrEqual(0);
    expect((await explainAll({ cfg: mainline(revCloseDisablesFirst), names: r.names, results: r.results }, r.violations, cmds))[i]).toBeNull();
  });

  it('the search finds bug:rev-close-disables-first with its rule', async () => {
    const [t] = lifecycleSuite.targets(revCloseDisablesFirst, []);
    const s = await t!.search(2, budget(40), new Set());
    expect(s.failures.flatMap((f) => f.violations.map((v) => v.rule))).toContain('REV-WINDOW');
  });

  it('the disable gives the BAR regions back (pci_release_selected_regions): a reopened device claims them again', async () => {
    const k = new Kernel();
    const dev = vfioPciMainline.probe(k, { name: 'vdev0', bars: [{ index: 0, type: 'mem', start: 0x1000000000n, size: 0x100000n, busOffset: 0n }], pageSize: 4096n, routeTo: () => 'THRU_HOST_BRIDGE' }) as VfioPciCore;
    expect((await dev.create(requestFor(1, true))).ok).toBe(true);
    expect(dev.vdev.regions!.holds(0)).toBe(true);
    expect(await dev.event('close')).toBe('ok');
    expect(dev.vdev.regions!.holds(0)).toBe(false);
    expect(dev.vdev.barmap!.filter(Boolean)).toEqual([]);
    expect(await dev.event('open')).toBe('ok');
    expect((await dev.create(requestFor(1, true))).ok).toBe(true);
    expect(dev.vdev.regions!.holds(0)).toBe(true);
  });

  it('profiles --diff v8 mainline lists the close order with its source', () => {
    expect(spec('v8').closeCleansUpFirst).toBe(false);
    expect(spec('mainline').closeCleansUpFirst).toBe(true);
    expect(DIFFERENCES.find((d) => d.key === 'closeCleansUpFirst')!.passage).toMatch(/d97708701434/);
  });
});
