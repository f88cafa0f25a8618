// The match suite (rfc and converter profiles): the match-making core (the
// RFC port and its seeded bugs) against models/mapping.ts (checkMatch); the
// core converters against the direct path (checkConvert); attach after VFIO
// cleanup (checkCleaned); and the VFIO lifecycle seen through mapping types.
import fc from 'fast-check';
import type { DeviceEvent } from '../../../models/lifecycle.ts';
import type { AttachCase } from '../../../models/mapping.ts';
import { PROFILES as ALL_PROFILES, spec, type Profile } from '../../../models/profiles.ts';
import { hex } from '../../../models/u64.ts';
import { matchCleanedAttach } from '../../bugs/match-cleaned-attach.ts';
import { matchConverterLeak } from '../../bugs/match-converter-leak.ts';
import { attachCaseArb } from '../../gen/mapping.ts';
import { conversionCaseArb } from '../../gen/ranges.ts';
import { asMatchDmaBuf, DmaBufMatchCore, imappingPal, imappingSgt, NO_SGT, type DmaBufMappingMatch } from '../../impl/dma-buf-match.ts';
import { RFC_POSTED, RFC_REVIEW_FIX, vfioMatchOps, type VfioMatchVariant } from '../../impl/vfio/vfio_pci_dmabuf_match.ts';
import { VfioPciCore } from '../../impl/vfio/vfio_pci_core.ts';
import { Kernel } from '../../kernel/kernel.ts';
import type { Step } from '../../report/types.ts';
import type { ConversionCase } from '../../rules/conversion.ts';
import { checkCleaned, checkMatch, MATCH_FINDINGS, runMatch, type MatchImpl } from '../../rules/match.ts';
import { checkConvert, CORE_CONVERTERS, type ConverterImpl } from '../../rules/match-convert.ts';
import { MATCH_IMPLS } from '../../rules/match-impls.ts';
import { matchExporter, type MatchProfile } from '../../rules/match-lifecycle.ts';
import { matchImporters } from '../../impl/match_importers.ts';
import type { RuleId } from '../../rules/registry.ts';
import { ViolationLog } from '../../rules/violation.ts';
import { requestFor } from '../lifecycle.ts';
import { family, fromInput, searchWith, toInput, wanted, type Found, type Suite, type Target } from '../suite.ts';
import { lifecycleConfig, lifecycleTarget } from './lifecycle.ts';

const MATCH_RULES = family('MATCH');
const CORE_RULES = MATCH_RULES.filter((r) => r !== 'MATCH-CLEANED');
/** The designs with mapping types: where match-making runs. */
const PROFILES: readonly Profile[] = ALL_PROFILES.filter((p) => spec(p).mappingTypes);

type Ev = { port?: { ret?: unknown }; model?: { ret?: unknown } } | undefined;

// ---- match-making: dma_buf_mapping_attach ----------------------------------

async function matchViolations(impl: MatchImpl, c: AttachCase): Promise<ViolationLog> {
  const log = new ViolationLog();
  checkMatch(c, await runMatch(impl, c), log);
  return log;
}

async function matchFound(impl: MatchImpl, c: AttachCase): Promise<Found> {
  const log = await matchViolations(impl, c);
  const findings = MATCH_FINDINGS.filter((f) => f.applies(c));
  const explainedBy = log.violations.map((v) => findings.find((f) => f.rule === v.rule)?.id ?? null);
  const first = log.violations[0];
  const ev = first?.evidence as Ev;
  const step: Step = { index: 0, from: 'importer', to: 'core', command: `dma_buf_mapping_attach(${c.importer}: [${c.imp.map((e) => e.type).join(', ')}] to [${c.exp.map((e) => e.type).join(', ')}], ${c.profile})`, result: String(ev?.port?.ret ?? 'as model'), expected: String(ev?.model?.ret ?? 'as port'), ...(first ? { rule: first.rule } : {}) };
  return { violations: log.violations, explainedBy, counterexample: { suite: 'match', steps: [step], failingStep: 0, input: toInput(c) } };
}

function matchCoreTarget(impl: MatchImpl): Target {
  return {
    name: impl.name, suite: 'match', kind: impl.bugOf ? 'bug' : 'core', profiles: PROFILES, rules: CORE_RULES, ...(impl.bugOf ? { bugOf: impl.bugOf } : {}),
    findings: MATCH_FINDINGS.map((f) => ({ id: f.id, rules: [f.rule] })),
    async search(seed, runs, skip, opts) {
      const hit = await searchWith(attachCaseArb(), seed, runs, async (c) => (await matchViolations(impl, c)).violations.some(wanted(CORE_RULES, skip)), opts?.observe);
      return hit ? matchFound(impl, hit) : null;
    },
    replay: (input) => matchFound(impl, fromInput<AttachCase>(input)),
  };
}

// ---- the core converters (004) ----------------------------------------------

function convertViolations(impl: ConverterImpl, c: ConversionCase): ViolationLog {
  const log = new ViolationLog();
  checkConvert(impl, c, log);
  return log;
}

function convertFound(impl: ConverterImpl, c: ConversionCase): Found {
  const log = convertViolations(impl, c);
  const first = log.violations[0];
  const steps: Step[] = [
    { index: 0, from: 'importer', to: 'core', command: `convert PAL(${c.phys.length} ranges, ${hex(c.size)} bytes)`, result: first ? 'differs' : 'as direct path', expected: 'as direct path', ...(first ? { rule: first.rule } : {}) },
  ];
  return { violations: log.violations, explainedBy: log.violations.map(() => null), counterexample: { suite: 'match', steps, failingStep: 0, input: toInput({ kind: 'converter', ...c }) } };
}

function converterTarget(impl: ConverterImpl): Target {
  return {
    name: impl.name, suite: 'match', kind: impl.bugOf ? 'bug' : 'core', profiles: ['converter'], rules: ['MATCH-CONVERT'], findings: [], ...(impl.bugOf ? { bugOf: impl.bugOf } : {}),
    async search(seed, runs, skip, opts) {
      const hit = await searchWith(conversionCaseArb({ maxRanges: 4 }), seed, runs, (c) => convertViolations(impl, c).violations.some(wanted(['MATCH-CONVERT'], skip)), opts?.observe);
      return hit ? convertFound(impl, hit) : null;
    },
    replay: async (input) => convertFound(impl, fromInput<ConversionCase>(input)),
  };
}

// ---- attach after vfio_pci_dma_buf_cleanup() --------------------------------

type Imp = 'iommufd' | 'dma-p2p' | 'dma' | 'domain';
interface CleanedCase {
  readonly profile: MatchProfile;
  readonly events: DeviceEvent[];
  readonly imp: Imp;
}

const BAR0 = { index: 0, type: 'mem' as const, start: 0x38000000000n, size: 0x100000n, busOffset: 0n };
const cleanedArb: fc.Arbitrary<CleanedCase> = fc.record({
  profile: fc.constantFrom<MatchProfile>('rfc', 'converter'),
  events: fc.array(fc.constantFrom<DeviceEvent>('mem-off', 'mem-on', 'flr', 'reset', 'd3-enter', 'd3-exit'), { maxLength: 4 }),
  imp: fc.constantFrom<Imp>('iommufd', 'dma-p2p', 'dma', 'domain'),
});

function importerList(core: DmaBufMatchCore, imp: Imp): DmaBufMappingMatch[] {
  if (imp === 'iommufd') return [imappingPal(core)];
  if (imp === 'domain') return [{ type: core.iommu_domain_type, sgt_data: NO_SGT, imp_priv: 'iommufd' }];
  return [imappingSgt(core, 'nic0', imp === 'dma-p2p')];
}

/** Export from a VFIO device, run the events, close the device, attach: what the attach answered. */
async function cleanedRun(variant: VfioMatchVariant, c: CleanedCase): Promise<{ result: string; log: ViolationLog }> {
  const k = new Kernel();
  const dev = new VfioPciCore(k, { name: 'vdev0', bars: [BAR0], pageSize: 4096n, routeTo: () => 'BUS_ADDR' });
  const r = await dev.create(requestFor(2, true));
  const log = new ViolationLog();
  if (!r.ok) {
    log.report('MATCH-CLEANED', `create failed ${r.errno} before the attach could be checked`, {});
    return { result: r.errno, log };
  }
  const core = new DmaBufMatchCore(k, c.profile, (p, cl) => (p === 'vdev0' && cl === 'nic0' ? 4 : -1));
  const buf = asMatchDmaBuf(r.value, vfioMatchOps(core, r.value, variant, 'vdev0'));
  for (const e of [...c.events, 'close' as const]) await dev.event(e);
  const before = buf.attachments.size;
  const a = await core.dma_buf_mapping_attach(buf, importerList(core, c.imp), { allow_peer2peer: c.imp === 'dma-p2p', move_notify: () => undefined }, null);
  const result = a.ok ? 'ok' : a.errno;
  checkCleaned(log, result, buf.attachments.size - before);
  return { result, log };
}

async function cleanedFound(variant: VfioMatchVariant, finding: string | null, c: CleanedCase): Promise<Found> {
  const { result, log } = await cleanedRun(variant, c);
  const first = log.violations[0];
  const steps: Step[] = [
    { index: 0, from: 'user', to: 'exporter', command: 'create(dev0, 2 ranges)', result: 'ok', expected: 'ok' },
    ...[...c.events, 'close'].map((e, i): Step => ({ index: i + 1, from: 'device', to: 'exporter', command: `${e}(dev0)`, result: 'ok', expected: 'ok' })),
    { index: c.events.length + 2, from: 'importer', to: 'core', command: `attach(buf0, ${c.imp}, ${c.profile})`, result, expected: '-ENODEV', ...(first ? { rule: first.rule } : {}) },
  ];
  return { violations: log.violations, explainedBy: log.violations.map(() => finding), counterexample: { suite: 'match', steps, failingStep: steps.length - 1, input: c } };
}

function cleanedTarget(variant: VfioMatchVariant, finding: string | null): Target {
  return {
    name: variant.name, suite: 'match', kind: variant.bugOf ? 'bug' : 'exporter', profiles: PROFILES, rules: ['MATCH-CLEANED'], ...(variant.bugOf ? { bugOf: variant.bugOf } : {}),
    findings: finding ? [{ id: finding, rules: ['MATCH-CLEANED'] }] : [],
    async search(seed, runs, skip, opts) {
      const hit = await searchWith(cleanedArb, seed, runs, async (c) => (await cleanedRun(variant, c)).log.violations.some(wanted(['MATCH-CLEANED'], skip)), opts?.observe);
      return hit ? cleanedFound(variant, finding, hit) : null;
    },
    replay: (input) => cleanedFound(variant, finding, input as CleanedCase),
  };
}

// ---- the VFIO lifecycle through mapping types --------------------------------

function matchLifecycleTarget(profile: MatchProfile): Target {
  const exporter = matchExporter(profile);
  return lifecycleTarget(exporter.name, lifecycleConfig(exporter, matchImporters(profile), profile), 'exporter', { profiles: [profile] });
}

const MATCH_RULE_IDS: readonly RuleId[] = MATCH_RULES;

export const matchSuite: Suite = {
  id: 'match',
  rules: MATCH_RULE_IDS,
  targets: (plugins) => (plugins ? [] : [
    ...MATCH_IMPLS.map(matchCoreTarget),
    ...[CORE_CONVERTERS, matchConverterLeak].map(converterTarget),
    cleanedTarget(RFC_POSTED, null),
    cleanedTarget(RFC_REVIEW_FIX, 'rfc12-fix-cleaned-einval'),
    cleanedTarget(matchCleanedAttach, null),
    matchLifecycleTarget('rfc'),
    matchLifecycleTarget('converter'),
  ]),
};
