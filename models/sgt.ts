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

/** How the DMA API mapped the PAL: a bus address (no IOMMU work), one IOVA
 *  span, or one dma_map_phys per range (IOVA allocation refused). */
export type DmaPath =
  | { readonly kind: 'bus-addr'; readonly busOffset: U64 }
  | { readonly kind: 'iova'; readonly base: DmaAddr }
  | { readonly kind: 'per-range'; readonly addrs: readonly DmaAddr[] };

/** Split [addr, addr + len) into entries of at most `max`, appended to `out`: `full` entries of
 *  exactly `max`, then the rest (1..max bytes). One bigint per entry (its address): 65,536
 *  ranges of 16 GiB are 327,680 entries. */
export function split(addr: DmaAddr, len: U64, max: U64, out: Segment[] = []): Segment[] {
  if (len === 0n) return out;
  const full = (len - 1n) / max;
  // A count a loop can reach is far below 2^53: Number() is exact wherever this loop ends.
  let a = addr;
  for (let i = 0, n = Number(full); i < n; i++, a += max) out.push({ addr: a, len: max });
  out.push({ addr: a, len: len - full * max });
  return out;
}

/** Split each range at its DMA address, in order, into one table (no per-range arrays to flatten). */
function splitEach(phys: readonly PhysVec[], addrOf: (p: PhysVec, i: number) => DmaAddr, max: U64): Segment[] {
  const out: Segment[] = [];
  phys.forEach((p, i) => split(addrOf(p, i), p.len, max, out));
  return out;
}

/** Number of entries the split gives, without building them. */
export function countSegments(len: U64, max: U64): U64 {
  return (len + max - 1n) / max;
}

/** The DMA path a route takes: BUS_ADDR maps nothing; THRU_HOST_BRIDGE
 *  uses IOVA when it can be allocated, else one mapping per range; others
 *  cannot be mapped (ROUTE-NOMAP). */
export function dmaPathKind(route: MapType, iovaAvailable: boolean): Result<DmaPath['kind']> {
  if (route === 'BUS_ADDR') return ok('bus-addr');
  if (route === 'THRU_HOST_BRIDGE') return ok(iovaAvailable ? 'iova' : 'per-range');
  return err('-EINVAL');
}

/** The segments a PAL must become: exact addresses and lengths, in order;
 *  -EINVAL when the table would need more than UINT_MAX entries. */
export function expectedSegments(phys: readonly PhysVec[], size: U64, path: DmaPath, max: U64): Result<Segment[]> {
  let nents = 0n;
  if (path.kind === 'iova') nents = countSegments(size, max);
  else for (const p of phys) nents += countSegments(p.len, max);
  if (nents > UINT_MAX) return err('-EINVAL');
  switch (path.kind) {
    case 'bus-addr':
      return ok(splitEach(phys, (p) => (p.paddr + path.busOffset) & U64_MAX, max));
    case 'iova':
      return ok(split(path.base, size, max));
    case 'per-range':
      return ok(splitEach(phys, (_, i) => path.addrs[i]!, max));
  }
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
  readonly segments: readonly Segment[];
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
  const segments = expectedSegments(phys, size, path, max);
  if (!segments.ok) return segments;
  if (segments.value.length === 0) return err('-EINVAL');
  if (fp.sgAlloc) return err('-ENOMEM');
  if (kind.value === 'per-range' && fp.mapFailsAt !== undefined && fp.mapFailsAt < phys.length) return err('-ENOMEM');
  if (kind.value === 'iova' && ((fp.linkFailsAt !== undefined && fp.linkFailsAt < phys.length) || fp.syncFails)) return err('-ENOMEM');
  return ok({ path: kind.value, segments: segments.value });
}
