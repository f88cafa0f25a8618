// An exporter plugin through the create path and one map: a random device
// (BAR layout with bus offsets, page size, nvgrace memory), a random
// VFIO_DEVICE_FEATURE_DMA_BUF request (any region, ROM and absent BARs
// included) and a random route to a DMA importer (BUS_ADDR with the BAR's
// bus offset, THRU_HOST_BRIDGE with IOVA granted or refused, NOT_SUPPORTED).
// The create is judged against models/pal.ts (PAL-INPUT, PAL-SIZE, and on the
// phys_vec the dma-buf holds, when readable, PAL-LIST and PAL-FILL); a v8 map
// of a dma-buf whose create was right, through its own ops, against models/sgt.ts (LEN-*, DMA-*,
// ROUTE-BUSADDR, ROUTE-NOMAP) with the same table checks as the conversion
// suite, and what the unmap leaves live (DMA-LEAK).
import fc from 'fast-check';
import { resultTag, type Result } from '../../../models/errno.ts';
import { exportedMemory, vfioDmaBufCreate, viewUnder, type Pal, type VfioDeviceView } from '../../../models/pal.ts';
import type { MapType } from '../../../models/pci/types.ts';
import { spec, type Profile } from '../../../models/profiles.ts';
import { expectedConversion, maxSegmentSize } from '../../../models/sgt.ts';
import { hex } from '../../../models/u64.ts';
import { palCaseArb, palCaseOf, routeArb, type PalCase } from '../../gen/ranges.ts';
import type { DmaBuf } from '../../impl/dma-buf-core.ts';
import { dma_buf_detach, dma_buf_dynamic_attach, dma_buf_map_attachment, dma_buf_put, dma_buf_unmap_attachment } from '../../impl/dma-buf-core.ts';
import type { DmaBufDma } from '../../impl/dma-buf-mapping.ts';
import { Kernel } from '../../kernel/kernel.ts';
import type { KObj } from '../../kernel/objects.ts';
import type { Step } from '../../report/types.ts';
import { checkTable, faultPoints, rangeAddrs, resultRule, type ConversionCase } from '../../rules/conversion.ts';
import { explainConversion } from '../../rules/conversion-impls.ts';
import { thrownReport } from '../../kernel/callsite.ts';
import { checkHeldPal, createText, explainTopBar, heldPhysVec } from '../../rules/pal.ts';
import type { RuleId } from '../../rules/registry.ts';
import type { Violation } from '../../rules/violation.ts';
import { guardExporter } from '../guard.ts';
import { pictureFor } from '../picture.ts';
import type { DeviceConfig, ExporterPlugin } from '../plugin.ts';
import { family, fromInput, labelSteps, onPlatform, searchFound, toInput, wanted, type Found, type Judged, type Target } from '../suite.ts';
import { platformOf, type Platform } from '../../kernel/platform.ts';

export const EXPORT_RULES: RuleId[] = ['PAL-INPUT', 'PAL-FILL', 'PAL-SIZE', 'PAL-LIST', ...family('LEN'), ...family('DMA'), 'ROUTE-BUSADDR', 'ROUTE-NOMAP', 'UAF-OBJ', 'PLUGIN-THROW', 'PLUGIN-TIMEOUT'];
const DIR = 'DMA_BIDIRECTIONAL';

/** The steps of an export case: each violation names the one it was reported in (replay's '>' marks it): the
 *  create and its PAL checks, the attach and map with the table checks, the unmap and detach with the leak check. */
const STEPS = { create: 0, map: 1, unmap: 2 } as const;

export interface ExportCase extends PalCase {
  readonly route: MapType;
  readonly iovaRefused: boolean;
  /** The run's simulated machine (src/kernel/platform.ts). */
  readonly platform?: Platform;
}

/** The device as an exporter probes it: its own ops, registration and providers (one per MEM BAR);
 *  device memory only for an exporter of it (ExporterPlugin.deviceMemory). */
function exporterView(c: PalCase, deviceMemory: boolean): VfioDeviceView {
  const provider = (bar: number) => {
    const b = c.view.bars.find((x) => x.index === bar);
    return b?.type === 'mem' ? { owner: 'vdev0', bar, busOffset: b.busOffset } : null;
  };
  const { nvgrace, ...view } = c.view;
  return { ...view, ...(deviceMemory && nvgrace ? { nvgrace } : {}), hasGetDmabufPhys: true, registrationAlive: true, provider };
}

const exportCaseArb = (deviceMemory: boolean): fc.Arbitrary<ExportCase> =>
  fc.tuple(deviceMemory ? palCaseArb.filter((c) => c.view.nvgrace !== undefined) : palCaseArb, routeArb, fc.boolean()).map(([c, route, iovaRefused]) => ({ view: exporterView(c, deviceMemory), req: c.req, route, iovaRefused }));

/** The conversion case the model answers for a created dma-buf. */
function conversionCaseOf(c: ExportCase, pal: Pal): ConversionCase {
  const mem = exportedMemory(c.view, c.req.regionIndex);
  const bar = c.view.bars.find((b) => b.index === mem?.providerBar);
  return { phys: pal.phys, size: pal.size, route: c.route, busOffset: bar?.busOffset ?? 0n, pageSize: c.view.pageSize, faults: { allocFails: [], syncFails: false, iovaRefused: c.iovaRefused }, dir: DIR, ...(c.platform ? { platform: c.platform } : {}) };
}

/** The table an exporter's map_dma_buf handed out: a struct dma_buf_dma, or a bare sg_table. */
function tableOf(sgt: KObj<unknown>): DmaBufDma {
  const v = sgt.value as Partial<DmaBufDma> & DmaBufDma['sgt'];
  return v.sgt ? (v as DmaBufDma) : { sgt: v, state: null, size: 0n };
}

interface ExportRun {
  readonly k: Kernel;
  readonly result: string;
  readonly model: Result<Pal>;
  readonly mapped?: { result: string; expected: string; conv: ConversionCase; unmapped: boolean };
}

/** One IOVA allocation's base, when the map made exactly one. */
function iovaBase(k: Kernel): bigint {
  const all = [...k.dma.iovas.values()];
  return all.length === 1 ? all[0]!.base : 0n;
}

/** Attach a DMA importer, map under the reservation lock, check the table, unmap, detach. */
async function mapOnce(k: Kernel, buf: DmaBuf, c: ExportCase, model: Pal, profile: Profile): Promise<ExportRun['mapped']> {
  const conv = conversionCaseOf(c, model);
  const limit = spec(profile).segmentLimit;
  k.log.step = STEPS.map;
  const att = await dma_buf_dynamic_attach(k, buf, 'client0', { allow_peer2peer: true, move_notify: () => undefined });
  if (!att.ok) return { result: att.errno, expected: 'ok', conv, unmapped: false };
  await buf.resv.lock('export_suite_map');
  const r = dma_buf_map_attachment(k, att.attach, DIR);
  const exp = expectedConversion(conv.phys, conv.size, conv.route, faultPoints(conv.faults), maxSegmentSize(limit, conv.pageSize), conv.busOffset, iovaBase(k), rangeAddrs(k.dma, conv.phys));
  const result = r.ok ? 'ok' : r.errno;
  if (result !== resultTag(exp)) k.report(resultRule(conv, exp, limit, k.dma), `map returned ${result}, the model says ${resultTag(exp)}`, { kind: 'result', port: result, model: resultTag(exp) });
  if (r.ok) {
    checkTable({ c: conv, log: k.log, dma: k.dma }, tableOf(r.sgt), exp, limit);
    k.log.step = STEPS.unmap;
    dma_buf_unmap_attachment(k, att.attach, r.sgt, DIR);
  }
  buf.resv.unlock('export_suite_map');
  if (k.dma.mappings.length) k.report('DMA-LEAK', `${k.dma.mappings.length} DMA mapping(s) still live after the unmap`, { kind: 'mapping-leak', addrs: k.dma.mappings.map((m) => hex(m.addr)) });
  await dma_buf_detach(k, att.attach);
  return { result, expected: resultTag(exp), conv, unmapped: r.ok };
}

/** The run, with a throw past the guarded hooks (a dma_buf_ops member the core calls) as the PLUGIN-THROW it is. */
async function exportRun(p: ExporterPlugin, c: ExportCase, profile: Profile): Promise<ExportRun> {
  const k = new Kernel({ pageSize: c.view.pageSize, faults: { allocFails: [], syncFails: false, iovaRefused: c.iovaRefused }, platform: platformOf(c) });
  try {
    return await exportSteps(k, p, c, profile);
  } catch (e) {
    const t = thrownReport('the implementation threw outside a plugin hook', e);
    k.report('PLUGIN-THROW', t.message, t.evidence);
    return { k, result: 'threw', model: vfioDmaBufCreate(viewUnder(c.view, profile), c.req) };
  }
}

async function exportSteps(k: Kernel, p: ExporterPlugin, c: ExportCase, profile: Profile): Promise<ExportRun> {
  const cfg: DeviceConfig = { name: 'vdev0', bars: c.view.bars, pageSize: c.view.pageSize, ...(c.view.nvgrace ? { nvgrace: c.view.nvgrace } : {}), routeTo: (dev) => (dev === null ? 'THRU_HOST_BRIDGE' : c.route) };
  k.log.step = STEPS.create;
  const dev = guardExporter(p).probe(k, cfg);
  const model = vfioDmaBufCreate(viewUnder(c.view, profile), c.req);
  const r = await dev.create(c.req);
  const result = r.ok ? 'ok' : r.errno;
  if (result !== resultTag(model)) k.report('PAL-INPUT', `${createText(c.req)} returned ${result}, the model says ${resultTag(model)}`, { port: result, model: resultTag(model), region: c.req.regionIndex });
  if (!r.ok || !model.ok) return { k, result, model };
  let wrong = r.value.size !== model.value.size;
  if (wrong) k.report('PAL-SIZE', `dma-buf size ${hex(r.value.size)}, the ranges add up to ${hex(model.value.size)}`, { port: hex(r.value.size), model: hex(model.value.size) });
  const held = heldPhysVec(r.value);
  const mem = exportedMemory(c.view, c.req.regionIndex)!;
  if (held && checkHeldPal(k, held, { who: 'the dma-buf', regionIndex: c.req.regionIndex, ranges: c.req.ranges.slice(0, c.req.nrRanges), want: model.value.phys, mem })) wrong = true;
  // A dma-buf whose size or PAL is wrong is not mapped: the map is judged against the model's PAL, and would
  // only repeat the create's finding under the conversion's rules (LEN-SUM, ROUTE-BUSADDR, DMA-IOVA).
  const mapped = spec(profile).mappingTypes || wrong ? undefined : await mapOnce(k, r.value, c, model.value, profile);
  await dma_buf_put(r.value, 'export_suite_close');
  return { k, result, model, ...(mapped ? { mapped } : {}) };
}

function explain(c: ExportCase, run: ExportRun, profile: Profile, violations: readonly Violation[]): (string | null)[] {
  const conv = run.mapped ? explainConversion(spec(profile).segmentLimit, run.mapped.conv, violations) : violations.map(() => null);
  return violations.map((v, i) => conv[i] ?? explainTopBar(viewUnder(c.view, profile), c.req, v));
}

async function judged(p: ExporterPlugin, c: ExportCase, profile: Profile): Promise<Judged & { run: ExportRun }> {
  const run = await exportRun(p, c, profile);
  const violations = run.k.log.violations;
  return { run, violations, explainedBy: explain(c, run, profile, violations) };
}

async function found(p: ExporterPlugin, c: ExportCase, profile: Profile): Promise<Found> {
  const { run, violations, explainedBy } = await judged(p, c, profile);
  const plain: Step[] = [{ index: STEPS.create, from: 'user', to: 'exporter', command: `VFIO_DEVICE_FEATURE_DMA_BUF(region ${c.req.regionIndex}, ${c.req.nrRanges} ranges)`, result: run.result, expected: resultTag(run.model) }];
  if (run.mapped) {
    plain.push({ index: STEPS.map, from: 'importer', to: 'exporter', command: `map(${c.route}${c.route === 'THRU_HOST_BRIDGE' ? (c.iovaRefused ? ', IOVA refused' : ', IOVA') : ''})`, result: run.mapped.result, expected: run.mapped.expected });
    if (run.mapped.unmapped) plain.push({ index: STEPS.unmap, from: 'importer', to: 'exporter', command: 'unmap, detach', result: 'ok', expected: 'ok' });
  }
  const input = toInput({ kind: 'export', bars: c.view.bars, req: c.req, pageSize: c.view.pageSize, ...(c.view.nvgrace ? { nvgrace: c.view.nvgrace } : {}), route: c.route, iovaRefused: c.iovaRefused, hasOps: true, alive: true, ...(c.platform ? { platform: c.platform } : {}) });
  return { violations, explainedBy, counterexample: { suite: 'convert', ...labelSteps(plain, violations), ...pictureFor(c.route), input } };
}

function exportCaseOf(input: unknown, deviceMemory: boolean): ExportCase {
  const i = fromInput<{ route: MapType; iovaRefused: boolean; platform?: Platform }>(input);
  const c = palCaseOf(input);
  return { view: exporterView(c, deviceMemory), req: c.req, route: i.route, iovaRefused: i.iovaRefused, ...(i.platform ? { platform: i.platform } : {}) };
}

/** A VFIO exporter plugin (ExporterPlugin.vfio) under each profile it declares: its create path and one map. */
export function exportTargets(p: ExporterPlugin): Target[] {
  if (!p.vfio) return [];
  return p.profiles.map((profile, i): Target => ({
    name: i === 0 ? p.name : `${p.name}:${profile}`, suite: 'convert', part: 'export', kind: p.kind, profiles: [profile], rules: EXPORT_RULES,
    search: (seed, runs, skip, opts) => searchFound(onPlatform(exportCaseArb(p.deviceMemory === true), opts), seed, runs, wanted(EXPORT_RULES, skip), (c) => judged(p, c, profile), (c) => found(p, c, profile), opts),
    replay: (input) => found(p, exportCaseOf(input, p.deviceMemory === true), profile),
  }));
}
