// Gaps the mutation score (reports/MUTATION.md) found in the dma-buf core port
// (src/impl/dma-buf-core.ts): the bundled importers always pass move_notify,
// exporters' attach ops return only 0 or -ENODEV there, and the resv lock is
// always held, so these paths of the core were never judged. Each check is on
// the core alone with a minimal exporter.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Kernel } from '../src/kernel/kernel.ts';
import { dma_buf_dynamic_attach, dma_buf_export, dma_buf_map_attachment, dma_buf_move_notify, dma_buf_put, dma_buf_unmap_attachment, type DmaBufOps } from '../src/impl/dma-buf-core.ts';
import { budget } from './budget.ts';

function exporter(k: Kernel, attachRet = 0) {
  const calls: string[] = [];
  const ops: DmaBufOps = {
    attach: () => attachRet,
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
