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

export function newSgTable(): SgTable {
  return { sgl: null, nents: 0, orig_nents: 0, chunks: [] };
}

/** sg_alloc_table(): -EINVAL for 0 entries, -ENOMEM when an allocation fails. */
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

/** sg_free_table(): __sg_free_table(table, SG_MAX_SINGLE_ALLOC, 0, sg_kfree, table->orig_nents). */
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

/** Entry i of the table, or null past the end (sg_next() returning NULL). */
export function sg_at(table: SgTable, i: number): Scatterlist | null {
  return table.sgl && i < table.sgl.length ? table.sgl[i]! : null;
}
