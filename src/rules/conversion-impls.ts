// The conversion implementations under test — the two faithful ports and
// the seeded bugs — and the documented findings of the faithful ports
// (reports/FINDINGS.md): which violations each finding explains, and when.
import { dmaPathKind, maxSegmentSize } from '../../models/sgt.ts';
import { UINT_MAX } from '../../models/u64.ts';
import { dma_buf_free_sgt, dma_buf_map, dma_buf_phys_vec_to_sgt, dma_buf_unmap } from '../impl/dma-buf-mapping.ts';
import { dmaErrcheckMissing } from '../bugs/dma-errcheck-missing.ts';
import { dmaIovaNoSync } from '../bugs/dma-iova-no-sync.ts';
import { dmaLeakNoUnmap } from '../bugs/dma-leak-no-unmap.ts';
import { dmaUnmapBidirectional } from '../bugs/dma-unmap-bidirectional.ts';
import { dmaUnwindSkipped } from '../bugs/dma-unwind-skipped.ts';
import { lenAddrNoAdvance } from '../bugs/len-addr-no-advance.ts';
import { lenAlignUintMax } from '../bugs/len-align-uint-max.ts';
import { lenNentsWrap } from '../bugs/len-nents-wrap.ts';
import { lenNocpuOrigNents } from '../bugs/len-nocpu-orig-nents.ts';
import { lenSeg4G } from '../bugs/len-seg-4g.ts';
import { lenSumDropTail } from '../bugs/len-sum-drop-tail.ts';
import { routeNomapDefaultBus } from '../bugs/route-nomap-default-bus.ts';
import type { ConversionCase, ConversionImpl } from './conversion.ts';
import type { RuleId } from './registry.ts';
import type { Violation } from './violation.ts';

export const V8_DMA_BUF_MAP: ConversionImpl = { name: 'v8:dma_buf_map', limit: 'uint-max', map: dma_buf_map, unmap: dma_buf_unmap };
export const MAINLINE_PHYS_VEC_TO_SGT: ConversionImpl = {
  name: 'mainline:dma_buf_phys_vec_to_sgt', limit: 'page-aligned',
  map: (k, a, p, phys, size, dir) => dma_buf_phys_vec_to_sgt(k, a, p, phys, size, dir),
  unmap: (k, a, d, dir) => dma_buf_free_sgt(k, a, d, dir),
};

export const CONVERSION_BUGS: readonly ConversionImpl[] = [
  lenSeg4G, lenAlignUintMax, lenSumDropTail, lenNentsWrap, lenNocpuOrigNents, lenAddrNoAdvance,
  dmaUnmapBidirectional, dmaErrcheckMissing, dmaIovaNoSync, dmaUnwindSkipped, dmaLeakNoUnmap, routeNomapDefaultBus,
];

export const CONVERSION_IMPLS: readonly ConversionImpl[] = [V8_DMA_BUF_MAP, MAINLINE_PHYS_VEC_TO_SGT, ...CONVERSION_BUGS];

function path(c: ConversionCase) {
  const p = dmaPathKind(c.route, !c.faults.iovaRefused && c.size !== 0n);
  return p.ok ? p.value : undefined;
}

const longest = (c: ConversionCase) => c.phys.reduce((m, p) => (p.len > m ? p.len : m), 0n);

/** One documented finding: the rules it breaks, the ports it is in, and the inputs that show it. */
export interface Finding {
  readonly id: string;
  readonly title: string;
  readonly impls: readonly string[];
  readonly rules: readonly RuleId[];
  /** When set, only violations whose evidence.kind is one of these. */
  readonly kinds?: readonly string[];
  applies(c: ConversionCase): boolean;
}

const BOTH = [V8_DMA_BUF_MAP.name, MAINLINE_PHYS_VEC_TO_SGT.name];
const V8 = [V8_DMA_BUF_MAP.name];

export const CONVERSION_FINDINGS: readonly Finding[] = [
  {
    id: 'iova-link-offset-zero', title: 'every range is linked at IOVA offset 0', impls: BOTH, rules: ['DMA-IOVA'], kinds: ['link-offsets', 'link-overlap', 'unlinked'],
    applies: (c) => path(c) === 'iova' && c.phys.length >= 2,
  },
  {
    id: 'sgt-leak-orig-nents', title: 'orig_nents = 0 makes sg_free_table() free nothing', impls: BOTH, rules: ['DMA-UNWIND'], kinds: ['sg-table-leak'],
    applies: () => true,
  },
  {
    id: 'iova-leak-on-early-error', title: 'an IOVA allocation is never freed when the conversion fails before the first link', impls: BOTH, rules: ['DMA-UNWIND'], kinds: ['iova-leak'],
    applies: (c) => path(c) === 'iova' && !c.faults.allocFails.includes('state') && (c.faults.allocFails.includes('sg_table') || c.faults.linkFailsAt === 0),
  },
  {
    id: 'per-range-unmapped-in-pieces', title: 'a per-range mapping above the segment limit is unmapped in pieces', impls: BOTH, rules: ['DMA-UNMAP'], kinds: ['wrong-size', 'never-mapped'],
    applies: (c) => path(c) === 'per-range' && c.phys.some((p) => p.len > maxSegmentSize('page-aligned', c.pageSize)),
  },
  {
    id: 'unwind-walks-unmapped-entries', title: 'the error unwind unmaps table entries that were never mapped', impls: BOTH, rules: ['DMA-UNMAP'], kinds: ['never-mapped', 'wrong-size'],
    applies: (c) => path(c) === 'per-range' && c.faults.mapFailsAt !== undefined && c.faults.mapFailsAt >= 1 && c.faults.mapFailsAt < c.phys.length,
  },
  {
    id: 'v8-uint-max-segments', title: 'UINT_MAX segments are not page aligned past 4 GiB', impls: V8, rules: ['LEN-ALIGN'],
    applies: (c) => (path(c) === 'iova' ? c.size : longest(c)) > UINT_MAX,
  },
  {
    id: 'v8-segment-address-wraps', title: 'addr + i * UINT_MAX is computed in unsigned int', impls: V8, rules: ['LEN-ADDR', 'ROUTE-BUSADDR', 'DMA-UNMAP'],
    applies: (c) => (path(c) === 'iova' ? c.size : longest(c)) > 2n * UINT_MAX,
  },
  {
    id: 'v8-mapped-len-u32', title: 'mapped_len is unsigned int: an IOVA span of 4 GiB or more is cut', impls: V8, rules: ['LEN-SUM', 'LEN-NENTS', 'LEN-SEG', 'LEN-ADDR', 'DMA-IOVA'],
    applies: (c) => path(c) === 'iova' && c.size > UINT_MAX,
  },
  {
    id: 'v8-nents-wraps', title: 'calc_sg_nents() wraps in unsigned int', impls: V8, rules: ['LEN-NENTS'],
    applies: (c) => c.phys.reduce((n, p) => n + (p.len + UINT_MAX - 1n) / UINT_MAX, 0n) > UINT_MAX,
  },
];

/** The violations no documented finding explains. */
export function unexplained(impl: string, c: ConversionCase, violations: readonly Violation[]): Violation[] {
  const findings = CONVERSION_FINDINGS.filter((f) => f.impls.includes(impl) && f.applies(c));
  const kindOf = (v: Violation) => (v.evidence as { kind?: string } | undefined)?.kind ?? '';
  return violations.filter((v) => !findings.some((f) => f.rules.includes(v.rule) && (!f.kinds || f.kinds.includes(kindOf(v)))));
}
