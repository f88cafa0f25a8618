// Faithful ports of the PAL → scatterlist helpers, run on the simulated
// kernel: dma_buf_map()/dma_buf_unmap() exactly as posted in 002 v8 06/11
// (drivers/dma-buf/dma-buf.c), and dma_buf_phys_vec_to_sgt()/
// dma_buf_free_sgt() as in torvalds/linux drivers/dma-buf/dma-buf-mapping.c
// at 0b9828c7231e2e46b25d286da555510a79c0d6fa. C integer widths are kept:
// `unsigned int` is u32 and wraps.
import type { Errno } from '../../models/errno.ts';
import type { PhysVec } from '../../models/pal.ts';
import type { MapType, P2PProvider } from '../../models/pci/types.ts';
import { UINT_MAX, alignDown, divRoundUp, u32, u64, type DmaAddr, type PhysAddr, type U64 } from '../../models/u64.ts';
import { dma_use_iova, newIovaState, type DmaApi, type DmaDir, type DmaIovaState } from '../kernel/dma.ts';
import type { Heap, KObj } from '../kernel/objects.ts';
import { newSgTable, sg_alloc_table, sg_at, sg_free_table, type Scatterlist, type SgTable } from '../kernel/scatterlist.ts';
import type { ViolationLog } from '../rules/violation.ts';

/** What the helpers need from the rest of the kernel. */
export interface MappingKernel {
  readonly heap: Heap;
  readonly dma: DmaApi;
  readonly log: ViolationLog;
  /** pci_p2pdma_map_type(provider, attach->dev). */
  p2pdmaMapType(provider: P2PProvider, dev: unknown): MapType;
  /** pci_p2pdma_bus_addr_map(provider, paddr). */
  busAddrMap(provider: P2PProvider, paddr: PhysAddr): DmaAddr;
  /** dma_resv_assert_held(attach->dmabuf->resv). */
  assertResvHeld(resv: unknown, site: string): void;
}

export interface Attachment {
  readonly dev: unknown;
  readonly dmabuf: { readonly resv: unknown };
}

/** struct dma_buf_dma. */
export interface DmaBufDma {
  sgt: SgTable;
  state: KObj<DmaIovaState> | null;
  size: U64;
}

export type MapResult = { ok: true; dma: KObj<DmaBufDma> } | { ok: false; errno: Errno };

const ERRNO: Record<number, Errno> = { [-12]: '-ENOMEM', [-22]: '-EINVAL', [-5]: '-EIO', [-17]: '-EEXIST' };

function errno(ret: number): MapResult {
  return { ok: false, errno: ERRNO[ret] ?? '-EINVAL' };
}

function sg_set_page_null(sgl: Scatterlist): void {
  sgl.page = null;
  sgl.length = 0;
  sgl.offset = 0;
}

/** An entry index past the table end: the kernel would dereference NULL. */
function overrun(k: MappingKernel, where: string, nents: number): void {
  k.log.report('LEN-NENTS', `${where} writes past the ${nents}-entry table (sg_next() returned NULL)`, { nents });
}

// ---- 002 v8 06/11: dma_buf_map / dma_buf_unmap -------------------------

/** v8 fill_sg_entry(): UINT_MAX chunks at addr + i * UINT_MAX, in unsigned int. */
function v8_fill_sg_entry(k: MappingKernel, sgt: SgTable, at: number, length: U64, addr: DmaAddr): number {
  const nents = Number(u32(divRoundUp(length, UINT_MAX)));
  for (let i = 0; i < nents; i++) {
    const len = length < UINT_MAX ? length : UINT_MAX;
    length -= len;
    const sgl = sg_at(sgt, at);
    if (!sgl) { overrun(k, 'fill_sg_entry', sgt.nents); return at; }
    sg_set_page_null(sgl);
    sgl.dma_address = u64(addr + u32(BigInt(i) * UINT_MAX));
    sgl.dma_length = u32(len);
    at++;
  }
  return at;
}

/** v8 calc_sg_nents(): unsigned int sum, no overflow check. */
function v8_calc_sg_nents(state: DmaIovaState | null, phys: readonly PhysVec[], size: U64): number {
  let nents = 0n;
  if (!state || !dma_use_iova(state)) for (const p of phys) nents = u32(nents + divRoundUp(p.len, UINT_MAX));
  else nents = u32(divRoundUp(size, UINT_MAX));
  return Number(nents);
}

export function dma_buf_map(k: MappingKernel, attach: Attachment, provider: P2PProvider | null, phys: readonly PhysVec[], size: U64, dir: DmaDir): MapResult {
  const site = 'dma_buf_map';
  let mapped_len = 0n; // unsigned int
  let addr = 0n;
  let i = 0;
  let ret = 0;
  k.assertResvHeld(attach.dmabuf.resv, site);
  if (!provider) return errno(-22);
  const dma = k.heap.alloc<DmaBufDma>('dma', site, { sgt: newSgTable(), state: null, size: 0n });
  if (!dma) return errno(-12);
  const d = dma.value;
  const unwind = (from: 'err_unmap_dma' | 'err_free_state' | 'err_free_dma'): MapResult => {
    if (from === 'err_unmap_dma') {
      if (!i || !d.state) {
        /* Do nothing */
      } else if (dma_use_iova(d.state.value)) {
        k.dma.dma_iova_destroy(d.state.value, mapped_len, dir);
      } else {
        v8_unmap_entries(k, d.sgt, dir);
      }
      sg_free_table(k.heap, d.sgt, site);
    }
    if (from !== 'err_free_dma' && d.state) k.heap.free(d.state, site);
    k.heap.free(dma, site);
    return errno(ret);
  };
  switch (k.p2pdmaMapType(provider, attach.dev)) {
    case 'BUS_ADDR':
      break;
    case 'THRU_HOST_BRIDGE':
      d.state = k.heap.alloc('state', site, newIovaState());
      if (!d.state) { ret = -12; return unwind('err_free_dma'); }
      k.dma.dma_iova_try_alloc(d.state.value, 0n, size);
      break;
    default:
      ret = -22;
      return unwind('err_free_dma');
  }
  const state = d.state?.value ?? null;
  const nents = v8_calc_sg_nents(state, phys, size);
  ret = sg_alloc_table(k.heap, d.sgt, nents, site);
  if (ret) return unwind('err_free_state');
  let at = 0;
  for (i = 0; i < phys.length; i++) {
    const p = phys[i]!;
    if (!state) {
      addr = k.busAddrMap(provider, p.paddr);
    } else if (dma_use_iova(state)) {
      ret = k.dma.dma_iova_link(state, p.paddr, 0n, p.len, dir);
      if (ret) return unwind('err_unmap_dma');
      mapped_len = u32(mapped_len + p.len);
    } else {
      addr = k.dma.dma_map_phys(p.paddr, p.len, dir);
      ret = k.dma.dma_mapping_error(addr);
      if (ret) return unwind('err_unmap_dma');
    }
    if (!state || !dma_use_iova(state)) at = v8_fill_sg_entry(k, d.sgt, at, p.len, addr);
  }
  if (state && dma_use_iova(state)) {
    ret = k.dma.dma_iova_sync(state, 0n, mapped_len);
    if (ret) return unwind('err_unmap_dma');
    at = v8_fill_sg_entry(k, d.sgt, at, mapped_len, state.addr);
  }
  d.size = size;
  d.sgt.orig_nents = 0;
  if (at < d.sgt.nents) k.log.report('LEN-NENTS', `dma_buf_map filled ${at} of ${d.sgt.nents} entries (WARN_ON_ONCE(sgl))`, { filled: at, nents: d.sgt.nents });
  return { ok: true, dma };
}

export function dma_buf_unmap(k: MappingKernel, attach: Attachment, dma: KObj<DmaBufDma>, dir: DmaDir): void {
  const site = 'dma_buf_unmap';
  k.assertResvHeld(attach.dmabuf.resv, site);
  const d = k.heap.use(dma, site);
  const state = d.state?.value;
  if (!state) {
    /* Do nothing */
  } else if (dma_use_iova(state)) {
    k.dma.dma_iova_destroy(state, d.size, dir);
  } else {
    v8_unmap_entries(k, d.sgt, dir);
  }
  sg_free_table(k.heap, d.sgt, site);
  if (d.state) k.heap.free(d.state, site);
  k.heap.free(dma, site);
}

/** for_each_sgtable_dma_sg(sgt, sgl, i) dma_unmap_phys(...); a freed table (sgl NULL) ends the walk. */
function v8_unmap_entries(k: MappingKernel, sgt: SgTable, dir: DmaDir): void {
  for (let j = 0, sgl = sg_at(sgt, 0); j < sgt.nents && sgl; j++, sgl = sg_at(sgt, j)) k.dma.dma_unmap_phys(sgl.dma_address, sgl.dma_length, dir);
}

// ---- mainline: dma_buf_phys_vec_to_sgt / dma_buf_free_sgt ---------------

/** The helpers of the mainline file, one object so a seeded bug can swap one. */
export interface MainlineOps {
  /** MAX_SG_ENT_SZ. */
  maxSgEntSz(k: MappingKernel): U64;
  fill_sg_entry(k: MappingKernel, sgt: SgTable, at: number, length: U64, addr: DmaAddr, ops: MainlineOps): number;
  calc_sg_nents(k: MappingKernel, state: DmaIovaState | null, phys: readonly PhysVec[], size: U64, ops: MainlineOps): number;
  /** for_each_sgtable_dma_sg(sgt, sgl, i) dma_unmap_phys(...), over `count` entries. */
  unmap_entries(k: MappingKernel, sgt: SgTable, count: number, dir: DmaDir): void;
  /** The err_unmap_dma walk after `ranges` ranges were mapped: the kernel
   *  walks every one of the table's nents entries, whatever `ranges` is. */
  unwind_entries(k: MappingKernel, sgt: SgTable, ranges: number, dir: DmaDir, ops: MainlineOps): void;
}

/** MAX_SG_ENT_SZ = ALIGN_DOWN(UINT_MAX, PAGE_SIZE). */
function maxSgEntSz(k: MappingKernel): U64 {
  return alignDown(UINT_MAX, k.dma.pageSize);
}

function fill_sg_entry(k: MappingKernel, sgt: SgTable, at: number, length: U64, addr: DmaAddr, ops: MainlineOps): number {
  const max = ops.maxSgEntSz(k);
  while (length) {
    const len = length < max ? length : max;
    length -= len;
    const sgl = sg_at(sgt, at);
    if (!sgl) { overrun(k, 'fill_sg_entry', sgt.nents); return at; }
    sg_set_page_null(sgl);
    sgl.dma_address = addr;
    sgl.dma_length = len;
    addr = u64(addr + len);
    at++;
  }
  return at;
}

/** calc_sg_nents(): 0 when the unsigned int sum overflows. */
function calc_sg_nents(k: MappingKernel, state: DmaIovaState | null, phys: readonly PhysVec[], size: U64, ops: MainlineOps): number {
  let nents = 0n;
  if (!state || !dma_use_iova(state)) {
    for (const p of phys) {
      const added = u32(divRoundUp(p.len, ops.maxSgEntSz(k)));
      if (nents + added > UINT_MAX) return 0;
      nents += added;
    }
  } else {
    nents = u32(divRoundUp(size, ops.maxSgEntSz(k)));
  }
  return Number(nents);
}

function unmap_entries(k: MappingKernel, sgt: SgTable, count: number, dir: DmaDir): void {
  for (let j = 0, sgl = sg_at(sgt, 0); j < count && sgl; j++, sgl = sg_at(sgt, j)) k.dma.dma_unmap_phys(sgl.dma_address, sgl.dma_length, dir);
}

function unwind_entries(k: MappingKernel, sgt: SgTable, _ranges: number, dir: DmaDir, ops: MainlineOps): void {
  ops.unmap_entries(k, sgt, sgt.nents, dir);
}

export const MAINLINE_OPS: MainlineOps = { maxSgEntSz, fill_sg_entry, calc_sg_nents, unmap_entries, unwind_entries };

export function dma_buf_phys_vec_to_sgt(k: MappingKernel, attach: Attachment, provider: P2PProvider | null, phys: readonly PhysVec[], size: U64, dir: DmaDir, ops: MainlineOps = MAINLINE_OPS): MapResult {
  const site = 'dma_buf_phys_vec_to_sgt';
  let mapped_len = 0n; // size_t
  let addr = 0n;
  let i = 0;
  let ret = 0;
  k.assertResvHeld(attach.dmabuf.resv, site);
  if (!provider) return errno(-22);
  const dma = k.heap.alloc<DmaBufDma>('dma', site, { sgt: newSgTable(), state: null, size: 0n });
  if (!dma) return errno(-12);
  const d = dma.value;
  const unwind = (from: 'err_unmap_dma' | 'err_free_state' | 'err_free_dma'): MapResult => {
    if (from === 'err_unmap_dma') {
      if (!i || !d.state) {
        /* Do nothing */
      } else if (dma_use_iova(d.state.value)) {
        k.dma.dma_iova_destroy(d.state.value, mapped_len, dir);
      } else {
        ops.unwind_entries(k, d.sgt, i, dir, ops);
      }
      sg_free_table(k.heap, d.sgt, site);
    }
    if (from !== 'err_free_dma' && d.state) k.heap.free(d.state, site);
    k.heap.free(dma, site);
    return errno(ret);
  };
  switch (k.p2pdmaMapType(provider, attach.dev)) {
    case 'BUS_ADDR':
      break;
    case 'THRU_HOST_BRIDGE':
      d.state = k.heap.alloc('state', site, newIovaState());
      if (!d.state) { ret = -12; return unwind('err_free_dma'); }
      k.dma.dma_iova_try_alloc(d.state.value, 0n, size);
      break;
    default:
      ret = -22;
      return unwind('err_free_dma');
  }
  const state = d.state?.value ?? null;
  const nents = ops.calc_sg_nents(k, state, phys, size, ops);
  /* sg_alloc_table will cleanly fail and return -EINVAL if nents == 0 */
  ret = sg_alloc_table(k.heap, d.sgt, nents, site);
  if (ret) return unwind('err_free_state');
  let at = 0;
  for (i = 0; i < phys.length; i++) {
    const p = phys[i]!;
    if (!state) {
      addr = k.busAddrMap(provider, p.paddr);
    } else if (dma_use_iova(state)) {
      ret = k.dma.dma_iova_link(state, p.paddr, 0n, p.len, dir);
      if (ret) return unwind('err_unmap_dma');
      mapped_len += p.len;
    } else {
      addr = k.dma.dma_map_phys(p.paddr, p.len, dir);
      ret = k.dma.dma_mapping_error(addr);
      if (ret) return unwind('err_unmap_dma');
    }
    if (!state || !dma_use_iova(state)) at = ops.fill_sg_entry(k, d.sgt, at, p.len, addr, ops);
  }
  if (state && dma_use_iova(state)) {
    ret = k.dma.dma_iova_sync(state, 0n, mapped_len);
    if (ret) return unwind('err_unmap_dma');
    at = ops.fill_sg_entry(k, d.sgt, at, mapped_len, state.addr, ops);
  }
  d.size = size;
  d.sgt.orig_nents = 0;
  if (at < d.sgt.nents) k.log.report('LEN-NENTS', `dma_buf_phys_vec_to_sgt filled ${at} of ${d.sgt.nents} entries (WARN_ON_ONCE(sgl))`, { filled: at, nents: d.sgt.nents });
  return { ok: true, dma };
}

export function dma_buf_free_sgt(k: MappingKernel, attach: Attachment, dma: KObj<DmaBufDma>, dir: DmaDir, ops: MainlineOps = MAINLINE_OPS): void {
  const site = 'dma_buf_free_sgt';
  k.assertResvHeld(attach.dmabuf.resv, site);
  const d = k.heap.use(dma, site);
  const state = d.state?.value;
  if (!state) {
    /* Do nothing */
  } else if (dma_use_iova(state)) {
    k.dma.dma_iova_destroy(state, d.size, dir);
  } else {
    ops.unmap_entries(k, d.sgt, d.sgt.nents, dir);
  }
  sg_free_table(k.heap, d.sgt, site);
  if (d.state) k.heap.free(d.state, site);
  k.heap.free(dma, site);
}
