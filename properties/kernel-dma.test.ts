// DMA-API debug (src/kernel/dma.ts) against a tiny model: every subcase of
// DMA-UNMAP (never mapped, double unmap, wrong size, wrong direction),
// DMA-ERRCHECK, and DMA-IOVA (link past the allocation, overlapping links,
// operations on a dead allocation, destroy with the wrong size, free with
// links in place) is reported exactly when the model says; right usage is
// silent and leaves nothing live; checkers off keeps semantics, reports nothing.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DmaApi, newIovaState, type DmaDir, type DmaIovaState } from '../src/kernel/dma.ts';
import { NO_FAULTS } from '../src/kernel/faults.ts';
import type { RuleId } from '../src/rules/registry.ts';
import { ViolationLog } from '../src/rules/violation.ts';
import { budget } from './budget.ts';
import { expectRules, Op, reported } from './kernel-ops.ts';

const PAGE = 4096n;
const dir = fc.constantFrom<DmaDir>('DMA_BIDIRECTIONAL', 'DMA_TO_DEVICE', 'DMA_FROM_DEVICE');
const pages = fc.integer({ min: 1, max: 4 }).map((n) => BigInt(n) * PAGE);

// ---- dma_map_phys / dma_mapping_error / dma_unmap_phys
interface MapModel { readonly checkers: boolean; readonly live: { addr: bigint; size: bigint; dir: DmaDir; checked: boolean }[]; readonly gone: { addr: bigint; size: bigint }[] }
interface MapReal { readonly log: ViolationLog; readonly dma: DmaApi }

const mapCmds = [
  fc.record({ page: fc.nat(7), size: pages, dir }).map(({ page, size, dir }) => new Op<MapModel, MapReal>(`map(${page}, ${size}, ${dir})`, (m, r) => {
    const paddr = 0x1_0000_0000n + BigInt(page) * 0x10_0000n;
    if (m.live.some((x) => x.addr === paddr)) return;
    expect(r.dma.dma_map_phys(paddr, size, dir)).toBe(paddr);
    m.live.push({ addr: paddr, size, dir, checked: false });
  })),
  fc.nat().map((i) => new Op<MapModel, MapReal>(`check(#${i})`, (m, r) => {
    const x = m.live[i % Math.max(1, m.live.length)];
    if (!x) return;
    expect(r.dma.dma_mapping_error(x.addr)).toBe(0);
    x.checked = true;
  })),
  fc.record({ i: fc.nat(), sizeOff: fc.boolean(), dirOff: fc.boolean() }).map(({ i, sizeOff, dirOff }) => new Op<MapModel, MapReal>(`unmap(#${i}${sizeOff ? ', wrong size' : ''}${dirOff ? ', wrong dir' : ''})`, async (m, r) => {
    const x = m.live[i % Math.max(1, m.live.length)];
    if (!x) return;
    const d: DmaDir = dirOff ? (x.dir === 'DMA_TO_DEVICE' ? 'DMA_FROM_DEVICE' : 'DMA_TO_DEVICE') : x.dir;
    const size = sizeOff ? x.size + PAGE : x.size;
    const got = await reported(r.log, () => r.dma.dma_unmap_phys(x.addr, size, d));
    expectRules(got, [...(sizeOff ? ['DMA-UNMAP' as const] : []), ...(dirOff ? ['DMA-UNMAP' as const] : []), ...(x.checked ? [] : ['DMA-ERRCHECK' as const])], m.checkers);
    m.live.splice(m.live.indexOf(x), 1);
    m.gone.push({ addr: x.addr, size });
  })),
  fc.nat().map((i) => new Op<MapModel, MapReal>(`unmap-again(#${i})`, async (m, r) => {
    const g = m.gone[i % Math.max(1, m.gone.length)];
    if (!g || m.live.some((x) => x.addr === g.addr)) return;
    const got = await reported(r.log, () => r.dma.dma_unmap_phys(g.addr, g.size, 'DMA_BIDIRECTIONAL'));
    expectRules(got, ['DMA-UNMAP'], m.checkers);
    if (m.checkers) expect(got[0]!.message).toMatch(/^double unmap of /);
  })),
  fc.nat(7).map((page) => new Op<MapModel, MapReal>(`unmap-never-mapped(${page})`, async (m, r) => {
    const addr = 0x9_0000_0000n + BigInt(page) * PAGE;
    const got = await reported(r.log, () => r.dma.dma_unmap_phys(addr, PAGE, 'DMA_BIDIRECTIONAL'));
    expectRules(got, ['DMA-UNMAP'], m.checkers);
    if (m.checkers) expect(got[0]!.message).toMatch(/which was never mapped$/);
  })),
];

// ---- dma_iova_try_alloc / link / sync / destroy / free
interface IovaModel { readonly checkers: boolean; size: bigint; alive: boolean; links: { offset: bigint; size: bigint }[] }
interface IovaReal { readonly log: ViolationLog; readonly dma: DmaApi; readonly state: DmaIovaState }

const linked = (m: IovaModel) => m.links.reduce((s, l) => s + l.size, 0n);
const deadRule = (m: IovaModel): RuleId[] => (m.alive ? [] : ['DMA-IOVA']);

const iovaCmds = [
  fc.record({ at: fc.nat(5).map((n) => BigInt(n) * PAGE), size: pages }).map(({ at, size }) => new Op<IovaModel, IovaReal>(`link(${at}, ${size})`, async (m, r) => {
    const got = await reported(r.log, () => r.dma.dma_iova_link(r.state, 0x2_0000_0000n + at, at, size, 'DMA_BIDIRECTIONAL'));
    if (!m.alive) return expectRules(got, deadRule(m), m.checkers);
    const past = at + size > m.size;
    const overlaps = m.links.some((l) => at < l.offset + l.size && l.offset < at + size);
    expectRules(got, [...(past ? ['DMA-IOVA' as const] : []), ...(overlaps ? ['DMA-IOVA' as const] : [])], m.checkers);
    m.links.push({ offset: at, size });
  })),
  fc.constant(new Op<IovaModel, IovaReal>('sync', async (m, r) => {
    const got = await reported(r.log, () => expect(r.dma.dma_iova_sync(r.state, 0n, linked(m))).toBe(0));
    expectRules(got, deadRule(m), m.checkers);
  })),
  fc.boolean().map((wrong) => new Op<IovaModel, IovaReal>(`destroy(${wrong ? 'wrong size' : 'linked size'})`, async (m, r) => {
    const end = m.links.reduce((e, l) => (l.offset + l.size > e ? l.offset + l.size : e), 0n);
    const len = linked(m) + (wrong ? PAGE : 0n);
    const got = await reported(r.log, () => r.dma.dma_iova_destroy(r.state, len, 'DMA_BIDIRECTIONAL'));
    expectRules(got, m.alive ? (wrong || len < end ? ['DMA-IOVA'] : []) : deadRule(m), m.checkers);
    Object.assign(m, { alive: false, links: [] });
  })),
  fc.constant(new Op<IovaModel, IovaReal>('free', async (m, r) => {
    const got = await reported(r.log, () => r.dma.dma_iova_free(r.state));
    expectRules(got, m.alive ? (m.links.length ? ['DMA-IOVA'] : []) : deadRule(m), m.checkers);
    Object.assign(m, { alive: false, links: [] });
  })),
];

describe('DMA-API debug against a model', () => {
  it('map/check/unmap: never mapped, double, wrong size, wrong direction are DMA-UNMAP; an unchecked mapping is DMA-ERRCHECK at unmap', async () => {
    await fc.assert(fc.asyncProperty(fc.boolean(), fc.commands(mapCmds, { maxCommands: 30 }), async (checkers, cmds) => {
      const log = new ViolationLog();
      await fc.asyncModelRun(() => ({ model: { checkers, live: [], gone: [] }, real: { log, dma: new DmaApi(log, PAGE, NO_FAULTS, checkers) } }), cmds);
    }), { numRuns: budget(200) });
  });

  it('IOVA: links past the allocation or over another link, destroy with a size other than what is linked, free with links, anything on a dead allocation are DMA-IOVA', async () => {
    await fc.assert(fc.asyncProperty(fc.boolean(), pages.map((p) => p * 4n), fc.commands(iovaCmds, { maxCommands: 12 }), async (checkers, size, cmds) => {
      const log = new ViolationLog();
      const dma = new DmaApi(log, PAGE, NO_FAULTS, checkers);
      const state = newIovaState();
      expect(dma.dma_iova_try_alloc(state, 0x2_0000_0000n, size)).toBe(true);
      await fc.asyncModelRun(() => ({ model: { checkers, size, alive: true, links: [] }, real: { log, dma, state } }), cmds);
    }), { numRuns: budget(200) });
  });

  it('right usage is silent and leaves nothing live: checked maps unmapped as mapped, links inside the allocation destroyed with their size', () => {
    fc.assert(fc.property(fc.array(fc.tuple(pages, dir), { maxLength: 8 }), (maps) => {
      const log = new ViolationLog();
      const dma = new DmaApi(log, PAGE);
      const addrs = maps.map(([size, d], i) => {
        const a = dma.dma_map_phys(0x1_0000_0000n + BigInt(i) * 0x10_0000n, size, d);
        expect(dma.dma_mapping_error(a)).toBe(0);
        return a;
      });
      const total = maps.reduce((s, [size]) => s + size, 0n);
      const state = newIovaState();
      if (total > 0n && dma.dma_iova_try_alloc(state, 0x2_0000_0000n, total)) {
        let at = 0n;
        for (const [size] of maps) at += (dma.dma_iova_link(state, 0x2_0000_0000n + at, at, size, 'DMA_BIDIRECTIONAL'), size);
        expect(dma.dma_iova_sync(state, 0n, total)).toBe(0);
        expect(dma.iovaCoverage(state.alloc, 0n, total)).toEqual({ linked: true, synced: true });
        dma.dma_iova_destroy(state, total, 'DMA_BIDIRECTIONAL');
      }
      maps.forEach(([size, d], i) => dma.dma_unmap_phys(addrs[i]!, size, d));
      expect(log.violations).toEqual([]);
      expect(dma.live()).toEqual({ mappings: 0, iovas: 0 });
    }), { numRuns: budget(100) });
  });

  it('injected faults: the k-th map returns DMA_MAPPING_ERROR, the k-th link and the sync -ENOMEM, a refused IOVA zeroes the state', () => {
    const log = new ViolationLog();
    const dma = new DmaApi(log, PAGE, { allocFails: [], mapFailsAt: 1, linkFailsAt: 0, syncFails: true, iovaRefused: false });
    expect(dma.dma_mapping_error(dma.dma_map_phys(0x1000n, PAGE, 'DMA_TO_DEVICE'))).toBe(0);
    expect(dma.dma_mapping_error(dma.dma_map_phys(0x2000n, PAGE, 'DMA_TO_DEVICE'))).toBe(-12);
    const state = newIovaState();
    expect(dma.dma_iova_try_alloc(state, 0n, PAGE)).toBe(true);
    expect([dma.dma_iova_link(state, 0n, 0n, PAGE, 'DMA_TO_DEVICE'), dma.dma_iova_sync(state, 0n, PAGE)]).toEqual([-12, -12]);
    const refused = new DmaApi(log, PAGE, { ...NO_FAULTS, iovaRefused: true });
    expect([refused.dma_iova_try_alloc(state, 0n, PAGE), state]).toEqual([false, newIovaState()]);
    expect(log.violations).toEqual([]);
  });
});
