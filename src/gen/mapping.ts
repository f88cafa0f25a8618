// fast-check arbitraries for mapping types and match-making: random type
// universes (driver-private types with callbacks answering random errnos,
// types with no callback, types outside the universe), exporter and
// importer lists with duplicates and empty lists, routes between devices,
// and exporter/importer shapes for the export and attach checks.
import fc from 'fast-check';
import type { Errno } from '../../models/errno.ts';
import { IOMMU_DOMAIN, IOMMUFD, PAL, SGT, type AttachCase, type CallbackResult, type ExporterOps, type ImporterOps, type MatchEntry, type Route, type TypeSpec } from '../../models/mapping.ts';
import { MAP_TYPES } from '../../models/pci/types.ts';
import { spec, type Profile } from '../../models/profiles.ts';

export const PRIVATE_TYPES = ['privA', 'privB', 'privC'] as const;
/** Referenced by lists but never declared in the universe. */
export const UNKNOWN_TYPE = 'privX';
export const DEVICES = ['gpu0', 'gpu1', 'nic0'] as const;
export const OPS = ['ops0', 'ops1', 'ops2'] as const;
export const MODULES = [IOMMUFD, 'dma', 'kvm'] as const;

const ERRNOS: Errno[] = ['-EOPNOTSUPP', '-EINVAL', '-ENOMEM', '-ENODEV', '-EBUSY'];

/** 0 (a match), -EOPNOTSUPP (skip the pair) and an error that aborts the match: the three branches of
 *  dma_buf_match_mapping() (001 RFC 01/26), each often enough to be met in a short search. */
export const callbackResultArb: fc.Arbitrary<CallbackResult> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0 as const) },
  { weight: 3, arbitrary: fc.constant('-EOPNOTSUPP' as const) },
  { weight: 2, arbitrary: fc.constantFrom(...ERRNOS) },
);

function tableArb(): fc.Arbitrary<Record<string, CallbackResult>> {
  const keys = OPS.flatMap((e) => OPS.map((i) => `${e}|${i}`));
  return fc.dictionary(fc.constantFrom(...keys), callbackResultArb, { minKeys: 3, maxKeys: keys.length });
}

/** A universe: some of the private types, each with or without a callback table. */
export const universeArb: fc.Arbitrary<TypeSpec[]> = fc
  .subarray([...PRIVATE_TYPES])
  .chain((names) => fc.tuple(...names.map((name) => fc.option(tableArb(), { nil: undefined }).map((callback): TypeSpec => (callback ? { name, callback } : { name })))));

function typeArb(profile: Profile): fc.Arbitrary<string> {
  const core = spec(profile).converters.some((c) => c.to === IOMMU_DOMAIN) ? [SGT, PAL, IOMMU_DOMAIN] : [SGT, PAL];
  return fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...core) }, { weight: 2, arbitrary: fc.constantFrom(...PRIVATE_TYPES) }, { weight: 1, arbitrary: fc.constant(UNKNOWN_TYPE) });
}

const devArb = fc.constantFrom<string | null>(...DEVICES, null);

function entryArb(profile: Profile): fc.Arbitrary<MatchEntry> {
  return fc.record({ type: typeArb(profile), ops: fc.constantFrom(...OPS), p2p: fc.boolean(), dev: devArb }).map((e): MatchEntry => {
    if (e.type === SGT) return { type: e.type, ops: e.ops, p2p: e.p2p, dev: e.dev };
    if (e.type === PAL) return { type: e.type, ops: e.ops, dev: e.dev };
    return { type: e.type, ops: e.ops };
  });
}

/** A list of 0..max entries; duplicates come from the small alphabets. */
export function listArb(profile: Profile, max = 5): fc.Arbitrary<MatchEntry[]> {
  return fc.array(entryArb(profile), { maxLength: max });
}

/** An importer's list: its own entries, and often entries of the types (and ops) the exporter offers,
 *  so that pairs meet and their match callbacks run. */
function overlappingListArb(profile: Profile, exp: readonly MatchEntry[], max = 5): fc.Arbitrary<MatchEntry[]> {
  if (exp.length === 0) return listArb(profile, max);
  return fc.array(fc.oneof(entryArb(profile), fc.constantFrom(...exp)), { maxLength: max });
}

export const routesArb: fc.Arbitrary<Route[]> = fc.array(
  fc.record({ provider: fc.constantFrom(...DEVICES), client: fc.constantFrom(...DEVICES), mapType: fc.constantFrom(...MAP_TYPES) }),
  { maxLength: 6 },
);

/** Mostly a match_mapping exporter; sometimes single, legacy or an invalid mix of ops. */
export const exporterOpsArb: fc.Arbitrary<ExporterOps> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ matchMapping: true, singleExporterMatch: false, mapDmaBuf: false, unmapDmaBuf: false }) },
  { weight: 1, arbitrary: fc.constant({ matchMapping: false, singleExporterMatch: true, mapDmaBuf: false, unmapDmaBuf: false }) },
  { weight: 1, arbitrary: fc.constant({ matchMapping: false, singleExporterMatch: false, mapDmaBuf: true, unmapDmaBuf: true }) },
  { weight: 1, arbitrary: fc.record({ matchMapping: fc.boolean(), singleExporterMatch: fc.boolean(), mapDmaBuf: fc.boolean(), unmapDmaBuf: fc.boolean() }) },
);

const importerOpsArb: fc.Arbitrary<ImporterOps> = fc.oneof(
  { weight: 4, arbitrary: fc.constant('dynamic' as const) },
  { weight: 2, arbitrary: fc.constant('static' as const) },
  { weight: 1, arbitrary: fc.constant('dynamic-no-move-notify' as const) },
);

export interface AttachCaseOptions {
  readonly profiles?: readonly Profile[];
  /** Keep the rfc loader precondition: only iommufd lists PAL (default true). */
  readonly loaderPrecondition?: boolean;
  readonly maxEntries?: number;
}

/** A whole export + attach case. */
export function attachCaseArb(opts: AttachCaseOptions = {}): fc.Arbitrary<AttachCase> {
  const profiles = opts.profiles ?? ['rfc', 'converter'];
  return fc.constantFrom(...profiles).chain((profile) =>
    fc
      .record({
        types: universeArb,
        ...{ both: listArb(profile, opts.maxEntries).chain((list) => fc.record({ list: fc.constant(list), imp: overlappingListArb(profile, list, opts.maxEntries) })) },
        importer: fc.constantFrom(...MODULES),
        routes: routesArb,
        ops: exporterOpsArb,
        early: fc.option(fc.constant('-ENODEV' as const), { freq: 8, nil: undefined }),
        importerOps: importerOpsArb,
      })
      .map(({ both: { list: exp, imp: imported }, ...r }) => ({ ...r, list: exp, imp: imported }))
      .map((r): AttachCase => {
        const keepPal = opts.loaderPrecondition === false || spec(profile).palImporters !== 'iommufd-only' || r.importer === IOMMUFD;
        const imp = keepPal ? r.imp : r.imp.filter((e) => e.type !== PAL);
        const list = r.ops.singleExporterMatch && r.list.length === 0 ? [{ type: SGT, ops: 'ops0', p2p: false }] : r.list;
        return { profile, types: r.types, exp: list, imp, importer: r.importer, routes: r.routes, exporter: { ops: r.ops, list, ...(r.early ? { early: r.early } : {}) }, importerOps: r.importerOps };
      }),
  );
}

/** A match_mapping exporter with a dynamic importer: every case reaches dma_buf_match_mapping(). */
export function matchCaseArb(opts: AttachCaseOptions = {}): fc.Arbitrary<AttachCase> {
  return attachCaseArb(opts).map((c) => ({ ...c, exporter: { ops: { matchMapping: true, singleExporterMatch: false, mapDmaBuf: false, unmapDmaBuf: false }, list: c.exp }, importerOps: 'dynamic' as const }));
}
