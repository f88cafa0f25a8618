import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { exportAndAttach, matchMapping, compatible, type AttachCase, type AttachOutcome, type MatchEntry } from '../models/mapping.ts';
import { attachCaseArb, listArb, matchCaseArb } from '../src/gen/mapping.ts';
import { MATCH_FINDINGS, matchCaseViolations, RFC_MATCH_CORE, runMatch, withinLoaderPrecondition, type MatchImpl } from '../src/rules/match.ts';
import { MATCH_BUGS } from '../src/bugs/index.ts';
import { ViolationLog } from '../src/rules/violation.ts';
import type { RuleId } from '../src/rules/registry.ts';
import { budget } from './budget.ts';

const violations = (impl: MatchImpl, c: AttachCase): Promise<ViolationLog> => matchCaseViolations(impl, c, new ViolationLog());

/** The outcome with the chosen importer entry and the callbacks named by entry, not by index. */
function byEntry(c: AttachCase, o: AttachOutcome): unknown {
  const imp = (i: number) => JSON.stringify(c.imp[i]);
  return { ret: o.ret, chosen: o.chosen && { exp: o.chosen.exp, imp: imp(o.chosen.imp) }, calls: o.calls.map((x) => ({ exp: x.exp, imp: imp(x.imp), ret: x.ret })), mapType: o.mapType };
}

describe('MATCH: the RFC core agrees with the model', () => {
  it('model == port for every export + attach case (result, chosen entries, callbacks run, map type)', async () => {
    await fc.assert(fc.asyncProperty(attachCaseArb(), async (c) => {
      const log = await violations(RFC_MATCH_CORE, c);
      expect(log.violations).toEqual([]);
    }), { numRuns: budget(300), seed: 61 });
  });

  it('hand-worked: the VFIO list [PAL, SGT(P2P)] against each importer (rfc and converter)', () => {
    const vfio: MatchEntry[] = [{ type: 'PAL', ops: 'vfio_pal', dev: 'gpu0' }, { type: 'SGT', ops: 'vfio_sgt', p2p: true, dev: 'gpu0' }];
    const routes = [{ provider: 'gpu0', client: 'nic0', mapType: 'BUS_ADDR' as const }];
    const base = { types: [], exp: vfio, routes };
    expect(matchMapping({ ...base, profile: 'rfc', imp: [{ type: 'PAL', ops: 'iommufd' }], importer: 'iommufd' }).mapType).toEqual({ type: 'PAL', expOps: 'vfio_pal' });
    const nic = { type: 'SGT', ops: 'nic', p2p: true, dev: 'nic0' };
    expect(matchMapping({ ...base, profile: 'rfc', imp: [nic], importer: 'dma' })).toMatchObject({ ret: 0, chosen: { exp: 1, imp: 0 }, calls: [{ exp: 1, imp: 0, ret: 0 }] });
    expect(matchMapping({ ...base, profile: 'rfc', imp: [{ ...nic, p2p: false }], importer: 'dma' })).toMatchObject({ ret: '-EINVAL', calls: [{ exp: 1, imp: 0, ret: '-EOPNOTSUPP' }] });
    expect(matchMapping({ ...base, profile: 'rfc', imp: [{ ...nic, dev: 'gpu1' }], importer: 'dma' }).ret).toBe('-EINVAL');
    // converter: VFIO offers PAL only; the core converts it for SGT and iommu_domain importers.
    const conv = { ...base, profile: 'converter' as const, exp: vfio.slice(0, 1) };
    expect(matchMapping({ ...conv, imp: [nic], importer: 'dma' }).mapType).toEqual({ type: 'SGT', expOps: 'core:PAL→SGT', sgt: { importingDev: 'nic0', importerAcceptsP2P: true, exporterRequiresP2P: true }, converter: 'PAL→SGT', source: 'vfio_pal' });
    expect(matchMapping({ ...conv, imp: [{ type: 'PAL', ops: 'x' }, { type: 'IOMMU_DOMAIN', ops: 'iommufd' }], importer: 'iommufd' })).toMatchObject({ chosen: { exp: 0, imp: 1 }, mapType: { type: 'IOMMU_DOMAIN', converter: 'PAL→IOMMU_DOMAIN' } });
  });

  it('hand-worked: export and attach checks', () => {
    const c = (ops: AttachCase['exporter']['ops'], importerOps: AttachCase['importerOps'] = 'dynamic'): AttachOutcome => exportAndAttach({ profile: 'rfc', types: [], exp: [], imp: [{ type: 'SGT', ops: 'i', p2p: false, dev: 'nic0' }], importer: 'dma', routes: [], exporter: { ops, list: [] }, importerOps });
    const legacy = { matchMapping: false, singleExporterMatch: false, mapDmaBuf: true, unmapDmaBuf: true };
    expect(c(legacy)).toMatchObject({ ret: 0, stage: 'match', offered: [{ type: 'SGT', p2p: false }] });
    expect(c({ ...legacy, matchMapping: true }).stage).toBe('export');
    expect(c({ ...legacy, unmapDmaBuf: false })).toMatchObject({ ret: '-EINVAL', stage: 'export' });
    expect(c({ matchMapping: true, singleExporterMatch: true, mapDmaBuf: false, unmapDmaBuf: false }).stage).toBe('export');
    expect(c(legacy, 'dynamic-no-move-notify')).toMatchObject({ ret: '-EINVAL', stage: 'attach' });
    expect(c(legacy, 'static').ret).toBe(0);
  });
});

describe('MATCH-ORDER metamorphic properties (on the port and the model)', () => {
  const arb = matchCaseArb();
  it('appending to the exporter list never changes an existing match or abort', async () => {
    await fc.assert(fc.asyncProperty(arb, listArb('converter', 3), async (c, extra) => {
      const before = await runMatch(RFC_MATCH_CORE, c);
      fc.pre(before.ret !== '-EINVAL' && before.stage === 'match');
      const longer = { ...c, exp: [...c.exp, ...extra], exporter: { ...c.exporter, list: [...c.exp, ...extra] } };
      const after = await runMatch(RFC_MATCH_CORE, longer);
      expect(byEntry(longer, after)).toEqual(byEntry(c, before));
      expect(matchMapping(longer)).toEqual(matchMapping(c));
    }), { numRuns: budget(150), seed: 62 });
  });

  it('removing an entry that was not chosen and not reached never changes the result', async () => {
    await fc.assert(fc.asyncProperty(arb, fc.boolean(), fc.nat(), async (c, fromExp, pick) => {
      const before = await runMatch(RFC_MATCH_CORE, c);
      const reached = new Set([...before.calls.map((x) => (fromExp ? x.exp : x.imp)), ...(before.chosen ? [fromExp ? before.chosen.exp : before.chosen.imp] : [])]);
      const list = fromExp ? c.exp : c.imp;
      const idle = list.map((_, i) => i).filter((i) => !reached.has(i));
      fc.pre(idle.length > 0);
      const drop = idle[pick % idle.length]!;
      const exp = fromExp ? c.exp.filter((_, i) => i !== drop) : c.exp;
      const smaller = { ...c, exp, imp: fromExp ? c.imp : c.imp.filter((_, i) => i !== drop), exporter: { ...c.exporter, list: exp } };
      const after = await runMatch(RFC_MATCH_CORE, smaller);
      const shift = (i: number) => (fromExp && i > drop ? i - 1 : i);
      expect(after.ret).toBe(before.ret);
      expect(byEntry(smaller, after)).toEqual(byEntry(c, { ...before, chosen: before.chosen && { ...before.chosen, exp: shift(before.chosen.exp) }, calls: before.calls.map((x) => ({ ...x, exp: shift(x.exp) })) }));
    }), { numRuns: budget(150), seed: 63 });
  });

  it('swapping two importer entries changes the result only when a reached exporter entry ties them with another', async () => {
    await fc.assert(fc.asyncProperty(arb, fc.nat(), fc.nat(), async (c, a0, b0) => {
      fc.pre(c.imp.length >= 2);
      const a = a0 % c.imp.length;
      const b = b0 % c.imp.length;
      fc.pre(a !== b);
      const imp = [...c.imp];
      [imp[a], imp[b]] = [imp[b]!, imp[a]!];
      const swapped = { ...c, imp };
      const before = await runMatch(RFC_MATCH_CORE, c);
      const after = await runMatch(RFC_MATCH_CORE, swapped);
      const last = before.chosen?.exp ?? before.calls.at(-1)?.exp ?? c.exp.length - 1;
      // The swap reorders a and b against each other and against the entries between them.
      const between = c.imp.slice(Math.min(a, b), Math.max(a, b) + 1);
      const tie = c.exp.slice(0, last + 1).some((e) => (compatible(c, e, c.imp[a]!) || compatible(c, e, c.imp[b]!)) && between.filter((i) => compatible(c, e, i)).length >= 2);
      if (!tie) expect({ ret: after.ret, chosen: after.chosen && [after.chosen.exp, JSON.stringify(imp[after.chosen.imp])] }).toEqual({ ret: before.ret, chosen: before.chosen && [before.chosen.exp, JSON.stringify(c.imp[before.chosen.imp])] });
    }), { numRuns: budget(150), seed: 64 });
  });
});

describe('seeded match bugs are caught by their rules', () => {
  for (const bug of MATCH_BUGS) {
    it(`${bug.name} → ${bug.bugOf}`, async () => {
      const rule = bug.bugOf as RuleId;
      const out = await fc.check(fc.asyncProperty(attachCaseArb(), async (c) => !(await violations(bug, c)).has(rule)), { numRuns: 5000, seed: 7 });
      expect(out.failed, `${bug.name} not caught`).toBe(true);
      const c = out.counterexample![0];
      expect((await violations(bug, c)).rules()).toContain(rule);
      expect((await violations(RFC_MATCH_CORE, c)).violations).toEqual([]);
    });
  }
});

describe('FINDINGS in match-making', () => {
  it('rfc-pal-type-open: the RFC core hands a PAL to any importer that lists it; only dma_buf_pal_map_phys is restricted (MATCH-RESTRICT)', async () => {
    const out = await fc.check(fc.asyncProperty(attachCaseArb({ profiles: ['rfc'], loaderPrecondition: false }), async (c) => !(await violations(RFC_MATCH_CORE, c)).has('MATCH-RESTRICT')), { numRuns: 2000, seed: 9 });
    expect(out.failed).toBe(true);
    const c = out.counterexample![0];
    expect(withinLoaderPrecondition(c)).toBe(false);
    expect(MATCH_FINDINGS.find((f) => f.applies(c))?.rule).toBe('MATCH-RESTRICT');
    // The shrunk case: one PAL exporter entry, one PAL importer entry from a module that is not iommufd.
    expect(c.exp.map((e) => e.type)).toEqual(['PAL']);
    expect(c.imp.map((e) => e.type)).toEqual(['PAL']);
    expect(c.importer).not.toBe('iommufd');
  });
});
