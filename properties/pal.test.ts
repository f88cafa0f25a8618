import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fillPhysVec, validateRanges, vfioDmaBufCreate, type VfioDeviceView } from '../models/pal.ts';
import { palCaseArb } from '../src/gen/ranges.ts';
import { PAL_CREATE, barEndsAtTop, checkPal, createText, explainTopBar, type PalImpl } from '../src/rules/pal.ts';
import { createOps, vfioDmaBufPhysFromRequest } from '../src/impl/vfio/dmabuf_phys.ts';
import { ok } from '../models/errno.ts';
import { U64_MAX } from '../models/u64.ts';
import { PAL_BUGS, seededBugs } from '../src/bugs/index.ts';
import { allTargets } from '../src/harness/targets.ts';
import { DEFAULT_RUNS } from '../src/commands/run.ts';

const PAL_IMPLS = [PAL_CREATE, ...PAL_BUGS];
import { ViolationLog } from '../src/rules/violation.ts';
import type { RuleId } from '../src/rules/registry.ts';
import { budget } from './budget.ts';

function run(name: string, view: VfioDeviceView, req: Parameters<typeof checkPal>[2]) {
  const log = new ViolationLog();
  checkPal(PAL_IMPLS.find((i) => i.name === name)!, view, req, log);
  return log;
}

describe('PAL: the VFIO create path agrees with the model', () => {
  it('errno in the kernel order, or the PAL exactly, for every generated request', () => {
    fc.assert(fc.property(palCaseArb, ({ view, req }) => {
      const log = run('vfio_pci_core_feature_dma_buf', view, req);
      // The one documented divergence: a BAR that ends exactly at 2^64 (FINDINGS.md).
      if (barEndsAtTop(view, req)) return;
      expect(log.violations).toEqual([]);
    }), { numRuns: budget(400) });
  });

  for (const impl of PAL_IMPLS.filter((i) => i.bugOf)) {
    it(`${impl.name} is caught as ${impl.bugOf}`, () => {
      // A BAR that ends at 2^64 is the faithful create's own PAL-INPUT (the documented finding): not the bug's.
      const out = fc.check(fc.property(palCaseArb, ({ view, req }) => barEndsAtTop(view, req) || !run(impl.name, view, req).has(impl.bugOf as RuleId)), { numRuns: 3000, seed: 7 });
      expect(out.failed).toBe(true);
      const [{ view, req }] = out.counterexample!;
      expect(run(impl.name, view, req).rules()).toContain(impl.bugOf);
      expect(req.ranges.length).toBeLessThanOrEqual(3);
    });
  }
});

const page = 4096n;
const bar0 = { index: 0, type: 'mem' as const, start: 0x100000000n, size: 0x10000n, busOffset: 0n };
const view: VfioDeviceView = { hasGetDmabufPhys: true, bars: [bar0], registrationAlive: true, pageSize: page, provider: (i) => (i === 0 ? { owner: 'd', bar: 0, busOffset: 0n } : null) };
const req = (ranges: { offset: bigint; length: bigint }[], more: Partial<Parameters<typeof vfioDmaBufCreate>[1]> = {}) => ({ regionIndex: 0, openFlags: 0, flags: 0, nrRanges: ranges.length, ranges, ...more });

describe('PAL: the kernel order of errors (hand-worked)', () => {
  it('checks in the order of vfio_pci_core_feature_dma_buf', () => {
    expect(vfioDmaBufCreate({ ...view, hasGetDmabufPhys: false }, req([]))).toEqual({ ok: false, errno: '-EOPNOTSUPP' });
    expect(vfioDmaBufCreate(view, req([]))).toEqual({ ok: false, errno: '-EINVAL' });
    expect(vfioDmaBufCreate(view, req([{ offset: 0n, length: page }], { flags: 1 }))).toEqual({ ok: false, errno: '-EINVAL' });
    expect(vfioDmaBufCreate(view, req([{ offset: 0n, length: page }], { regionIndex: 6 }))).toEqual({ ok: false, errno: '-ENODEV' });
    expect(vfioDmaBufCreate(view, req([{ offset: 0n, length: page }], { nrRanges: 2 }))).toEqual({ ok: false, errno: '-EFAULT' });
    expect(vfioDmaBufCreate(view, req([{ offset: 0n, length: 0n }]))).toEqual({ ok: false, errno: '-EINVAL' });
    expect(vfioDmaBufCreate(view, req([{ offset: 1n, length: page }]))).toEqual({ ok: false, errno: '-EINVAL' });
    expect(vfioDmaBufCreate(view, req([{ offset: 0n, length: page }], { regionIndex: 1 }))).toEqual({ ok: false, errno: '-EINVAL' }); // no provider
    expect(vfioDmaBufCreate(view, req([{ offset: 0xfffffffffffff000n, length: 0x100000000000n }]))).toEqual({ ok: false, errno: '-EOVERFLOW' });
    expect(vfioDmaBufCreate(view, req([{ offset: 0xf000n, length: 2n * page }]))).toEqual({ ok: false, errno: '-EINVAL' }); // past the BAR
    expect(vfioDmaBufCreate({ ...view, registrationAlive: false }, req([{ offset: 0n, length: page }]))).toEqual({ ok: false, errno: '-ENODEV' });
  });
  it('the SWIOTLB bit and u64 overflow of the total are -EINVAL before anything else about the BAR', () => {
    expect(validateRanges([{ offset: 0n, length: 1n << 63n }], page)).toEqual({ ok: false, errno: '-EINVAL' });
    expect(validateRanges([{ offset: 0n, length: (1n << 63n) - page }, { offset: 0n, length: page }], page)).toEqual({ ok: false, errno: '-EINVAL' });
    expect(validateRanges([{ offset: 0n, length: 1n << 62n }, { offset: 0n, length: 1n << 62n }], page)).toEqual({ ok: false, errno: '-EINVAL' });
    expect(validateRanges([{ offset: 0n, length: (1n << 63n) - page }], page)).toEqual({ ok: true, value: (1n << 63n) - page });
  });
  it('overlapping and duplicate ranges are legal and kept in request order', () => {
    const r = vfioDmaBufCreate(view, req([{ offset: page, length: 2n * page }, { offset: 0n, length: 2n * page }, { offset: page, length: 2n * page }]));
    expect(r).toEqual({ ok: true, value: { size: 6n * page, provider: { owner: 'd', bar: 0, busOffset: 0n }, phys: [
      { paddr: 0x100001000n, len: 2n * page }, { paddr: 0x100000000n, len: 2n * page }, { paddr: 0x100001000n, len: 2n * page },
    ] } });
    expect(fillPhysVec([{ offset: 0n, length: 0n }], 0n, page)).toEqual({ ok: false, errno: '-EINVAL' });
  });
  it('nvgrace exports device memory (resmem BAR 2, usemem BAR 4) through BAR 0\'s provider', () => {
    const nv: VfioDeviceView = { ...view, nvgrace: { resmem: { memphys: 0x4000000000n, memlength: 0x200000n }, usemem: { memphys: 0x8000000000n, memlength: 0x400000n } } };
    expect(vfioDmaBufCreate(nv, req([{ offset: 0n, length: page }], { regionIndex: 2 }))).toMatchObject({ ok: true, value: { phys: [{ paddr: 0x4000000000n, len: page }] } });
    expect(vfioDmaBufCreate(nv, req([{ offset: 0x3ff000n, length: page }], { regionIndex: 4 }))).toMatchObject({ ok: true, value: { phys: [{ paddr: 0x80003ff000n }] } });
    expect(vfioDmaBufCreate(nv, req([{ offset: 0x400000n, length: page }], { regionIndex: 4 }))).toEqual({ ok: false, errno: '-EINVAL' });
    const noRes: VfioDeviceView = { ...nv, nvgrace: { ...nv.nvgrace!, resmem: { memphys: 0n, memlength: 0n } } };
    expect(vfioDmaBufCreate(noRes, req([{ offset: 0n, length: page }], { regionIndex: 2 }))).toEqual({ ok: false, errno: '-EINVAL' }); // no BAR 2 provider
    const log = new ViolationLog();
    for (const r of [2, 4, 0]) checkPal(PAL_IMPLS[0]!, nv, req([{ offset: 0n, length: page }], { regionIndex: r }), log);
    expect(log.violations).toEqual([]);
  });
});

describe('PAL: nvgrace-gpu devices without resmem (Grace Blackwell)', () => {
  const cases = fc.sample(palCaseArb, { seed: 3, numRuns: 4000 });
  const nv = cases.filter((c) => c.view.nvgrace);

  it('2 nvgrace devices in 5 have no resmem (memlength 0 at 0); usemem is never empty', () => {
    const none = nv.filter((c) => c.view.nvgrace!.resmem.memlength === 0n);
    expect(none.length / nv.length).toBeGreaterThan(0.3);
    expect(none.length / nv.length).toBeLessThan(0.5);
    expect(none.every((c) => c.view.nvgrace!.resmem.memphys === 0n)).toBe(true);
    expect(nv.every((c) => c.view.nvgrace!.usemem.memlength > 0n)).toBe(true);
  });

  it('region 2 of such a device, which vfio_pci_core_get_dmabuf_phys() serves from a MEM BAR 2 with a provider, in 1 case of 100 at least', () => {
    const served = cases.filter((c) => c.view.nvgrace?.resmem.memlength === 0n && c.req.regionIndex === 2 && c.view.bars.some((b) => b.index === 2 && b.type === 'mem') && c.view.provider(2));
    expect(served.length / cases.length).toBeGreaterThan(0.01);
    // The model answers it from BAR 2, as the faithful create does.
    const bar2 = { index: 2, type: 'mem' as const, start: 0x300000000n, size: 0x10000n, busOffset: 0n };
    const gb: VfioDeviceView = { ...view, bars: [bar0, bar2], provider: (i) => (i <= 2 ? { owner: 'd', bar: i, busOffset: 0n } : null), nvgrace: { resmem: { memphys: 0n, memlength: 0n }, usemem: { memphys: 0x8000000000n, memlength: 0x400000n } } };
    expect(vfioDmaBufCreate(gb, req([{ offset: 0n, length: page }], { regionIndex: 2 }))).toMatchObject({ ok: true, value: { phys: [{ paddr: 0x300000000n, len: page }] } });
    expect(run('vfio_pci_core_feature_dma_buf', gb, req([{ offset: 0n, length: page }], { regionIndex: 2 })).violations).toEqual([]);
    expect(run('bug:pal-nvgrace-resmem-unchecked', gb, req([{ offset: 0n, length: page }], { regionIndex: 2 })).rules()).toEqual(['PAL-INPUT']);
  });

  it('the convert suite finds a create that takes an empty resmem as region 2, under PAL-INPUT at the default budget, on every seed tried', async () => {
    const targets = allTargets(seededBugs().filter((b) => b.plugin.name === 'bug:pal-nvgrace-resmem-unchecked').map((b) => b.plugin));
    const [target] = targets.filter((t) => t.part === 'pal');
    for (const seed of [1, 2, 3]) {
      const { failures } = await target!.search(seed, DEFAULT_RUNS, new Set());
      expect(failures.flatMap((f) => f.violations.map((v) => v.rule))).toContain('PAL-INPUT');
    }
  });
});

describe('PAL finding: a BAR that ends exactly at 2^64', () => {
  const top = { index: 0, type: 'mem' as const, start: (1n << 64n) - (1n << 32n), size: 1n << 32n, busOffset: 0n };
  const onTop = { ...view, bars: [top] };
  /** A create whose validate_dmabuf_input() dropped the DMA_IOVA_USE_SWIOTLB check (a user's bug, not the finding). */
  const noSwiotlbCheck: PalImpl = { name: 'no-swiotlb-check', create: (v, r) => vfioDmaBufPhysFromRequest(v, r, { ...createOps(v), validate_dmabuf_input: (ranges) => ok(ranges.reduce((n, x) => (n + x.length) & U64_MAX, 0n)) }) };
  const judge = (impl: PalImpl, r: ReturnType<typeof req>) => {
    const log = new ViolationLog();
    checkPal(impl, onTop, r, log);
    return log.violations.map((v) => ({ rule: v.rule, finding: explainTopBar(onTop, r, v) }));
  };

  it('explains the faithful create\'s -EINVAL on such a BAR, and not another bug\'s PAL-INPUT on the same BAR', () => {
    // A valid page: the faithful create refuses it (max_addr wraps), the model accepts it: the finding.
    expect(judge(PAL_CREATE, req([{ offset: 0n, length: page }]))).toEqual([{ rule: 'PAL-INPUT', finding: 'bar-ends-at-2^64' }]);
    // Two ranges whose total has bit 63 set: the model and the faithful create refuse -EINVAL (the SWIOTLB bit);
    // a create without that check answers otherwise on this BAR, and that is a new violation, not the finding.
    const bit63 = req([{ offset: 0n, length: 1n << 62n }, { offset: 0n, length: 1n << 62n }]);
    expect(judge(PAL_CREATE, bit63)).toEqual([]);
    const got = judge(noSwiotlbCheck, bit63);
    expect(got.map((v) => v.rule)).toContain('PAL-INPUT');
    expect(got.every((v) => v.finding === null)).toBe(true);
  });

  it('the port rejects every range (max_addr = start + len wraps to 0); the model accepts them', () => {
    const top = { index: 0, type: 'mem' as const, start: (1n << 64n) - 0x10000n, size: 0x10000n, busOffset: 0n };
    const v = { ...view, bars: [top] };
    const r = req([{ offset: 0n, length: page }]);
    expect(vfioDmaBufCreate(v, r).ok).toBe(true);
    const log = run('vfio_pci_core_feature_dma_buf', v, r);
    expect(log.violations.map((x) => x.rule)).toEqual(['PAL-INPUT']);
    expect(log.violations[0]!.message).toBe('create(region 0, 0x0+0x1000) returned -EINVAL, the model says ok');
  });

  it("a PAL-INPUT line names the request: its region and each range it reads (a user could not tell which one the create refused)", () => {
    // The new user's fill: bounds checked on offset + length in u64 without check_add_overflow(), -EINVAL where the kernel says -EOVERFLOW.
    const wraps: PalImpl = { name: 'wrapping-end', create: (v, r) => (r.ranges.some((x) => ((x.offset + x.length) & U64_MAX) > v.bars[0]!.size) ? { ok: false, errno: '-EINVAL' } : PAL_CREATE.create(v, r)) };
    const r = req([{ offset: 0n, length: page }, { offset: 0xffffffff00000000n, length: page }]);
    const log = new ViolationLog();
    checkPal(wraps, view, r, log);
    expect(vfioDmaBufCreate(view, r)).toEqual({ ok: false, errno: '-EOVERFLOW' });
    expect(log.violations.map((v) => v.message)).toEqual(['create(region 0, 0x0+0x1000 0xffffffff00000000+0x1000) returned -EINVAL, the model says -EOVERFLOW']);
    // Entries past nr_ranges are not read: counted, not listed; a request of none says so.
    expect(createText({ regionIndex: 2, nrRanges: 1, ranges: [{ offset: 0x2000n, length: page }, { offset: 0n, length: page }] })).toBe('create(region 2, 0x2000+0x1000, 1 more past nr_ranges)');
    expect(createText({ regionIndex: 0, nrRanges: 0, ranges: [] })).toBe('create(region 0, no ranges)');
  });
});
