// The per-step checks of the lifecycle comparison beyond results and
// revoked state: the create path's size and PAL (PAL-SIZE, PAL-LIST, PAL-FILL), a DMA importer's segments
// on the run's route (ROUTE-BUSADDR, LEN-ADDR), and who still holds a mapping
// (REV-WINDOW, DMA-LEAK, IOMMUFD-MMIO).
import { mayHoldMapping, type LcCmd, type LcState } from '../../models/lifecycle.ts';
import { spec } from '../../models/profiles.ts';
import { dmaPathKind, expectedSpans, firstDifference, maxSegmentSize, tableEntries, type DmaPath, type Segment } from '../../models/sgt.ts';
import { U64_MAX, hex } from '../../models/u64.ts';
import { IOMMU_MMIO } from '../kernel/iommu.ts';
import type { KObj } from '../kernel/objects.ts';
import type { SgTable } from '../kernel/scatterlist.ts';
import { iommufdDomain } from '../impl/iommufd.ts';
import { exportedMemory } from '../../models/pal.ts';
import { checkHeldPal, firstPalDifference, heldPhysVec } from '../rules/pal.ts';
import type { RuleId } from '../rules/registry.ts';
import type { Real } from './lifecycle.ts';
import type { ImporterAttachment } from './plugin.ts';

/** PAL-UNWIND: a create that failed left nothing of what it allocated (`before.firstId`: the heap's next
 *  object id when it started, so what it allocated has that id or a higher one). The seed's unwind frees priv and phys_vec and puts the registration (err_dev_put,
 *  err_free_phys, err_free_priv), and after dma_buf_export() only dma_buf_put() undoes it (002 v8 10/11:
 *  "dma_buf_put() now frees priv"). A second free or put of the same objects is UAF-OBJ / UAF-REF. */
export function checkCreateUnwind(real: Real, c: Extract<LcCmd, { op: 'create' }>, before: { readonly firstId: number; readonly registrations: readonly number[] }): void {
  const left = real.k.heap.live().filter((o) => o.id >= before.firstId);
  // vfio_device_try_get_registration() taken and never put: the device can never finish unregistering.
  const kept = real.k.registrations.filter((r, i) => r.count > (before.registrations[i] ?? 0));
  if (left.length === 0 && kept.length === 0) return;
  const what = [...left.map((o) => `${o.kind}#${o.id} (allocated in ${o.allocSite}) allocated`), ...kept.map((r) => `a registration reference of ${r.name} taken`)];
  real.k.report('PAL-UNWIND', `the failed create of dev${c.dev} left ${what.join(', ')}`, { objects: left.map((o) => `${o.kind}#${o.id}`), allocSites: left.map((o) => o.allocSite), registrations: kept.map((r) => r.name), ...(c.fault ? { fault: c.fault } : {}) });
}

/** PAL-SIZE, PAL-LIST and PAL-FILL at a create the model and the exporter both completed: the dma-buf has
 *  the size of its ranges, and for a VFIO exporter the phys_vec it holds (rules/pal.ts heldPhysVec: priv's
 *  phys_vec, when readable; nothing is judged when it is not) is the model's PAL for the request. A dma-buf
 *  whose PAL is wrong is marked (Real.palWrong): what the checks derive from the model's PAL later (its
 *  mappings' segments) would only repeat this finding under another rule. */
export function checkCreated(real: Real, c: Extract<LcCmd, { op: 'create' }>, before: LcState, after: LcState): void {
  const i = before.bufs.length;
  const b = after.bufs[i];
  const dmabuf = real.bufs[i];
  if (!b || !dmabuf) return;
  if (dmabuf.size !== b.pal.size) {
    real.k.report('PAL-SIZE', `buf${i} has size ${hex(dmabuf.size)}, the sum of its ranges is ${hex(b.pal.size)}`, { buf: i, port: dmabuf.size, model: b.pal.size });
    real.palWrong.add(i);
  }
  // An exporter whose create is not VFIO's fills its own list (the conversion suite judges its helpers).
  if (after.env.opaque) return;
  const got = heldPhysVec(dmabuf);
  const dev = after.env.devs[b.dev];
  const mem = dev && exportedMemory(dev, c.region);
  if (!got || !mem) return;
  if (checkHeldPal(real.k, got, { who: `buf${i}`, regionIndex: c.region, ranges: c.ranges, want: b.pal.phys, mem })) real.palWrong.add(i);
}

/** PAL-LIST at a DMA importer's map: the PAL the exporter hands out is still the one its create filled (the
 *  model's, as checkCreated found it), unchanged until unmapped. A dma-buf already found wrong is not judged again. */
export function checkHeldAtMap(real: Real, att: number, s: LcState): void {
  const m = s.atts[att];
  if (s.env.opaque || !m || real.palWrong.has(m.buf)) return;
  const dmabuf = real.bufs[m.buf];
  const a = real.atts[att];
  if (!dmabuf || (a?.attachment && a.attachment.dmabuf !== dmabuf)) return;
  const got = heldPhysVec(dmabuf);
  const want = s.bufs[m.buf]?.pal.phys;
  if (!got || !want) return;
  const i = firstPalDifference(got, want);
  if (i < 0) return;
  const show = (p: { paddr: bigint; len: bigint } | undefined) => (p ? `${hex(p.paddr)}+${hex(p.len)}` : 'missing');
  real.k.report('PAL-LIST', `buf${m.buf}'s phys_vec changed after its create: at this map of att${att} phys_vec[${i}] is ${show(got[i])}, the create filled ${show(want[i])}`, { buf: m.buf, index: i, port: show(got[i]), model: show(want[i]) });
  real.palWrong.add(m.buf);
}

/** The DMA segments of a DMA importer's mapping, when it holds a table the checker can read
 *  (the sg_table of dma_buf_map_attachment(), or the struct dma_buf_dma that wraps it). */
function segmentsOf(handle: ImporterAttachment | null): Segment[] | null {
  const obj = (handle as { sgt?: KObj<unknown> | null } | null)?.sgt;
  const v = obj?.value as { sgt?: SgTable; sgl?: unknown } | undefined;
  const table = v && 'sgl' in v ? (v as SgTable) : v?.sgt;
  if (!table?.sgl) return null;
  return table.sgl.slice(0, table.nents).map((e) => ({ addr: e.dma_address, len: BigInt(e.dma_length) }));
}

/** Where dma_map_phys() put each range of the map just made (dma-direct: its physical address; dma-iommu: the
 *  IOVA of its call): the last calls, one per range in order; a range that does not match keeps its paddr. */
function dmaAddrsOf(real: Real, phys: readonly { paddr: bigint; len: bigint }[]): bigint[] {
  const tail = real.k.dma.mapLog.slice(-phys.length);
  return phys.map((p, i) => (tail[i]?.paddr === p.paddr && tail[i]?.size === p.len ? tail[i]!.addr : p.paddr));
}

/** LEN-ADDR and ROUTE-BUSADDR at a DMA importer's map: the segments are the model's for the
 *  dma-buf's PAL on the run's route (models/sgt.ts). An IOVA span may start anywhere. */
export function checkSegments(real: Real, att: number, s: LcState): void {
  const a = real.atts[att];
  const m = s.atts[att];
  // An exporter whose create is not VFIO's places its ranges where it likes: the conversion suite judges its helpers.
  if (s.env.opaque) return;
  // After an earlier divergence the model's att may name another dma-buf: judge only the same one. A dma-buf
  // whose PAL was found wrong (Real.palWrong) maps what it holds, not the model's PAL: that finding is filed once.
  if (a?.importer !== 'dma' || m?.importer !== 'dma' || real.palWrong.has(m.buf) || (a.attachment && a.attachment.dmabuf !== real.bufs[m.buf])) return;
  const got = segmentsOf(a.handle);
  const b = s.bufs[m.buf]!;
  const kind = dmaPathKind(s.env.dmaRoute, s.env.iova && b.pal.size !== 0n);
  if (!got || !kind.ok) return;
  const path: DmaPath = kind.value === 'bus-addr' ? { kind: 'bus-addr', busOffset: b.pal.busOffset } : kind.value === 'iova' ? { kind: 'iova', base: got[0]?.addr ?? 0n } : { kind: 'per-range', addrs: dmaAddrsOf(real, b.pal.phys) };
  const max = maxSegmentSize(spec(real.cfg.profile ?? 'v8').segmentLimit, s.env.devs[b.dev]!.pageSize);
  const table = expectedSpans(b.pal.phys, b.pal.size, path, max);
  if (!table.ok || !firstDifference(got, table.value.spans, max)) return;
  const want = [...tableEntries(table.value.spans, max)];
  const show = (xs: readonly Segment[]) => xs.map((x) => `${hex(x.addr)}+${hex(x.len)}`).join(' ');
  const sameLens = got.length === want.length && got.every((g, i) => g.len === want[i]!.len);
  // 002 v8 02/11: a BUS_ADDR mapping is paddr + bus_offset of its provider, and nothing else uses bus_offset.
  const rule: RuleId = sameLens && (kind.value === 'bus-addr' || got.some((g, i) => g.addr === ((b.pal.phys[i]?.paddr ?? 0n) + b.pal.busOffset) % (U64_MAX + 1n) && b.pal.busOffset !== 0n)) ? 'ROUTE-BUSADDR' : 'LEN-ADDR';
  real.k.report(rule, `att${att} (${s.env.dmaRoute}${kind.value === 'bus-addr' ? `, bus offset ${hex(b.pal.busOffset)}` : ''}) maps ${show(got)}, the model says ${show(want)}`, { att, route: s.env.dmaRoute, port: show(got), model: show(want) });
}

/** REV-WINDOW, DMA-LEAK and IOMMUFD-MMIO after a step. */
export function checkMappings(real: Real, s: LcState): void {
  const k = real.k;
  let dmaMapped = 0;
  const domain = iommufdDomain(k);
  real.atts.forEach((a, i) => {
    const mapped = !real.detached.has(i) && a.handle?.mapped() === true;
    if (mapped && a.importer === 'dma') dmaMapped++;
    if (mapped && !mayHoldMapping(s, i)) k.report('REV-WINDOW', `att${i} (${a.importer}) still holds a usable mapping of revoked or disabled MMIO`, { att: i });
    const area = (a.handle as { area?: string } | null)?.area;
    // An importer that names its IOMMU area is checked, whatever the name (an empty one too: its mappings are still there).
    if (a.importer === 'iommufd' && typeof area === 'string') {
      const maps = domain.of(area);
      const want = mapped ? ((a.handle as { nranges?: number }).nranges ?? 1) : 0;
      if (maps.length !== want) k.report('IOMMUFD-MMIO', `att${i} has ${maps.length} IOMMU mapping(s), ${want || 'none'} expected`, { att: i });
      if (maps.some((m) => !(m.prot & IOMMU_MMIO))) k.report('IOMMUFD-MMIO', `att${i} is mapped without IOMMU_MMIO`, { att: i });
      if (maps.length > 0 && !mayHoldMapping(s, i)) k.report('IOMMUFD-MMIO', `att${i} keeps revoked MMIO in the IOMMU domain`, { att: i });
    }
  });
  const live = k.dma.live();
  if (dmaMapped === 0 && (live.mappings > 0 || live.iovas > 0)) k.report('DMA-LEAK', `${live.mappings} DMA mapping(s) and ${live.iovas} IOVA allocation(s) live with no DMA importer mapped`, live);
}
