// The simulated DMA API (include/linux/dma-mapping.h: dma_map_phys,
// dma_mapping_error, dma_unmap_phys, dma_iova_try_alloc, dma_iova_link,
// dma_iova_sync, dma_iova_destroy, dma_iova_free) with the checks of
// CONFIG_DMA_API_DEBUG: DMA-UNMAP, DMA-ERRCHECK, DMA-IOVA, and a live set
// for DMA-LEAK / DMA-UNWIND. The machine is the run's Platform (./platform.ts):
// dma_map_phys() is dma-direct (the DMA address is the physical one) or goes
// through dma-iommu (iommu_dma_map_phys(): an IOVA allocated per call, freed
// by the unmap); a link onto an IOVA already linked is refused (-EEXIST, ARM
// io-pgtable), kept (VT-d: WARN, the old translation stays) or overwritten.
import { U64_MAX, alignDown, alignUp, hex, type DmaAddr, type PageSize, type PhysAddr, type U64 } from '../../models/u64.ts';
import type { ViolationLog } from '../rules/violation.ts';
import { NO_FAULTS, type FaultPlan } from './faults.ts';
import { DEFAULT_PLATFORM, type Platform } from './platform.ts';

export type DmaDir = 'DMA_BIDIRECTIONAL' | 'DMA_TO_DEVICE' | 'DMA_FROM_DEVICE';
export const DMA_MAPPING_ERROR: DmaAddr = U64_MAX;

/** struct dma_iova_state: addr and __size; __size == 0 means "not using IOVA". */
export interface DmaIovaState {
  addr: DmaAddr;
  __size: U64;
  /** Which allocation of the simulated IOMMU this state holds. */
  alloc: number;
}

/** A zeroed struct dma_iova_state (include/linux/dma-mapping.h), as kzalloc gives it inside struct dma_buf_dma:
 *  not using IOVA until dma_iova_try_alloc() fills it. A conversion allocates it on the heap
 *  (`k.heap.alloc('state', site, newIovaState())`) so KASAN sees its lifetime. */
export function newIovaState(): DmaIovaState {
  return { addr: 0n, __size: 0n, alloc: 0 };
}

/** dma_use_iova(state) (include/linux/dma-mapping.h): true once dma_iova_try_alloc() reserved IOVA space in
 *  `state` (state->__size != 0), false for a zeroed state or after dma_iova_destroy(): whether the ranges are
 *  linked into one IOVA span (dma_iova_link) or mapped one by one (dma_map_phys). */
export function dma_use_iova(state: DmaIovaState): boolean {
  return state.__size !== 0n;
}

export interface LiveMapping {
  readonly addr: DmaAddr;
  readonly size: U64;
  readonly dir: DmaDir;
  checked: boolean;
  /** The physical range behind it (dma-iommu: the IOVA translates to it). */
  readonly paddr: PhysAddr;
}

/** -EEXIST: what a refusing IOMMU answers for a link onto a mapped IOVA. */
export const EEXIST = -17;

export interface IovaAlloc {
  readonly id: number;
  readonly base: DmaAddr;
  readonly size: U64;
  readonly links: { offset: U64; size: U64; phys: PhysAddr }[];
  synced: { offset: U64; size: U64 }[];
}

const IOVA_BASE: DmaAddr = 1n << 32n;
/** Where dma-iommu's per-call IOVAs come from (iommu_dma_alloc_iova()): apart from the dma_iova_try_alloc() space. */
const MAP_IOVA_BASE: DmaAddr = 1n << 44n;

export class DmaApi {
  readonly mappings: LiveMapping[] = [];
  readonly iovas = new Map<number, IovaAlloc>();
  private readonly unmapped: { addr: DmaAddr; size: U64 }[] = [];
  private nextIova = IOVA_BASE;
  private nextMapIova = MAP_IOVA_BASE;
  private nextAllocId = 1;
  /** Links the IOMMU refused (-EEXIST) or kept its old entry for: the WARN of the page-table code. */
  readonly rejectedLinks: { offset: U64; size: U64; flavour: Platform['iommu'] }[] = [];
  private mapCalls = 0;
  private linkCalls = 0;
  /** Every dma_map_phys call as (paddr, size), for LEN-ADDR. */
  readonly mapLog: { paddr: PhysAddr; size: U64; addr: DmaAddr }[] = [];

  constructor(
    private readonly log: ViolationLog,
    readonly pageSize: PageSize,
    public faults: FaultPlan = NO_FAULTS,
    public checkers = true,
    readonly platform: Platform = DEFAULT_PLATFORM,
  ) {}

  private report(rule: 'DMA-UNMAP' | 'DMA-ERRCHECK' | 'DMA-IOVA', message: string, evidence: Record<string, unknown>): void {
    if (this.checkers) this.log.report(rule, message, evidence);
  }

  /** dma_map_phys(): dma-direct answers the physical address; dma-iommu (iommu_dma_map_phys())
   *  allocates an IOVA for this call, maps [paddr, paddr+size) there and answers the IOVA plus
   *  the offset of paddr in its page. */
  dma_map_phys(paddr: PhysAddr, size: U64, dir: DmaDir): DmaAddr {
    const call = this.mapCalls++;
    if (this.faults.mapFailsAt === call) return DMA_MAPPING_ERROR;
    let addr = paddr;
    if (this.platform.dmaMap === 'iommu') {
      const span = alignUp((paddr % this.pageSize) + size, this.pageSize);
      addr = this.nextMapIova + (paddr % this.pageSize);
      this.nextMapIova = alignUp(this.nextMapIova + span + this.pageSize, 1n << 21n);
    }
    this.mappings.push({ addr, size, dir, checked: false, paddr });
    this.mapLog.push({ paddr, size, addr });
    return addr;
  }

  /** The physical range behind a live DMA address of dma_map_phys() (null: none is live there). */
  translate(addr: DmaAddr): PhysAddr | null {
    const m = this.mappings.findLast((x) => x.addr <= addr && addr < x.addr + x.size);
    return m ? m.paddr + (addr - m.addr) : null;
  }

  dma_mapping_error(addr: DmaAddr): number {
    const m = this.mappings.findLast((x) => x.addr === addr);
    if (m) m.checked = true;
    return addr === DMA_MAPPING_ERROR ? -12 : 0;
  }

  dma_unmap_phys(addr: DmaAddr, size: U64, dir: DmaDir): void {
    const exact = this.mappings.findIndex((m) => m.addr === addr && m.size === size);
    const i = exact >= 0 ? exact : this.mappings.findIndex((m) => m.addr === addr);
    const evidence = { addr: hex(addr), size: hex(size), dir };
    if (i < 0) {
      const again = this.unmapped.some((u) => u.addr === addr && u.size === size);
      if (again) this.report('DMA-UNMAP', `double unmap of ${hex(addr)}+${hex(size)}`, { ...evidence, kind: 'double-unmap' });
      else this.report('DMA-UNMAP', `unmap of ${hex(addr)}+${hex(size)}, which was never mapped`, { ...evidence, kind: 'never-mapped' });
      return;
    }
    const m = this.mappings[i]!;
    if (m.size !== size) this.report('DMA-UNMAP', `unmap of ${hex(addr)} with size ${hex(size)}, mapped with ${hex(m.size)}`, { ...evidence, kind: 'wrong-size', mappedSize: hex(m.size) });
    if (m.dir !== dir) this.report('DMA-UNMAP', `unmap of ${hex(addr)} with ${dir}, mapped with ${m.dir}`, { ...evidence, kind: 'wrong-dir', mappedDir: m.dir });
    if (!m.checked) this.report('DMA-ERRCHECK', `mapping ${hex(addr)} unmapped without a dma_mapping_error() check`, evidence);
    this.mappings.splice(i, 1);
    this.unmapped.push({ addr, size });
  }

  /** dma_iova_try_alloc(): false (state zeroed) when refused. */
  dma_iova_try_alloc(state: DmaIovaState, phys: PhysAddr, size: U64): boolean {
    Object.assign(state, newIovaState());
    if (this.faults.iovaRefused || size === 0n) return false;
    const alloc: IovaAlloc = { id: this.nextAllocId++, base: this.nextIova, size: alignUp(size, this.pageSize), links: [], synced: [] };
    this.nextIova = alignUp(this.nextIova + alloc.size + this.pageSize, 1n << 21n);
    this.iovas.set(alloc.id, alloc);
    Object.assign(state, { addr: alloc.base + (phys % this.pageSize), __size: size, alloc: alloc.id });
    return true;
  }

  private allocOf(state: DmaIovaState, what: string): IovaAlloc | undefined {
    const a = this.iovas.get(state.alloc);
    if (!a) this.report('DMA-IOVA', `${what} on an IOVA state with no live allocation`, { kind: 'dead-alloc', alloc: state.alloc });
    return a;
  }

  dma_iova_link(state: DmaIovaState, phys: PhysAddr, offset: U64, size: U64, _dir: DmaDir): number {
    const call = this.linkCalls++;
    if (this.faults.linkFailsAt === call) return -12;
    const a = this.allocOf(state, 'dma_iova_link');
    if (!a) return -22;
    if (offset + size > a.size) this.report('DMA-IOVA', `link ${hex(offset)}+${hex(size)} past the IOVA allocation of ${hex(a.size)}`, { kind: 'link-past', offset: hex(offset), size: hex(size), allocSize: hex(a.size) });
    const clash = a.links.find((l) => offset < l.offset + l.size && l.offset < offset + size);
    if (!clash) {
      a.links.push({ offset, size, phys });
      return 0;
    }
    const flavour = this.platform.iommu;
    const what = { refuse: 'the IOMMU refuses it (-EEXIST), nothing of this link is mapped', keep: 'the IOMMU keeps the old entries (WARN): the overlapped part still reaches the earlier physical range', overwrite: 'the IOMMU overwrites the old entries: the earlier range is no longer reachable there' }[flavour];
    this.report('DMA-IOVA', `link ${hex(offset)}+${hex(size)} overlaps the link ${hex(clash.offset)}+${hex(clash.size)}: ${what}`, { kind: 'link-overlap', offset: hex(offset), size: hex(size), other: hex(clash.offset), iommu: flavour });
    if (flavour === 'overwrite') {
      a.links.push({ offset, size, phys });
      return 0;
    }
    this.rejectedLinks.push({ offset, size, flavour });
    // ARM io-pgtable: iommu_map() unmaps what it mapped of the call and returns the error.
    if (flavour === 'refuse') return EEXIST;
    // VT-d: the free pages of the range are mapped, the set ones keep their translation.
    for (const gap of this.unlinked(a, offset, size)) a.links.push({ offset: gap.offset, size: gap.size, phys: phys + (gap.offset - offset) });
    return 0;
  }

  /** The parts of [offset, offset+size) no link of `a` covers, page by page merged. */
  private unlinked(a: IovaAlloc, offset: U64, size: U64): { offset: U64; size: U64 }[] {
    const out: { offset: U64; size: U64 }[] = [];
    let at = alignDown(offset, this.pageSize);
    const end = offset + size;
    const sorted = [...a.links].sort((x, y) => (x.offset < y.offset ? -1 : 1));
    for (const l of sorted) {
      if (l.offset + l.size <= at) continue;
      if (l.offset >= end) break;
      if (l.offset > at) out.push({ offset: at > offset ? at : offset, size: l.offset - (at > offset ? at : offset) });
      at = l.offset + l.size;
    }
    if (at < end) out.push({ offset: at > offset ? at : offset, size: end - (at > offset ? at : offset) });
    return out.filter((g) => g.size > 0n);
  }

  dma_iova_sync(state: DmaIovaState, offset: U64, size: U64): number {
    if (this.faults.syncFails) return -12;
    this.allocOf(state, 'dma_iova_sync')?.synced.push({ offset, size });
    return 0;
  }

  /** dma_iova_destroy(): unlink [0, mapped_len) and free the IOVA space. */
  dma_iova_destroy(state: DmaIovaState, mappedLen: U64, _dir: DmaDir): void {
    const a = this.allocOf(state, 'dma_iova_destroy');
    if (!a) return;
    const linked = a.links.reduce((s, l) => s + l.size, 0n);
    const end = a.links.reduce((m, l) => (l.offset + l.size > m ? l.offset + l.size : m), 0n);
    if (mappedLen !== linked || mappedLen < end) this.report('DMA-IOVA', `dma_iova_destroy(${hex(mappedLen)}) but ${hex(linked)} bytes are linked up to ${hex(end)}`, { kind: 'destroy-size', mappedLen: hex(mappedLen), linked: hex(linked), end: hex(end) });
    this.iovas.delete(a.id);
    Object.assign(state, newIovaState());
  }

  /** dma_iova_free(): release IOVA space that has nothing linked. */
  dma_iova_free(state: DmaIovaState): void {
    const a = this.allocOf(state, 'dma_iova_free');
    if (!a) return;
    if (a.links.length > 0) this.report('DMA-IOVA', `dma_iova_free() with ${a.links.length} links still in place`, { kind: 'free-linked', links: a.links.length });
    this.iovas.delete(a.id);
    Object.assign(state, newIovaState());
  }

  /** Is [offset, offset+size) of an allocation linked, and synced (ready for the device)? */
  iovaCoverage(allocId: number, offset: U64, size: U64): { linked: boolean; synced: boolean } {
    const a = this.iovas.get(allocId);
    if (!a) return { linked: false, synced: false };
    const covered = (ranges: { offset: U64; size: U64 }[]) => {
      let at = offset;
      for (const r of [...ranges].sort((x, y) => (x.offset < y.offset ? -1 : 1))) if (r.offset <= at && r.offset + r.size > at) at = r.offset + r.size;
      return at >= offset + size;
    };
    return { linked: covered(a.links), synced: covered(a.synced) };
  }

  live(): { mappings: number; iovas: number } {
    return { mappings: this.mappings.length, iovas: this.iovas.size };
  }
}
