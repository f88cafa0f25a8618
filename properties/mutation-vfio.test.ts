// Gaps the mutation score (reports/MUTATION.md) found in the VFIO exporter
// (src/impl/vfio/): iommufd only ever met VFIO's own dma-bufs, so the
// private interconnect's "not a VFIO dma-buf" answer was never judged, and no
// faithful port leaks a registration reference, so the unregister check that
// catches one never fired. Both are behaviours of the seed (003; 002 v8 10/11).
// And the create path copies nr_ranges entries (memdup_array_user): whatever
// follows them in the user's buffer is never read; every generated request
// had exactly nr_ranges entries.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { palCaseArb } from '../src/gen/ranges.ts';
import { PAL_CREATE, barEndsAtTop, checkPal } from '../src/rules/pal.ts';
import { ViolationLog } from '../src/rules/violation.ts';
import { budget } from './budget.ts';
import type { LcCmd } from '../models/lifecycle.ts';
import { vfioExporter, vfioPci, vfioPciMainline } from '../src/harness/bundled.ts';
import { createCmd, runLifecycle } from '../src/harness/lifecycle.ts';
import { dmaImporter, iommufdImporter } from '../src/harness/bundled.ts';
import { dma_buf_dynamic_attach, dma_buf_export } from '../src/impl/dma-buf-core.ts';
import { V8_PORT } from '../src/impl/vfio/vfio_pci_core.ts';
import { cleanupMainline, MAINLINE_PORT } from '../src/impl/vfio/vfio_pci_dmabuf_mainline.ts';
import { dmaImporterLate, iommufdMainline } from '../src/harness/bundled.ts';
import type { ExporterPlugin } from '../src/harness/plugin.ts';
import { lifecycleSuite } from '../src/harness/suites/lifecycle.ts';
import { Kernel } from '../src/kernel/kernel.ts';

const IMPORTERS = { dma: dmaImporter, iommufd: iommufdImporter };

describe('VFIO exporter behaviours no faithful lifecycle reaches', () => {
  it('IOMMUFD-ONE: the private interconnect refuses a dma-buf VFIO did not export (-EOPNOTSUPP), under resv', async () => {
    const k = new Kernel();
    const dev = vfioPci.probe(k, { name: 'vdev0', bars: [{ index: 0, type: 'mem', start: 0x100000000n, size: 0x100000n, busOffset: 0n }], pageSize: 4096n, routeTo: () => 'BUS_ADDR' });
    const foreign = dma_buf_export(k, 'gpu-buf', { map_dma_buf: () => ({ ok: false, errno: '-EINVAL' }), unmap_dma_buf: () => undefined, release: async () => undefined }, 0x1000n, k.heap.alloc('priv', 'gpu_export', {})!)!;
    const a = await dma_buf_dynamic_attach(k, foreign, null, { allow_peer2peer: true, move_notify: () => undefined });
    if (!a.ok) throw new Error(a.errno);
    await foreign.resv.lock('iopt_map_dmabuf');
    expect(dev.iommufdMap!(a.attach.value)).toEqual({ ok: false, errno: '-EOPNOTSUPP' });
    foreign.resv.unlock('iopt_map_dmabuf');
    expect(k.log.violations).toEqual([]);
  });

  it('UAF-REF: a registration reference nobody puts is named at unregister (unbind), with its count; the faithful cleanup leaves none', async () => {
    const leaky = vfioExporter('test:cleanup-keeps-a-registration', 'cleanup that takes one registration reference more than it puts', {
      port: { ...V8_PORT, cleanup: async (vdev) => { vdev.registration.tryGet(); await V8_PORT.cleanup(vdev); } },
    });
    const cmds: LcCmd[] = [createCmd(0, 1), { op: 'event', dev: 0, event: 'close' }, { op: 'close-fd', buf: 0 }, { op: 'event', dev: 0, event: 'unbind' }];
    const good = await runLifecycle({ exporter: vfioPci, importers: IMPORTERS, devices: 2, route: 'BUS_ADDR' }, cmds, { keepGoing: true });
    expect(good.violations.filter((v) => v.rule === 'UAF-REF')).toEqual([]);
    const bad = await runLifecycle({ exporter: leaky, importers: IMPORTERS, devices: 2, route: 'BUS_ADDR' }, cmds, { keepGoing: true });
    const ref = bad.violations.filter((v) => v.rule === 'UAF-REF');
    expect(ref.map((v) => [v.step, v.evidence])).toEqual([[3, { device: 'vdev0', count: 1 }]]);
    expect(ref[0]!.message).toMatch(/^dev0: 1 registration reference\(s\) still held at unregister/);
  });
});

describe('the cleanup without the registration put, a one-line variant through the public entry (cleanupWalk\'s put_registration)', () => {
  const cmds: LcCmd[] = [createCmd(0, 1), { op: 'event', dev: 0, event: 'close' }, { op: 'close-fd', buf: 0 }, { op: 'event', dev: 0, event: 'unbind' }];
  const UAF_REF = 'dev0: 1 registration reference(s) still held at unregister';

  it('v8 (test/plugins/cleanup-no-registration-put.ts): the leaked reference is UAF-REF at unregister, found by the lifecycle search', async () => {
    const { default: user } = await import('../test/plugins/cleanup-no-registration-put.ts');
    const r = await runLifecycle({ exporter: user, importers: IMPORTERS, devices: 2, route: 'BUS_ADDR' }, cmds, { keepGoing: true });
    expect(r.violations.map((v) => [v.step, v.rule, v.message])).toEqual([[3, 'UAF-REF', UAF_REF]]);
    const [t] = lifecycleSuite.targets(user, []);
    const s = await t!.search(1, budget(400), new Set());
    expect(s.failures.flatMap((f) => f.violations.filter((_, i) => f.explainedBy[i] === null).map((v) => v.rule))).toContain('UAF-REF');
  });

  it('mainline: cleanupMainline(true, () => undefined) is the same leak; the default put leaves none', async () => {
    const leaky = vfioExporter('cleanup-no-put:mainline', 'mainline cleanup without the registration put', { port: { ...MAINLINE_PORT, cleanup: cleanupMainline(true, () => undefined) }, profiles: ['mainline'] });
    const cfg = (exporter: ExporterPlugin) => ({ exporter, importers: { dma: dmaImporterLate, iommufd: iommufdMainline }, devices: 2, route: 'BUS_ADDR' as const, profile: 'mainline' as const });
    expect((await runLifecycle(cfg(leaky), cmds, { keepGoing: true })).violations.map((v) => [v.rule, v.message])).toEqual([['UAF-REF', UAF_REF]]);
    expect((await runLifecycle(cfg(vfioPciMainline), cmds, { keepGoing: true })).violations).toEqual([]);
  });
});

describe('PAL-INPUT: the create reads nr_ranges entries and nothing after them', () => {
  it('trailing entries past nr_ranges (zero length, past the BAR, misaligned) change nothing: the port agrees with the model', () => {
    const junk = fc.array(fc.record({ offset: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), length: fc.constantFrom(0n, 1n, 1n << 63n) }), { minLength: 1, maxLength: 3 });
    fc.assert(fc.property(palCaseArb, junk, ({ view, req }, extra) => {
      const padded = { ...req, ranges: [...req.ranges.slice(0, req.nrRanges), ...extra] };
      if (barEndsAtTop(view, padded)) return;
      const log = new ViolationLog();
      checkPal(PAL_CREATE, view, padded, log);
      expect(log.violations).toEqual([]);
    }), { numRuns: budget(150) });
  });
});

describe('LOCK-RESV in the map path: both kernel assertions', () => {
  // vfio_pci_dma_buf_map() asserts the reservation lock, and so does the conversion it calls
  // (dma_buf_map() / dma_buf_phys_vec_to_sgt(): dma_resv_assert_held(attach->dmabuf->resv)); lockdep warns at each.
  it.each([[vfioPci, 'dma_buf_map'], [vfioPciMainline, 'dma_buf_phys_vec_to_sgt']] as const)('%s: a map without resv is LOCK-RESV in the exporter and in the conversion; with resv, none', async (exporter, conversion) => {
    const k = new Kernel();
    const dev = exporter.probe(k, { name: 'vdev0', bars: [{ index: 0, type: 'mem', start: 0x100000000n, size: 0x100000n, busOffset: 0n }], pageSize: 4096n, routeTo: () => 'BUS_ADDR' });
    const buf = await dev.create({ regionIndex: 0, openFlags: 0, flags: 0, nrRanges: 1, ranges: [{ offset: 0n, length: 0x1000n }] });
    if (!buf.ok) throw new Error(buf.errno);
    const a = await dma_buf_dynamic_attach(k, buf.value, 'imp', { allow_peer2peer: true, move_notify: () => undefined });
    if (!a.ok) throw new Error(a.errno);
    const m = buf.value.ops.map_dma_buf(a.attach.value, 'DMA_BIDIRECTIONAL');
    expect(m.ok).toBe(true);
    expect(k.log.violations.map((v) => [v.rule, v.evidence?.['site']])).toEqual([['LOCK-RESV', 'vfio_pci_dma_buf_map'], ['LOCK-RESV', conversion]]);
    k.log.violations.length = 0;
    await buf.value.resv.lock('test');
    if (m.ok) buf.value.ops.unmap_dma_buf(a.attach.value, m.sgt, 'DMA_BIDIRECTIONAL');
    const again = buf.value.ops.map_dma_buf(a.attach.value, 'DMA_BIDIRECTIONAL');
    if (again.ok) buf.value.ops.unmap_dma_buf(a.attach.value, again.sgt, 'DMA_BIDIRECTIONAL');
    buf.value.resv.unlock('test');
    expect(k.log.violations).toEqual([]);
  });
});
