// The runner's machinery (issue 7): guarded plugin hooks (PLUGIN-THROW,
// PLUGIN-TIMEOUT) as findings while the run goes on, the failure corpus
// replayed first, fingerprints, baselines, atomic writes, exact inputs.
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROFILES } from '../models/profiles.ts';
import { bundledPlugins, dmaImporter, vfioPci } from '../src/harness/bundled.ts';
import { seededBugs } from '../src/bugs/index.ts';
import { guardExporter, guardImporter } from '../src/harness/guard.ts';
import type { ExporterDevice, ExporterPlugin, ImporterPlugin } from '../src/harness/plugin.ts';
import { canonical, fingerprint, mergeBaseline, runConformance, targetRound, writeAtomic, type RunOptions } from '../src/harness/runner.ts';
import { fromInput, toInput, type Found, type Target } from '../src/harness/suite.ts';
import { allTargets } from '../src/harness/targets.ts';
import { createCmd, requestFor, runLifecycle } from '../src/harness/lifecycle.ts';
import { lifecycleConfig } from '../src/harness/suites/lifecycle.ts';
import { matchImporters } from '../src/impl/match_importers.ts';
import { Kernel } from '../src/kernel/kernel.ts';
import { writeReports } from '../src/report/index.ts';
import { UsageError } from '../src/commands/usage.ts';
import type { Report } from '../src/report/types.ts';
import { budget } from './budget.ts';

/** The targets of one seeded bug, given as the only plugin (as self-test does). */
const bugTargets = (name: string) => allTargets(seededBugs().filter((b) => b.plugin.name === name).map((b) => b.plugin));

const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-runner-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const opts: Omit<RunOptions, 'seed' | 'targets'> = { runs: 30, profiles: [...PROFILES], baseline: { version: 1, findings: [] }, bail: false, replayCommand: (id) => id, progress: () => undefined };
const DEV = { name: 'vdev0', bars: [{ index: 0, type: 'mem' as const, start: 0x38000000000n, size: 0x100000n, busOffset: 0n }], pageSize: 4096n as const, routeTo: () => 'THRU_HOST_BRIDGE' as const };

/** vfio-pci with one hook replaced. */
function vfioWith(name: string, hook: Partial<ExporterDevice>): ExporterPlugin {
  return { ...vfioPci, name, probe: (k, cfg) => Object.assign(vfioPci.probe(k, cfg), hook) };
}

describe('guarded plugin hooks', () => {
  it('a hook that throws is PLUGIN-THROW and answers an errno; one that never settles is PLUGIN-TIMEOUT, and a hung plugin gets a short time-out after that', async () => {
    const k = new Kernel();
    const throwing = guardExporter(vfioWith('throwing', { event: () => { throw new Error('bad event'); } })).probe(k, DEV);
    expect(await throwing.event('flr')).toBe('-EIO');
    // The first time-out well above the short one (20 ms), so that the short one still shows on a
    // loaded machine (with 30 ms the second call measured 40 and 140 ms under a load of 9-12).
    const hanging = guardExporter(vfioWith('hanging', { create: () => new Promise(() => undefined) }), 300).probe(k, DEV);
    expect(await hanging.create(requestFor(1, true))).toEqual({ ok: false, errno: '-EIO' });
    const t0 = performance.now();
    expect(await hanging.create(requestFor(1, true))).toEqual({ ok: false, errno: '-EIO' });
    expect(performance.now() - t0).toBeLessThan(300);
    expect(k.log.violations.map((v) => [v.rule, v.message])).toEqual([
      ['PLUGIN-THROW', 'throwing: event(flr) threw: bad event'],
      ['PLUGIN-TIMEOUT', 'hanging: create did not return within 300 ms'],
      ['PLUGIN-TIMEOUT', 'hanging: create did not return within 20 ms (it hung before: later hooks get the short time-out)'],
    ]);
  });

  it('a probe that throws leaves a dead device; importer hooks are guarded too; the device keeps its own fields', async () => {
    const k = new Kernel();
    const dead = guardExporter({ ...vfioPci, name: 'no-probe', probe: () => { throw new Error('no BARs'); } }).probe(k, DEV);
    expect([await dead.event('flr'), dead.isRevoked(null as never)]).toEqual(['-EIO', true]);
    const dev = guardExporter(vfioPci).probe(k, DEV);
    expect((dev as unknown as { cfg: { name: string } }).cfg.name).toBe('vdev0');
    const buf = await dev.create(requestFor(1, true));
    if (!buf.ok) throw new Error(buf.errno);
    const rejecting: ImporterPlugin = { ...dmaImporter, name: 'rejecting', attach: async () => Promise.reject(new Error('no')) };
    expect(await guardImporter(rejecting).attach(k, buf.value, dev, { p2p: true, dev: 'nic', route: 'THRU_HOST_BRIDGE', profile: 'v8' })).toEqual({ ok: false, errno: '-EIO' });
    const att = await guardImporter(dmaImporter).attach(k, buf.value, dev, { p2p: true, dev: 'nic', route: 'THRU_HOST_BRIDGE', profile: 'v8' });
    expect(att.ok && [await att.value.map(), att.value.mapped(), att.value.access(), await att.value.unmap()]).toEqual(['ok', true, 'ok', 'ok']);
    expect(k.log.violations.map((v) => v.rule)).toEqual(['PLUGIN-THROW', 'PLUGIN-THROW']);
  });

  it('matchOps is guarded too: one that throws is PLUGIN-THROW and leaves a dma-buf nobody attaches to; an exporter without it cannot attach under rfc', async () => {
    const throwing = vfioWith('match-throws', { matchOps: () => { throw new Error('no match list'); } });
    const r = await runLifecycle(lifecycleConfig(throwing, matchImporters('rfc'), 'rfc'), [createCmd(0, 1, true), { op: 'attach', buf: 0, importer: 'dma', p2p: true }], { keepGoing: true });
    expect(r.steps.map((s) => s.result)).toEqual(['ok', '-EIO']);
    expect(r.violations.map((v) => [v.rule, v.message])).toContainEqual(['PLUGIN-THROW', 'match-throws: matchOps threw: no match list']);
    const v8only = await runLifecycle(lifecycleConfig(vfioPci, matchImporters('rfc'), 'rfc'), [createCmd(0, 1, true), { op: 'attach', buf: 0, importer: 'dma', p2p: true }], { keepGoing: true });
    expect(v8only.steps.map((s) => s.result)).toEqual(['ok', '-EOPNOTSUPP']);
  });

  it('a run with a throwing plugin reports PLUGIN-THROW with a shrunk counterexample and goes on with the other implementations', async () => {
    const bad = vfioWith('flr-throws', { event: async (e) => { if (e === 'flr') throw new Error('FLR not wired'); return 'ok'; } });
    const targets = allTargets([bad, vfioPci]);
    // 30 runs a search find it and shrink it to the flr as 200 did (at a fifth of the time, 9 s under coverage).
    const { report, newCount } = await runConformance({ ...opts, runs: budget(30), seed: 3, targets });
    const v = report.violations.find((x) => x.rule === 'PLUGIN-THROW');
    expect(v?.implementation).toBe('flr-throws');
    expect(v?.counterexample.steps.at(-1)?.command).toMatch(/flr\(dev0\)/);
    expect(v?.message).toBe('flr-throws: event(flr) rejected: FLR not wired');
    expect(newCount).toBeGreaterThan(0);
    expect(report.results.filter((r) => r.implementation === 'vfio-pci' && r.runs > 0).length).toBeGreaterThan(0);
  });

  it('a throw past the guarded hooks (in a dma-buf op the core calls) is PLUGIN-THROW too, and replays', async () => {
    const leaky: ExporterPlugin = {
      ...vfioPci, name: 'release-throws',
      probe: (k, cfg) => {
        const d = vfioPci.probe(k, cfg);
        const create = d.create.bind(d);
        return Object.assign(d, { create: async (req: Parameters<ExporterDevice['create']>[0]) => {
          const r = await create(req);
          if (r.ok) Object.assign(r.value.ops, { release: async () => { throw new Error('release exploded'); } });
          return r;
        } });
      },
    };
    const [t] = allTargets([leaky]);
    const s = await t!.search(1, 200, new Set(t!.rules.filter((r) => r !== 'PLUGIN-THROW')));
    const found = s.failures.find((f) => f.counterexample.suite === 'lifecycle');
    expect(found?.violations.map((v) => [v.rule, v.message])).toEqual([['PLUGIN-THROW', 'the implementation threw outside a plugin hook: release exploded']]);
    expect((await t!.replay(found!.counterexample.input)).violations).toEqual(found!.violations);
  });

  it('hot reset reaches the plugin with its own devices', async () => {
    const k = new Kernel();
    const p = guardExporter(vfioPci);
    const devs = [p.probe(k, DEV), p.probe(k, { ...DEV, name: 'vdev1' })];
    expect(await p.hotReset!(devs)).toBe('ok');
    expect(k.log.violations).toEqual([]);
  });
});

/** A lifecycle input in the corpus-entry format (the part it ran in, and that part's input). */
const LC_INPUT = { part: 'lifecycle', input: { cmds: [{ op: 'event', dev: 0, event: 'flr' }] } };

/** A target whose search finds nothing and whose replay shows one violation: only the corpus can report it. */
function corpusOnly(name: string): Target & { replayed: unknown[] } {
  const replayed: unknown[] = [];
  const found = (input: unknown): Found => ({ violations: [{ rule: 'REV-MAP', message: `replayed ${JSON.stringify(input)}` }], explainedBy: [null], counterexample: { suite: 'lifecycle', steps: [], failingStep: 0, input } });
  return { name, suite: 'lifecycle', part: 'lifecycle', kind: 'exporter', profiles: ['v8'], rules: ['REV-MAP'], replayed, search: async () => ({ failures: [], findings: [] }), replay: async (input) => (replayed.push(input), found(input)) };
}

describe('when a rule shows (the bench\'s time to find)', () => {
  it('is when the fc.check that failed returned, not after the parts of a combined target that ran after it', async () => {
    // As a VFIO exporter's lifecycle+export target: the lifecycle part fails at its 7th run after a 20-run search
    // that passed, then the export part spends its whole 400-run budget.
    const failure: Found = { violations: [{ rule: 'REV-MAP', message: 'map of a revoked dma-buf' }], explainedBy: [null], counterexample: { suite: 'lifecycle', steps: [], failingStep: 0, input: null } };
    const counts = (numRuns: number, failed: boolean) => ({ numRuns, failed, interrupted: false, numSkips: 0, numShrinks: 0 });
    let searches = 0;
    const t: Target = {
      name: 'two-parts', suite: 'lifecycle', part: 'lifecycle+export', kind: 'exporter', profiles: ['v8'], rules: ['REV-MAP', 'PAL-INPUT'],
      search: async (_seed, _runs, _skip, opts) => {
        if (searches++ > 0) {
          // The round's next search, for the rules not shown yet (PAL-INPUT): nothing, so the round ends.
          opts?.observe?.(counts(400, false));
          return { failures: [], findings: [] };
        }
        opts?.observe?.(counts(20, false));
        opts?.observe?.(counts(7, true));
        opts?.observe?.(counts(400, false));
        return { failures: [failure], findings: [] };
      },
      replay: async () => failure,
    };
    const r = await targetRound(t, { round: 0, seed: 1, runs: 400, found: [], corpus: [] });
    expect(r.shown).toEqual([{ rule: 'REV-MAP', runs: 27, ms: expect.any(Number) }]);
    expect(r.runs).toBe(827);
  });
});

describe('the failure corpus', () => {
  it('is replayed first, as regression tests: its cases are reported even when the search finds nothing, and each is written once', async () => {
    const dir = join(tmp, 'corpus');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'a.json'), JSON.stringify({ implementation: 'plugin-x', rule: 'REV-MAP', input: LC_INPUT }));
    writeFileSync(join(dir, 'b.json'), JSON.stringify({ implementation: 'someone-else', rule: 'REV-MAP', input: { part: 'lifecycle', input: { cmds: [] } } }));
    const t = corpusOnly('plugin-x');
    const { report } = await runConformance({ ...opts, seed: 1, targets: [t], corpusDir: dir });
    expect(t.replayed).toEqual([LC_INPUT]);
    expect(report.violations.map((v) => [v.implementation, v.rule, v.message])).toEqual([['plugin-x', 'REV-MAP', `replayed ${JSON.stringify(LC_INPUT)}`]]);
    // The report says which corpus it used and how many of its entries this run replayed.
    expect(report.corpus).toEqual({ path: dir, replayed: 1 });
    const before = readdirSync(dir).length;
    await runConformance({ ...opts, seed: 1, targets: [t], corpusDir: dir });
    expect(readdirSync(dir).length).toBe(before);
  });

  it('a corrupt or schema-invalid entry, or one whose input no longer replays, is one line naming the file (issue 15 item 7), before any search', async () => {
    const cases: [string, string, RegExp][] = [
      ['broken.json', '{', /broken\.json: not JSON \(/],
      ['no-input.json', JSON.stringify({ implementation: 'plugin-x', rule: 'REV-MAP' }), /no-input\.json: \/input: missing \(required\)/],
      ['bad-rule.json', JSON.stringify({ implementation: 'plugin-x', rule: 'NOPE-1', input: LC_INPUT }), /bad-rule\.json: \/rule: unknown rule 'NOPE-1'/],
      ['extra.json', JSON.stringify({ implementation: 'plugin-x', rule: 'REV-MAP', input: LC_INPUT, note: 1 }), /extra\.json: \/note: unknown field/],
      ['no-input-input.json', JSON.stringify({ implementation: 'plugin-x', rule: 'REV-MAP', input: { part: 'lifecycle' } }), /no-input-input\.json: \/input\/input: missing \(required\)$/],
    ];
    for (const [file, text, msg] of cases) {
      const dir = mkdtempSync(join(tmp, 'bad-corpus-'));
      writeFileSync(join(dir, file), text);
      const t = corpusOnly('plugin-x');
      const err = await runConformance({ ...opts, seed: 1, targets: [t], corpusDir: dir }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(UsageError);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message.startsWith(join(dir, file))).toBe(true);
      expect(t.replayed).toEqual([]);
    }
    // A dangling input: the target's replay throws; no search runs, the file is named.
    const dir = mkdtempSync(join(tmp, 'bad-corpus-'));
    writeFileSync(join(dir, 'dangling.json'), JSON.stringify({ implementation: 'plugin-x', rule: 'REV-MAP', input: { part: 'lifecycle', input: { cmds: [{ op: 'map', att: 7 }] } } }));
    let searched = false;
    const t: Target = { ...corpusOnly('plugin-x'), search: async () => ((searched = true), { failures: [], findings: [] }), replay: async () => { throw new Error('no attachment att7'); } };
    const err = await runConformance({ ...opts, seed: 1, targets: [t], corpusDir: dir }).then(() => null, (e: unknown) => e);
    expect((err as Error).message).toBe(`${join(dir, 'dangling.json')}: /input: cannot be replayed (no attachment att7)`);
    expect(searched).toBe(false);
  });

  it("a worker's crash or hang (part 'isolation') is reported but never written to the corpus, and one left in a corpus is not replayed", async () => {
    const dir = mkdtempSync(join(tmp, 'iso-corpus-'));
    const crash: Found = { violations: [{ rule: 'PLUGIN-EXIT', message: 'exits ended its worker' }], explainedBy: [null], counterexample: { suite: 'lifecycle', steps: [{ index: 0, from: 'user', to: 'exporter', command: 'search of exits', result: 'exited', expected: 'a result', rule: 'PLUGIN-EXIT' }], failingStep: 0, input: { part: 'isolation', input: { why: 'exited', seed: 1, round: 0, runs: 30 } } } };
    const t: Target & { replayed: unknown[] } = { ...corpusOnly('exits'), rules: ['PLUGIN-EXIT'], search: async () => ({ failures: [crash], findings: [] }) };
    const { report } = await runConformance({ ...opts, seed: 1, targets: [t], corpusDir: dir });
    expect(report.violations.map((v) => v.rule)).toEqual(['PLUGIN-EXIT']);
    expect(readdirSync(dir)).toEqual([]);
    // An earlier version wrote them: the next run is not blocked by one.
    writeFileSync(join(dir, 'old.json'), JSON.stringify({ implementation: 'exits', rule: 'PLUGIN-EXIT', input: crash.counterexample.input }));
    await runConformance({ ...opts, seed: 1, targets: [t], corpusDir: dir });
    expect(t.replayed).toEqual([]);
  });

  it('a bundled seeded bug found once is found again from the corpus with the same fingerprint', async () => {
    const dir = join(tmp, 'corpus2');
    const targets = bugTargets('bug:route-busaddr-sign');
    const a = await runConformance({ ...opts, seed: 3, targets, corpusDir: dir });
    const b = await runConformance({ ...opts, seed: 3, targets, corpusDir: dir });
    expect(a.report.violations.length).toBeGreaterThan(0);
    expect(b.report.violations.map((v) => v.fingerprint)).toEqual(a.report.violations.map((v) => v.fingerprint));
  });
});

describe('fingerprints and baselines', () => {
  const t = corpusOnly('impl');
  it('a fingerprint is rule + implementation + canonical JSON of the input; a documented finding is named instead, whatever the implementation', () => {
    expect(canonical({ b: [1, { d: 2, c: 3 }], a: 'x' })).toBe('{"a":"x","b":[1,{"c":3,"d":2}]}');
    expect(fingerprint(t, 'REV-MAP', null, { x: 1, y: 2 })).toBe(fingerprint(t, 'REV-MAP', null, { y: 2, x: 1 }));
    expect(fingerprint(t, 'REV-MAP', null, { x: 1 })).not.toBe(fingerprint(t, 'REV-MAP', null, { x: 2 }));
    expect(fingerprint(t, 'REV-MAP', null, { x: 1 })).not.toBe(fingerprint(t, 'REV-WINDOW', null, { x: 1 }));
    expect(fingerprint(t, 'REV-MAP', 'some-finding', { x: 1 })).toBe(fingerprint(t, 'REV-MAP', 'some-finding', { x: 2 }));
    expect(fingerprint(corpusOnly('a copy'), 'REV-MAP', 'some-finding', { x: 3 })).toBe(fingerprint(t, 'REV-MAP', 'some-finding', { x: 1 }));
    expect(fingerprint(t, 'REV-MAP', 'some-finding', { x: 1 })).not.toBe(fingerprint(t, 'REV-MAP', 'other-finding', { x: 1 }));
  });

  it('a written baseline keeps the older entries of implementations the run did not check', () => {
    const older = { version: 1 as const, findings: [{ fingerprint: 'a', implementation: 'kept', rule: 'REV-MAP' as const, why: '' }, { fingerprint: 'b', implementation: 'ran', rule: 'REV-MAP' as const, why: '' }] };
    const newer = { version: 1 as const, findings: [{ fingerprint: 'c', implementation: 'ran', rule: 'REV-MAP' as const, why: '' }] };
    expect(mergeBaseline(older, newer, new Set(['ran'])).findings.map((f) => f.fingerprint)).toEqual(['a', 'c']);
  });

  it('every bundled target names a suite, profiles and rules, and replays its own inputs', () => {
    const all = allTargets(bundledPlugins());
    for (const x of all) expect([x.name, x.profiles.length > 0, x.rules.length > 0]).toEqual([x.name, true, true]);
    expect(new Set(all.map((x) => x.name)).size).toBe(all.length);
    expect(bundledPlugins().every((e) => all.some((x) => x.name === e.name))).toBe(true);
  });
});

describe('what a result says', () => {
  it('each violation of a shared counterexample points at the step where its own rule broke', async () => {
    const [t] = bugTargets('bug:uaf-close-without-cleanup');
    const found = await t!.replay({ part: 'lifecycle', input: { cmds: [createCmd(0, 1, true), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'event', dev: 0, event: 'close' }, { op: 'event', dev: 0, event: 'unbind' }, { op: 'map', att: 0 }] } });
    const { report } = await runConformance({ ...opts, runs: 1, seed: 1, targets: [{ ...t!, search: async () => ({ failures: [found], findings: [] }) }] });
    const at = (rule: string) => report.violations.find((v) => v.rule === rule)!.counterexample;
    expect([at('REV-CLEANUP').failingStep, at('UAF-REF').failingStep, at('UAF-OBJ').failingStep]).toEqual([2, 3, 4]);
    for (const v of report.violations) expect(v.counterexample.steps[v.counterexample.failingStep]!.rule).toBe(v.rule);
  });

  it('runs are the runs fast-check made; a seeded bug is searched as any plugin, every rule of it checked', async () => {
    const [bug] = bugTargets('bug:len-nents-wrap');
    const { report } = await runConformance({ ...opts, runs: 400, seed: 1, targets: [bug!] });
    const own = report.results.find((r) => r.rule === 'LEN-NENTS')!;
    expect(own.status).toBe('violation');
    expect(own.runs).toBeGreaterThan(0);
    expect(own.runs).toBeLessThanOrEqual(400 * 8);
    const others = report.results.filter((r) => r.violations.length === 0);
    expect(others.length).toBeGreaterThan(0);
    expect(new Set(others.map((r) => r.status))).toEqual(new Set(['pass']));
  });
});

describe('reports and inputs', () => {
  it('a report is written atomically: a temporary file renamed over the old one, nothing left behind', async () => {
    const dir = join(tmp, 'latest');
    const { report } = await runConformance({ ...opts, seed: 1, targets: bugTargets('bug:pal-size-u32') });
    writeReports(report, dir);
    writeAtomic(join(dir, 'report.json'), 'old');
    writeReports(report, dir);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect((JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report).violations.length).toBe(report.violations.length);
    expect(existsSync(`${join(dir, 'report.json')}.${process.pid}.tmp`)).toBe(false);
  });

  it('inputs round-trip exactly through JSON, u64s included', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.array(fc.nat()), (x, xs) => {
      const v = { x, xs, nested: [{ y: x }] };
      expect(fromInput(JSON.parse(JSON.stringify(toInput(v))))).toEqual(v);
    }), { numRuns: 50, seed: 5 });
  });
});

describe('progress and the final summary', () => {
  it('the last progress line counts what report.summary counts: violations by fingerprint, known and new', async () => {
    // Documented findings (known) and a seeded bug's (new) on the same run; several distinct
    // counterexamples of one rule are several violations in the summary, and in the progress line.
    const seen: { violations: number; newOnes: number; done: number; total: number }[] = [];
    const targets = [...allTargets(bundledPlugins().filter((p) => p.name === 'v8:dma_buf_map')), ...bugTargets('bug:route-busaddr-sign')];
    const { report } = await runConformance({ ...opts, seed: 3, targets, progress: (p) => seen.push(p) });
    const last = seen.at(-1)!;
    expect(last.done).toBe(last.total);
    expect(report.summary.violations).toBeGreaterThan(report.results.filter((r) => r.violations.length > 0).length);
    expect(report.summary.new).toBeGreaterThan(0);
    expect(report.summary.known).toBeGreaterThan(0);
    expect({ violations: last.violations, new: last.newOnes }).toEqual({ violations: report.summary.violations, new: report.summary.new });
  });
});
