// A PAL → SGT conversion written from scratch against the package entry only: what a driver author who
// keeps their own dma_buf_phys_vec_to_sgt() (torvalds/linux drivers/dma-buf/dma-buf-mapping.c, the
// mainline design: segments of at most ALIGN_DOWN(UINT_MAX, PAGE_SIZE), one IOVA span when the IOMMU
// grants one, dma_map_phys() per range otherwise, bus addresses on a BUS_ADDR route) would write.
//
//   npx dmabuf-conform run --plugin examples/plugins/sgt-conversion.ts     # exit 0: nothing new
//
// `sgtConversion({ bug: 'nents-round-up' })` is the same conversion with a one-character mistake a user made
// (DIV_ROUND_UP written as (len + max) / max: one segment too many when a length is a multiple of the
// segment limit); the conversion suite catches it (test/fixtures/sgt-conversion-bug.ts).
import {
  DMA_MAPPING_ERROR, UINT_MAX, alignDown, divRoundUp, dma_iova_destroy, dma_iova_link, dma_iova_sync, dma_iova_try_alloc, dma_map_phys,
  dma_mapping_error, dma_resv_assert_held, dma_unmap_phys, dma_use_iova, errnoName, newIovaState, newSgTable, pci_p2pdma_bus_addr_map,
  pci_p2pdma_map_type, sg_alloc_table, sg_at, sg_free_table, u32,
  type ConversionPlugin, type DmaAddr, type DmaBufDma, type DmaDir, type DmaIovaState, type KObj, type MappingKernel, type MapResult, type PhysVec,
  type SgTable, type U64,
} from 'dmabuf-conform';

export type SgtBug = 'none' | 'nents-round-up';

const SITE = 'my_phys_vec_to_sgt';

/** The largest segment: ALIGN_DOWN(UINT_MAX, PAGE_SIZE) bytes. */
const maxSeg = (k: MappingKernel): U64 => alignDown(UINT_MAX, k.dma.pageSize);

/** Entries `length` bytes at `addr` need, as many as segments of at most maxSeg. */
function segments(k: MappingKernel, length: U64, bug: SgtBug): U64 {
  const max = maxSeg(k);
  return bug === 'nents-round-up' ? (length + max) / max : divRoundUp(length, max);
}

/** Write `length` bytes at `addr` into entries from `at` on, cut at maxSeg; the next free entry. */
function fill(k: MappingKernel, sgt: SgTable, at: number, length: U64, addr: DmaAddr): number {
  const max = maxSeg(k);
  for (let left = length; left > 0n; at++) {
    const len = left < max ? left : max;
    const sg = sg_at(sgt, at);
    if (!sg) return at; // the table is full: the suite sees the entries left unfilled or the length missing
    sg.page = null;
    sg.offset = 0;
    sg.length = 0;
    sg.dma_address = addr;
    sg.dma_length = len;
    addr += len;
    left -= len;
  }
  return at;
}

/** How many entries the table needs: per range, or for the one IOVA span; 0 when the count passes an unsigned int. */
function entries(k: MappingKernel, state: DmaIovaState | null, phys: readonly PhysVec[], size: U64, bug: SgtBug): number {
  if (state && dma_use_iova(state)) return Number(u32(segments(k, size, bug)));
  let n = 0n;
  for (const p of phys) {
    n += segments(k, p.len, bug);
    if (n > UINT_MAX) return 0;
  }
  return Number(n);
}

/** struct dma_buf_dma and what this conversion mapped with dma_map_phys(), one entry per range: each is
 *  unmapped whole, with the address and size it was mapped with (a range longer than a segment fills several
 *  entries, and unmapping those entries one by one is DMA-UNMAP: reports/FINDINGS.md 5). */
interface MyDma extends DmaBufDma {
  readonly mapped: { addr: DmaAddr; len: U64 }[];
}

function unmapRanges(k: MappingKernel, d: MyDma, dir: DmaDir): void {
  for (const m of d.mapped.splice(0)) dma_unmap_phys(k, m.addr, m.len, dir);
}

export function sgtConversion(opts: { bug?: SgtBug } = {}): ConversionPlugin {
  const bug = opts.bug ?? 'none';
  return {
    kind: 'conversion',
    name: bug === 'none' ? 'my-sgt-conversion' : `my-sgt-conversion:${bug}`,
    description: bug === 'none' ? 'dma_buf_phys_vec_to_sgt written from scratch on the public entry' : 'DIV_ROUND_UP written as (len + max) / max',
    profiles: ['rfc', 'converter'],
    limit: 'page-aligned',

    map(k, attach, provider, phys, size, dir): MapResult {
      dma_resv_assert_held(k, attach.dmabuf.resv, SITE);
      const dmaObj = k.heap.alloc<MyDma>('dma', SITE, { sgt: newSgTable(), state: null, size: 0n, mapped: [] });
      if (!dmaObj) return { ok: false, errno: '-ENOMEM' };
      const d = dmaObj.value;
      // Every error after the IOVA reservation gives it back, linked or not (dma_iova_destroy() of 0 bytes frees
      // it; leaving it is DMA-UNWIND: reports/FINDINGS.md 7), and unmaps each range mapped so far.
      const fail = (ret: number, linked: U64): MapResult => {
        if (d.state && dma_use_iova(d.state.value)) dma_iova_destroy(k, d.state.value, linked, dir);
        else unmapRanges(k, d, dir);
        sg_free_table(k.heap, d.sgt, SITE);
        if (d.state) k.heap.free(d.state, SITE);
        k.heap.free(dmaObj, SITE);
        return { ok: false, errno: errnoName(ret) };
      };

      const route = pci_p2pdma_map_type(k, provider, attach.dev);
      if (route === 'THRU_HOST_BRIDGE') {
        d.state = k.heap.alloc('state', SITE, newIovaState());
        if (!d.state) return fail(-12, 0n);
        dma_iova_try_alloc(k, d.state.value, 0n, size);
      } else if (route !== 'BUS_ADDR') return fail(-22, 0n);
      const state = d.state?.value ?? null;
      const iova = state !== null && dma_use_iova(state);

      const ret = sg_alloc_table(k.heap, d.sgt, entries(k, state, phys, size, bug), SITE);
      if (ret) return fail(ret, 0n);

      let at = 0;
      let linked = 0n; // bytes linked into the IOVA span so far: the next range's offset
      for (const p of phys) {
        if (iova) {
          const r = dma_iova_link(k, state, p.paddr, linked, p.len, dir);
          if (r) return fail(r, linked);
          linked += p.len;
          continue;
        }
        let addr: DmaAddr;
        if (!state) addr = pci_p2pdma_bus_addr_map(k, provider, p.paddr);
        else {
          addr = dma_map_phys(k, p.paddr, p.len, dir);
          const r = dma_mapping_error(k, addr);
          if (r || addr === DMA_MAPPING_ERROR) return fail(r || -12, 0n);
          d.mapped.push({ addr, len: p.len });
        }
        at = fill(k, d.sgt, at, p.len, addr);
      }
      if (iova) {
        const r = dma_iova_sync(k, state, 0n, linked);
        if (r) return fail(r, linked);
        at = fill(k, d.sgt, at, linked, state.addr);
      }
      d.size = size;
      // DMA addresses only, no CPU list: orig_nents 0 tells the importer so (LEN-NOCPU). The unmap gives the table
      // its count back before sg_free_table(), which frees orig_nents entries (reports/FINDINGS.md 8: mainline's leak).
      d.sgt.orig_nents = 0;
      return { ok: true, dma: dmaObj };
    },

    unmap(k, attach, dmaObj: KObj<DmaBufDma>, dir): void {
      dma_resv_assert_held(k, attach.dmabuf.resv, SITE);
      const d = k.heap.use(dmaObj as KObj<MyDma>, SITE);
      const state = d.state?.value;
      if (state && dma_use_iova(state)) dma_iova_destroy(k, state, d.size, dir);
      else unmapRanges(k, d, dir);
      d.sgt.orig_nents = d.sgt.nents;
      sg_free_table(k.heap, d.sgt, SITE);
      if (d.state) k.heap.free(d.state, SITE);
      k.heap.free(dmaObj, SITE);
    },
  };
}

export default sgtConversion();
