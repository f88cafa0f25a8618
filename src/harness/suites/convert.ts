// The convert suite: the VFIO create path (PAL-*: validation, fill, size)
// against models/pal.ts (checkPal), and the PAL to SGT conversion (LEN-*,
// DMA-*, ROUTE-NOMAP) against models/sgt.ts on the simulated DMA API
// (runConversion), for `pal` and `conversion` plugins. Violations a
// documented finding explains are tagged with it; they never end a search.
import fc from 'fast-check';
import { hex } from '../../../models/u64.ts';
import { conversionCaseArb, hugeConversionCaseArb, palCaseArb, palCaseOf, type PalCase } from '../../gen/ranges.ts';
import type { Step } from '../../report/types.ts';
import { CONVERSION_STEPS, runConversion, type ConversionCase, type ConversionImpl } from '../../rules/conversion.ts';
import { explainConversion } from '../../rules/conversion-impls.ts';
import { checkPal, explainTopBar, type PalImpl } from '../../rules/pal.ts';
import type { RuleId } from '../../rules/registry.ts';
import { ViolationLog } from '../../rules/violation.ts';
import { pictureFor } from '../picture.ts';
import type { ConversionPlugin, PalPlugin, Plugin } from '../plugin.ts';
import { family, fromInput, labelSteps, onPlatform, searchFound, toInput, wanted, type Found, type Judged, type Suite, type Target } from '../suite.ts';
import { exportTargets, EXPORT_RULES } from './export.ts';

export const PAL_RULES: RuleId[] = ['PAL-INPUT', 'PAL-FILL', 'PAL-SIZE', 'PAL-LIST'];
export const CONVERT_RULES: RuleId[] = [...family('LEN'), ...family('DMA'), 'ROUTE-NOMAP', 'ROUTE-BUSADDR'];

type Ev = { port?: unknown; model?: unknown } | undefined;

// ---- PAL: VFIO_DEVICE_FEATURE_DMA_BUF --------------------------------------

function palJudged(impl: PalImpl, c: PalCase): Judged {
  const log = new ViolationLog();
  checkPal(impl, c.view, c.req, log);
  return { violations: log.violations, explainedBy: log.violations.map((v) => explainTopBar(c.view, c.req, v)) };
}

function palFound(impl: PalImpl, c: PalCase): Found {
  const { violations, explainedBy } = palJudged(impl, c);
  const first = violations[0];
  const ev = first?.evidence as Ev;
  const step: Step = { index: 0, from: 'user', to: 'exporter', command: `VFIO_DEVICE_FEATURE_DMA_BUF(region ${c.req.regionIndex}, ${c.req.nrRanges} ranges)`, result: String(ev?.port ?? 'as model'), expected: String(ev?.model ?? 'as port'), ...(first ? { rule: first.rule } : {}) };
  const input = toInput({ kind: 'pal', bars: c.view.bars, req: c.req, hasOps: c.view.hasGetDmabufPhys, alive: c.view.registrationAlive, pageSize: c.view.pageSize, p2pdma: c.view.bars.some((b) => c.view.provider(b.index) !== null), ...(c.view.nvgrace ? { nvgrace: c.view.nvgrace } : {}) });
  return { violations, explainedBy, counterexample: { suite: 'convert', failingStep: 0, steps: [step], input } };
}


function palTarget(p: PalPlugin): Target {
  return {
    name: p.name, suite: 'convert', part: 'pal', kind: p.kind, profiles: p.profiles, rules: PAL_RULES,
    search: (seed, runs, skip, opts) => searchFound(palCaseArb, seed, runs, wanted(PAL_RULES, skip), (c) => palJudged(p, c), (c) => palFound(p, c), opts),
    replay: async (input) => palFound(p, palCaseOf(input)),
  };
}

// ---- PAL to SGT: dma_buf_phys_vec_to_sgt -----------------------------------

function conversionJudged(impl: ConversionImpl, c: ConversionCase): Judged & { out: ReturnType<typeof runConversion> } {
  const out = runConversion(impl, c);
  return { out, violations: out.log.violations, explainedBy: explainConversion(impl.limit, c, out.log.violations) };
}

function conversionFound(impl: ConversionImpl, c: ConversionCase): Found {
  const { out, violations, explainedBy } = conversionJudged(impl, c);
  const plain: Step[] = [
    { index: CONVERSION_STEPS.map, from: 'importer', to: 'core', command: `map(${c.phys.length} ranges, ${hex(c.size)} bytes, ${c.route})`, result: out.result, expected: out.expected.ok ? 'ok' : out.expected.errno },
    ...(out.result === 'ok' ? [{ index: CONVERSION_STEPS.free, from: 'importer' as const, to: 'core' as const, command: 'dma_buf_free_sgt()', result: 'ok', expected: 'ok' }] : []),
  ];
  return { violations, explainedBy, counterexample: { suite: 'convert', ...labelSteps(plain, violations), ...pictureFor(c.route), input: toInput({ kind: 'conversion', ...c }) } };
}

/** Mostly ordinary cases, sometimes huge ones (tables past u32 entries). */
const conversionArb = fc.oneof({ weight: 8, arbitrary: conversionCaseArb() }, { weight: 1, arbitrary: hugeConversionCaseArb });

function conversionTarget(p: ConversionPlugin): Target {
  return {
    name: p.name, suite: 'convert', part: 'conversion', kind: p.kind, profiles: p.profiles, rules: CONVERT_RULES,
    search: (seed, runs, skip, opts) => searchFound(onPlatform(conversionArb, opts), seed, runs, wanted(CONVERT_RULES, skip), (c) => conversionJudged(p, c), (c) => conversionFound(p, c), opts),
    replay: async (input) => conversionFound(p, fromInput<ConversionCase>(input)),
  };
}

function targets(p: Plugin): Target[] {
  if (p.kind === 'pal') return [palTarget(p)];
  if (p.kind === 'conversion') return [conversionTarget(p)];
  if (p.kind === 'exporter') return exportTargets(p);
  return [];
}

export const convertSuite: Suite = { id: 'convert', rules: [...new Set([...PAL_RULES, ...CONVERT_RULES, ...EXPORT_RULES])], targets };
