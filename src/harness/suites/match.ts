// The match suite (rfc and converter profiles): `match` plugins (the
// match-making core) against models/mapping.ts (checkMatch); `converter`
// plugins against the direct path (checkConvert); and attach after cleanup
// on every exporter plugin with mapping-type ops (checkCleaned).
import fc from 'fast-check';
import type { DeviceEvent } from '../../../models/lifecycle.ts';
import type { AttachCase } from '../../../models/mapping.ts';
import { spec, type Profile } from '../../../models/profiles.ts';
import { hex } from '../../../models/u64.ts';
import { attachCaseArb } from '../../gen/mapping.ts';
import { conversionCaseArb } from '../../gen/ranges.ts';
import { asMatchDmaBuf, DmaBufMatchCore, imappingPal, imappingSgt, NO_SGT, type DmaBufMappingMatch } from '../../impl/dma-buf-match.ts';
import { Kernel } from '../../kernel/kernel.ts';
import type { Step } from '../../report/types.ts';
import type { ConversionCase } from '../../rules/conversion.ts';
import { checkCleaned, checkMatch, MATCH_FINDINGS, runMatch, type MatchImpl } from '../../rules/match.ts';
import { checkConvert, type ConverterImpl } from '../../rules/match-convert.ts';
import { guardExporter } from '../guard.ts';
import type { ConverterPlugin, ExporterPlugin, MatchPlugin, Plugin } from '../plugin.ts';
import type { RuleId } from '../../rules/registry.ts';
import { ViolationLog } from '../../rules/violation.ts';
import { requestFor } from '../lifecycle.ts';
import { family, fromInput, labelSteps, searchFound, toInput, wanted, type Found, type Judged, type Suite, type Target } from '../suite.ts';

const MATCH_RULES = family('MATCH');
const CORE_RULES = MATCH_RULES.filter((r) => r !== 'MATCH-CLEANED');

type Ev = { port?: { ret?: unknown }; model?: { ret?: unknown } } | undefined;

// ---- match-making: dma_buf_mapping_attach ----------------------------------

async function matchJudged(impl: MatchImpl, c: AttachCase): Promise<Judged> {
  const log = new ViolationLog();
  checkMatch(c, await runMatch(impl, c), log);
  const findings = MATCH_FINDINGS.filter((f) => f.applies(c));
  return { violations: log.violations, explainedBy: log.violations.map((v) => findings.find((f) => f.rule === v.rule)?.id ?? null) };
}

async function matchFound(impl: MatchImpl, c: AttachCase): Promise<Found> {
  const { violations, explainedBy } = await matchJudged(impl, c);
  const first = violations[0];
  const ev = first?.evidence as Ev;
  const step: Step = { index: 0, from: 'importer', to: 'core', command: `dma_buf_mapping_attach(${c.importer}: [${c.imp.map((e) => e.type).join(', ')}] to [${c.exp.map((e) => e.type).join(', ')}], ${c.profile})`, result: String(ev?.port?.ret ?? 'as model'), expected: String(ev?.model?.ret ?? 'as port'), ...(first ? { rule: first.rule } : {}) };
  return { violations, explainedBy, counterexample: { suite: 'match', steps: [step], failingStep: 0, input: toInput(c) } };
}

/** The match core's search gets this many times the runner's budget: one case is a single cheap attach,
 *  and the pairs whose callbacks abort are a small part of the space of lists and callback tables. */
const CORE_FACTOR = 8;

function matchCoreTarget(p: MatchPlugin): Target {
  return {
    name: p.name, suite: 'match', part: 'match', kind: p.kind, profiles: p.profiles, rules: CORE_RULES,
    search: (seed, runs, skip, opts) => searchFound(attachCaseArb(), seed, runs * CORE_FACTOR, wanted(CORE_RULES, skip), (c) => matchJudged(p, c), (c) => matchFound(p, c), opts),
    replay: (input) => matchFound(p, fromInput<AttachCase>(input)),
  };
}

// ---- the core converters (004) ----------------------------------------------

function convertJudged(impl: ConverterImpl, c: ConversionCase): Judged {
  const log = new ViolationLog();
  checkConvert(impl, c, log);
  return { violations: log.violations, explainedBy: log.violations.map(() => null) };
}

function convertFound(impl: ConverterImpl, c: ConversionCase): Found {
  const log = convertJudged(impl, c);
  const first = log.violations[0];
  const steps: Step[] = [
    { index: 0, from: 'importer', to: 'core', command: `convert PAL(${c.phys.length} ranges, ${hex(c.size)} bytes)`, result: first ? 'differs' : 'as direct path', expected: 'as direct path', ...(first ? { rule: first.rule } : {}) },
  ];
  return { violations: log.violations, explainedBy: log.violations.map(() => null), counterexample: { suite: 'match', steps, failingStep: 0, input: toInput({ kind: 'converter', ...c }) } };
}

function converterTarget(p: ConverterPlugin): Target {
  return {
    name: p.name, suite: 'match', part: 'converter', kind: p.kind, profiles: p.profiles, rules: ['MATCH-CONVERT'],
    search: (seed, runs, skip, opts) => searchFound(conversionCaseArb({ maxRanges: 4 }), seed, runs, wanted(['MATCH-CONVERT'], skip), (c) => convertJudged(p, c), (c) => convertFound(p, c), opts),
    replay: async (input) => convertFound(p, fromInput<ConversionCase>(input)),
  };
}

// ---- attach after vfio_pci_dma_buf_cleanup() --------------------------------

type Imp = 'iommufd' | 'dma-p2p' | 'dma' | 'domain';
interface CleanedCase {
  readonly events: DeviceEvent[];
  readonly imp: Imp;
}

const BAR0 = { index: 0, type: 'mem' as const, start: 0x38000000000n, size: 0x100000n, busOffset: 0n };
const cleanedArb: fc.Arbitrary<CleanedCase> = fc.record({
  events: fc.array(fc.constantFrom<DeviceEvent>('mem-off', 'mem-on', 'flr', 'reset', 'd3-enter', 'd3-exit'), { maxLength: 4 }),
  imp: fc.constantFrom<Imp>('iommufd', 'dma-p2p', 'dma', 'domain'),
});

function importerList(core: DmaBufMatchCore, imp: Imp): DmaBufMappingMatch[] {
  if (imp === 'iommufd') return [imappingPal(core)];
  if (imp === 'domain') return [{ type: core.iommu_domain_type, sgt_data: NO_SGT, imp_priv: 'iommufd' }];
  return [imappingSgt(core, 'nic0', imp === 'dma-p2p')];
}

/** The finding of the review fix of RFC 12/26: attach after cleanup fails -EINVAL, not -ENODEV (reports/FINDINGS.md M3). */
const explainCleaned = (result: string, added: number): string | null => (result === '-EINVAL' && added === 0 ? 'rfc12-fix-cleaned-einval' : null);

/** Export from the plugin's device, run the events, close the device, attach by match-making: what the attach answered. */
async function cleanedRun(p: ExporterPlugin, profile: Profile, c: CleanedCase): Promise<Judged & { result: string; created: string }> {
  const k = new Kernel();
  // Each violation names the step it was reported in (cleanedFound's steps: the create, each event, the attach).
  k.log.step = 0;
  const dev = guardExporter(p).probe(k, { name: 'vdev0', bars: [BAR0], pageSize: 4096n, routeTo: () => 'BUS_ADDR' });
  const r = await dev.create(requestFor(2, true));
  if (!r.ok) {
    k.report('MATCH-CLEANED', `create failed ${r.errno} before the attach could be checked`, {});
    return { result: r.errno, created: r.errno, violations: k.log.violations, explainedBy: k.log.violations.map(() => null) };
  }
  const core = new DmaBufMatchCore(k, profile, (pr, cl) => (pr === 'vdev0' && cl === 'nic0' ? 4 : -1));
  const buf = asMatchDmaBuf(r.value, dev.matchOps!(core, r.value));
  for (const [i, e] of [...c.events, 'close' as const].entries()) {
    k.log.step = i + 1;
    await dev.event(e);
  }
  k.log.step = c.events.length + 2;
  const before = buf.attachments.size;
  const a = await core.dma_buf_mapping_attach(buf, importerList(core, c.imp), { allow_peer2peer: c.imp === 'dma-p2p', move_notify: () => undefined }, null);
  const result = a.ok ? 'ok' : a.errno;
  const added = buf.attachments.size - before;
  checkCleaned(k.log, result, added);
  return { result, created: 'ok', violations: k.log.violations, explainedBy: k.log.violations.map((v) => (v.rule === 'MATCH-CLEANED' ? explainCleaned(result, added) : null)) };
}

async function cleanedFound(p: ExporterPlugin, profile: Profile, c: CleanedCase): Promise<Found> {
  const { result, created, violations, explainedBy } = await cleanedRun(p, profile, c);
  const all: Step[] = [
    { index: 0, from: 'user', to: 'exporter', command: 'create(dev0, 2 ranges)', result: created, expected: 'ok' },
    ...[...c.events, 'close'].map((e, i): Step => ({ index: i + 1, from: 'device', to: 'exporter', command: `${e}(dev0)`, result: 'ok', expected: 'ok' })),
    { index: c.events.length + 2, from: 'importer', to: 'core', command: `attach(buf0, ${c.imp}, ${profile})`, result, expected: '-ENODEV' },
  ];
  // A create that failed ends the case there.
  return { violations, explainedBy, counterexample: { suite: 'match', ...labelSteps(created === 'ok' ? all : all.slice(0, 1), violations), input: c } };
}

/** An exporter that gives its dma-bufs mapping-type ops, under each mapping-type profile it declares. */
function cleanedTargets(p: ExporterPlugin): Target[] {
  if (!p.profiles.some((x) => spec(x).mappingTypes)) return [];
  return p.profiles.flatMap((profile, i): Target[] => (spec(profile).mappingTypes ? [{
    name: i === 0 ? p.name : `${p.name}:${profile}`, suite: 'match', part: 'cleaned', kind: p.kind, profiles: [profile], rules: ['MATCH-CLEANED'],
    search: (seed, runs, skip, opts) => searchFound(cleanedArb, seed, runs, wanted(['MATCH-CLEANED'], skip), (c) => cleanedRun(p, profile, c), (c) => cleanedFound(p, profile, c), opts),
    replay: (input) => cleanedFound(p, profile, input as CleanedCase),
  }] : []));
}

function targets(p: Plugin): Target[] {
  if (p.kind === 'match') return [matchCoreTarget(p)];
  if (p.kind === 'converter') return [converterTarget(p)];
  if (p.kind === 'exporter') return cleanedTargets(p);
  return [];
}

export const matchSuite: Suite = { id: 'match', rules: MATCH_RULES, targets };
