// Resolving a generated lifecycle command against the model state: a
// selector names a live object (state-aware) or an index (the uniform
// baseline); a create's ranges are pages of the region it names on that
// device's layout; state-aware events and prerequisites steer a short run to
// the states its commands need.
import type { DeviceEvent, DevView, LcCmd, LcState } from '../../models/lifecycle.ts';
import type { DmaRange } from '../../models/pal.ts';
import { U64_MAX, alignDown } from '../../models/u64.ts';
import type { GenCmd, GenRange } from './lifecycle.ts';

/** The object a selector names: state-aware among the live ones, or literally (one past the end: none). */
function pick<T>(all: readonly T[], live: (x: T) => boolean, sel: number, stateAware: boolean): number | null {
  if (all.length === 0) return null;
  if (!stateAware) return sel % (all.length + 1) === all.length ? null : sel % (all.length + 1);
  // The (sel mod n)-th of the n live ones, without building their list (this runs at every command's check).
  let n = 0;
  for (const x of all) if (live(x)) n++;
  if (n === 0) return sel % all.length;
  let k = sel % n;
  for (let i = 0; i < all.length; i++) if (live(all[i]!) && k-- === 0) return i;
  return null;
}

/** Resolve selectors: state-aware picks among live objects, or literal indices (the uniform baseline). */
export function resolve(g: GenCmd, s: LcState, stateAware: boolean): LcCmd | null {
  switch (g.op) {
    case 'create': {
      const dev = g.dev % s.devs.length;
      if (s.env.opaque) return { op: 'create', dev, region: 0, ranges: (g.ranges.length ? g.ranges : [{ page: 0, len: 1, skew: 'none' } as const]).map((r) => pageOf(r, s.env.devs[dev]!)) };
      // The fault points are the VFIO create path's: an exporter whose create is its own gets none.
      return { op: 'create', dev, region: g.region, ranges: g.ranges.map((r) => rangeOf(r, s.env.devs[dev]!, g.region)), ...(g.fault ? { fault: g.fault } : {}) };
    }
    case 'event': return stateAware ? awareEvent(g, s) : { op: 'event', dev: g.dev % s.devs.length, event: g.event };
    case 'hot-reset': return { op: 'hot-reset', devs: s.devs.map((_, i) => i) };
    case 'attach': {
      const b = pick(s.bufs, (x) => x.userFd, g.sel, stateAware);
      if (b === null) return stateAware ? firstBuf(g.sel, s) : null;
      return { op: 'attach', buf: b, importer: g.importer, p2p: g.p2p };
    }
    case 'close-fd': {
      const b = pick(s.bufs, (x) => x.userFd, g.sel, stateAware);
      return b === null ? null : { op: 'close-fd', buf: b };
    }
    default: {
      const live = g.op === 'unmap' || g.op === 'access' ? (a: LcState['atts'][number]) => a.mapped : (a: LcState['atts'][number]) => !a.detached;
      const a = pick(s.atts, live, g.sel, stateAware);
      if (a !== null) return { op: g.op, att: a };
      if (!stateAware) return null;
      const b = pick(s.bufs, (x) => x.userFd, g.sel, true);
      return b === null ? firstBuf(g.sel, s) : { op: 'attach', buf: b, importer: g.sel % 2 ? 'iommufd' : 'dma', p2p: true };
    }
  }
}

/** State-aware: a command on an object that does not exist yet makes one instead (attach → a create of one page of BAR 0,
 *  map/unmap/access/detach → an attach), so a short run gets to the state its commands need. */
function firstBuf(sel: number, s: LcState): LcCmd {
  return { op: 'create', dev: sel % s.devs.length, region: 0, ranges: [{ offset: 0n, length: s.env.devs[0]!.pageSize }] };
}

/** For an exporter whose create is not VFIO's: a well-formed range of whole pages inside BAR 0. */
function pageOf(r: GenRange, v: DevView): DmaRange {
  const p = v.pageSize;
  const pages = (v.bars.find((b) => b.index === 0)?.size ?? 16n * p) / p;
  const first = BigInt(r.page) % pages;
  const n = typeof r.len === 'number' && r.len > 0 ? BigInt(r.len) : 1n;
  return { offset: first * p, length: (n < pages - first ? n : pages - first) * p };
}

/** A generated range in pages of the region's memory (a BAR, or nvgrace device memory; an absent
 *  BAR counts as 16 pages): up to its end, one page past it, misaligned, or wrapping u64. */
function rangeOf(r: GenRange, v: DevView, region: number): DmaRange {
  const p = v.pageSize;
  const nv = region === 2 ? v.nvgrace?.resmem : region === 4 ? v.nvgrace?.usemem : undefined;
  const size = nv && nv.memlength !== 0n ? nv.memlength : v.bars.find((b) => b.index === region)?.size ?? 16n * p;
  const pages = size / p;
  const skew = p === 4096n ? 0x200n : 0x1000n;
  let offset = (BigInt(r.page) % (pages + 1n)) * p;
  if (r.skew === 'wrap') offset = alignDown(U64_MAX, p);
  const rest = size > offset ? size - offset : 0n;
  let length = r.len === 'end' ? rest : r.len === 'past' ? rest + p : BigInt(r.len) * p;
  if (r.skew === 'offset') offset += skew;
  if (r.skew === 'length') length += skew;
  return { offset, length };
}

/** State-aware device events: mostly on a device that has dma-bufs; on a closed device mostly
 *  the events that bring it back (open) or away (unbind), on an open one half of those become
 *  the close they need; on a disabled one half the time the event that re-enables it. */
function awareEvent(g: Extract<GenCmd, { op: 'event' }>, s: LcState): LcCmd {
  const withBufs = s.bufs.filter((b) => !b.released);
  const dev = withBufs.length && g.sel % 3 !== 0 ? withBufs[g.sel % withBufs.length]!.dev : g.dev % s.devs.length;
  const d = s.devs[dev]!;
  const closedOnly = g.event === 'open' || g.event === 'unbind';
  // The two ways out of the closed state, evenly: another user opens it, or the driver is unbound (vfio_pci_remove(),
  // then devres frees what the probe set up: the p2pdma providers of pcim_p2pdma_init()). Which one is read from a bit
  // of `sel` that `sel % 4` does not fix (sel % 2 did: open 4 times in 6).
  if (!d.open) return { op: 'event', dev, event: !closedOnly && g.sel % 4 !== 0 ? ((g.sel >> 2) & 1 ? 'open' : 'unbind') : g.event };
  // A device whose memory is off, or in D3 (runtime PM or not), is mostly brought back: the unrevoke paths.
  const back: DeviceEvent | null = d.pmEngaged ? 'pm-exit' : d.power === 'D3hot' ? 'd3-exit' : !d.cmdMem ? 'mem-on' : null;
  if (back && g.sel % 2 === 0) return { op: 'event', dev, event: back };
  // open/unbind of an open device is -EBUSY: half the time close it first, the way to both.
  return { op: 'event', dev, event: closedOnly && g.sel % 2 === 0 ? 'close' : g.event };
}
