// Every implementation the runner can check, as a Target: one suite
// (route, pal, convert, lifecycle, match), the rules it checks, and how to
// search for a counterexample (fast-check, seeded) and replay one.
import fc from 'fast-check';
import type { LcCmd } from '../../models/lifecycle.ts';
import { parseTopology, topologyToJson } from '../../models/pci/load.ts';
import type { Topology } from '../../models/pci/topology.ts';
import type { Profile } from '../../models/profiles.ts';
import { hex } from '../../models/u64.ts';
import { conversionCaseArb, hugeConversionCaseArb, palCaseArb } from '../gen/ranges.ts';
import { topologyWithPairsArb } from '../gen/topology.ts';
import type { Counterexample, Step } from '../report/types.ts';
import { runConversion, type ConversionCase, type ConversionImpl } from '../rules/conversion.ts';
import { CONVERSION_FINDINGS, CONVERSION_IMPLS, unexplained } from '../rules/conversion-impls.ts';
import { barEndsAtTop, checkPal, PAL_IMPLS, type PalImpl } from '../rules/pal.ts';
import { RULES, type RuleId } from '../rules/registry.ts';
import { checkTopology, ROUTE_IMPLS, RouteBench, type RouteImpl } from '../rules/route.ts';
import { ViolationLog, jsonSafe, type Violation } from '../rules/violation.ts';
import { bundledExporters, bundledImporters, dmaImporter, iommufdImporter } from './bundled.ts';
import { lifecycleProperty, failureOf, LIFECYCLE_FINDINGS, unexplainedLc } from './lifecycle-prop.ts';
import { runLifecycle, type LifecycleConfig } from './lifecycle.ts';
import type { ExporterPlugin, ImporterPlugin } from './plugin.ts';

export type SuiteId = Counterexample['suite'];

/** A violation found by a search, with what replays it. */
export interface Found {
  readonly violations: readonly Violation[];
  readonly counterexample: Counterexample;
  /** Documented finding ids explaining each violation (same order), or null. */
  readonly explainedBy: readonly (string | null)[];
}

export interface Target {
  readonly name: string;
  readonly suite: SuiteId;
  readonly kind: 'exporter' | 'importer' | 'core' | 'bug';
  readonly profiles: readonly Profile[];
  readonly rules: readonly RuleId[];
  readonly bugOf?: RuleId;
  /** Search with this seed and budget; `skip` are rules already found (not searched for again). */
  search(seed: number, runs: number, skip: ReadonlySet<RuleId>): Promise<Found | null>;
  /** Re-run a counterexample's input exactly. */
  replay(input: unknown): Promise<Found>;
}

const FAMILY = (f: string) => RULES.filter((r) => r.id.startsWith(`${f}-`)).map((r) => r.id as RuleId);
const ROUTE_RULES: RuleId[] = ['ROUTE-MAPTYPE', 'ROUTE-DIST', 'ROUTE-BUSADDR', 'ROUTE-PROVIDER'];
const CONVERT_RULES: RuleId[] = [...FAMILY('LEN'), ...FAMILY('DMA').filter((r) => r !== 'DMA-LEAK'), 'DMA-LEAK', 'ROUTE-NOMAP'];
const LIFECYCLE_RULES: RuleId[] = [...FAMILY('LOCK'), ...FAMILY('REV'), ...FAMILY('UAF'), ...FAMILY('IOMMUFD'), 'PLUGIN-THROW', 'PLUGIN-TIMEOUT'];

/** JSON with bigints as {"$u64": "0x.."} so inputs round-trip exactly. */
export function toInput(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? { $u64: hex(x) } : x)));
}

export function fromInput<T>(v: unknown): T {
  return JSON.parse(JSON.stringify(v), (_k, x: unknown) => (x && typeof x === 'object' && '$u64' in x ? BigInt((x as { $u64: string }).$u64) : x)) as T;
}

async function searchWith<T>(arb: fc.Arbitrary<T>, seed: number, runs: number, bad: (x: T) => Promise<boolean> | boolean): Promise<T | null> {
  const out = await fc.check(fc.asyncProperty(arb, async (x) => !(await bad(x))), { seed, numRuns: runs });
  return out.failed ? out.counterexample![0] : null;
}

// ---- route ----------------------------------------------------------------

function routeViolations(impl: RouteImpl, t: Topology, pairs: [string, string][], offsets: bigint[]): ViolationLog {
  const log = new ViolationLog();
  checkTopology(new RouteBench(t, impl.create), pairs, log, offsets);
  return log;
}

function routeFound(impl: RouteImpl, input: { topology: Topology; pairs: [string, string][]; offsets: bigint[] }): Found {
  const log = routeViolations(impl, input.topology, input.pairs, input.offsets);
  const steps: Step[] = input.pairs.map(([p, c], i) => {
    const v = log.violations.find((x) => (x.evidence as { provider?: string; client?: string } | undefined)?.provider === p && (x.evidence as { client?: string }).client === c);
    return { index: i, from: 'importer', to: 'core', command: `pci_p2pdma_map_type(${p}, ${c})`, result: String((v?.evidence as { port?: unknown } | undefined)?.port ?? 'as model'), expected: String((v?.evidence as { model?: unknown } | undefined)?.model ?? 'as port'), ...(v ? { rule: v.rule } : {}) };
  });
  const failing = Math.max(0, steps.findIndex((s) => s.rule));
  const first = input.pairs[failing] ?? input.pairs[0]!;
  const bench = new RouteBench(input.topology);
  const model = bench.calc(first[0], first[1]);
  return {
    violations: log.violations,
    explainedBy: log.violations.map(() => null),
    counterexample: { suite: 'route', steps, failingStep: failing, topology: topologyToJson(input.topology), route: { provider: first[0], client: first[1], mapType: model.mapType, distance: model.dist, path: [], blockedBy: model.acsList }, input: toInput({ ...input, topology: topologyToJson(input.topology) }) },
  };
}

function routeTarget(impl: RouteImpl): Target {
  const decode = (input: unknown) => {
    const i = fromInput<{ topology: unknown; pairs: [string, string][]; offsets: bigint[] }>(input);
    const t = parseTopology(i.topology);
    if (!t.ok) throw new Error(t.error);
    return { topology: t.value, pairs: i.pairs, offsets: i.offsets };
  };
  return {
    name: impl.name, suite: 'route', kind: impl.bugOf ? 'bug' : 'core', profiles: ['v8', 'rfc', 'converter'], rules: ROUTE_RULES, ...(impl.bugOf ? { bugOf: impl.bugOf } : {}),
    async search(seed, runs, skip) {
      const arb = fc.tuple(topologyWithPairsArb(), fc.array(fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }), { minLength: 1, maxLength: 3 }));
      const hit = await searchWith(arb, seed, runs, ([{ topology, pairs }, offsets]) => routeViolations(impl, topology, pairs, offsets).violations.some((v) => !skip.has(v.rule)));
      return hit ? routeFound(impl, { topology: hit[0].topology, pairs: hit[0].pairs, offsets: hit[1] }) : null;
    },
    replay: async (input) => routeFound(impl, decode(input)),
  };
}

// ---- pal --------------------------------------------------------------------

function palTarget(impl: PalImpl): Target {
  const run = (c: { view: Parameters<typeof checkPal>[1]; req: Parameters<typeof checkPal>[2] }) => {
    const log = new ViolationLog();
    checkPal(impl, c.view, c.req, log);
    return log;
  };
  const found = (c: Parameters<typeof run>[0]): Found => {
    const log = run(c);
    const explained = !impl.bugOf && barEndsAtTop(c.view, c.req) ? 'bar-ends-at-2^64' : null;
    const v = log.violations[0];
    return {
      violations: log.violations, explainedBy: log.violations.map(() => explained),
      counterexample: {
        suite: 'convert', failingStep: 0,
        steps: [{ index: 0, from: 'user', to: 'exporter', command: `VFIO_DEVICE_FEATURE_DMA_BUF(region ${c.req.regionIndex}, ${c.req.nrRanges} ranges)`, result: String((v?.evidence as { port?: unknown } | undefined)?.port ?? '?'), expected: String((v?.evidence as { model?: unknown } | undefined)?.model ?? '?'), ...(v ? { rule: v.rule } : {}) }],
        input: toInput({ kind: 'pal', bars: c.view.bars, req: c.req, hasOps: c.view.hasGetDmabufPhys, alive: c.view.registrationAlive, pageSize: c.view.pageSize }),
      },
    };
  };
  return {
    name: impl.name, suite: 'convert', kind: impl.bugOf ? 'bug' : 'exporter', profiles: ['v8', 'rfc', 'converter'], rules: ['PAL-INPUT', 'PAL-FILL', 'PAL-SIZE', 'PAL-LIST'], ...(impl.bugOf ? { bugOf: impl.bugOf } : {}),
    async search(seed, runs, skip) {
      const hit = await searchWith(palCaseArb, seed, runs, (c) => run(c).violations.some((v) => !skip.has(v.rule)));
      return hit ? found(hit) : null;
    },
    async replay(input) {
      const i = fromInput<{ bars: Parameters<typeof checkPal>[1]['bars']; req: Parameters<typeof checkPal>[2]; hasOps: boolean; alive: boolean; pageSize: bigint }>(input);
      const view = { hasGetDmabufPhys: i.hasOps, bars: i.bars, registrationAlive: i.alive, pageSize: i.pageSize, provider: (bar: number) => { const b = i.bars.find((x) => x.index === bar); return b?.type === 'mem' ? { owner: 'vdev', bar, busOffset: b.busOffset } : null; } };
      return found({ view, req: i.req });
    },
  };
}

// ---- convert ----------------------------------------------------------------

function conversionFound(impl: ConversionImpl, c: ConversionCase): Found {
  const out = runConversion(impl, c);
  // A seeded bug is the mainline port with one change: mainline's findings are its findings too.
  const base = impl.bugOf ? 'mainline:dma_buf_phys_vec_to_sgt' : impl.name;
  const findings = CONVERSION_FINDINGS.filter((f) => f.impls.includes(base) && f.applies(c));
  const kindOf = (v: Violation) => (v.evidence as { kind?: string } | undefined)?.kind ?? '';
  const explainedBy = out.log.violations.map((v) => findings.find((f) => f.rules.includes(v.rule) && (!f.kinds || f.kinds.includes(kindOf(v))))?.id ?? null);
  const first = out.log.violations[0];
  const steps: Step[] = [
    { index: 0, from: 'importer', to: 'core', command: `map(${c.phys.length} ranges, ${hex(c.size)} bytes, ${c.route})`, result: out.result, expected: out.expected.ok ? 'ok' : out.expected.errno, ...(first ? { rule: first.rule } : {}) },
    ...(out.result === 'ok' ? [{ index: 1, from: 'importer' as const, to: 'core' as const, command: 'dma_buf_free_sgt()', result: 'ok', expected: 'ok' }] : []),
  ];
  return { violations: out.log.violations, explainedBy, counterexample: { suite: 'convert', steps, failingStep: 0, input: toInput({ kind: 'conversion', ...c }) } };
}

function conversionTarget(impl: ConversionImpl): Target {
  return {
    name: impl.name, suite: 'convert', kind: impl.bugOf ? 'bug' : 'core', profiles: impl.limit === 'uint-max' ? ['v8'] : ['rfc', 'converter'], rules: CONVERT_RULES, ...(impl.bugOf ? { bugOf: impl.bugOf } : {}),
    async search(seed, runs, skip) {
      const arb = impl.bugOf === 'LEN-NENTS' ? hugeConversionCaseArb : fc.oneof({ weight: 8, arbitrary: conversionCaseArb() }, { weight: 1, arbitrary: hugeConversionCaseArb });
      const hit = await searchWith(arb, seed, runs, (c) => runConversion(impl, c).log.violations.some((v) => !skip.has(v.rule)));
      return hit ? conversionFound(impl, hit) : null;
    },
    replay: async (input) => conversionFound(impl, fromInput<ConversionCase>(input)),
  };
}

// ---- lifecycle ----------------------------------------------------------------

export function lifecycleConfig(exporter: ExporterPlugin, importers: { dma: ImporterPlugin; iommufd: ImporterPlugin }): LifecycleConfig {
  return { exporter, importers, devices: 2, route: 'THRU_HOST_BRIDGE' };
}

async function lifecycleFound(cfg: LifecycleConfig, cmds: readonly LcCmd[]): Promise<Found> {
  const run = await runLifecycle(cfg, cmds, { keepGoing: true });
  const explained = unexplainedLc(cfg.exporter.name, run.violations, cmds);
  const explainedBy = run.violations.map((v) => (explained.includes(v) ? null : LIFECYCLE_FINDINGS.find((f) => f.rule === v.rule)?.id ?? null));
  const failing = Math.max(0, run.steps.findIndex((s) => s.rule));
  return { violations: run.violations, explainedBy, counterexample: { suite: 'lifecycle', steps: run.steps, failingStep: failing, input: { cmds } } };
}

function lifecycleTarget(name: string, cfg: LifecycleConfig, kind: Target['kind'], bugOf?: RuleId): Target {
  return {
    name, suite: 'lifecycle', kind, profiles: ['v8'], rules: LIFECYCLE_RULES, ...(bugOf ? { bugOf } : {}),
    async search(seed, runs, skip) {
      const rules = LIFECYCLE_RULES.filter((r) => !skip.has(r));
      for (const failOn of bugOf && !skip.has(bugOf) ? [bugOf, undefined] : [undefined]) {
        const out = await fc.check(lifecycleProperty(cfg, { maxCommands: 16, findingsToo: true, ...(failOn ? { failOn } : {}) }), { seed, numRuns: runs });
        const f = failureOf(out);
        if (f && f.violations.some((v) => rules.includes(v.rule))) return lifecycleFound(cfg, f.cmds);
      }
      return null;
    },
    replay: async (input) => lifecycleFound(cfg, (input as { cmds: LcCmd[] }).cmds),
  };
}

/** Every bundled target, plus user plugins (exporters and importers) when given. */
export function allTargets(plugins: { exporters?: ExporterPlugin[]; importers?: ImporterPlugin[] } = {}): Target[] {
  const normal = { dma: dmaImporter, iommufd: iommufdImporter };
  const exporters = plugins.exporters ?? bundledExporters();
  const importers = plugins.importers ?? bundledImporters().filter((p) => p.bugOf);
  const builtin = plugins.exporters || plugins.importers ? [] : [
    ...ROUTE_IMPLS.map(routeTarget),
    ...PAL_IMPLS.map(palTarget),
    ...CONVERSION_IMPLS.map(conversionTarget),
  ];
  return [
    ...builtin,
    ...exporters.map((e) => lifecycleTarget(e.name, lifecycleConfig(e, normal), e.bugOf ? 'bug' : 'exporter', e.bugOf)),
    ...importers.map((i) => lifecycleTarget(i.name, lifecycleConfig(exporters.find((e) => !e.bugOf) ?? bundledExporters()[0]!, { ...normal, [i.importer]: i }), i.bugOf ? 'bug' : 'importer', i.bugOf)),
  ];
}

export { jsonSafe };
