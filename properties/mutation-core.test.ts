// Gaps the mutation score (reports/MUTATION.md) found in the dma-buf core port
// (src/impl/dma-buf-core.ts): the bundled importers always pass move_notify,
// exporters' attach ops return only 0 or -ENODEV there, and the resv lock is
// always held, so these paths of the core were never judged. Each check is on
// the core alone with a minimal exporter.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Kernel } from '../src/kernel/kernel.ts';
import { dma_buf_detach, dma_buf_dynamic_attach, dma_buf_export, dma_buf_map_attachment, dma_buf_move_notify, dma_buf_pin, dma_buf_put, dma_buf_unmap_attachment, dma_buf_unpin, type DmaBufOps } from '../src/impl/dma-buf-core.ts';
import { iommufdImporter, iommufdMainline } from '../src/impl/iommufd.ts';
import type { ExporterDevice } from '../src/harness/plugin.ts';
import { lifecycleBugImporters } from '../src/bugs/lifecycle.ts';
import { iommufdImporter as iommufdPluginV8, vfioPci } from '../src/harness/bundled.ts';
import { createCmd, runLifecycle } from '../src/harness/lifecycle.ts';
import { budget } from './budget.ts';

function exporter(k: Kernel, attachRet = 0, pinRet?: number) {
  const calls: string[] = [];
  const ops: DmaBufOps = {
    attach: () => attachRet,
    ...(pinRet === undefined ? {} : { pin: () => pinRet, unpin: () => void calls.push('unpin') }),
    map_dma_buf: () => ({ ok: true, sgt: k.heap.alloc('sg_table', 'exp_map', null)! }),
    unmap_dma_buf: (_a, sgt) => void k.heap.free(sgt, 'exp_unmap'),
    release: async () => void calls.push('release'),
  };
  const buf = dma_buf_export(k, 'buf0', ops, 0x1000n, k.heap.alloc('priv', 'exp', {})!)!;
  return { buf, calls };
}

describe('dma-buf core: attach, lock assertions, release', () => {
  it("the exporter's attach errno reaches the importer (-EOPNOTSUPP, -ENODEV, anything else -EINVAL) and the attachment is freed", async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(-95, -19, -22, -12, -1, 1), async (ret) => {
      const k = new Kernel();
      const { buf } = exporter(k, ret);
      const r = await dma_buf_dynamic_attach(k, buf, 'imp', { allow_peer2peer: true, move_notify: () => undefined });
      expect(r).toEqual({ ok: false, errno: ret === -95 ? '-EOPNOTSUPP' : ret === -19 ? '-ENODEV' : '-EINVAL' });
      expect(k.heap.live('attachment')).toEqual([]);
      expect(buf.attachments.size).toBe(0);
    }), { numRuns: budget(12) });
  });

  it('a dynamic importer without move_notify is -EINVAL before anything is allocated', async () => {
    const k = new Kernel();
    const { buf } = exporter(k);
    expect(await dma_buf_dynamic_attach(k, buf, 'imp', { allow_peer2peer: false })).toEqual({ ok: false, errno: '-EINVAL' });
    expect(k.heap.live('attachment')).toEqual([]);
    const ok = await dma_buf_dynamic_attach(k, buf, 'imp', { allow_peer2peer: false, move_notify: () => undefined });
    expect(ok.ok && ok.attach.value).toMatchObject({ dev: 'imp', peer2peer: false });
    expect(k.log.violations).toEqual([]);
  });

  it('map, unmap and move_notify without the reservation lock are LOCK-RESV naming the function; with it, silent', async () => {
    const k = new Kernel();
    const { buf } = exporter(k);
    const notified: string[] = [];
    const r = await dma_buf_dynamic_attach(k, buf, 'imp', { allow_peer2peer: true, move_notify: (a) => void notified.push(a.dev!) });
    if (!r.ok) throw new Error(r.errno);
    const m = dma_buf_map_attachment(k, r.attach, 'DMA_BIDIRECTIONAL');
    if (!m.ok) throw new Error(m.errno);
    dma_buf_unmap_attachment(k, r.attach, m.sgt, 'DMA_BIDIRECTIONAL');
    dma_buf_move_notify(k, buf);
    const unlocked = k.log.violations.map((v) => [v.rule, /dma_buf_\w+/.exec(v.message)?.[0] ?? JSON.stringify(v.evidence)]);
    expect(unlocked.map(([rule]) => rule)).toEqual(['LOCK-RESV', 'LOCK-RESV', 'LOCK-RESV']);
    expect(k.log.violations.map((v) => v.message).join('\n')).toMatch(/dma_buf_map_attachment[\s\S]*dma_buf_unmap_attachment[\s\S]*dma_buf_move_notify/);
    expect(notified).toEqual(['imp']);
    k.log.violations.length = 0;
    await buf.resv.lock('test');
    const m2 = dma_buf_map_attachment(k, r.attach, 'DMA_BIDIRECTIONAL');
    if (!m2.ok) throw new Error(m2.errno);
    dma_buf_unmap_attachment(k, r.attach, m2.sgt, 'DMA_BIDIRECTIONAL');
    // a table handed back twice is UAF-MAPPING with its sites, and the exporter is not called again
    dma_buf_unmap_attachment(k, r.attach, m2.sgt, 'DMA_BIDIRECTIONAL');
    buf.resv.unlock('test');
    expect(k.log.violations.map((v) => [v.rule, v.evidence])).toEqual([['UAF-MAPPING', { dmabuf: 'buf0', allocSite: 'exp_map', freeSite: 'exp_unmap' }]]);
  });

  it('the last put releases: the exporter is told once and the dma_buf object is freed by dma_buf_release', async () => {
    const k = new Kernel();
    const { buf, calls } = exporter(k);
    await dma_buf_put(buf, 'test_put');
    expect(calls).toEqual(['release']);
    expect(buf.obj.freed).toBe(true);
    expect(buf.obj.freeSite).toBe('dma_buf_release');
    expect(buf.obj.allocSite).toBe('dma_buf_export');
    expect(buf.obj.kind).toBe('dma_buf');
  });
});

describe('dma-buf core: pin and unpin (mainline), and the importers that pin', () => {
  const device = { isRevoked: () => false } as unknown as ExporterDevice;

  it('a refused pin leaves the attachment unpinned (detach is silent); an unpin without a pin is REV-PIN and reaches no exporter', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(-95, -22, -12), async (refuse) => {
      const k = new Kernel();
      const { buf, calls } = exporter(k, 0, refuse);
      const r = await dma_buf_dynamic_attach(k, buf, 'imp', { allow_peer2peer: true, move_notify: () => undefined });
      if (!r.ok) throw new Error(r.errno);
      await buf.resv.lock('test');
      expect(dma_buf_pin(k, r.attach)).toBe(refuse);
      dma_buf_unpin(k, r.attach);
      buf.resv.unlock('test');
      expect(k.log.violations.map((v) => [v.rule, v.evidence])).toEqual([['REV-PIN', { dmabuf: 'buf0', pins: 0 }]]);
      expect(k.log.violations[0]!.message).toMatch(/^dma_buf_unpin\(\) of attachment#\d+ of buf0, which is not pinned$/);
      expect(calls).toEqual([]);
      k.log.violations.length = 0;
      await dma_buf_detach(k, r.attach);
      expect(k.log.violations).toEqual([]);
    }), { numRuns: 3 });
  });

  it('a pin that succeeds is undone by one unpin; a detach still pinned is REV-PIN naming the count', async () => {
    const k = new Kernel();
    const { buf, calls } = exporter(k, 0, 0);
    const a = await dma_buf_dynamic_attach(k, buf, 'imp', { allow_peer2peer: true, move_notify: () => undefined });
    const b = await dma_buf_dynamic_attach(k, buf, 'imp', { allow_peer2peer: true, move_notify: () => undefined });
    if (!a.ok || !b.ok) throw new Error('attach');
    await buf.resv.lock('test');
    expect([dma_buf_pin(k, a.attach), dma_buf_pin(k, b.attach), dma_buf_pin(k, b.attach)]).toEqual([0, 0, 0]);
    dma_buf_unpin(k, a.attach);
    buf.resv.unlock('test');
    expect(calls).toEqual(['unpin']);
    await dma_buf_detach(k, a.attach);
    expect(k.log.violations).toEqual([]);
    await dma_buf_detach(k, b.attach);
    expect(k.log.violations.map((v) => [v.rule, v.evidence])).toEqual([['REV-PIN', { dmabuf: 'buf0', pins: 2 }]]);
    expect(k.log.violations[0]!.message).toMatch(/^dma_buf_detach\(\) of attachment#\d+ of buf0, still pinned 2 time/);
  });

  it('iommufd:mainline gives up an attachment whose pin the exporter refuses (-EOPNOTSUPP, else -EINVAL) and keeps nothing; iommufd of v8 never pins', async () => {
    await fc.assert(fc.asyncProperty(fc.constantFrom(-95, -22, -12), async (refuse) => {
      const k = new Kernel();
      const { buf } = exporter(k, 0, refuse);
      const files = buf.file.count;
      const r = await iommufdMainline.attach(k, buf, device, { p2p: true, dev: 'iommu', route: 'BUS_ADDR', profile: 'mainline' });
      expect(r).toEqual({ ok: false, errno: refuse === -95 ? '-EOPNOTSUPP' : '-EINVAL' });
      expect(buf.attachments.size).toBe(0);
      expect(k.heap.live('attachment')).toEqual([]);
      expect(buf.file.count).toBe(files);
      const v8 = await iommufdImporter.attach(k, buf, device, { p2p: true, dev: 'iommu', route: 'BUS_ADDR', profile: 'v8' });
      expect(v8.ok).toBe(true);
      expect([...buf.attachments].map((a) => a.value.pins ?? 0)).toEqual([0]);
      expect(k.log.violations).toEqual([]);
    }), { numRuns: 3 });
  });
});

describe('UAF-MAPPING cites the table', () => {
  it('DMA through an sg_table the revoke freed names where it was allocated and freed, in the message and the evidence', async () => {
    const stale = lifecycleBugImporters().find((p) => p.name === 'bug:uaf-mapping-stale-sgt')!;
    const r = await runLifecycle({ exporter: vfioPci, importers: { dma: stale, iommufd: iommufdPluginV8 }, devices: 2, route: 'BUS_ADDR' }, [
      createCmd(0, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'map', att: 0 }, { op: 'event', dev: 0, event: 'mem-off' }, { op: 'access', att: 0 },
    ], { keepGoing: true });
    const v = r.violations.find((x) => x.rule === 'UAF-MAPPING' && x.step === 4)!;
    expect(v.evidence).toEqual({ allocSite: expect.stringMatching(/\w/), freeSite: expect.stringMatching(/\w/) });
    expect(v.message).toContain(`freed in ${String(v.evidence!['freeSite'])}`);
  });
});
