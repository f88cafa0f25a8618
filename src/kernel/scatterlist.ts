// struct sg_table / struct scatterlist as lib/scatterlist.c builds them:
// sg_alloc_table() takes one allocation per chunk of SG_MAX_SINGLE_ALLOC
// entries (the last entry of a full chunk is the chain link), and
// sg_free_table() frees chunks for table->orig_nents entries — no more.
import type { DmaAddr, U64 } from '../../models/u64.ts';
import type { Heap, KObj, Site } from './objects.ts';

/** PAGE_SIZE / sizeof(struct scatterlist) on a 4 KiB-page 64-bit kernel. */
export const SG_MAX_SINGLE_ALLOC = 128;
/** The largest table the simulated kmalloc gives (2^20 entries ~ 32 MiB). */
export const SG_SIM_MAX_ENTS = 1 << 20;

export interface Scatterlist {
  page: object | null;
  offset: number;
  length: number;
  dma_address: DmaAddr;
  dma_length: U64;
}

export interface SgTable {
  /** The entries in list order (chain links are not entries). */
  sgl: Scatterlist[] | null;
  nents: number;
  orig_nents: number;
  /** The chunk allocations, for sg_free_table. */
  chunks: KObj<null>[];
}

/** An empty struct sg_table (no entries, nothing allocated), as the zeroed table inside a kzalloc'd struct
 *  dma_buf_dma is: what sg_alloc_table() fills. */
export function newSgTable(): SgTable {
  return { sgl: null, nents: 0, orig_nents: 0, chunks: [] };
}

/** sg_alloc_table(table, nents, GFP_KERNEL) (lib/scatterlist.c): give `table` `nents` zeroed entries
 *  (table.sgl, nents and orig_nents set to `nents`), allocated from `heap` (the kernel's k.heap) in chunks of
 *  SG_MAX_SINGLE_ALLOC entries whose last is the chain link, each chunk an allocation KASAN tracks under `site`
 *  (the caller's name). 0, -EINVAL for 0 entries, -ENOMEM when an allocation fails (a fault a case injects) or
 *  nents is past what the simulated kmalloc gives (SG_SIM_MAX_ENTS). Free it with sg_free_table(). */
export function sg_alloc_table(heap: Heap, table: SgTable, nents: number, site: Site): number {
  if (nents === 0) return -22;
  if (nents > SG_SIM_MAX_ENTS) return -12;
  const chunks: KObj<null>[] = [];
  for (let left = nents; left > 0; ) {
    const chunk = heap.alloc('sg_table', site, null);
    if (!chunk) {
      for (const c of chunks) heap.free(c, site);
      return -12;
    }
    chunks.push(chunk);
    left -= left > SG_MAX_SINGLE_ALLOC ? SG_MAX_SINGLE_ALLOC - 1 : left;
  }
  table.sgl = Array.from({ length: nents }, () => ({ page: null, offset: 0, length: 0, dma_address: 0n, dma_length: 0n }));
  table.nents = nents;
  table.orig_nents = nents;
  table.chunks = chunks;
  return 0;
}

/** sg_free_table(table) (lib/scatterlist.c: __sg_free_table(table, SG_MAX_SINGLE_ALLOC, 0, sg_kfree,
 *  table->orig_nents)): free the chunks that hold orig_nents entries, no more (an orig_nents set lower than
 *  sg_alloc_table() set it leaks the rest: DMA-UNWIND / LEN-NENTS); a table never allocated is left alone. */
export function sg_free_table(heap: Heap, table: SgTable, site: Site): void {
  if (!table.sgl) return;
  let num_ents = table.orig_nents;
  let chunk = 0;
  while (num_ents) {
    const sg_size = num_ents > SG_MAX_SINGLE_ALLOC ? SG_MAX_SINGLE_ALLOC - 1 : num_ents;
    num_ents -= sg_size;
    const c = table.chunks[chunk++];
    if (c) heap.free(c, site);
  }
  table.sgl = null;
}

/** Entry `i` (0-based, in list order: chain links are not entries) of the table, or null past its end or once
 *  freed: for_each_sgtable_dma_sg()/sg_next() walking to it (sg_next() returning NULL). Fill an entry as the
 *  kernel's fill_sg_entry() does: page null, length/offset 0 (sg_set_page(sgl, NULL, 0, 0)), dma_address
 *  (u64 bytes) and dma_length (bytes, at most the segment limit: an unsigned int in the kernel). */
export function sg_at(table: SgTable, i: number): Scatterlist | null {
  return table.sgl && i < table.sgl.length ? table.sgl[i]! : null;
}
