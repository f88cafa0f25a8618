// A documented finding met during a lifecycle search is recorded with the commands of the whole run up to it,
// then shrunk by fast-check (src/harness/lifecycle-shrink.ts) before it is described: the case a report, the
// corpus and `replay` show is about as short as the hand-written reproducer of examples/findings/, still shows
// that finding, and is the same for the same seed.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LcCmd } from '../models/lifecycle.ts';
import { replayFile } from '../src/commands/replay.ts';
import { dmaImporter, dmaImporterLate, iommufdImporter, iommufdMainline, vfioPci, vfioPciFirstDrain } from '../src/harness/bundled.ts';
import { FINDING_SHRINK_RUNS, shrinkFinding } from '../src/harness/lifecycle-shrink.ts';
import { createCmd, requestFor, runLifecycle } from '../src/harness/lifecycle.ts';
import { lifecycleConfig } from '../src/harness/suites/lifecycle.ts';
import { explainAll } from '../src/harness/lifecycle-prop.ts';
import type { ExporterPlugin } from '../src/harness/plugin.ts';
import type { Found, Search, SearchOptions } from '../src/harness/suite.ts';
import type { RuleId } from '../src/rules/registry.ts';
import { allTargets } from '../src/harness/targets.ts';

/** Finding id → the length of its reproducer in examples/findings/, or, without one of its own, the commands it needs. */
const reproLength = (file: string) => (JSON.parse(readFileSync(join('examples/findings', file), 'utf8')) as { input: { input: { cmds: unknown[] } } }).input.input.cmds.length;
const BOUND: Readonly<Record<string, number>> = {
  'cleanup-notifies-revoked': reproLength('L1-cleanup-notifies-revoked.json'),
  'close-disables-before-cleanup': reproLength('O1-close-disables-before-cleanup.json'),
  'fd-unwind-double-free': reproLength('C1-fd-unwind-double-free.json'),
  'fd-unwind-double-put': reproLength('C1-fd-unwind-double-free.json'),
  'first-drain-close-double-put': reproLength('D1-first-drain-close-double-put.json'),
  'unrevoke-notifies-iommufd': reproLength('L2-unrevoke-notifies-iommufd.json'),
  // D1's REV-NOTIFY needs an attachment to notify: create, attach, mem-off, close.
  'first-drain-close-reinvalidates': 4,
  // Finding 1 in the lifecycle: create (two ranges), attach, map.
  'iova-link-offset-zero': 3,
  'rfc12-match-mapping-unlocked': reproLength('M2-rfc-match-mapping-unlocked.json'),
};

/** The serial lifecycle cases among a search's findings (races are a prefix and one racing pair already). */
const serialFindings = (s: { findings: readonly Found[] }): Found[] => s.findings.filter((f) => {
  const input = f.counterexample.input as { part?: string; input?: { cmds?: unknown } };
  return input.part === 'lifecycle' && Array.isArray(input.input?.cmds);
});

const searchOf = (p: ExporterPlugin, seed: number, opts?: SearchOptions) => allTargets([p]).find((t) => t.suite === 'lifecycle')!.search(seed, 40, new Set(), opts);
/** vfio-pci's search with seed 42, made once for the tests that read it (a search is half a second). */
let vfio42: Promise<Search> | undefined;
const vfioFirst = () => (vfio42 ??= searchOf(vfioPci, 42));

describe('documented findings met by a lifecycle search are recorded shrunk', () => {
  it('vfio-pci (v8) and the first drain (mainline): each case at most its reproducer\'s length, replayed to the same finding, the same for the same seed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmabuf-shrink-'));
    const seen = new Set<string>();
    for (const p of [vfioPci, vfioPciFirstDrain]) {
      const met = serialFindings(await (p === vfioPci ? vfioFirst() : searchOf(p, 42)));
      // The same seed, the same cases (one plugin: a search is half a second).
      if (p === vfioPci) expect(serialFindings(await searchOf(p, 42)).map((f) => f.counterexample.input)).toEqual(met.map((f) => f.counterexample.input));
      for (const f of met) {
        // A case is recorded for one finding and may show others on the way: at most the longest reproducer among them.
        const ids = [...new Set(f.explainedBy.filter((x): x is string => x !== null))];
        for (const id of ids) expect(id in BOUND, `${id}: a finding this test has no bound for`).toBe(true);
        expect(f.counterexample.steps.length, `${p.name} ${ids.join(', ')}`).toBeLessThanOrEqual(Math.max(...ids.map((id) => BOUND[id]!)));
        // `dmabuf-conform replay FILE` of the case as the corpus writes it: each finding again, under each rule it showed.
        const pairs = [...new Set(f.violations.flatMap((v, i) => (f.explainedBy[i] ? [`${f.explainedBy[i]}|${v.rule}`] : [])))];
        for (const pair of pairs) {
          const [id, rule] = pair.split('|') as [string, RuleId];
          seen.add(id);
          const file = join(dir, `${p.name}-${id}-${rule}.json`.replace(/[:^]/g, '_'));
          writeFileSync(file, JSON.stringify({ implementation: p.name, rule, input: f.counterexample.input }));
          const { found } = await replayFile([file]);
          expect(found.violations.some((v, i) => v.rule === rule && found.explainedBy[i] === id), `${file} replays ${id}`).toBe(true);
        }
      }
    }
    // Which findings 40 runs meet moves with the generators; the padded cases below pin the shrink itself.
    expect(seen.size).toBeGreaterThanOrEqual(2);
  });

  it('a case met again whose findings the runner already holds (knownFindings) is kept as recorded, not shrunk again', async () => {
    const first = serialFindings(await vfioFirst());
    const keys = new Set(first.flatMap((f) => f.violations.flatMap((v, i) => (f.explainedBy[i] ? [`${f.explainedBy[i]}|${v.rule}`] : []))));
    const again = serialFindings(await searchOf(vfioPci, 42, { knownFindings: keys }));
    const steps = (fs: readonly Found[]) => fs.reduce((n, f) => n + f.counterexample.steps.length, 0);
    // The same findings, met by the same runs: recorded as the whole run up to them (the fd-unwind case of this seed is 10 commands, shrunk 1).
    expect(again).toHaveLength(first.length);
    expect(steps(again)).toBeGreaterThan(steps(first));
  });
});

describe('shrinkFinding', () => {
  const cfg = lifecycleConfig(vfioPci, { dma: dmaImporter, iommufd: iommufdImporter }, 'v8');
  const want = () => true;
  // L1 on device 1 amid unrelated commands on device 0; its dma-buf is buf1 and its attachment att1, so the
  // shrunk case (without device 0's create and attach) must renumber them to buf0 and att0.
  const padded: LcCmd[] = [
    createCmd(0, 1), createCmd(1, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'attach', buf: 1, importer: 'dma', p2p: true },
    { op: 'map', att: 0 }, { op: 'event', dev: 0, event: 'mem-off' }, { op: 'event', dev: 1, event: 'mem-off' }, { op: 'access', att: 0 }, { op: 'event', dev: 1, event: 'close' },
  ];
  const shows = async (cmds: readonly LcCmd[]) => {
    const r = await runLifecycle(cfg, cmds, { keepGoing: true });
    return (await explainAll({ cfg, names: r.names, results: r.results }, r.violations, cmds)).includes('cleanup-notifies-revoked');
  };

  it('a padded L1 case shrinks to the reproducer\'s four commands, renumbered, and still shows the finding', async () => {
    expect(await shows(padded)).toBe(true);
    const a = await shrinkFinding(cfg, 'cleanup-notifies-revoked', { cmds: padded }, want);
    expect(a.cmds).toEqual([createCmd(1, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'event', dev: 1, event: 'mem-off' }, { op: 'event', dev: 1, event: 'close' }]);
    expect(await shows(a.cmds)).toBe(true);
    expect(a.runs).toBeLessThanOrEqual(FINDING_SHRINK_RUNS + 1);
    expect((await shrinkFinding(cfg, 'cleanup-notifies-revoked', { cmds: padded }, want)).cmds).toEqual(a.cmds);
  });

  it('padded D1 (first drain) and C1 (fd unwind) cases shrink to their reproducers\' lengths', async () => {
    const mainline = lifecycleConfig(vfioPciFirstDrain, { dma: dmaImporterLate, iommufd: iommufdMainline }, 'mainline');
    const d1: LcCmd[] = [createCmd(0, 1), createCmd(1, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'map', att: 0 }, { op: 'event', dev: 1, event: 'mem-off' }, { op: 'unmap', att: 0 }, { op: 'event', dev: 1, event: 'close' }];
    const d = await shrinkFinding(mainline, 'first-drain-close-double-put', { cmds: d1 }, want);
    expect(d.cmds).toEqual([createCmd(1, 1), { op: 'event', dev: 1, event: 'mem-off' }, { op: 'event', dev: 1, event: 'close' }]);
    const fdFails: LcCmd = { op: 'create', dev: 1, region: 0, ranges: requestFor(2, true).ranges, fault: 'fd' };
    const c1: LcCmd[] = [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'map', att: 0 }, fdFails];
    for (const id of ['fd-unwind-double-free', 'fd-unwind-double-put']) expect((await shrinkFinding(cfg, id, { cmds: c1 }, want)).cmds).toEqual([fdFails]);
  });

  it('the budget bounds the runs; a case that does not show the finding, or the model cannot run, is kept as recorded', async () => {
    const none = await shrinkFinding(cfg, 'cleanup-notifies-revoked', { cmds: padded }, want, { budget: 0 });
    expect(none).toEqual({ cmds: padded, runs: 1 });
    const few = await shrinkFinding(cfg, 'cleanup-notifies-revoked', { cmds: padded }, want, { budget: 3 });
    expect(few.runs).toBeLessThanOrEqual(4);
    expect(await shows(few.cmds)).toBe(true);
    expect((await shrinkFinding(cfg, 'close-disables-before-cleanup', { cmds: padded }, want)).cmds).toEqual(padded);
    const dangling: LcCmd[] = [{ op: 'attach', buf: 3, importer: 'dma', p2p: true }, ...padded];
    expect((await shrinkFinding(cfg, 'cleanup-notifies-revoked', { cmds: dangling }, want)).cmds).toEqual(dangling);
  });
});
