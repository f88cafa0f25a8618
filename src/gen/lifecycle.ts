// fast-check arbitraries for lifecycle runs: the configuration of a run (BAR
// layout, page size, the route to the DMA importer, IOVA) and its command
// sequence. Commands carry selectors resolved against the model state when
// they run: state-aware picks live objects; the uniform baseline reads them
// literally. A create's ranges are pages of the region it names, resolved
// against that device's layout, so they reach the BAR end from any layout.
import fc from 'fast-check';
import { CREATE_FAULTS, type CreateFault, type DeviceEvent } from '../../models/lifecycle.ts';
import { spec, type Profile } from '../../models/profiles.ts';
import type { Bar, MapType } from '../../models/pci/types.ts';
import type { PageSize } from '../../models/u64.ts';
import type { Platform } from '../kernel/platform.ts';

/** A run's configuration: one BAR layout for every device (each at its own
 *  address), the page size, pci_p2pdma_map_type() to the DMA importer, and
 *  whether the IOMMU grants IOVA space. Part of a counterexample's input. */
export interface LcSetup {
  /** A BAR with `mappable: false` is unassigned: no CPU address, so no p2pdma provider and no iomap. */
  readonly bars: readonly Bar[];
  readonly pageSize: PageSize;
  readonly dmaRoute: MapType;
  readonly iova: boolean;
  /** false: pcim_p2pdma_init() failed -EOPNOTSUPP on every device (no BAR has a provider). Absent: true. */
  readonly p2pdma?: boolean;
  /** BARs whose regions another driver holds on every device (pci_request_selected_regions() -EBUSY). */
  readonly busy?: readonly number[];
  /** The simulated machine of this run, when the search draws one per run (no --iommu/--dma-map). */
  readonly platform?: Platform;
}

/** One range of a create, in pages of the region: `len` pages, to the region end, or one page past it;
 *  `skew` misaligns the offset or the length, or puts the offset where start + offset wraps u64. */
export interface GenRange {
  readonly page: number;
  readonly len: number | 'end' | 'past';
  readonly skew: 'none' | 'offset' | 'length' | 'wrap';
}

/** A command as generated: selectors resolved against the model state when it runs. */
export type GenCmd =
  | { readonly op: 'create'; readonly dev: number; readonly region: number; readonly ranges: readonly GenRange[]; readonly fault?: CreateFault | undefined }
  | { readonly op: 'attach'; readonly sel: number; readonly importer: 'dma' | 'iommufd'; readonly p2p: boolean }
  | { readonly op: 'map' | 'unmap' | 'detach' | 'access'; readonly sel: number }
  | { readonly op: 'close-fd'; readonly sel: number }
  | { readonly op: 'event'; readonly dev: number; readonly event: DeviceEvent; readonly sel: number }
  | { readonly op: 'hot-reset' };

const KiB = 1024n;
const MiB = 1024n * KiB;
export const BAR_BASE = 0x38000000000n;
/** IO port BARs are small and live in port space. */
const IO_BAR = { size: 0x100n, start: 0xe000n };

/** Where BAR `index` of device 0 sits: MEM BARs 1 GiB apart, naturally aligned for every generated size. */
export function barStart(index: number): bigint {
  return BAR_BASE + BigInt(index) * 0x40000000n;
}

/** Device i's BARs in a run of `setup`: the one layout moved to the device's own address range (MEM BARs only,
 *  2^36 apart). The lifecycle probes each device with these, and replay's header shows them. */
export function deviceBars(setup: Pick<LcSetup, 'bars'>, i: number): Bar[] {
  return setup.bars.map((b) => (b.type === 'mem' ? { ...b, start: b.start + (BigInt(i) << 36n) } : b));
}

const memSize = fc.constantFrom(MiB, 64n * KiB, 16n * MiB);
const busOffset = fc.oneof({ weight: 1, arbitrary: fc.constant(0n) }, { weight: 2, arbitrary: fc.constantFrom(0x1000n, 0x10000n, 0x8000000000n, -BAR_BASE & ((1n << 64n) - 1n)) });

/** Now and then a MEM BAR is unassigned (no CPU address: no provider, no iomap). */
const mappable = fc.oneof({ weight: 15, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });

/** BAR n of a layout: absent, MEM (size, bus offset, assigned or not) or IO. BAR 0 is always MEM. */
function barArb(index: number): fc.Arbitrary<Bar | null> {
  const mem = fc.record({ size: memSize, busOffset, mappable }).map(({ size, busOffset, mappable }): Bar => ({ index, type: 'mem', start: barStart(index), size, busOffset, ...(mappable ? {} : { mappable: false }) }));
  if (index === 0) return mem;
  const io = fc.constant<Bar>({ index, type: 'io', start: IO_BAR.start + BigInt(index) * IO_BAR.size, size: IO_BAR.size, busOffset: 0n });
  return fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 2, arbitrary: mem }, { weight: 1, arbitrary: io });
}

/** The routes a profile's importers can meet: NOT_SUPPORTED only where the model gives its answer (v8: map -EINVAL). */
function routesOf(profile: Profile | undefined): MapType[] {
  return spec(profile ?? 'v8').mappingTypes ? ['THRU_HOST_BRIDGE', 'BUS_ADDR'] : ['THRU_HOST_BRIDGE', 'BUS_ADDR', 'NOT_SUPPORTED'];
}

/** Device facts: mostly p2pdma set up and every BAR region free; now and then pcim_p2pdma_init() failed,
 *  or another driver holds one or two BARs' regions. */
const p2pdmaArb = fc.oneof({ weight: 15, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) });
const busyArb = fc.oneof({ weight: 7, arbitrary: fc.constant<number[]>([]) }, { weight: 1, arbitrary: fc.subarray([0, 1, 2, 3, 4, 5], { minLength: 1, maxLength: 2 }) });

/** A run's configuration; it shrinks toward one 1 MiB MEM BAR, 4 KiB pages, THRU_HOST_BRIDGE, IOVA refused,
 *  p2pdma set up and no BAR held by another driver. */
export function setupArb(profile?: Profile): fc.Arbitrary<LcSetup> {
  return fc.record({
    bars: fc.tuple(...[0, 1, 2, 3, 4, 5].map(barArb)).map((bs) => bs.filter((b): b is Bar => b !== null)),
    pageSize: fc.constantFrom<PageSize>(4096n, 65536n),
    dmaRoute: fc.constantFrom(...routesOf(profile)),
    iova: fc.boolean(),
    facts: fc.tuple(p2pdmaArb, busyArb),
  }).map(({ facts: [p2pdma, busy], ...s }): LcSetup => ({ ...s, ...(p2pdma ? {} : { p2pdma: false }), ...(busy.length ? { busy } : {}) }));
}

const sel = fc.nat(7);

// The command arbitraries below are tuples mapped to their objects, and their weighted choices of
// constants one index into a table: fast-check builds a Value per arbitrary a command goes through, and
// fc.record and fc.oneof of constants each add a layer (generation was a third of a lifecycle step's
// fast-check time). Both shrink as before: an index toward the first entry, a tuple field by field.

/** `[weight, value]` pairs as one arbitrary: an index into the table where each value appears `weight`
 *  times. It shrinks toward the first value, as fc.oneof does toward its first arbitrary. */
function weighted<T>(...choices: readonly (readonly [number, T])[]): fc.Arbitrary<T> {
  const table = choices.flatMap(([weight, value]) => Array<T>(weight).fill(value));
  return fc.nat(table.length - 1).map((i) => table[i]!);
}

const rangeArb: fc.Arbitrary<GenRange> = fc.tuple(
  fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.nat(15) }),
  fc.oneof({ weight: 16, arbitrary: fc.constant(1) }, { weight: 3, arbitrary: fc.integer({ min: 2, max: 3 }) }, { weight: 2, arbitrary: fc.constant<'end'>('end') }, { weight: 1, arbitrary: fc.constantFrom<0 | 'past'>(0, 'past') }),
  // none 24 times in 25, else one of the three skews.
  weighted<GenRange['skew']>([72, 'none'], [1, 'offset'], [1, 'length'], [1, 'wrap']),
).map(([page, len, skew]) => ({ page, len, skew }));

/** VFIO region indices: mostly BAR 0, any BAR, the ROM (6), and past it. */
const regionArb = fc.oneof({ weight: 14, arbitrary: fc.constant(0) }, { weight: 4, arbitrary: fc.integer({ min: 1, max: 5 }) }, { weight: 1, arbitrary: fc.integer({ min: 6, max: 8 }) });

/** 1 to 5 ranges, mostly one; now and then none (nr_ranges 0). */
const rangesArb = fc.oneof(
  { weight: 24, arbitrary: rangeArb.map((r) => [r]) },
  { weight: 6, arbitrary: fc.array(rangeArb, { minLength: 2, maxLength: 4 }) },
  { weight: 1, arbitrary: fc.constant<GenRange[]>([]) },
  { weight: 1, arbitrary: fc.array(rangeArb, { minLength: 5, maxLength: 5 }) },
);

/** Mostly no fault (10 times in 11); now and then one fault point of the create path (models/lifecycle.ts CREATE_FAULTS). */
const faultArb = weighted<CreateFault | undefined>([10 * CREATE_FAULTS.length, undefined], ...CREATE_FAULTS.map((f) => [1, f] as const));

/** The kind of each device event: the three paths of vfio_pci_core that change what a dma-buf of the device may do.
 *  A revoke and its restore (memory decode, D3, runtime PM: vfio_pci_dma_buf_move(true) then (false)), a function
 *  reset (FLR, AF FLR, VFIO_DEVICE_RESET: revoke, reset, restore), and the device's lifetime (close: cleanup,
 *  revoked for good; open; unbind: vfio_pci_remove(), devres frees the providers). */
const EVENT_KINDS = [
  ['mem-off', 'mem-on', 'd3-enter', 'd3-exit', 'pm-entry', 'pm-exit'],
  ['flr', 'af-flr', 'reset'],
  ['close', 'open', 'unbind'],
] as const satisfies readonly (readonly DeviceEvent[])[];
/** Every event of the model has a kind: one added to DEVICE_EVENTS without one stops compiling here. */
const EVERY_EVENT_KINDED: [Exclude<DeviceEvent, (typeof EVENT_KINDS)[number][number]>] extends [never] ? true : never = true;

/** Device events, each kind a third of the time (a kind with fewer events no longer gets fewer tries: with each
 *  event equally likely, the lifetime paths, where use-after-free and revoked-for-good live, had a quarter), then
 *  an event of that kind evenly. */
const eventArb = weighted<DeviceEvent>(...EVENT_KINDS.flatMap((kind: readonly DeviceEvent[]) => kind.map((e) => [12 / kind.length, e] as const)));

/** One generated command, weighted toward what moves the lifecycle. */
export const genCmdArb: fc.Arbitrary<GenCmd> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(fc.nat(1), regionArb, rangesArb, faultArb).map(([dev, region, ranges, fault]): GenCmd => ({ op: 'create', dev, region, ranges, fault })) },
  // p2p 5 times in 6.
  { weight: 4, arbitrary: fc.tuple(sel, weighted<'dma' | 'iommufd'>([1, 'dma'], [1, 'iommufd']), weighted([5, true], [1, false])).map(([sel, importer, p2p]): GenCmd => ({ op: 'attach', sel, importer, p2p })) },
  { weight: 4, arbitrary: sel.map((sel): GenCmd => ({ op: 'map', sel })) },
  { weight: 1, arbitrary: fc.tuple(weighted<'unmap' | 'detach'>([1, 'unmap'], [1, 'detach']), sel).map(([op, sel]): GenCmd => ({ op, sel })) },
  { weight: 2, arbitrary: sel.map((sel): GenCmd => ({ op: 'access', sel })) },
  { weight: 1, arbitrary: sel.map((sel): GenCmd => ({ op: 'close-fd', sel })) },
  { weight: 5, arbitrary: fc.tuple(fc.nat(1), eventArb, sel).map(([dev, event, sel]): GenCmd => ({ op: 'event', dev, event, sel })) },
  { weight: 1, arbitrary: fc.constant<GenCmd>({ op: 'hot-reset' }) },
);

export function genCmdsArb(maxLength = 12): fc.Arbitrary<GenCmd[]> {
  return fc.array(genCmdArb, { minLength: 1, maxLength });
}
