// The model of DMA-buf mapping types and match-making (001 RFC 00/26 and
// 01-05/26, 000 RFC 21/26, 004 converters): what dma_buf_export() accepts,
// what dma_buf_mapping_attach() must answer, which exporter and importer
// entries are chosen and which match callbacks run on the way.
import type { Errno, Result } from './errno.ts';
import { err, ok } from './errno.ts';
import type { MapType } from './pci/types.ts';
import { converterFor, spec, type Profile } from './profiles.ts';

export const SGT = 'SGT';
export const PAL = 'PAL';
/** The importer-only type of the converter profile (004). */
export const IOMMU_DOMAIN = 'IOMMU_DOMAIN';
export const IOMMUFD = 'iommufd';

/** 0 matches, -EOPNOTSUPP skips, anything else aborts. */
export type CallbackResult = 0 | Errno;

/** One entry of a match list (struct dma_buf_mapping_match). */
export interface MatchEntry {
  readonly type: string;
  /** Exporter: the exp_ops handed over; importer: the entry's identity. */
  readonly ops: string;
  /** SGT exporter: EXPORTER_REQUIRES_P2P_DISTANCE; SGT importer: IMPORTER_ACCEPTS_P2P. */
  readonly p2p?: boolean;
  /** SGT exporter: exporting_p2p_device; SGT importer: importing_dma_device; PAL exporter (004): its P2P device. */
  readonly dev?: string | null;
}

/** A driver type of the universe: its match callback as a table keyed
 *  `exp.ops|imp.ops` (missing keys answer 0), or no callback at all. SGT's
 *  callback is dma_buf_sgt_match; PAL, IOMMU_DOMAIN and types outside the
 *  universe have none. */
export interface TypeSpec {
  readonly name: string;
  readonly callback?: Readonly<Record<string, CallbackResult>>;
}

/** pci_p2pdma_map_type(provider, client) for a pair of devices; pairs not listed are NOT_SUPPORTED. */
export interface Route {
  readonly provider: string;
  readonly client: string;
  readonly mapType: MapType;
}

export interface MatchCase {
  readonly profile: Profile;
  readonly types: readonly TypeSpec[];
  readonly exp: readonly MatchEntry[];
  readonly imp: readonly MatchEntry[];
  /** The importing module (MATCH-RESTRICT). */
  readonly importer: string;
  readonly routes: readonly Route[];
}

export interface MatchCall {
  readonly exp: number;
  readonly imp: number;
  readonly ret: CallbackResult;
}

/** attach->map_type after finish_match. */
export interface AttachMapType {
  readonly type: string;
  readonly expOps: string;
  /** Private types keep the importer entry's identity too. */
  readonly impOps?: string;
  readonly sgt?: { readonly importingDev: string | null; readonly importerAcceptsP2P: boolean; readonly exporterRequiresP2P: boolean };
  /** Set when a core converter made the match (004): the importer gets the
   *  core's ops (`core:PAL→SGT`), and only the core keeps the exporter's. */
  readonly converter?: string;
  readonly source?: string;
}

export interface MatchOutcome {
  readonly ret: CallbackResult;
  readonly chosen: { readonly exp: number; readonly imp: number } | null;
  readonly calls: readonly MatchCall[];
  readonly mapType: AttachMapType | null;
}

export function routeOf(routes: readonly Route[], provider: string | null | undefined, client: string | null | undefined): MapType {
  return routes.find((r) => r.provider === provider && r.client === client)?.mapType ?? 'NOT_SUPPORTED';
}

/** Only a route the P2P subsystem can map has a distance (pci_p2pdma_distance() ≥ 0). */
export function routable(t: MapType): boolean {
  return t === 'BUS_ADDR' || t === 'THRU_HOST_BRIDGE';
}

/** dma_buf_sgt_match(): a P2P-requiring exporter needs an accepting importer and a route. */
export function sgtMatch(routes: readonly Route[], e: MatchEntry, i: MatchEntry): CallbackResult {
  if (!e.p2p) return 0;
  if (!e.dev || !i.p2p) return '-EOPNOTSUPP';
  return routable(routeOf(routes, e.dev, i.dev)) ? 0 : '-EOPNOTSUPP';
}

function sgtMapType(e: MatchEntry, i: MatchEntry, requiresP2P: boolean, converter?: string): AttachMapType {
  const sgt = { importingDev: i.dev ?? null, importerAcceptsP2P: i.p2p === true, exporterRequiresP2P: requiresP2P };
  return converter ? { type: SGT, expOps: `core:${converter}`, sgt, converter, source: e.ops } : { type: SGT, expOps: e.ops, sgt };
}

/** How an exporter entry and an importer entry can pair: the callback to
 *  run (null: none) and what finish_match records; undefined: they cannot. */
interface Candidate {
  readonly callback: (() => CallbackResult) | null;
  readonly mapType: AttachMapType;
}

function candidate(c: MatchCase, e: MatchEntry, i: MatchEntry): Candidate | undefined {
  if (e.type !== i.type) {
    const conv = converterFor(c.profile, e.type, i.type);
    if (!conv) return undefined;
    const name = `${conv.from}→${conv.to}`;
    // PAL→SGT maps MMIO through dma_buf_phys_vec_to_sgt(): it needs P2P from the exporter's device.
    if (conv.to === SGT) return { callback: () => sgtMatch(c.routes, { ...e, p2p: true }, i), mapType: sgtMapType(e, i, true, name) };
    return { callback: null, mapType: { type: conv.to, expOps: `core:${name}`, impOps: i.ops, converter: name, source: e.ops } };
  }
  // iommu_domain is importer-only: the exporter never sees the domain (004).
  if (e.type === IOMMU_DOMAIN || (e.type === PAL && spec(c.profile).palImporters === 'none')) return undefined;
  if (e.type === SGT) return { callback: () => sgtMatch(c.routes, e, i), mapType: sgtMapType(e, i, e.p2p === true) };
  if (e.type === PAL) return { callback: null, mapType: { type: PAL, expOps: e.ops } };
  const table = c.types.find((t) => t.name === e.type)?.callback;
  return { callback: table ? () => table[`${e.ops}|${i.ops}`] ?? 0 : null, mapType: { type: e.type, expOps: e.ops, impOps: i.ops } };
}

/** dma_buf_match_mapping(): the (exporter, importer) pairs in exporter-major
 *  order; the first pair whose callback does not answer -EOPNOTSUPP decides. */
export function matchMapping(c: MatchCase, exp: readonly MatchEntry[] = c.exp): MatchOutcome {
  const pairs = exp.flatMap((e, ei) => c.imp.map((i, ii) => ({ ei, ii, cand: candidate(c, e, i) })));
  const calls: MatchCall[] = [];
  for (const { ei, ii, cand } of pairs) {
    if (!cand) continue;
    const ret = cand.callback ? cand.callback() : 0;
    if (cand.callback) calls.push({ exp: ei, imp: ii, ret });
    if (ret === '-EOPNOTSUPP') continue;
    return ret === 0 ? { ret, chosen: { exp: ei, imp: ii }, calls, mapType: cand.mapType } : { ret, chosen: null, calls, mapType: null };
  }
  return { ret: '-EINVAL', chosen: null, calls, mapType: null };
}

/** Whether an exporter entry and an importer entry can pair at all (type equal or convertible). */
export function compatible(c: MatchCase, e: MatchEntry, i: MatchEntry): boolean {
  return candidate(c, e, i) !== undefined;
}

// ---- export and attach (RFC 03/26 and 05/26) ------------------------------

/** Which dma_buf_ops an exporter fills in. */
export interface ExporterOps {
  readonly matchMapping: boolean;
  readonly singleExporterMatch: boolean;
  readonly mapDmaBuf: boolean;
  readonly unmapDmaBuf: boolean;
}

export type ExporterKind = 'match_mapping' | 'single' | 'legacy';

/** dma_buf_export(): match_mapping or single_exporter_match (not both) with no map/unmap, or both legacy ops. */
export function exportCheck(o: ExporterOps): Result<ExporterKind> {
  if (o.matchMapping || o.singleExporterMatch) {
    if (o.mapDmaBuf || o.unmapDmaBuf) return err('-EINVAL');
    if (o.matchMapping && o.singleExporterMatch) return err('-EINVAL');
    return ok(o.matchMapping ? 'match_mapping' : 'single');
  }
  return o.mapDmaBuf && o.unmapDmaBuf ? ok('legacy') : err('-EINVAL');
}

/** dma_buf_sgt_exp_compat_match: what every legacy exporter offers (MATCH-LEGACY). */
export const LEGACY_LIST: readonly MatchEntry[] = [{ type: SGT, ops: 'dma_buf_sgt_compat_exp_ops', p2p: false }];

/** An exporter: its ops, its match list, and an errno its match_mapping may answer before matching. */
export interface ExporterSpec {
  readonly ops: ExporterOps;
  readonly list: readonly MatchEntry[];
  readonly early?: Errno;
}

/** dma_buf_attach_ops as the importer passes them. */
export type ImporterOps = 'static' | 'dynamic' | 'dynamic-no-move-notify';

export interface AttachCase extends MatchCase {
  readonly exporter: ExporterSpec;
  readonly importerOps: ImporterOps;
}

export type Stage = 'export' | 'attach' | 'match';

export interface AttachOutcome extends MatchOutcome {
  /** Where the result was decided. */
  readonly stage: Stage;
  /** The exporter list given to dma_buf_match_mapping(), when it ran. */
  readonly offered: readonly MatchEntry[] | null;
}

/** The list dma_buf_mapping_attach() matches against for each kind of exporter. */
export function offeredList(kind: ExporterKind, s: ExporterSpec): readonly MatchEntry[] {
  if (kind === 'legacy') return LEGACY_LIST;
  return kind === 'single' ? s.list.slice(0, 1) : s.list;
}

const NONE: MatchOutcome = { ret: 0, chosen: null, calls: [], mapType: null };

/** Export, then dma_buf_mapping_attach(): the outcome the kernel must give. */
export function exportAndAttach(c: AttachCase): AttachOutcome {
  const kind = exportCheck(c.exporter.ops);
  if (!kind.ok) return { ...NONE, ret: kind.errno, stage: 'export', offered: null };
  if (c.importerOps === 'dynamic-no-move-notify') return { ...NONE, ret: '-EINVAL', stage: 'attach', offered: null };
  if (kind.value === 'match_mapping' && c.exporter.early) return { ...NONE, ret: c.exporter.early, stage: 'match', offered: null };
  const offered = offeredList(kind.value, c.exporter);
  return { ...matchMapping(c, offered), stage: 'match', offered: offered.map(asOffered) };
}

/** An exporter entry as the core sees it: DMA_BUF_EMAPPING_SGT() carries no
 *  device unless it requires P2P; private types carry only their ops. */
export function asOffered(e: MatchEntry): MatchEntry {
  if (e.type === SGT) return { type: SGT, ops: e.ops, p2p: e.p2p === true, ...(e.p2p && e.dev ? { dev: e.dev } : {}) };
  if (e.type === PAL) return { type: PAL, ops: e.ops, ...(e.dev ? { dev: e.dev } : {}) };
  return { type: e.type, ops: e.ops };
}

/** MATCH-RESTRICT: may this importer be handed a PAL in this profile? */
export function mayImportPal(profile: Profile, importer: string): boolean {
  const who = spec(profile).palImporters;
  return who === 'iommufd-only' && importer === IOMMUFD;
}
