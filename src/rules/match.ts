// MATCH-* checks: one generated export + attach case runs on a match core
// (the RFC port or a seeded bug) and on models/mapping.ts; checkMatch()
// reports every difference and every broken invariant through a ViolationLog.
import { compatible, exportAndAttach, exportCheck, IOMMU_DOMAIN, LEGACY_LIST, mayImportPal, PAL, routable, routeOf, SGT, type AttachCase, type AttachMapType, type AttachOutcome, type MatchEntry, type Stage } from '../../models/mapping.ts';
import { spec, type Profile } from '../../models/profiles.ts';
import { Kernel } from '../kernel/kernel.ts';
import { DmaBufMatchCore, emappingPal, emappingSgt, imappingPal, imappingSgt, NO_SGT, type DmaBufMappingMatch, type DmaBufMappingType, type MatchAttachOps, type MatchDmaBufOps, type P2pDistance } from '../impl/dma-buf-match.ts';
import type { RuleId } from './registry.ts';
import type { ViolationLog } from './violation.ts';

/** A match core under test: the faithful port or a seeded bug. */
export interface MatchImpl {
  readonly name: string;
  readonly bugOf?: RuleId;
  make(k: Kernel, profile: Profile, distance: P2pDistance): DmaBufMatchCore;
}

export const RFC_MATCH_CORE: MatchImpl = { name: 'rfc:dma_buf_match_mapping', make: (k, p, d) => new DmaBufMatchCore(k, p, d) };

/** A documented finding of the faithful core (reports/FINDINGS.md). */
export interface MatchFinding {
  readonly id: string;
  readonly rule: RuleId;
  applies(c: AttachCase): boolean;
}

export const MATCH_FINDINGS: readonly MatchFinding[] = [
  { id: 'rfc-pal-type-open', rule: 'MATCH-RESTRICT', applies: (c) => spec(c.profile).palImporters === 'iommufd-only' && c.importer !== 'iommufd' && c.imp.some((e) => e.type === PAL) },
];

/** The case's importer may list PAL only where the module loader would let it use PAL (the rfc precondition). */
export function withinLoaderPrecondition(c: AttachCase): boolean {
  return !MATCH_FINDINGS.some((f) => f.applies(c));
}

/** The port's mapping types for a case: the core's own, and one private type per universe name. */
function portTypes(core: DmaBufMatchCore, c: AttachCase): (name: string) => DmaBufMappingType {
  const own: Record<string, DmaBufMappingType> = { [SGT]: core.sgt_type, [PAL]: core.pal_type, [IOMMU_DOMAIN]: core.iommu_domain_type };
  const priv = new Map<string, DmaBufMappingType>();
  return (name) => {
    if (own[name]) return own[name]!;
    let t = priv.get(name);
    if (!t) {
      const table = c.types.find((x) => x.name === name)?.callback;
      const type: DmaBufMappingType = {
        name,
        ...(table ? { match: (_d: unknown, e: DmaBufMappingMatch, i: DmaBufMappingMatch) => table[`${e.exp_ops?.name}|${i.imp_priv}`] ?? 0 } : {}),
        finish_match: (args, e, i) => { args.attach.map_type = { type, exp_ops: e.exp_ops!, sgt_data: NO_SGT, imp_priv: i.imp_priv! }; },
      };
      priv.set(name, (t = type));
    }
    return t;
  };
}

function expEntry(core: DmaBufMatchCore, type: (n: string) => DmaBufMappingType, e: MatchEntry): DmaBufMappingMatch {
  if (e.type === SGT) return emappingSgt(core, { name: e.ops }, e.dev ?? null, e.p2p === true);
  if (e.type === PAL) return emappingPal(core, { name: e.ops }, e.dev ?? null);
  return { type: type(e.type), exp_ops: { name: e.ops }, sgt_data: NO_SGT };
}

function impEntry(core: DmaBufMatchCore, type: (n: string) => DmaBufMappingType, e: MatchEntry): DmaBufMappingMatch {
  if (e.type === SGT) return { ...imappingSgt(core, e.dev ?? null, e.p2p === true), imp_priv: e.ops };
  if (e.type === PAL) return { ...imappingPal(core), imp_priv: e.ops };
  return { type: type(e.type), sgt_data: NO_SGT, imp_priv: e.ops };
}

/** A port entry as the model writes it. */
function modelEntry(core: DmaBufMatchCore, m: DmaBufMappingMatch): MatchEntry {
  const type = m.type === core.sgt_type ? SGT : m.type === core.pal_type ? PAL : m.type === core.iommu_domain_type ? IOMMU_DOMAIN : m.type.name;
  if (type === SGT) return { type, ops: m.exp_ops?.name ?? '', p2p: m.sgt_data.exporter_requires_p2p === 'DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE', ...(m.sgt_data.exporting_p2p_device ? { dev: m.sgt_data.exporting_p2p_device } : {}) };
  return { type, ops: m.exp_ops?.name ?? '', ...(type === PAL && m.sgt_data.exporting_p2p_device ? { dev: m.sgt_data.exporting_p2p_device } : {}) };
}

function modelMapType(core: DmaBufMatchCore, m: DmaBufMappingMatch): AttachMapType {
  const type = modelEntry(core, m).type;
  const conv = m.converter ? { converter: m.converter, source: m.conv_src?.name ?? '' } : {};
  const sgt = { importingDev: m.sgt_data.importing_dma_device, importerAcceptsP2P: m.sgt_data.importer_accepts_p2p === 'DMA_SGT_IMPORTER_ACCEPTS_P2P', exporterRequiresP2P: m.sgt_data.exporter_requires_p2p === 'DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE' };
  if (type === SGT) return { type, expOps: m.exp_ops?.name ?? '', sgt, ...conv };
  return { type, expOps: m.exp_ops?.name ?? '', ...(m.imp_priv !== undefined && type !== PAL ? { impOps: m.imp_priv } : {}), ...conv };
}

function exporterOps(core: DmaBufMatchCore, c: AttachCase, list: DmaBufMappingMatch[], entered: () => void): MatchDmaBufOps {
  const o = c.exporter.ops;
  return {
    release: 'vfio_like_release',
    ...(o.matchMapping ? { match_mapping: (args) => { entered(); return c.exporter.early ?? core.dma_buf_match_mapping(args, list, list.length); } } : {}),
    ...(o.singleExporterMatch && list[0] ? { single_exporter_match: list[0] } : {}),
    ...(o.mapDmaBuf ? { map_dma_buf: 'map' } : {}),
    ...(o.unmapDmaBuf ? { unmap_dma_buf: 'unmap' } : {}),
  };
}

function importerOps(c: AttachCase): MatchAttachOps | null {
  if (c.importerOps === 'static') return null;
  return c.importerOps === 'dynamic' ? { allow_peer2peer: false, move_notify: () => undefined } : { allow_peer2peer: false };
}

/** Run a case's export + attach on an implementation; the outcome as the model writes it. */
export async function runMatch(impl: MatchImpl, c: AttachCase, k = new Kernel()): Promise<AttachOutcome> {
  const distance: P2pDistance = (p, cl) => (routable(routeOf(c.routes, p, cl)) ? 2 : -1);
  const core = impl.make(k, c.profile, distance);
  const type = portTypes(core, c);
  const exp = c.exporter.list.map((e) => expEntry(core, type, e));
  const imp = c.imp.map((e) => impEntry(core, type, e));
  let entered = false;
  let offered: DmaBufMappingMatch[] | null = null;
  const calls: { exp: number; imp: number; ret: AttachOutcome['ret'] }[] = [];
  let chosen: AttachOutcome['chosen'] = null;
  core.trace = {
    offered: (l) => { entered = true; offered = [...l]; },
    called: (e, i, ret) => calls.push({ exp: offered!.indexOf(e), imp: imp.indexOf(i), ret }),
    finished: (e, i) => { chosen = { exp: offered!.indexOf(e), imp: imp.indexOf(i) }; },
  };
  const none = { chosen: null, calls: [], mapType: null, offered: null };
  const buf = core.dma_buf_export('dmabuf0', exporterOps(core, c, exp, () => { entered = true; }), { priv: true });
  if (!buf.ok) return { ...none, ret: buf.errno, stage: 'export' };
  const r = await core.dma_buf_mapping_attach(buf.value, imp, importerOps(c), null);
  const stage: Stage = entered ? 'match' : 'attach';
  const got = { stage, ret: r.ok ? (0 as const) : r.errno, chosen, calls, offered: offered === null ? null : (offered as DmaBufMappingMatch[]).map((m) => modelEntry(core, m)) };
  return { ...got, mapType: r.ok && r.value.value.map_type ? modelMapType(core, r.value.value.map_type) : null };
}

/** One case on one implementation, checked: the violations it shows. */
export async function matchCaseViolations(impl: MatchImpl, c: AttachCase, log: ViolationLog): Promise<ViolationLog> {
  checkMatch(c, await runMatch(impl, c), log);
  return log;
}

const OUTCOME_FIELDS = ['stage', 'ret', 'chosen', 'calls', 'mapType', 'offered'] as const;

function canon(o: AttachOutcome): string {
  return JSON.stringify(OUTCOME_FIELDS.map((f) => o[f]));
}

/** What differs, the result first, then the first other field (which callbacks ran, the map type, the list offered). */
function describeDifference(want: AttachOutcome, got: AttachOutcome): string {
  const head = `attach answered ${got.ret} at ${got.stage} (chosen ${JSON.stringify(got.chosen)}), the model says ${want.ret} at ${want.stage} (chosen ${JSON.stringify(want.chosen)})`;
  const field = OUTCOME_FIELDS.slice(3).find((f) => JSON.stringify(want[f]) !== JSON.stringify(got[f]));
  return field ? `${head}; ${field}: ${JSON.stringify(got[field])}, the model says ${JSON.stringify(want[field])}` : head;
}

function resultRule(want: AttachOutcome, got: AttachOutcome): RuleId {
  if (want.stage === 'export' || got.stage === 'export') return 'MATCH-EXPORT';
  if (want.stage === 'attach' || got.stage === 'attach') return 'MATCH-DYNAMIC';
  return 'MATCH-ORDER';
}

/** Does the chosen pair need P2P (an SGT exporter that requires it, or the PAL→SGT converter)? */
function needsP2P(e: MatchEntry, i: MatchEntry): boolean {
  return i.type === SGT && (e.type === PAL || (e.type === SGT && e.p2p === true));
}

/** Every MATCH-* rule on one case: the outcome against the model, and the invariants on the outcome alone. */
export function checkMatch(c: AttachCase, got: AttachOutcome, log: ViolationLog): void {
  const want = exportAndAttach(c);
  if (canon(want) !== canon(got)) log.report(resultRule(want, got), describeDifference(want, got), { port: got, model: want });
  const kind = exportCheck(c.exporter.ops);
  if (kind.ok && kind.value === 'legacy' && got.offered && JSON.stringify(got.offered) !== JSON.stringify(LEGACY_LIST)) log.report('MATCH-LEGACY', `a legacy exporter was offered as ${JSON.stringify(got.offered)}, not [SGT(NO_P2P)]`, { offered: got.offered });
  const offered = got.offered ?? [];
  for (const call of got.calls) {
    const e = offered[call.exp];
    const i = c.imp[call.imp];
    if (e && i && !compatible(c, e, i)) log.report('MATCH-ORDER', `a match callback ran on exporter ${e.type} and importer ${i.type}: the types must be equal first`, { call });
  }
  const e = got.chosen ? offered[got.chosen.exp] : undefined;
  const i = got.chosen ? c.imp[got.chosen.imp] : undefined;
  if (got.ret !== 0 || !e || !i) return;
  if (needsP2P(e, i) && (!i.p2p || !routable(routeOf(c.routes, e.dev, i.dev)))) log.report('MATCH-P2P', `exporter ${e.ops} needs P2P but matched importer ${i.ops} (accepts P2P: ${i.p2p === true}, route ${routeOf(c.routes, e.dev, i.dev)})`, { exp: e, imp: i });
  if (i.type === PAL && !mayImportPal(c.profile, c.importer)) log.report('MATCH-RESTRICT', `importer module ${c.importer} was matched with a PAL in profile ${c.profile}`, { importer: c.importer, exp: e });
  if (got.mapType?.converter && got.mapType.expOps === got.mapType.source) log.report('MATCH-CONVERT', `the importer got the exporter's ${got.mapType.source} ops through ${got.mapType.converter}`, { mapType: got.mapType });
}

/** MATCH-CLEANED: after vfio_pci_dma_buf_cleanup() an attach fails -ENODEV and adds no attachment. */
export function checkCleaned(log: ViolationLog, result: 'ok' | string, attachmentsAdded: number): void {
  if (result !== '-ENODEV' || attachmentsAdded !== 0) log.report('MATCH-CLEANED', `attach after cleanup answered ${result} and added ${attachmentsAdded} attachment(s); it must fail -ENODEV`, { result, attachmentsAdded });
}
