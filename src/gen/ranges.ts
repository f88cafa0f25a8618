// fast-check arbitraries for range lists and conversion cases, biased to
// where bugs live: one page; 4 GiB ± a page; UINT_MAX boundaries; > 8 GiB;
// totals near 2^63 (the SWIOTLB bit) and 2^64; offsets at the BAR end;
// overlapping and duplicate ranges; up to thousands of ranges; 4 KiB and
// 64 KiB pages; BARs from one page to 2^40; every route type; fault plans.
import fc from 'fast-check';
import { exportedMemory, RESMEM_REGION_INDEX, USEMEM_REGION_INDEX, type DmaBufRequest, type DmaRange, type NvgraceMemory, type PhysVec, type VfioDeviceView } from '../../models/pal.ts';
import { MAP_TYPES, type Bar, type MapType } from '../../models/pci/types.ts';
import { U64_MAX, UINT_MAX, alignDown, u64, type PageSize, type U64 } from '../../models/u64.ts';
import type { DmaDir } from '../kernel/dma.ts';
import type { FaultPlan } from '../kernel/faults.ts';
import type { ConversionCase } from '../rules/conversion.ts';
import { fromInput } from '../harness/suite.ts';

export const pageSizeArb: fc.Arbitrary<PageSize> = fc.constantFrom(4096n, 65536n);

/** A page-aligned length, in pages of `page`, biased to the interesting sizes. */
export function lengthArb(page: PageSize, maxBytes: U64 = 1n << 44n): fc.Arbitrary<U64> {
  const four = 1n << 32n;
  const edges = [page, four - page, four, four + page, alignDown(UINT_MAX, page), 2n * four, 2n * four + page, 9n * (1n << 30n), 3n * four - page];
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...edges.filter((e) => e <= maxBytes)) },
    { weight: 3, arbitrary: fc.bigInt({ min: 1n, max: 64n }).map((n) => n * page) },
    { weight: 2, arbitrary: fc.bigInt({ min: 1n, max: maxBytes / page }).map((n) => n * page) },
  );
}

const dirArb: fc.Arbitrary<DmaDir> = fc.constantFrom('DMA_BIDIRECTIONAL', 'DMA_TO_DEVICE', 'DMA_FROM_DEVICE');

/** Route types, most often the two that map. */
export const routeArb: fc.Arbitrary<MapType> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<MapType>('BUS_ADDR', 'THRU_HOST_BRIDGE') },
  { weight: 1, arbitrary: fc.constantFrom(...MAP_TYPES) },
);

/** A fault plan: mostly none, sometimes one fault. */
export const faultPlanArb: fc.Arbitrary<FaultPlan> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<FaultPlan>({ allocFails: [], syncFails: false, iovaRefused: false }) },
  { weight: 1, arbitrary: fc.constant<FaultPlan>({ allocFails: [], syncFails: false, iovaRefused: true }) },
  {
    weight: 2,
    arbitrary: fc.record({
      allocFails: fc.subarray(['dma', 'state', 'sg_table'], { maxLength: 1 }),
      mapFailsAt: fc.option(fc.nat(4), { nil: undefined }),
      linkFailsAt: fc.option(fc.nat(4), { nil: undefined }),
      syncFails: fc.boolean(),
      iovaRefused: fc.boolean(),
    }, { requiredKeys: ['allocFails', 'syncFails', 'iovaRefused'] }) as fc.Arbitrary<FaultPlan>,
  },
);

/** Physical ranges: page aligned, some duplicated or overlapping. */
export function physArb(page: PageSize, maxRanges = 6): fc.Arbitrary<PhysVec[]> {
  const one = fc.record({ paddr: fc.bigInt({ min: 1n, max: 1n << 30n }).map((n) => n * page), len: lengthArb(page) });
  return fc.array(one, { minLength: 1, maxLength: maxRanges }).chain((ranges) =>
    fc.array(fc.nat(ranges.length - 1), { maxLength: 2 }).map((dups) => [...ranges, ...dups.map((i) => ranges[i]!)]),
  );
}

function sumU64(phys: readonly PhysVec[]): U64 {
  return u64(phys.reduce((s, p) => s + p.len, 0n));
}

/** A conversion case: a PAL, its size, the route, the bus offset and the faults. */
export function conversionCaseArb(opts: { maxRanges?: number } = {}): fc.Arbitrary<ConversionCase> {
  return pageSizeArb.chain((pageSize) =>
    fc.record({
      phys: physArb(pageSize, opts.maxRanges),
      route: routeArb,
      busOffset: fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 1n << 20n }).map((n) => n * pageSize)),
      faults: faultPlanArb,
      dir: dirArb,
    }).map((c) => ({ ...c, size: sumU64(c.phys), pageSize })),
  );
}

/** Ranges whose scatterlist entry count passes UINT_MAX (LEN-NENTS). */
export const hugeConversionCaseArb: fc.Arbitrary<ConversionCase> = fc
  .record({
    // Three ranges of at least 3/4 of 2^63: over 2^32 entries at either segment limit.
    lens: fc.array(fc.bigInt({ min: 3n << 49n, max: (1n << 51n) - 1n }).map((n) => n << 12n), { minLength: 3, maxLength: 3 }),
    route: fc.constantFrom<MapType>('BUS_ADDR', 'THRU_HOST_BRIDGE'),
  })
  .map(({ lens, route }) => {
    const phys = lens.map((len, i) => ({ paddr: BigInt(i + 1) << 40n, len }));
    return { phys, size: sumU64(phys), route, busOffset: 0n, pageSize: 4096n, faults: { allocFails: [], syncFails: false, iovaRefused: true }, dir: 'DMA_TO_DEVICE' as const };
  });

/** Many small ranges (up to `max`), the shape of a fragmented GPU buffer. */
export function manyRangesCaseArb(max = 2000): fc.Arbitrary<ConversionCase> {
  return fc.record({ n: fc.integer({ min: 100, max }), route: fc.constantFrom<MapType>('BUS_ADDR', 'THRU_HOST_BRIDGE'), refused: fc.boolean() }).map(({ n, route, refused }) => {
    const phys = Array.from({ length: n }, (_, i) => ({ paddr: (BigInt(i) * 3n + 1n) << 12n, len: 4096n }));
    return { phys, size: BigInt(n) * 4096n, route, busOffset: 0n, pageSize: 4096n as PageSize, faults: { allocFails: [], syncFails: false, iovaRefused: refused }, dir: 'DMA_FROM_DEVICE' as const };
  });
}

// ---- VFIO create requests ------------------------------------------------

/** BARs of a VFIO device: sizes from one page to 2^40, MEM or IO, and sometimes one ending at 2^64. */
export function barsArb(page: PageSize): fc.Arbitrary<Bar[]> {
  const bar = (index: number) =>
    fc.record({
      type: fc.constantFrom<'mem' | 'io'>('mem', 'mem', 'mem', 'io'),
      shift: fc.integer({ min: Number(page === 4096n ? 12n : 16n), max: 40 }),
      top: fc.oneof({ weight: 12, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    }).map(({ type, shift, top }): Bar => {
      const size = 1n << BigInt(shift);
      return { index, type, start: top ? U64_MAX - size + 1n : BigInt(index + 1) << 41n, size, busOffset: 0n };
    });
  return fc.uniqueArray(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 3 }).chain((idx) => fc.tuple(...idx.map(bar)));
}

/** Page-aligned u64 values at the boundaries of the kernel's u64 arithmetic, and a page either side
 *  where that is still a u64: 2^32 (a u32 length or count, UINT_MAX), 2^63 (DMA_IOVA_USE_SWIOTLB, the
 *  top bit of a dma_iova_state size, include/linux/dma-mapping.h: validate_dmabuf_input() refuses a
 *  total with it set, because dma_iova_try_alloc() would WARN on it) and 2^64 (check_add_overflow() on
 *  a u64 sum or on `start + offset + length`). A u64 field drawn from here meets each check on both sides. */
export function u64EdgeArb(page: PageSize): fc.Arbitrary<U64> {
  const b32 = 1n << 32n;
  const b63 = 1n << 63n;
  return fc.constantFrom(b32 - page, b32, b32 + page, b63 - page, b63, b63 + page, U64_MAX - page + 1n);
}

/** The offset of a range of `length` bytes into a region at `start` of `pages` pages: inside the region
 *  (page aligned), a u64 edge, or where the range's end, `start + offset + length` (the sum
 *  vfio_pci_core_fill_phys_vec() checks with check_add_overflow() before comparing the end with the
 *  region's), lands on 2^64 or a page either side of it: the last end that fits u64, and the first two that wrap.
 *  A range longer than the region is past its end from any offset inside it (-EINVAL, as the `past the end`
 *  ranges already are): its offset is a u64 edge or an end at 2^64, where the fill answers otherwise. */
function offsetArb(start: U64, pages: U64, page: PageSize, length: U64): fc.Arbitrary<U64> {
  const ends = [-page, 0n, page].map((d) => (1n << 64n) + d - start - length).filter((o) => o >= 0n && o <= U64_MAX);
  const far = [u64EdgeArb(page), ...(ends.length ? [fc.constantFrom(...ends)] : [])];
  return length > pages * page ? fc.oneof(...far) : fc.oneof(fc.bigInt({ min: 0n, max: pages - 1n }).map((o) => o * page), ...far);
}

/** A range relative to a BAR at `start` of `size`: inside, at the end, past the end, unaligned, empty,
 *  or with its length at a u64 edge or one page, and its offset as offsetArb places it (each u64 quantity
 *  on its own: a length with the SWIOTLB bit and an end that wraps u64 are different checks, and each
 *  must be met with the other sane). */
function rangeArb(start: U64, size: U64, page: PageSize): fc.Arbitrary<DmaRange> {
  const pages = size / page;
  const edge = fc.oneof(fc.constant(page), u64EdgeArb(page)).chain((length) => offsetArb(start, pages, page, length).map((offset) => ({ offset, length })));
  return fc.oneof(
    { weight: 6, arbitrary: fc.tuple(fc.bigInt({ min: 0n, max: pages - 1n }), fc.bigInt({ min: 1n, max: pages })).map(([o, l]) => ({ offset: o * page, length: (l < pages - o ? l : pages - o) * page })) },
    { weight: 1, arbitrary: fc.constant({ offset: size - page, length: page }) },
    { weight: 1, arbitrary: fc.constant({ offset: size - page, length: 2n * page }) },
    { weight: 1, arbitrary: fc.constantFrom({ offset: 0n, length: 0n }, { offset: 1n, length: page }, { offset: 0n, length: page + 1n }) },
    { weight: 1, arbitrary: edge },
  );
}

/** 1 to 4 ranges whose lengths add up to a u64 boundary: a u64 edge, or 2^64 itself or a page past it
 *  (a sum that wraps to 0 or to one page), each offset as offsetArb places it.
 *  validate_dmabuf_input() judges the total, not each length: the total crosses 2^63 or 2^64 from
 *  lengths that each stay well below it, and a wrapped total looks small to whatever comes after. */
function boundaryTotalArb(start: U64, size: U64, page: PageSize): fc.Arbitrary<DmaRange[]> {
  const pages = size / page;
  const total = fc.oneof(u64EdgeArb(page), fc.constantFrom(1n << 64n, (1n << 64n) + page));
  return fc.tuple(total, fc.array(fc.integer({ min: 1, max: 255 }), { minLength: 1, maxLength: 4 })).chain(([t, some]) => {
    // A length is a u64 field: a total of 2^64 or more takes two ranges at least.
    const shares = t > U64_MAX && some.length === 1 ? [some[0]!, some[0]!] : some;
    const all = shares.reduce((a, b) => a + b, 0);
    const lens = shares.slice(0, -1).map((w) => alignDown((t * BigInt(w)) / BigInt(all), page));
    lens.push(t - lens.reduce((a, b) => a + b, 0n));
    return fc.tuple(...lens.map((len) => offsetArb(start, pages, page, len))).map((offs) => offs.map((offset, i) => ({ offset, length: lens[i]! })));
  });
}

/** nvgrace-gpu device memory (002 v8 11/11), both regions page-multiple and placed high. usemem is
 *  always there; resmem is there only on Grace Hopper, and absent (memlength 0, memphys 0 as the
 *  kzalloc'd nvdev leaves it) in 2 devices of 5. torvalds/linux drivers/vfio/pci/nvgrace-gpu/main.c at
 *  1b0ecb5baf4a, nvgrace_gpu_init_nvdev_struct(): resmem is carved out (SZ_1G) only when has_mig_hw_bug;
 *  "This hardware bug is fixed on the Grace Blackwell platforms [...] the entire memory is usable and
 *  mapped as NORMAL cached (i.e. resmem size is 0)", and nvgrace_gpu_has_mig_hw_bug() is false when the
 *  GPU's DVSEC says MIG_SUPPORTED_WITH_CACHED_RESMEM. The driver's ID table lists three Grace Hopper
 *  SKUs (GH200) and two Grace Blackwell (GB200, GB300): hence 2 in 5. usemem is never empty on a device
 *  that has device memory: nvgrace_gpu_fetch_memory_property() fails a size of 0 (-ENOMEM, the C2C link
 *  down) and the probe then takes the plain vfio-pci core ops (no device memory: `nvgrace` undefined
 *  here), and a Grace Hopper usemem rounded down to 0 fails the probe (-EINVAL).
 *  Without resmem, nvgrace_get_dmabuf_phys() (nvgrace_gpu_memregion() likewise) hands region 2 on to
 *  vfio_pci_core_get_dmabuf_phys(): the device's own BAR 2 answers. Only a MEM BAR 2 tells that from
 *  the resmem path (an absent one is -EINVAL either way), so such a device has one half the time
 *  (`bar2`, added by palCaseArb when barsArb drew none). */
function nvgraceArb(page: PageSize): fc.Arbitrary<{ memory: NvgraceMemory; bar2: Bar | null }> {
  const region = (base: bigint) => fc.integer({ min: 1, max: 1 << 12 }).map((n) => ({ memphys: base, memlength: BigInt(n) * page }));
  const bar2 = fc.integer({ min: page === 4096n ? 12 : 16, max: 40 }).map((shift): Bar => ({ index: RESMEM_REGION_INDEX, type: 'mem', start: 3n << 41n, size: 1n << BigInt(shift), busOffset: 0n }));
  const withResmem = fc.record({ resmem: region(0x40_0000_0000n), usemem: region(0x80_0000_0000n) }).map((memory) => ({ memory, bar2: null }));
  const noResmem = fc.tuple(region(0x80_0000_0000n), fc.option(bar2, { nil: null, freq: 2 })).map(([usemem, b]) => ({ memory: { resmem: { memphys: 0n, memlength: 0n }, usemem }, bar2: b }));
  return fc.oneof({ weight: 3, arbitrary: withResmem }, { weight: 2, arbitrary: noResmem });
}

export interface PalCase {
  readonly view: VfioDeviceView;
  readonly req: DmaBufRequest;
}

/** A VFIO device and a VFIO_DEVICE_FEATURE_DMA_BUF request against it. */
export const palCaseArb: fc.Arbitrary<PalCase> = pageSizeArb.chain((page) =>
  fc.record({ bars: barsArb(page), nv: fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: nvgraceArb(page) }), hasOps: fc.oneof({ weight: 12, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), alive: fc.oneof({ weight: 12, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }), p2pdma: fc.oneof({ weight: 8, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) }).chain(({ bars: drawn, nv, hasOps, alive, p2pdma }) => {
    const nvgrace = nv?.memory;
    const some = nv?.bar2 && !drawn.some((b) => b.index === RESMEM_REGION_INDEX) ? [...drawn, nv.bar2].sort((a, b) => a.index - b.index) : drawn;
    // nvgrace exports its device memory through BAR 0's provider: give it one.
    const bars = nvgrace && !some.some((b) => b.index === 0) ? [{ index: 0, type: 'mem' as const, start: 1n << 41n, size: 1n << 24n, busOffset: 0n }, ...some] : some;
    const view: VfioDeviceView = {
      hasGetDmabufPhys: hasOps, bars, registrationAlive: alive, pageSize: page, ...(nvgrace ? { nvgrace } : {}),
      provider: (i) => {
        const b = bars.find((x) => x.index === i);
        return p2pdma && b?.type === 'mem' ? { owner: 'vdev', bar: i, busOffset: b.busOffset } : null;
      },
    };
    const nvRegions = nvgrace ? [RESMEM_REGION_INDEX, USEMEM_REGION_INDEX] : [];
    const region = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...bars.map((b) => b.index), ...nvRegions, ...nvRegions) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 8 }) });
    return region.chain((regionIndex) => {
      const mem = exportedMemory(view, regionIndex);
      const size = mem && mem.len > 0n ? mem.len : page;
      const start = mem?.start ?? 0n;
      const some = fc.array(rangeArb(start, size, page), { minLength: 1, maxLength: 5 }).chain((rs) => fc.array(fc.nat(rs.length - 1), { maxLength: 2 }).map((d) => [...rs, ...d.map((i) => rs[i]!)]));
      const ranges = fc.oneof({ weight: 4, arbitrary: some }, { weight: 1, arbitrary: boundaryTotalArb(start, size, page) });
      return fc.record({
        ranges,
        flags: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
        short: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 }) }),
        empty: fc.oneof({ weight: 20, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
      }).map(({ ranges, flags, short, empty }): PalCase => ({
        view,
        req: { regionIndex, openFlags: 0, flags, nrRanges: empty ? 0 : ranges.length + short, ranges },
      }));
    });
  }),
);

/** A PAL case back from its JSON input (the convert suite's `kind: 'pal'` and `'export'` inputs). */
export function palCaseOf(input: unknown): PalCase {
  const i = fromInput<{ bars: PalCase['view']['bars']; req: PalCase['req']; hasOps: boolean; alive: boolean; pageSize: PalCase['view']['pageSize']; p2pdma?: boolean; nvgrace?: PalCase['view']['nvgrace'] }>(input);
  const provider = (bar: number) => {
    const b = i.bars.find((x) => x.index === bar);
    return i.p2pdma !== false && b?.type === 'mem' ? { owner: 'vdev', bar, busOffset: b.busOffset } : null;
  };
  return { view: { hasGetDmabufPhys: i.hasOps, bars: i.bars, registrationAlive: i.alive, pageSize: i.pageSize, provider, ...(i.nvgrace ? { nvgrace: i.nvgrace } : {}) }, req: i.req };
}
