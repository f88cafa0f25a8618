// The PAL → SGT checkers (LEN-*, DMA-*, ROUTE-NOMAP, ROUTE-BUSADDR): run a
// conversion implementation on a fresh simulated kernel, compare with
// models/sgt.ts and audit what is left live after map and after free.
import { resultTag, type Errno, type Result } from '../../models/errno.ts';
import type { PhysVec } from '../../models/pal.ts';
import type { MapType, P2PProvider } from '../../models/pci/types.ts';
import { expectedConversion, firstDifference, iovaLinks, maxSegmentSize, type Conversion, type SegmentLimit } from '../../models/sgt.ts';
import { UINT_MAX, hex, isAligned, type DmaAddr, type PageSize, type U64 } from '../../models/u64.ts';
import { DmaApi, type DmaDir } from '../kernel/dma.ts';
import type { FaultPlan } from '../kernel/faults.ts';
import { platformOf, type Platform } from '../kernel/platform.ts';
import { Heap, type KObj } from '../kernel/objects.ts';
import { PluginSiteLog } from '../kernel/callsite.ts';
import type { Attachment, DmaBufDma, MapResult, MappingKernel } from '../impl/dma-buf-mapping.ts';
import { P2pdma } from '../impl/p2pdma.ts';
import type { RuleId } from './registry.ts';
import { ViolationLog } from './violation.ts';

export interface ConversionCase {
  readonly phys: readonly PhysVec[];
  readonly size: U64;
  readonly route: MapType;
  readonly busOffset: U64;
  readonly pageSize: PageSize;
  readonly faults: FaultPlan;
  readonly dir: DmaDir;
  /** The run's simulated machine (IOMMU flavour, dma_map_phys path); absent: DEFAULT_PLATFORM. */
  readonly platform?: Platform;
}

export interface ConversionImpl {
  readonly name: string;
  /** Segment limit of the design the implementation follows. */
  readonly limit: SegmentLimit;
  readonly bugOf?: import('./registry.ts').RuleId;
  map(k: MappingKernel, attach: Attachment, provider: P2PProvider, phys: readonly PhysVec[], size: U64, dir: DmaDir): MapResult;
  unmap(k: MappingKernel, attach: Attachment, dma: KObj<DmaBufDma>, dir: DmaDir): void;
}

/** A fresh simulated kernel for one conversion, with its fault plan. */
export class ConversionKernel implements MappingKernel {
  /** A violation a plugin's call raised names the plugin's call site (src/kernel/callsite.ts), as the lifecycle kernel's do. */
  readonly log = new PluginSiteLog();
  readonly heap = new Heap(this.log);
  readonly dma: DmaApi;
  private readonly p2p = new P2pdma({ vendor: 'other', family: 0 });
  resvHeld = true;

  constructor(readonly c: ConversionCase) {
    this.dma = new DmaApi(this.log, c.pageSize, c.faults, true, platformOf(c));
    const fails = new Set(c.faults.allocFails);
    this.heap.failAlloc = (kind) => fails.has(kind);
  }

  p2pdmaMapType(): MapType {
    return this.c.route;
  }

  busAddrMap(provider: P2PProvider, paddr: bigint): bigint {
    return this.p2p.pci_p2pdma_bus_addr_map({ owner: null, bus_offset: provider.busOffset }, paddr);
  }

  assertResvHeld(_resv: unknown, site: string): void {
    if (!this.resvHeld) this.log.report('LOCK-RESV', `${site} without the dma-buf reservation lock`, { site });
  }
}

export interface ConversionOutcome {
  readonly log: ViolationLog;
  readonly result: Errno | 'ok';
  readonly expected: Result<Conversion>;
  readonly segments: { addr: U64; len: U64 }[];
}

function liveAudit(k: ConversionKernel, when: string, leakRule: 'DMA-UNWIND' | 'DMA-LEAK'): void {
  if (k.dma.mappings.length) k.log.report(leakRule, `${k.dma.mappings.length} DMA mapping(s) still live ${when}`, { kind: 'mapping-leak', addrs: k.dma.mappings.map((m) => hex(m.addr)) });
  if (k.dma.iovas.size) k.log.report('DMA-UNWIND', `${k.dma.iovas.size} IOVA allocation(s) still live ${when}`, { kind: 'iova-leak' });
  const objs = k.heap.live();
  const tables = objs.filter((o) => o.kind === 'sg_table');
  if (tables.length) k.log.report('DMA-UNWIND', `${tables.length} scatterlist chunk(s) still allocated ${when}`, { kind: 'sg-table-leak', allocSite: tables[0]!.allocSite });
  const others = objs.filter((o) => o.kind !== 'sg_table');
  if (others.length) k.log.report('DMA-UNWIND', `${others.map((o) => o.kind).join(', ')} still allocated ${when}`, { kind: 'object-leak' });
}

/** What the table checks read: the case, the log, the DMA API (a ConversionKernel, or a lifecycle kernel with its case). */
export type TableKernel = Pick<ConversionKernel, 'c' | 'log' | 'dma'>;

/** LEN-* and DMA-IOVA on a table that was returned. */
export function checkTable(k: TableKernel, d: DmaBufDma, exp: Result<Conversion>, limit: SegmentLimit): { addr: U64; len: U64 }[] {
  const { c, log } = k;
  const sgt = d.sgt;
  const segs = (sgt.sgl ?? []).map((s) => ({ addr: s.dma_address, len: s.dma_length }));
  const max = maxSegmentSize(limit, c.pageSize);
  segs.forEach((s, i) => {
    if (s.len === 0n || s.len > max) log.report('LEN-SEG', `segment ${i} has length ${hex(s.len)} (limit ${hex(max)})`, { index: i, len: hex(s.len) });
    if (!isAligned(s.addr, c.pageSize) || !isAligned(s.len, c.pageSize)) log.report('LEN-ALIGN', `segment ${i} ${hex(s.addr)}+${hex(s.len)} is not PAGE_SIZE aligned`, { index: i, addr: hex(s.addr), len: hex(s.len) });
  });
  const sum = segs.reduce((a, s) => a + s.len, 0n);
  if (sum !== c.size) log.report('LEN-SUM', `segments add up to ${hex(sum)}, the dma-buf is ${hex(c.size)}`, { sum: hex(sum), size: hex(c.size) });
  if (BigInt(sgt.nents) > UINT_MAX || segs.some((s) => s.len === 0n)) log.report('LEN-NENTS', `table of ${sgt.nents} entries has unused entries`, { nents: sgt.nents });
  if (sgt.orig_nents !== 0 || sgt.sgl?.some((s) => s.page !== null || s.length !== 0)) log.report('LEN-NOCPU', `CPU list present: orig_nents ${sgt.orig_nents}`, { orig_nents: sgt.orig_nents });
  if (exp.ok) {
    const diff = firstDifference(segs, exp.value.spans, exp.value.max);
    if (diff) {
      const { index, want } = diff;
      // ROUTE-BUSADDR is a wrong bus address (paddr + bus_offset) of an entry whose length is right; a wrong or missing length is LEN-ADDR.
      const rule = exp.value.path === 'bus-addr' && want !== undefined && segs[index]?.len === want.len ? 'ROUTE-BUSADDR' : 'LEN-ADDR';
      log.report(rule, `segment ${index} is ${segs[index] ? `${hex(segs[index]!.addr)}+${hex(segs[index]!.len)}` : 'missing'}, the model says ${want ? `${hex(want.addr)}+${hex(want.len)}` : 'none'} (${exp.value.path})`, { kind: `addr-${exp.value.path}`, index });
    }
    if (exp.value.path === 'iova' && d.state) checkIova(k, d, c.phys);
  }
  return segs;
}

function checkIova(k: TableKernel, d: DmaBufDma, phys: readonly PhysVec[]): void {
  const alloc = k.dma.iovas.get(d.state!.value.alloc);
  if (!alloc) return;
  const want = iovaLinks(phys);
  const got = alloc.links.map((l) => ({ offset: l.offset, len: l.size }));
  const at = want.findIndex((w, i) => !got[i] || got[i]!.offset !== w.offset || got[i]!.len !== w.len);
  if (at >= 0) {
    // Name what differs, offset or length: two lists of offsets alone read the same when only a length is wrong.
    const link = (l: { offset: U64; len: U64 } | undefined) => (l ? `${hex(l.offset)}+${hex(l.len)}` : 'missing');
    const list = (ls: readonly { offset: U64; len: U64 }[]) => `[${ls.map(link).join(', ')}]`;
    k.log.report('DMA-IOVA', `IOVA link ${at} (offset+length) is ${link(got[at])}, the span needs ${link(want[at])}: linked ${list(got)}, needed ${list(want)}`, { kind: 'link-offsets', index: at, port: link(got[at]), model: link(want[at]) });
  }
  const ready = k.dma.iovaCoverage(alloc.id, 0n, d.size);
  if (!ready.linked) k.log.report('DMA-IOVA', 'IOVA span handed out before it was linked in full', { kind: 'unlinked' });
  else if (!ready.synced) k.log.report('DMA-IOVA', 'IOVA span handed out before it was synced in full', { kind: 'unsynced' });
}

/** The rule a wrong result breaks, by what the model says made the conversion fail:
 *  an unroutable pair, a table that cannot be built, or the injected fault the port
 *  ignored (a map failure: DMA-ERRCHECK; a link or sync failure: DMA-IOVA; an allocation). */
export function resultRule(c: ConversionCase, exp: Result<Conversion>, limit: SegmentLimit, dma?: Pick<DmaApi, 'rejectedLinks'>): RuleId {
  // The IOMMU refused a link onto a linked IOVA (-EEXIST): the overlap is what failed the map.
  if (exp.ok && dma?.rejectedLinks.some((l) => l.flavour === 'refuse')) return 'DMA-IOVA';
  if (exp.ok) return 'LEN-NENTS';
  const model = (f: FaultPlan) => expectedConversion(c.phys, c.size, c.route, faultPoints(f), maxSegmentSize(limit, c.pageSize), c.busOffset, 0n);
  const noFaults: FaultPlan = { allocFails: [], syncFails: false, iovaRefused: c.faults.iovaRefused };
  const fine = model(noFaults);
  if (!fine.ok) return c.route === 'BUS_ADDR' || c.route === 'THRU_HOST_BRIDGE' ? 'LEN-NENTS' : 'ROUTE-NOMAP';
  const { mapFailsAt: _map, ...withoutMap } = c.faults;
  if (model(withoutMap).ok) return 'DMA-ERRCHECK';
  const { linkFailsAt: _link, ...withoutLink } = c.faults;
  if (model({ ...withoutLink, syncFails: false }).ok) return 'DMA-IOVA';
  return 'DMA-UNWIND';
}

/** The steps of a conversion case, as its counterexample lists them and its violations name them. */
export const CONVERSION_STEPS = { map: 0, free: 1 } as const;

/** Map, check, free, audit: one conversion case through one implementation. */
export function runConversion(impl: ConversionImpl, c: ConversionCase): ConversionOutcome {
  const k = new ConversionKernel(c);
  const attach: Attachment = { dev: 'client', dmabuf: { resv: 'resv' } };
  const provider: P2PProvider = { owner: 'exporter', bar: 0, busOffset: c.busOffset };
  // Each violation names the step it was reported in (0 the map and its checks, 1 dma_buf_free_sgt and the audit
  // after it): replay's '>' marks that step, not the map, for a bug of the free (an unmap in the wrong direction).
  k.log.step = CONVERSION_STEPS.map;
  const r = impl.map(k, attach, provider, c.phys, c.size, c.dir);
  const state = r.ok ? r.dma.value.state?.value : undefined;
  const exp = expectedConversion(c.phys, c.size, c.route, faultPoints(c.faults), maxSegmentSize(impl.limit, c.pageSize), c.busOffset, state?.addr ?? 0n, rangeAddrs(k.dma, c.phys));
  const result = r.ok ? 'ok' : r.errno;
  if (result !== resultTag(exp)) {
    k.log.report(resultRule(c, exp, impl.limit, k.dma), `conversion returned ${result}, the model says ${resultTag(exp)}`, { kind: 'result', port: result, model: resultTag(exp) });
  }
  if (!r.ok) {
    liveAudit(k, 'after a failed conversion', 'DMA-UNWIND');
    return { log: k.log, result, expected: exp, segments: [] };
  }
  const segments = checkTable(k, r.dma.value, exp, impl.limit);
  k.log.step = CONVERSION_STEPS.free;
  impl.unmap(k, attach, r.dma, c.dir);
  liveAudit(k, 'after dma_buf_free_sgt', 'DMA-LEAK');
  return { log: k.log, result, expected: exp, segments };
}

/** Where dma_map_phys() put each range, in call order (dma-direct: its physical address; dma-iommu: the
 *  IOVA the kernel chose): the model's per-range addresses. A range not mapped (yet) keeps its paddr. */
export function rangeAddrs(dma: Pick<DmaApi, 'mapLog'>, phys: readonly PhysVec[]): DmaAddr[] {
  return phys.map((p, i) => {
    const m = dma.mapLog[i];
    return m && m.paddr === p.paddr && m.size === p.len ? m.addr : p.paddr;
  });
}

export function faultPoints(f: FaultPlan) {
  return {
    dmaAlloc: f.allocFails.includes('dma'),
    stateAlloc: f.allocFails.includes('state'),
    sgAlloc: f.allocFails.includes('sg_table'),
    ...(f.mapFailsAt === undefined ? {} : { mapFailsAt: f.mapFailsAt }),
    ...(f.linkFailsAt === undefined ? {} : { linkFailsAt: f.linkFailsAt }),
    syncFails: f.syncFails,
    iovaRefused: f.iovaRefused,
  };
}
