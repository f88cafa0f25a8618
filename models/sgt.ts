// The model of PAL → scatter-gather conversion (002 v8 06/11 dma_buf_map;
// drivers/dma-buf/dma-buf-mapping.c dma_buf_phys_vec_to_sgt in mainline):
// which DMA segments a PAL must become for a route.
import { err, ok, type Result } from './errno.ts';
import { UINT_MAX, U64_MAX, alignDown, type DmaAddr, type PageSize, type U64 } from './u64.ts';
import type { MapType } from './pci/types.ts';
import type { PhysVec } from './pal.ts';

/** How large one scatterlist entry may be: UINT_MAX as posted in v8,
 *  ALIGN_DOWN(UINT_MAX, PAGE_SIZE) (MAX_SG_ENT_SZ) in mainline. */
export type SegmentLimit = 'uint-max' | 'page-aligned';

export function maxSegmentSize(limit: SegmentLimit, pageSize: PageSize): U64 {
  return limit === 'uint-max' ? UINT_MAX : alignDown(UINT_MAX, pageSize);
}

export interface Segment {
  readonly addr: DmaAddr;
  readonly len: U64;
}

/** A stretch of DMA addresses [addr, addr + len) that the table covers in order: one range at its
 *  DMA address, or a whole IOVA span. The table has ⌈len / max⌉ entries for it. */
export interface DmaSpan {
  readonly addr: DmaAddr;
  readonly len: U64;
}

/** How the DMA API mapped the PAL: a bus address (no IOMMU work), one IOVA
 *  span, or one dma_map_phys per range (IOVA allocation refused). */
export type DmaPath =
  | { readonly kind: 'bus-addr'; readonly busOffset: U64 }
  | { readonly kind: 'iova'; readonly base: DmaAddr }
  | { readonly kind: 'per-range'; readonly addrs: readonly DmaAddr[] };

/** How DMA address spans become scatterlist entries, in table order: an entry at every multiple
 *  of `max` below a span's `len`, `max` long or the rest (1..max bytes). `visit` sees each entry
 *  and its index until it returns false, so a table of 327,680 entries (65,536 ranges of 16 GiB)
 *  is read without being held. */
export function forEachEntry(spans: readonly DmaSpan[], max: U64, visit: (addr: DmaAddr, len: U64, index: number) => boolean): void {
  let index = 0;
  for (let { addr, len } of spans) {
    for (; len > 0n; index++) {
      const entry = len < max ? len : max;
      if (!visit(addr, entry, index)) return;
      addr += entry;
      len -= entry;
    }
  }
}

/** The entries of spans, as an array. */
export function tableEntries(spans: readonly DmaSpan[], max: U64): Segment[] {
  const out: Segment[] = [];
  forEachEntry(spans, max, (addr, len) => out.push({ addr, len }) > 0);
  return out;
}

/** [addr, addr + len) split into entries of at most `max`. */
export const split = (addr: DmaAddr, len: U64, max: U64): Segment[] => tableEntries([{ addr, len }], max);

/** Number of entries the split gives, without building them. */
export function countSegments(len: U64, max: U64): U64 {
  return (len + max - 1n) / max;
}

/** The first index at which a table's entries differ from the spans' (an entry missing on either
 *  side counts), with the model's entry there; null when they are the same. */
export function firstDifference(got: readonly Segment[], spans: readonly DmaSpan[], max: U64): { index: number; want: Segment | undefined } | null {
  let diff: { index: number; want: Segment | undefined } | null = null;
  let read = 0;
  forEachEntry(spans, max, (addr, len, index) => {
    const g = got[index];
    read = index + 1;
    if (g && g.addr === addr && g.len === len) return true;
    diff = { index, want: { addr, len } };
    return false;
  });
  return diff ?? (read === got.length ? null : { index: read, want: undefined });
}

/** The DMA path a route takes: BUS_ADDR maps nothing; THRU_HOST_BRIDGE
 *  uses IOVA when it can be allocated, else one mapping per range; others
 *  cannot be mapped (ROUTE-NOMAP). */
export function dmaPathKind(route: MapType, iovaAvailable: boolean): Result<DmaPath['kind']> {
  if (route === 'BUS_ADDR') return ok('bus-addr');
  if (route === 'THRU_HOST_BRIDGE') return ok(iovaAvailable ? 'iova' : 'per-range');
  return err('-EINVAL');
}

/** Each range at its DMA address: paddr + bus offset, or where dma_map_phys() put it. */
function rangeSpans(phys: readonly PhysVec[], path: Exclude<DmaPath, { kind: 'iova' }>): DmaSpan[] {
  return phys.map((p, i) => ({ addr: path.kind === 'bus-addr' ? (p.paddr + path.busOffset) & U64_MAX : path.addrs[i]!, len: p.len }));
}

/** The DMA address spans a PAL must become, in order (BUS_ADDR: each range at paddr + bus offset;
 *  IOVA: one span; refused IOVA: each range where dma_map_phys() put it), and the number of
 *  entries they are cut into; -EINVAL when the table would need more than UINT_MAX entries. */
export function expectedSpans(phys: readonly PhysVec[], size: U64, path: DmaPath, max: U64): Result<{ spans: DmaSpan[]; nents: number }> {
  const spans = path.kind === 'iova' ? [{ addr: path.base, len: size }] : rangeSpans(phys, path);
  let nents = 0n;
  for (const s of spans) nents += countSegments(s.len, max);
  // At most UINT_MAX: Number() is exact.
  return nents > UINT_MAX ? err('-EINVAL') : ok({ spans, nents: Number(nents) });
}

/** The IOVA layout a span must have: range i linked at the sum of the lengths before it. */
export function iovaLinks(phys: readonly PhysVec[]): { offset: U64; len: U64 }[] {
  let offset = 0n;
  return phys.map((p) => {
    const link = { offset, len: p.len };
    offset += p.len;
    return link;
  });
}

/** Where the simulated kernel makes the conversion fail. */
export interface FailurePoints {
  readonly dmaAlloc: boolean;
  readonly stateAlloc: boolean;
  readonly sgAlloc: boolean;
  readonly mapFailsAt?: number;
  readonly linkFailsAt?: number;
  readonly syncFails: boolean;
  readonly iovaRefused: boolean;
}

export interface Conversion {
  readonly path: DmaPath['kind'];
  /** The table: these spans cut into entries of at most `max` (tableEntries()), `nents` in all. */
  readonly spans: readonly DmaSpan[];
  readonly max: U64;
  readonly nents: number;
}

/** What dma_buf_phys_vec_to_sgt() must return: -ENOMEM where an allocation,
 *  map, link or sync fails on the path taken, -EINVAL for an unroutable
 *  pair or a table that cannot be built, else the segments. `iovaBase` is
 *  where the IOMMU put the span; per-range mappings are at `rangeAddrs`
 *  (where dma_map_phys() put each range: through dma-iommu an IOVA per
 *  call), dma-direct when not given (DMA address = physical address). */
export function expectedConversion(phys: readonly PhysVec[], size: U64, route: MapType, fp: FailurePoints, max: U64, busOffset: U64, iovaBase: DmaAddr, rangeAddrs?: readonly DmaAddr[]): Result<Conversion> {
  if (fp.dmaAlloc) return err('-ENOMEM');
  const kind = dmaPathKind(route, !fp.iovaRefused && size !== 0n);
  if (!kind.ok) return kind;
  if (route === 'THRU_HOST_BRIDGE' && fp.stateAlloc) return err('-ENOMEM');
  const path: DmaPath = kind.value === 'bus-addr' ? { kind: 'bus-addr', busOffset } : kind.value === 'iova' ? { kind: 'iova', base: iovaBase } : { kind: 'per-range', addrs: rangeAddrs ?? phys.map((p) => p.paddr) };
  const table = expectedSpans(phys, size, path, max);
  if (!table.ok) return table;
  if (table.value.nents === 0) return err('-EINVAL');
  if (fp.sgAlloc) return err('-ENOMEM');
  if (kind.value === 'per-range' && fp.mapFailsAt !== undefined && fp.mapFailsAt < phys.length) return err('-ENOMEM');
  if (kind.value === 'iova' && ((fp.linkFailsAt !== undefined && fp.linkFailsAt < phys.length) || fp.syncFails)) return err('-ENOMEM');
  return ok({ path: kind.value, ...table.value, max });
}
