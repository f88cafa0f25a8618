// The two faithful conversion ports and the documented findings of their designs
// (reports/FINDINGS.md): which violations each finding explains, and when.
import { dmaPathKind, maxSegmentSize, type SegmentLimit } from '../../models/sgt.ts';
import { UINT_MAX } from '../../models/u64.ts';
import { dma_buf_free_sgt, dma_buf_map, dma_buf_phys_vec_to_sgt, dma_buf_unmap } from '../impl/dma-buf-mapping.ts';
import { runConversion, type ConversionCase, type ConversionImpl } from './conversion.ts';
import type { RuleId } from './registry.ts';
import type { Violation } from './violation.ts';
import { behaviour, shownBy } from './behaviour.ts';
import { platformOf, type IommuFlavour } from '../kernel/platform.ts';

export const V8_DMA_BUF_MAP: ConversionImpl = { name: 'v8:dma_buf_map', limit: 'uint-max', map: dma_buf_map, unmap: dma_buf_unmap };
export const MAINLINE_PHYS_VEC_TO_SGT: ConversionImpl = {
  name: 'mainline:dma_buf_phys_vec_to_sgt', limit: 'page-aligned',
  map: (k, a, p, phys, size, dir) => dma_buf_phys_vec_to_sgt(k, a, p, phys, size, dir),
  unmap: (k, a, d, dir) => dma_buf_free_sgt(k, a, d, dir),
};


function path(c: ConversionCase) {
  const p = dmaPathKind(c.route, !c.faults.iovaRefused && c.size !== 0n);
  return p.ok ? p.value : undefined;
}

const longest = (c: ConversionCase) => c.phys.reduce((m, p) => (p.len > m ? p.len : m), 0n);

/** One documented finding: the rules it breaks, the designs (segment limits) whose code has it, and the inputs that show it.
 *  It explains the same violation in any implementation of that design: a copy of the port keeps its known findings. */
export interface Finding {
  readonly id: string;
  readonly title: string;
  readonly limits: readonly SegmentLimit[];
  readonly rules: readonly RuleId[];
  /** When set, only violations whose evidence.kind is one of these. */
  readonly kinds?: readonly string[];
  /** Where the consequence depends on the IOMMU (src/kernel/platform.ts): the evidence kinds under each
   *  flavour, in place of `kinds`. A finding is its exact behaviour on that machine, nothing more. */
  readonly kindsByIommu?: Readonly<Record<IommuFlavour, readonly string[]>>;
  applies(c: ConversionCase): boolean;
}

const BOTH: readonly SegmentLimit[] = ['uint-max', 'page-aligned'];
const V8: readonly SegmentLimit[] = ['uint-max'];

export const CONVERSION_FINDINGS: readonly Finding[] = [
  {
    id: 'iova-link-offset-zero', title: 'every range is linked at IOVA offset 0', limits: BOTH, rules: ['DMA-IOVA'],
    // overwrite: range i replaces range 0's translation (links at [0, 0, ...], the span past max(len) unlinked);
    // keep (VT-d): the second link is a WARN and a no-op, range 0 stays, the span past len0 is unlinked, and the
    //   free destroys the whole span over what was linked; refuse (ARM): the second link is -EEXIST and the map fails.
    kindsByIommu: { overwrite: ['link-offsets', 'link-overlap', 'unlinked'], keep: ['link-overlap', 'link-offsets', 'unlinked', 'destroy-size'], refuse: ['link-overlap', 'result'] },
    applies: (c) => path(c) === 'iova' && c.phys.length >= 2,
  },
  {
    id: 'sgt-leak-orig-nents', title: 'orig_nents = 0 makes sg_free_table() free nothing', limits: BOTH, rules: ['DMA-UNWIND'], kinds: ['sg-table-leak'],
    applies: () => true,
  },
  {
    id: 'iova-leak-on-early-error', title: 'an IOVA allocation is never freed when the conversion fails before the first link', limits: BOTH, rules: ['DMA-UNWIND'], kinds: ['iova-leak'],
    applies: (c) => path(c) === 'iova' && !c.faults.allocFails.includes('state') && (c.faults.allocFails.includes('sg_table') || c.faults.linkFailsAt === 0),
  },
  {
    id: 'per-range-unmapped-in-pieces', title: 'a per-range mapping above the segment limit is unmapped in pieces', limits: BOTH, rules: ['DMA-UNMAP'], kinds: ['wrong-size', 'never-mapped'],
    applies: (c) => path(c) === 'per-range' && c.phys.some((p) => p.len > maxSegmentSize('page-aligned', c.pageSize)),
  },
  {
    id: 'unwind-walks-unmapped-entries', title: 'the error unwind unmaps table entries that were never mapped', limits: BOTH, rules: ['DMA-UNMAP'], kinds: ['never-mapped', 'wrong-size'],
    applies: (c) => path(c) === 'per-range' && c.faults.mapFailsAt !== undefined && c.faults.mapFailsAt >= 1 && c.faults.mapFailsAt < c.phys.length,
  },
  {
    id: 'v8-uint-max-segments', title: 'UINT_MAX segments are not page aligned past 4 GiB', limits: V8, rules: ['LEN-ALIGN'],
    applies: (c) => (path(c) === 'iova' ? c.size : longest(c)) > UINT_MAX,
  },
  {
    id: 'v8-segment-address-wraps', title: 'addr + i * UINT_MAX is computed in unsigned int', limits: V8, rules: ['LEN-ADDR', 'ROUTE-BUSADDR', 'DMA-UNMAP'],
    applies: (c) => (path(c) === 'iova' ? c.size : longest(c)) > 2n * UINT_MAX,
  },
  {
    id: 'v8-mapped-len-u32', title: 'mapped_len is unsigned int: an IOVA span of 4 GiB or more is cut', limits: V8, rules: ['LEN-SUM', 'LEN-NENTS', 'LEN-SEG', 'LEN-ADDR', 'DMA-IOVA'],
    applies: (c) => path(c) === 'iova' && c.size > UINT_MAX,
  },
  {
    id: 'v8-nents-wraps', title: 'calc_sg_nents() wraps in unsigned int', limits: V8, rules: ['LEN-NENTS'],
    applies: (c) => c.phys.reduce((n, p) => n + (p.len + UINT_MAX - 1n) / UINT_MAX, 0n) > UINT_MAX,
  },
];

/** The faithful port of each design: a documented finding is its behaviour, so it explains a violation only when
 *  that port, run on the same case, shows the same violation. */
const REFERENCE: Readonly<Record<SegmentLimit, ConversionImpl>> = { 'uint-max': V8_DMA_BUF_MAP, 'page-aligned': MAINLINE_PHYS_VEC_TO_SGT };

/** For each violation of a conversion case, the documented finding of the design that explains it (null: none).
 *  A finding explains its exact behaviour, nothing more: the case must be one it applies to, the evidence of a kind
 *  it has, and the design's faithful port must show the same violation (rule and evidence) on the same case. So a
 *  different bug that breaks the same rule on the same input (an unwind that destroys the whole size where the
 *  port destroys what it linked) stays new. */
export function explainConversion(limit: SegmentLimit, c: ConversionCase, violations: readonly Violation[]): (string | null)[] {
  const findings = CONVERSION_FINDINGS.filter((f) => f.limits.includes(limit) && f.applies(c));
  const kindOf = (v: Violation) => (v.evidence as { kind?: string } | undefined)?.kind ?? '';
  const kindsOf = (f: Finding) => f.kindsByIommu?.[platformOf(c).iommu] ?? f.kinds;
  const candidates = violations.map((v) => findings.find((f) => f.rules.includes(v.rule) && (!kindsOf(f) || kindsOf(f)!.includes(kindOf(v))))?.id ?? null);
  if (candidates.every((id) => id === null)) return candidates;
  const reference = runConversion(REFERENCE[limit], c).log.violations;
  const shown = shownBy(reference);
  return candidates.map((id, i) => (id !== null && shown.has(behaviour(violations[i]!)) ? id : null));
}

/** The violations no documented finding explains. */
export function unexplained(limit: SegmentLimit, c: ConversionCase, violations: readonly Violation[]): Violation[] {
  const by = explainConversion(limit, c, violations);
  return violations.filter((_, i) => by[i] === null);
}
