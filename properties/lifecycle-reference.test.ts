// A lifecycle violation is known only as the design's own behaviour: a documented finding's predicate must
// hold, and the faithful system of the profile (lifecycle-reference.ts), run on the same setup, machine and
// commands, must show the same violation at the same step. Two plugins written as a new user would
// (test/plugins/) each have a different bug whose violation meets a finding's predicate: before the
// reference ran they were filed as known (and the run passed); now they are new. Copies of the faithful
// ports keep every lifecycle finding: one path, no special case for the bundled names.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LcCmd } from '../models/lifecycle.ts';
import { V8_PORT } from '../src/impl/vfio/vfio_pci_core.ts';
import { MAINLINE_FIRST_DRAIN_PORT } from '../src/impl/vfio/vfio_pci_dmabuf_mainline.ts';
import { MATCH_VARIANTS, vfioExporter } from '../src/harness/bundled.ts';
import { predicatesMet } from '../src/harness/lifecycle-prop.ts';
import { referenceSteps } from '../src/harness/lifecycle-reference.ts';
import { defaultSetup, lcInput, readLcInput } from '../src/harness/lifecycle.ts';
import { lifecycleSuite } from '../src/harness/suites/lifecycle.ts';
import type { Found, Target } from '../src/harness/suite.ts';
import type { Plugin } from '../src/harness/plugin.ts';
import { fromInput } from '../src/harness/suite.ts';
import { allTargets } from '../src/harness/targets.ts';
import type { LcSetup } from '../src/gen/lifecycle.ts';
import type { Platform } from '../src/kernel/platform.ts';
import { budget } from './budget.ts';

const targetOf = (p: Plugin): Target => lifecycleSuite.targets(p, [])[0]!;
const replay = (p: Plugin, cmds: readonly LcCmd[], setup: LcSetup, platform?: Platform): Promise<Found> => targetOf(p).replay(lcInput(cmds, setup, platform));
const profileOf = (p: Plugin) => p.profiles[0]!;

/** Each violation of a case: its rule, the findings whose predicate it meets, and the finding that explains it. */
function judged(f: Found, p: Plugin): { rule: string; predicates: string[]; explainedBy: string | null }[] {
  const cmds = readLcInput(f.counterexample.input).cmds;
  return f.violations.map((v, i) => ({ rule: v.rule, predicates: predicatesMet(profileOf(p), v, v.step === undefined ? undefined : cmds[v.step]), explainedBy: f.explainedBy[i] ?? null }));
}

const create2x2: LcCmd = { op: 'create', dev: 0, region: 0, ranges: [{ offset: 0n, length: 0x2000n }, { offset: 0x4000n, length: 0x2000n }] };
const create1: LcCmd = { op: 'create', dev: 0, region: 0, ranges: [{ offset: 0n, length: 0x1000n }] };

describe('a user\'s different bug that meets a documented finding\'s predicate is new', () => {
  it('test/plugins/iova-page-slots.ts: range i linked at page i overlaps the next range (offset 0x1000), not finding 1\'s link at 0: new, on every IOMMU', async () => {
    const { default: user } = await import('../test/plugins/iova-page-slots.ts');
    const cmds: LcCmd[] = [create2x2, { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'map', att: 0 }];
    const setup: LcSetup = { ...defaultSetup({ route: 'THRU_HOST_BRIDGE' }), iova: true };
    for (const iommu of ['overwrite', 'keep', 'refuse'] as const) {
      const found = await replay(user, cmds, setup, { iommu, dmaMap: 'direct' });
      const overlap = judged(found, user).filter((j) => j.rule === 'DMA-IOVA');
      expect(found.violations.find((v) => v.evidence?.['kind'] === 'link-overlap')?.evidence).toMatchObject({ offset: '0x1000', other: '0x0' });
      // The predicate of iova-link-offset-zero holds (so it was filed as known), and the faithful port shows another overlap: new.
      expect(overlap.filter((j) => j.predicates.includes('iova-link-offset-zero')).length).toBeGreaterThan(0);
      expect(overlap.find((j) => j.predicates.length > 0 && j.explainedBy === null), iommu).toBeDefined();
      // The faithful port on the same case: finding 1, known.
      const port = await replay(vfioExporter('my-copy-of-vfio-pci', 'the v8 port, copied', { port: { ...V8_PORT } }), cmds, setup, { iommu, dmaMap: 'direct' });
      expect(port.violations.filter((v) => v.rule === 'DMA-IOVA').length).toBeGreaterThan(0);
      expect(port.violations.map((v, i) => (v.rule === 'DMA-IOVA' ? port.explainedBy[i] : 'iova-link-offset-zero'))).toEqual(port.violations.map(() => 'iova-link-offset-zero'));
    }
    // A single-range dma-buf is linked right by both: nothing to judge.
    expect((await replay(user, [create1, ...cmds.slice(1)], setup)).violations).toEqual([]);
  });

  it('test/plugins/importer-detach-keeps-attachment.ts: close notifies an attachment the importer detached, the count L1 documents for a revoked dma-buf: new; the run passed before', async () => {
    const { default: user } = await import('../test/plugins/importer-detach-keeps-attachment.ts');
    const cmds: LcCmd[] = [create1, { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'detach', att: 0 }, { op: 'event', dev: 0, event: 'close' }];
    const found = await replay(user, cmds, defaultSetup({ route: 'BUS_ADDR' }));
    // Every violation of the case meets L1's predicate: with the predicates alone the case was all known.
    expect(judged(found, user)).toEqual([{ rule: 'REV-NOTIFY', predicates: ['cleanup-notifies-revoked'], explainedBy: null }]);
    expect(found.violations[0]!.message).toMatch(/^att0 got 1 move_notify call\(s\) in close\(dev0\), the model says 0/);
  });

  it('the search finds both as new violations of their rules (the runner\'s targets: a VFIO exporter\'s lifecycle and its map on random routes)', async () => {
    for (const [file, rule] of [['../test/plugins/iova-page-slots.ts', 'DMA-IOVA'], ['../test/plugins/importer-detach-keeps-attachment.ts', 'REV-NOTIFY']] as const) {
      const { default: user } = (await import(file)) as { default: Plugin };
      const [t] = allTargets([user]);
      const s = await t!.search(1, budget(200), new Set());
      expect(s.failures.flatMap((f) => f.violations.filter((_, i) => f.explainedBy[i] === null).map((v) => v.rule)), file).toContain(rule);
    }
  });
});

/** The lifecycle reproducers of examples/findings and the finding each shows, with a copy of the port that documents it. */
const COPIES: readonly [string, string, Plugin][] = [
  ['L1-cleanup-notifies-revoked.json', 'cleanup-notifies-revoked', vfioExporter('my-v8', 'a copy of the v8 port', { port: { ...V8_PORT } })],
  ['L2-unrevoke-notifies-iommufd.json', 'unrevoke-notifies-iommufd', vfioExporter('my-v8', 'a copy of the v8 port', { port: { ...V8_PORT } })],
  ['O1-close-disables-before-cleanup.json', 'close-disables-before-cleanup', vfioExporter('my-v8', 'a copy of the v8 port', { port: { ...V8_PORT } })],
  ['C1-fd-unwind-double-free.json', 'fd-unwind-double-free', vfioExporter('my-v8', 'a copy of the v8 port', { port: { ...V8_PORT } })],
  ['D1-first-drain-close-double-put.json', 'first-drain-close-double-put', vfioExporter('my-first-drain', 'a copy of the first drain', { port: { ...MAINLINE_FIRST_DRAIN_PORT }, profiles: ['mainline'] })],
  ['M2-rfc-match-mapping-unlocked.json', 'rfc12-match-mapping-unlocked', vfioExporter('my-rfc', 'a copy of the RFC exporter', { match: { variant: MATCH_VARIANTS.rfc, profile: 'rfc' } })],
];

describe('the faithful ports\' lifecycle findings stay known, on a copy of the port as on the bundled one', () => {
  it.each(COPIES)('%s on a copy: %s', async (file, id, copy) => {
    const entry = fromInput<{ input: { input: unknown } }>(JSON.parse(readFileSync(`examples/findings/${file}`, 'utf8')));
    const lc = readLcInput(entry.input.input);
    const found = await replay(copy, lc.cmds, lc.setup ?? defaultSetup({ route: 'THRU_HOST_BRIDGE' }), lc.platform);
    expect(found.violations.length).toBeGreaterThan(0);
    expect(found.explainedBy).toContain(id);
    expect(found.explainedBy.filter((x) => x === null)).toEqual([]);
  });

  it('a reference sequence runs once: judging the same case again costs no reference step', async () => {
    const [file, , copy] = COPIES[0]!;
    const lc = readLcInput(fromInput<{ input: { input: unknown } }>(JSON.parse(readFileSync(`examples/findings/${file}`, 'utf8'))).input.input);
    const setup = lc.setup ?? defaultSetup({ route: 'THRU_HOST_BRIDGE' });
    await replay(copy, lc.cmds, setup);
    const before = referenceSteps();
    await replay(copy, lc.cmds, setup);
    expect(referenceSteps()).toBe(before);
  });
});

