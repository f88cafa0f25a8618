// The PAL checkers (PAL-INPUT, PAL-FILL, PAL-SIZE, PAL-LIST): the VFIO
// create path of an implementation against models/pal.ts.
import { resultTag, type Result } from '../../models/errno.ts';
import { exportedMemory, vfioDmaBufCreate, type DmaBufRequest, type DmaRange, type Pal, type PhysVec, type VfioDeviceView } from '../../models/pal.ts';
import { hex } from '../../models/u64.ts';
import { vfioDmaBufPhysFromRequest } from '../impl/vfio/dmabuf_phys.ts';
import type { RuleId } from './registry.ts';
import type { Violation, ViolationLog } from './violation.ts';
import type { DmaBuf } from '../impl/dma-buf-core.ts';

export interface PalImpl {
  readonly name: string;
  readonly bugOf?: RuleId;
  create(view: VfioDeviceView, req: DmaBufRequest): Result<Pal>;
}

/** The faithful create path (002 v8 10/11). */
export const PAL_CREATE: PalImpl = { name: 'vfio_pci_core_feature_dma_buf', create: (v, r) => vfioDmaBufPhysFromRequest(v, r) };

/** A create path request as a PAL-INPUT line names it, as the lifecycle names its creates: the region and each range
 *  the create reads, offset+length (`create(region 0, 0xfffffffffffff000+0x1000 0x0+0x1000)`); entries past
 *  nr_ranges are counted, not listed (the create does not read them). */
export function createText(req: Pick<DmaBufRequest, 'regionIndex' | 'nrRanges' | 'ranges'>): string {
  const read = req.ranges.slice(0, req.nrRanges);
  const past = req.ranges.length - read.length;
  const ranges = read.length ? read.map((r) => `${hex(r.offset)}+${hex(r.length)}`).join(' ') : 'no ranges';
  return `create(region ${req.regionIndex}, ${ranges}${req.nrRanges > req.ranges.length ? `, nr_ranges ${req.nrRanges}` : ''}${past > 0 ? `, ${past} more past nr_ranges` : ''})`;
}

export function checkPal(impl: PalImpl, view: VfioDeviceView, req: DmaBufRequest, log: ViolationLog): void {
  const model = vfioDmaBufCreate(view, req);
  const got = impl.create(view, req);
  if (resultTag(got) !== resultTag(model)) log.report('PAL-INPUT', `${createText(req)} returned ${resultTag(got)}, the model says ${resultTag(model)}`, { port: resultTag(got), model: resultTag(model), region: req.regionIndex });
  if (!got.ok) return;
  // The ranges the create reads: entries past nr_ranges are not part of the request.
  const c = { who: 'the dma-buf', regionIndex: req.regionIndex, ranges: req.ranges.slice(0, req.nrRanges), mem: exportedMemory(view, req.regionIndex)! };
  // A create the model refuses has no PAL to compare with: its list is still judged.
  if (!model.ok) return void checkHeldList(log, got.value.phys, c);
  const want = model.value;
  if (got.value.size !== want.size) log.report('PAL-SIZE', `dma-buf size ${hex(got.value.size)}, the ranges add up to ${hex(want.size)}`, { port: hex(got.value.size), model: hex(want.size) });
  checkHeldPal(log, got.value.phys, { ...c, want: want.phys });
}

/** A request of a BAR that ends exactly at 2^64 (reports/FINDINGS.md 10). */
export function barEndsAtTop(view: VfioDeviceView, req: DmaBufRequest): boolean {
  const bar = view.bars.find((b) => b.index === req.regionIndex);
  return bar !== undefined && bar.start + bar.size === 1n << 64n;
}

/** The documented finding of the faithful create path (reports/FINDINGS.md 10) that explains a violation, or null.
 *  It explains its exact behaviour only: a PAL-INPUT on a BAR that ends at 2^64 where the create returned what the
 *  faithful create returns on that request (max_addr wraps: -EINVAL) and the model says otherwise. Another bug
 *  that breaks PAL-INPUT on such a BAR (a missing check that lets a range through) stays new. */
export function explainTopBar(view: VfioDeviceView, req: DmaBufRequest, v: Violation): string | null {
  if (v.rule !== 'PAL-INPUT' || !barEndsAtTop(view, req)) return null;
  const ev = v.evidence as { port?: unknown; model?: unknown } | undefined;
  const faithful = resultTag(PAL_CREATE.create(view, req));
  return ev?.port === faithful && ev.model !== faithful ? 'bar-ends-at-2^64' : null;
}

const vec = (p: PhysVec | undefined) => (p ? `${hex(p.paddr)}+${hex(p.len)}` : 'missing');
const isPhysVec = (p: unknown): p is PhysVec => typeof (p as PhysVec | null)?.paddr === 'bigint' && typeof (p as PhysVec).len === 'bigint';

/**
 * The phys_vec an exporter holds for a dma-buf, read without calling it: `dmabuf->priv->phys_vec` (struct
 * vfio_pci_dma_buf, the KObj of the ports and of every VfioPciCore-based plugin), as a KObj or a plain array.
 * null when there is nothing readable there (a plugin's own priv, the kernel's C, a priv or phys_vec already
 * freed): the PAL checks then judge nothing. Never throws, never touches the heap's KASAN accounting.
 */
export function heldPhysVec(dmabuf: DmaBuf): readonly PhysVec[] | null {
  try {
    const priv = dmabuf.priv as { value?: unknown; freed?: boolean } | null | undefined;
    if (!priv || priv.freed === true) return null;
    const field = (priv.value as { phys_vec?: unknown } | null | undefined)?.phys_vec as { value?: unknown; freed?: boolean } | unknown[] | null | undefined;
    if (!field) return null;
    if (!Array.isArray(field) && field.freed === true) return null;
    const list = Array.isArray(field) ? field : field.value;
    return Array.isArray(list) && list.every(isPhysVec) ? (list as readonly PhysVec[]) : null;
  } catch {
    return null;
  }
}

/** What the create asked for and the model answered, for the held-PAL checks. */
export interface HeldPalCase {
  /** How a message names the dma-buf ("buf0", "the dma-buf"). */
  readonly who: string;
  readonly regionIndex: number;
  readonly ranges: readonly DmaRange[];
  /** The model's PAL for the request (models/pal.ts vfioDmaBufCreate). */
  readonly want: readonly PhysVec[];
  /** The memory the region exports (models/pal.ts exportedMemory). */
  readonly mem: { readonly start: bigint; readonly len: bigint };
}

/** How a message names range `i` of the request. A function of its own, not an arrow in checkHeldPal: under
 *  tsx (esbuild keepNames) a named arrow costs a defineProperty at every create. */
function rangeName(c: Omit<HeldPalCase, 'want'>, i: number): string {
  const r = c.ranges[i];
  return r ? `range ${i} (offset ${hex(r.offset)}, length ${hex(r.length)} of region ${c.regionIndex})` : `no range (the request has ${c.ranges.length})`;
}

/**
 * PAL-LIST and PAL-FILL on the phys_vec a created dma-buf holds (`got`, heldPhysVec): PAL-LIST when it has
 * another number of entries than the request has ranges or an entry leaves the exported memory; PAL-FILL at
 * the first entry that differs from the model's PAL (paddr = start + offset, len = length, in request order).
 * Each message names the entry, the range it fills, what the exporter holds and what the model says.
 * @returns true when the held PAL is wrong: what is derived from it later (a mapping's segments) is not judged.
 */
export function checkHeldPal(log: Pick<ViolationLog, 'report'>, got: readonly PhysVec[], c: HeldPalCase): boolean {
  const wrong = checkHeldList(log, got, c);
  const i = firstPalDifference(got, c.want);
  if (i < 0) return wrong;
  log.report('PAL-FILL', `${c.who}'s phys_vec[${i}] is ${vec(got[i])}, the model's PAL has ${vec(c.want[i])} for ${rangeName(c, i)}`, { index: i, port: vec(got[i]), model: vec(c.want[i]) });
  return true;
}

/** PAL-LIST: one entry per range of the request, each inside the exported memory. @returns true when broken. */
function checkHeldList(log: Pick<ViolationLog, 'report'>, got: readonly PhysVec[], c: Omit<HeldPalCase, 'want'>): boolean {
  const end = c.mem.start + c.mem.len;
  let wrong = false;
  if (got.length !== c.ranges.length) {
    log.report('PAL-LIST', `${c.who} holds ${got.length} phys_vec entries, the request has ${c.ranges.length} ranges`, { entries: got.length, ranges: c.ranges.length });
    wrong = true;
  }
  const outside = got.findIndex((p) => p.paddr < c.mem.start || p.paddr + p.len > end);
  if (outside >= 0) {
    log.report('PAL-LIST', `${c.who}'s phys_vec[${outside}] ${vec(got[outside])} is outside region ${c.regionIndex} [${hex(c.mem.start)}, ${hex(end)}) (${rangeName(c, outside)})`, { index: outside, port: vec(got[outside]), region: c.regionIndex });
    wrong = true;
  }
  return wrong;
}

/** The first index where two PALs differ (an entry one has and the other not included); -1 when equal. */
export function firstPalDifference(a: readonly PhysVec[], b: readonly PhysVec[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i]?.paddr !== b[i]?.paddr || a[i]?.len !== b[i]?.len) return i;
  return -1;
}
