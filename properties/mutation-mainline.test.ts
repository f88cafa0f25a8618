// Gaps the mutation score (reports/MUTATION.md) found in the mainline VFIO
// exporter (src/impl/vfio/vfio_pci_dmabuf_mainline.ts) and iommufd:mainline:
// their only suite ran three hand-written inputs, so a map of a revoked
// dma-buf, a revoke that skips the drain or a close that keeps a dma-buf on
// the device list went unjudged. Here the lifecycle model judges generated
// command sequences on the mainline profile, as it does v8 in
// properties/lifecycle.test.ts; documented findings are explained as there.
// The create's answers (PAL-INPUT) are judged too: a create the model answers
// otherwise ends the judged part of a run, as in every lifecycle.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dmaImporter, iommufdMainline, vfioPciFirstDrain, vfioPciMainline } from '../src/harness/bundled.ts';
import { failureOf, lifecycleProperty } from '../src/harness/lifecycle-prop.ts';
import { createCmd, lcInput, runLifecycle } from '../src/harness/lifecycle.ts';
import type { LcCmd } from '../models/lifecycle.ts';
import { LIFECYCLE_RULES, lifecycleConfig } from '../src/harness/suites/lifecycle.ts';
import { budget } from './budget.ts';

describe('profile mainline: the ports agree with the lifecycle model at every step', () => {
  for (const exporter of [vfioPciMainline, vfioPciFirstDrain]) {
    for (const route of ['BUS_ADDR', 'THRU_HOST_BRIDGE'] as const) {
      it(`${exporter.name} with the DMA importer and iommufd:mainline (${route})`, async () => {
        const cfg = { ...lifecycleConfig(exporter, { dma: dmaImporter, iommufd: iommufdMainline }, 'mainline'), route };
        const out = await fc.check(lifecycleProperty(cfg, { maxCommands: 14, judge: { want: (v) => LIFECYCLE_RULES.includes(v.rule) } }), { numRuns: budget(60), seed: 13 });
        const f = failureOf(out);
        expect(f ? `${f.message}\n${JSON.stringify(lcInput(f.cmds, f.setup))}` : out.failed ? String(out.errorInstance) : '').toBe('');
      });
    }
  }
});

describe('profile mainline: hand-worked closes', () => {
  const cfgOf = (e: typeof vfioPciMainline) => lifecycleConfig(e, { dma: dmaImporter, iommufd: iommufdMainline }, 'mainline');
  const ev = (event: 'mem-off' | 'close' | 'unbind'): LcCmd => ({ op: 'event', dev: 0, event });

  it('the fixed cleanup detaches a dma-buf a revoke already drained: its release later puts nothing twice, and unbind finds no reference left', async () => {
    const cmds: LcCmd[] = [createCmd(0, 1), ev('mem-off'), ev('close'), { op: 'close-fd', buf: 0 }, ev('unbind')];
    const r = await runLifecycle(cfgOf(vfioPciMainline), cmds, { keepGoing: true });
    expect(r.violations.map((v) => `${v.step}: ${v.rule}: ${v.message}`)).toEqual([]);
    expect(r.steps.map((s) => s.result)).toEqual(r.steps.map((s) => s.expected));
  });

  it('the first-merged drain (D1) names the dma-buf whose kref underflows and whose completion never comes', async () => {
    const r = await runLifecycle(cfgOf(vfioPciFirstDrain), [createCmd(0, 1), ev('mem-off'), ev('close')], { keepGoing: true });
    const drain = r.violations.filter((v) => v.rule === 'REV-DRAIN');
    expect(drain.length).toBe(2);
    for (const v of drain) expect(String(v.evidence?.['kref'] ?? v.evidence?.['completion'])).toMatch(/^\S+\.(kref|comp)$/);
    expect(String(drain[0]!.evidence?.['kref']).replace(/\.kref$/, '')).not.toBe('dmabuf');
  });
});
