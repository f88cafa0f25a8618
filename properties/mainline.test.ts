// Profile mainline (issue 13): the merged revoke drain, its first-merged
// cleanup (FINDINGS D1), pin/unpin pairing, and `profiles --diff v8 mainline`.
import { describe, expect, it } from 'vitest';
import { differences, DIFFERENCES, spec } from '../models/profiles.ts';
import { diff } from '../src/commands/profiles.ts';
import { createCmd, runLifecycle } from '../src/harness/lifecycle.ts';
import { explainAll } from '../src/harness/lifecycle-prop.ts';
import { lifecycleConfig } from '../src/harness/suites/lifecycle.ts';
import { dmaImporter, iommufdMainline, vfioPciFirstDrain, vfioPciMainline } from '../src/harness/bundled.ts';
import { revDrainUnmapNoPut, revPinDetachPinned } from '../src/bugs/lifecycle-mainline.ts';
import type { LcCmd } from '../models/lifecycle.ts';
import type { ExporterPlugin, ImporterPlugin } from '../src/harness/plugin.ts';

const cfgOf = (e: ExporterPlugin, iommufd: ImporterPlugin = iommufdMainline) => lifecycleConfig(e, { dma: dmaImporter, iommufd }, 'mainline');
const ev = (event: 'mem-off' | 'mem-on' | 'close'): LcCmd => ({ op: 'event', dev: 0, event });
/** The input: create, memory disable, close. */
const MEM_OFF_CLOSE: LcCmd[] = [createCmd(0, 1), ev('mem-off'), ev('close')];

describe('profile mainline', () => {
  it('profiles --diff v8 mainline lists every behaviour that differs, each with an upstream source', () => {
    const keys = differences('v8', 'mainline').map((d) => d.key);
    expect(keys).toEqual(expect.arrayContaining(['segmentLimit', 'invalidateName', 'revokeWaits', 'cleanupSkipsRevoked', 'revocableAttachOnly', 'iommufdPins']));
    const out = diff('v8', 'mainline');
    for (const d of DIFFERENCES.filter((x) => keys.includes(x.key))) expect(d.passage).toMatch(/mainline|torvalds\/linux|[0-9a-f]{12}/);
    expect(out).toContain('REV-DRAIN (mainline only)');
    expect(out).toContain('REV-PIN (mainline only)');
    expect(spec('mainline').segmentLimit).toBe('page-aligned');
  });

  it('create → memory disable → close on the drain as first merged: an underflowing kref_put and a wait that never ends, the documented finding D1', async () => {
    const r = await runLifecycle(cfgOf(vfioPciFirstDrain), MEM_OFF_CLOSE, { keepGoing: true });
    const drain = r.violations.filter((v) => v.rule === 'REV-DRAIN');
    expect(drain.map((v) => [v.evidence?.['underflow'], v.evidence?.['hang'] ?? false])).toEqual([[true, false], [true, true]]);
    expect((await explainAll({ cfg: cfgOf(vfioPciFirstDrain), names: r.names, results: r.results }, r.violations, MEM_OFF_CLOSE)).every((id) => id?.startsWith('first-drain-close'))).toBe(true);
  });

  it('the same input on the fixed cleanup is clean (beyond L2, the unrevoke reaching iommufd), and a revoke with mappings outstanding drains them first', async () => {
    const cmds: LcCmd[] = [createCmd(0, 2), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'map', att: 0 }, { op: 'attach', buf: 0, importer: 'iommufd', p2p: true }, ev('mem-off'), ev('mem-on'), { op: 'map', att: 0 }, ev('close'), { op: 'detach', att: 1 }, { op: 'detach', att: 0 }, { op: 'close-fd', buf: 0 }];
    for (const input of [MEM_OFF_CLOSE, cmds]) {
      const r = await runLifecycle(cfgOf(vfioPciMainline), input, { keepGoing: true });
      const by = await explainAll({ cfg: cfgOf(vfioPciMainline), names: r.names, results: r.results }, r.violations, input);
      expect(r.violations.filter((_, i) => by[i] !== 'unrevoke-notifies-iommufd').map((v) => `${v.rule}: ${v.message}`)).toEqual([]);
      expect(r.violations.filter((v) => v.rule === 'REV-DRAIN')).toEqual([]);
      expect(r.steps.every((s) => s.result === s.expected)).toBe(true);
    }
  });

  it('an unmap that forgets the drain put makes the next revoke wait forever (REV-DRAIN, not a time-out)', async () => {
    const cmds: LcCmd[] = [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'map', att: 0 }, { op: 'unmap', att: 0 }, ev('mem-off')];
    const r = await runLifecycle(cfgOf(revDrainUnmapNoPut), cmds);
    expect(r.violations.map((v) => [v.rule, v.step, v.evidence?.['hang']])).toEqual([['REV-DRAIN', 4, true]]);
  });

  it('iommufd pins after attach and unpins before detach; a detach that skips the unpin is REV-PIN', async () => {
    const cmds: LcCmd[] = [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'iommufd', p2p: true }, { op: 'map', att: 0 }, { op: 'detach', att: 0 }];
    expect((await runLifecycle(cfgOf(vfioPciMainline), cmds)).violations).toEqual([]);
    const bad = await runLifecycle(cfgOf(vfioPciMainline, revPinDetachPinned), cmds);
    expect(bad.violations.map((v) => [v.rule, v.step])).toEqual([['REV-PIN', 3]]);
  });
});
