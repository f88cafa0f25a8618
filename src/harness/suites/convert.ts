// The convert suite: the VFIO create path (PAL-*: validation, fill, size)
// against models/pal.ts (checkPal), and the PAL to SGT conversion (LEN-*,
// DMA-*, ROUTE-NOMAP) against models/sgt.ts on the simulated DMA API
// (runConversion). Violations a documented finding explains are tagged with it.
import fc from 'fast-check';
import { PROFILES, spec } from '../../../models/profiles.ts';
import { pictureFor } from '../picture.ts';
import { hex } from '../../../models/u64.ts';
import { conversionCaseArb, hugeConversionCaseArb, palCaseArb, type PalCase } from '../../gen/ranges.ts';
import type { Step } from '../../report/types.ts';
import { runConversion, type ConversionCase, type ConversionImpl } from '../../rules/conversion.ts';
import { CONVERSION_FINDINGS, CONVERSION_IMPLS } from '../../rules/conversion-impls.ts';
import { barEndsAtTop, checkPal, PAL_IMPLS, type PalImpl } from '../../rules/pal.ts';
import type { RuleId } from '../../rules/registry.ts';
import { ViolationLog, type Violation } from '../../rules/violation.ts';
import { family, fromInput, searchWith, toInput, wanted, type Found, type Suite, type Target } from '../suite.ts';

const PAL_RULES: RuleId[] = ['PAL-INPUT', 'PAL-FILL', 'PAL-SIZE', 'PAL-LIST'];
const CONVERT_RULES: RuleId[] = [...family('LEN'), ...family('DMA'), 'ROUTE-NOMAP', 'ROUTE-BUSADDR'];

type Ev = { port?: unknown; model?: unknown; kind?: string } | undefined;

// ---- PAL: VFIO_DEVICE_FEATURE_DMA_BUF --------------------------------------

function palViolations(impl: PalImpl, c: PalCase): ViolationLog {
  const log = new ViolationLog();
  checkPal(impl, c.view, c.req, log);
  return log;
}

function palFound(impl: PalImpl, c: PalCase): Found {
  const log = palViolations(impl, c);
  const explained = !impl.bugOf && barEndsAtTop(c.view, c.req) ? 'bar-ends-at-2^64' : null;
  const ev = log.violations[0]?.evidence as Ev;
  const first = log.violations[0];
  const step: Step = { index: 0, from: 'user', to: 'exporter', command: `VFIO_DEVICE_FEATURE_DMA_BUF(region ${c.req.regionIndex}, ${c.req.nrRanges} ranges)`, result: String(ev?.port ?? 'as model'), expected: String(ev?.model ?? 'as port'), ...(first ? { rule: first.rule } : {}) };
  const input = toInput({ kind: 'pal', bars: c.view.bars, req: c.req, hasOps: c.view.hasGetDmabufPhys, alive: c.view.registrationAlive, pageSize: c.view.pageSize, p2pdma: c.view.bars.some((b) => c.view.provider(b.index) !== null) });
  return { violations: log.violations, explainedBy: log.violations.map(() => explained), counterexample: { suite: 'convert', failingStep: 0, steps: [step], input } };
}

function palCaseOf(input: unknown): PalCase {
  const i = fromInput<{ bars: PalCase['view']['bars']; req: PalCase['req']; hasOps: boolean; alive: boolean; pageSize: PalCase['view']['pageSize']; p2pdma?: boolean }>(input);
  const provider = (bar: number) => {
    const b = i.bars.find((x) => x.index === bar);
    return i.p2pdma !== false && b?.type === 'mem' ? { owner: 'vdev', bar, busOffset: b.busOffset } : null;
  };
  return { view: { hasGetDmabufPhys: i.hasOps, bars: i.bars, registrationAlive: i.alive, pageSize: i.pageSize, provider }, req: i.req };
}

function palTarget(impl: PalImpl): Target {
  return {
    name: impl.name, suite: 'convert', kind: impl.bugOf ? 'bug' : 'exporter', profiles: ['v8', 'rfc', 'converter'], rules: PAL_RULES, ...(impl.bugOf ? { bugOf: impl.bugOf } : {}),
    findings: impl.bugOf ? [] : [{ id: 'bar-ends-at-2^64', rules: ['PAL-INPUT'] }],
    async search(seed, runs, skip, opts) {
      const hit = await searchWith(palCaseArb, seed, runs, (c) => palViolations(impl, c).violations.some(wanted(PAL_RULES, skip)), opts?.observe);
      return hit ? palFound(impl, hit) : null;
    },
    replay: async (input) => palFound(impl, palCaseOf(input)),
  };
}

// ---- PAL to SGT: dma_buf_phys_vec_to_sgt -----------------------------------

/** A seeded bug is the mainline port with one change: mainline's findings are its findings too. */
function findingsBase(impl: ConversionImpl): string {
  return impl.bugOf ? 'mainline:dma_buf_phys_vec_to_sgt' : impl.name;
}

function conversionFound(impl: ConversionImpl, c: ConversionCase): Found {
  const out = runConversion(impl, c);
  const findings = CONVERSION_FINDINGS.filter((f) => f.impls.includes(findingsBase(impl)) && f.applies(c));
  const kindOf = (v: Violation) => (v.evidence as Ev)?.kind ?? '';
  const explainedBy = out.log.violations.map((v) => findings.find((f) => f.rules.includes(v.rule) && (!f.kinds || f.kinds.includes(kindOf(v))))?.id ?? null);
  const first = out.log.violations[0];
  const steps: Step[] = [
    { index: 0, from: 'importer', to: 'core', command: `map(${c.phys.length} ranges, ${hex(c.size)} bytes, ${c.route})`, result: out.result, expected: out.expected.ok ? 'ok' : out.expected.errno, ...(first ? { rule: first.rule } : {}) },
    ...(out.result === 'ok' ? [{ index: 1, from: 'importer' as const, to: 'core' as const, command: 'dma_buf_free_sgt()', result: 'ok', expected: 'ok' }] : []),
  ];
  return { violations: out.log.violations, explainedBy, counterexample: { suite: 'convert', steps, failingStep: 0, ...pictureFor(c.route), input: toInput({ kind: 'conversion', ...c }) } };
}

function conversionTarget(impl: ConversionImpl): Target {
  const arb = impl.bugOf === 'LEN-NENTS' ? hugeConversionCaseArb : fc.oneof({ weight: 8, arbitrary: conversionCaseArb() }, { weight: 1, arbitrary: hugeConversionCaseArb });
  return {
    name: impl.name, suite: 'convert', kind: impl.bugOf ? 'bug' : 'core', profiles: PROFILES.filter((p) => spec(p).segmentLimit === impl.limit), rules: CONVERT_RULES, ...(impl.bugOf ? { bugOf: impl.bugOf } : {}),
    findings: CONVERSION_FINDINGS.filter((f) => f.impls.includes(findingsBase(impl))).map((f) => ({ id: f.id, rules: f.rules })),
    async search(seed, runs, skip, opts) {
      const hit = await searchWith(arb, seed, runs, (c) => runConversion(impl, c).log.violations.some(wanted(CONVERT_RULES, skip)), opts?.observe);
      return hit ? conversionFound(impl, hit) : null;
    },
    replay: async (input) => conversionFound(impl, fromInput<ConversionCase>(input)),
  };
}

export const convertSuite: Suite = {
  id: 'convert',
  rules: [...PAL_RULES, ...CONVERT_RULES],
  targets: (plugins) => (plugins ? [] : [...PAL_IMPLS.map(palTarget), ...CONVERSION_IMPLS.map(conversionTarget)]),
};
