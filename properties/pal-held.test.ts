// PAL-FILL and PAL-LIST on the phys_vec a VFIO exporter's dma-buf holds
// (rules/pal.ts heldPhysVec, checkHeldPal): at the lifecycle's create and map
// and in the export part, for any exporter with `vfio: true`, written as a
// user writes one (through the public entry, src/index.ts). A wrong PAL is
// filed once, as itself: the map of that dma-buf is not judged against the
// model's PAL again (no LEN-ADDR, ROUTE-BUSADDR, LEN-SUM, DMA-IOVA knock-ons).
import { describe, expect, it } from 'vitest';
import {
  V8_PORT, VfioPciDmabufOps, createAndExport, dma_buf_fd, dma_buf_put, heldPhysVec, list_del, ok, vfio_pci_core_get_dmabuf_phys, vfioDmaBufPhysFromRequest, vfioExporter,
  type DmaBuf, type DmaBufAttachment, type DmaDir, type GetDmabufPhys, type VfioDmabufPort,
} from '../src/index.ts';
import { dmaImporter, iommufdImporter, vfioPci } from '../src/harness/bundled.ts';
import { runLifecycle } from '../src/harness/lifecycle.ts';
import { lifecycleConfig } from '../src/harness/suites/lifecycle.ts';
import { exportTargets } from '../src/harness/suites/export.ts';
import { toInput } from '../src/harness/suite.ts';
import type { ExporterPlugin } from '../src/harness/plugin.ts';
import type { LcCmd } from '../models/lifecycle.ts';
import { barStart, type LcSetup } from '../src/gen/lifecycle.ts';
import { runConversion, type ConversionCase } from '../src/rules/conversion.ts';
import { MAINLINE_PHYS_VEC_TO_SGT } from '../src/rules/conversion-impls.ts';
import { NO_FAULTS } from '../src/kernel/faults.ts';
import { KObj } from '../src/kernel/objects.ts';

const PAGE = 0x1000n;
const BAR = barStart(0);
const SETUP: LcSetup = { bars: [{ index: 0, type: 'mem', start: BAR, size: 0x100000n, busOffset: 0n }], pageSize: PAGE, dmaRoute: 'THRU_HOST_BRIDGE', iova: false };
const cfgOf = (p: ExporterPlugin) => lifecycleConfig(p, { dma: dmaImporter, iommufd: iommufdImporter });
const run = (p: ExporterPlugin, cmds: LcCmd[]) => runLifecycle(cfgOf(p), cmds, { keepGoing: true, setup: SETUP });
const rules = (vs: readonly { step?: number; rule: string }[]) => vs.map((v) => [v.step, v.rule]);

/** Two ranges of two pages each, then a DMA importer maps it. */
const CREATE: LcCmd = { op: 'create', dev: 0, region: 0, ranges: [{ offset: 0n, length: 2n * PAGE }, { offset: 4n * PAGE, length: 2n * PAGE }] };
const MAPPED: LcCmd[] = [CREATE, { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'map', att: 0 }];

// The trial's plugin (t3-fill-short-page), one line through the public entry: the last range one page short.
const shortPage: GetDmabufPhys = (dev, region, ranges) => {
  const r = vfio_pci_core_get_dmabuf_phys(dev, region, ranges);
  if (!r.ok) return r;
  return ok({ phys: r.value.phys.map((p, i, a) => (i === a.length - 1 && p.len > BigInt(dev.pageSize) ? { ...p, len: p.len - BigInt(dev.pageSize) } : p)), provider: r.value.provider });
};
const fillShortPage = vfioExporter('fill-short-page', 'last phys_vec entry one page short', { createOps: { get_dmabuf_phys: shortPage } });

describe('PAL-FILL / PAL-LIST at the lifecycle\'s create, for any VFIO exporter', () => {
  it('a last range one page short is PAL-FILL at the create, naming the range, what the exporter holds and the model\'s entry; its map is not filed again (LEN-ADDR)', async () => {
    const r = await run(fillShortPage, MAPPED);
    expect(rules(r.violations)).toEqual([[0, 'PAL-FILL']]);
    expect(r.violations[0]!.message).toBe(`buf0's phys_vec[1] is 0x${(BAR + 4n * PAGE).toString(16)}+0x1000, the model's PAL has 0x${(BAR + 4n * PAGE).toString(16)}+0x2000 for range 1 (offset 0x4000, length 0x2000 of region 0)`);
    expect(r.steps.map((s) => s.rule)).toEqual(['PAL-FILL', undefined, undefined]);
  });

  it('an entry outside the BAR (paddr = offset) is PAL-LIST as well as PAL-FILL; a missing entry is PAL-LIST (count) and PAL-FILL', async () => {
    const noStart = vfioExporter('fill-no-start', 'paddr = offset', { createOps: { get_dmabuf_phys: (d, reg, rs) => { const x = vfio_pci_core_get_dmabuf_phys(d, reg, rs); return x.ok ? ok({ ...x.value, phys: x.value.phys.map((p, i) => ({ paddr: rs[i]!.offset, len: p.len })) }) : x; } } });
    const out = await run(noStart, MAPPED);
    expect(rules(out.violations)).toEqual([[0, 'PAL-LIST'], [0, 'PAL-FILL']]);
    expect(out.violations[0]!.message).toMatch(/^buf0's phys_vec\[0\] 0x0\+0x2000 is outside region 0 \[0x[0-9a-f]+, 0x[0-9a-f]+\) \(range 0 /);
    const firstOnly = vfioExporter('fill-first-only', 'one entry', { createOps: { get_dmabuf_phys: (d, reg, rs) => { const x = vfio_pci_core_get_dmabuf_phys(d, reg, rs); return x.ok ? ok({ ...x.value, phys: x.value.phys.slice(0, 1) }) : x; } } });
    const one = await run(firstOnly, MAPPED);
    expect(one.violations.map((v) => [v.rule, v.message])).toEqual([
      ['PAL-LIST', 'buf0 holds 1 phys_vec entries, the request has 2 ranges'],
      ['PAL-FILL', `buf0's phys_vec[1] is missing, the model's PAL has 0x${(BAR + 4n * PAGE).toString(16)}+0x2000 for range 1 (offset 0x4000, length 0x2000 of region 0)`],
    ]);
  });

  it('a phys_vec changed after the create is PAL-LIST at the map that hands it out (unchanged until unmapped), and no LEN-ADDR', async () => {
    class Reverses extends VfioPciDmabufOps {
      override map_dma_buf(a: DmaBufAttachment, dir: DmaDir) {
        const priv = this.priv(a.dmabuf, 'vfio_pci_dma_buf_map');
        priv.phys_vec.value = [...priv.phys_vec.value].reverse(); // BUG
        return super.map_dma_buf(a, dir);
      }
    }
    const p = vfioExporter('map-reverses', 'map reorders phys_vec', { port: { ...V8_PORT, makeOps: (k, cfg) => new Reverses(k, cfg.routeTo) } });
    const r = await run(p, MAPPED);
    expect(rules(r.violations)).toEqual([[2, 'PAL-LIST']]);
    expect(r.violations[0]!.message).toMatch(/^buf0's phys_vec changed after its create: at this map of att0 phys_vec\[0\] is 0x[0-9a-f]+\+0x2000, the create filled 0x[0-9a-f]+\+0x2000$/);
  });

  it('the faithful port holds the model\'s PAL (nothing reported)', async () => {
    expect((await run(vfioPci, MAPPED)).violations).toEqual([]);
  });
});

describe('heldPhysVec: a dma-buf whose priv has no readable phys_vec is not judged, and nothing throws', () => {
  const buf = (priv: unknown) => ({ priv }) as unknown as DmaBuf;
  const entries = [{ paddr: 0x1000n, len: 0x1000n }];
  it('reads priv->phys_vec as a KObj or an array; anything else is null', () => {
    expect(heldPhysVec(buf(new KObj('priv', 1, 's', { phys_vec: new KObj('phys_vec', 2, 's', entries) })))).toEqual(entries);
    expect(heldPhysVec(buf(new KObj('priv', 1, 's', { phys_vec: entries })))).toEqual(entries);
    const freed = new KObj('phys_vec', 2, 's', entries);
    freed.freeSite = 'kfree';
    expect(heldPhysVec(buf(new KObj('priv', 1, 's', { phys_vec: freed })))).toBeNull();
    expect(heldPhysVec(buf(new KObj('priv', 1, 's', { cPtr: 0x1000n, size: 8n })))).toBeNull(); // the kernel's C
    expect(heldPhysVec(buf(new KObj('priv', 1, 's', { phys_vec: [{ paddr: 1, len: 2 }] })))).toBeNull();
    expect(heldPhysVec(buf(null))).toBeNull();
    expect(heldPhysVec(buf(new KObj('priv', 1, 's', new Proxy({}, { get() { throw new Error('opaque'); } }))))).toBeNull();
  });
});

describe('the export part: PAL-FILL at the create, and a wrong PAL is not mapped', () => {
  it('the trial\'s plugin shows PAL-FILL alone (before: ROUTE-BUSADDR, LEN-SUM, DMA-IOVA from the map)', async () => {
    const t = exportTargets(fillShortPage)[0]!;
    const input = toInput({ kind: 'export', bars: SETUP.bars, req: { regionIndex: 0, openFlags: 0, flags: 0, nrRanges: 1, ranges: [{ offset: 0n, length: 0x20000n }] }, pageSize: PAGE, route: 'BUS_ADDR', iovaRefused: false, hasOps: true, alive: true });
    const f = await t.replay(input);
    expect(f.violations.map((v) => [v.rule, v.message])).toEqual([['PAL-FILL', `the dma-buf's phys_vec[0] is 0x${BAR.toString(16)}+0x1f000, the model's PAL has 0x${BAR.toString(16)}+0x20000 for range 0 (offset 0x0, length 0x20000 of region 0)`]]);
    expect(f.counterexample.steps.map((s) => s.rule)).toEqual(['PAL-FILL']);
    expect((await exportTargets(vfioPci)[0]!.replay(input)).violations).toEqual([]);
  });
});

describe('DMA-IOVA names the link that differs, offset and length', () => {
  it('a span linked one page short: the two lists differ in a length, and the message says so', () => {
    const c: ConversionCase = { phys: [{ paddr: 0x10000n, len: 0x2000n }], size: 0x2000n, route: 'THRU_HOST_BRIDGE', busOffset: 0n, pageSize: PAGE, faults: NO_FAULTS, dir: 'DMA_TO_DEVICE', platform: { iommu: 'keep', dmaMap: 'direct' } };
    const short = { ...MAINLINE_PHYS_VEC_TO_SGT, map: ((k, a, p, phys, size, dir) => MAINLINE_PHYS_VEC_TO_SGT.map(k, a, p, phys.map((x) => ({ ...x, len: x.len - PAGE })), size, dir)) as typeof MAINLINE_PHYS_VEC_TO_SGT.map };
    const v = runConversion(short, c).log.violations.find((x) => x.evidence?.['kind'] === 'link-offsets');
    expect(v?.message).toBe('IOVA link 0 (offset+length) is 0x0+0x1000, the span needs 0x0+0x2000: linked [0x0+0x1000], needed [0x0+0x2000]');
  });
});

describe('the create path varied one line at a time through the public entry (createAndExport, list_del, dma_buf_fd)', () => {
  const SITE = 'vfio_pci_core_feature_dma_buf';
  /** vfio_pci_core_feature_dma_buf() written from its public pieces, with the mainline unwind of dma_buf_fd(); `bug` adds one line. */
  const create = (bug: boolean): VfioDmabufPort['feature_dma_buf'] => async (vdev, ops, req, phys = vfioDmaBufPhysFromRequest) => {
    const r = await createAndExport(vdev, ops, req, phys, SITE);
    if (!r.ok) return r;
    if (bug) list_del(vdev, r.value.privObj); // BUG: the dma-buf is not on vdev->dmabufs: no revoke reaches it
    if (dma_buf_fd(vdev.k, r.value.dmabuf, req.openFlags) < 0) {
      await dma_buf_put(r.value.dmabuf, SITE);
      return { ok: false, errno: '-EMFILE' };
    }
    return { ok: true, value: r.value.dmabuf };
  };
  const cmds: LcCmd[] = [...MAPPED, { op: 'event', dev: 0, event: 'mem-off' }, { op: 'map', att: 0 }, { op: 'create', dev: 0, region: 0, ranges: [{ offset: 0n, length: PAGE }], fault: 'fd' }, { op: 'close-fd', buf: 0 }];

  it('the copy is clean; with the one line, the revoke misses the dma-buf (REV-WINDOW, REV-NOTIFY)', async () => {
    const copy = await run(vfioExporter('my-create', 'the create from its public pieces', { port: { ...V8_PORT, feature_dma_buf: create(false) } }), cmds);
    expect(copy.violations).toEqual([]);
    const bugged = await run(vfioExporter('my-create-off-list', 'the create leaves the dma-buf off the device list', { port: { ...V8_PORT, feature_dma_buf: create(true) } }), cmds);
    expect([...new Set(bugged.violations.filter((v) => v.step === 3).map((v) => v.rule))].sort()).toEqual(['REV-NOTIFY', 'REV-WINDOW']);
  });
});
