// Gaps the mutation score (reports/MUTATION.md) found in the mapping-type core
// (src/impl/dma-buf-match.ts): every bundled exporter passes a priv and a
// release, only iommufd ever calls dma_buf_pal_map_phys(), no generated
// route has distance 0, and the converters were only seen through the
// lifecycle. Each check is on the core alone with minimal exporters.
import { describe, expect, it } from 'vitest';
import { spec } from '../models/profiles.ts';
import { DmaBufMatchCore, dma_buf_pal_map_phys, dma_buf_pal_unmap_phys, emappingPal, emappingSgt, imappingPal, imappingSgt, type MatchDmaBufOps } from '../src/impl/dma-buf-match.ts';
import { Kernel } from '../src/kernel/kernel.ts';
import type { PhysVec } from '../models/pal.ts';
import type { KObj } from '../src/kernel/objects.ts';
import type { PalExpOps } from '../src/impl/converters.ts';

const move = { allow_peer2peer: true, move_notify: () => undefined };

describe('mapping-type core (RFC 05/26, 12/26, 21/26; 004)', () => {
  it('dma_buf_export: no priv or no release is -EINVAL and allocates nothing; with both, a dma-buf', () => {
    const k = new Kernel();
    const core = new DmaBufMatchCore(k, 'rfc', () => 2);
    const ops: MatchDmaBufOps = { release: () => undefined, single_exporter_match: core.compat_match() };
    expect(core.dma_buf_export('b', ops, null)).toEqual({ ok: false, errno: '-EINVAL' });
    expect(core.dma_buf_export('b', { single_exporter_match: core.compat_match() }, {})).toEqual({ ok: false, errno: '-EINVAL' });
    expect(k.heap.live('dma_buf')).toEqual([]);
    const r = core.dma_buf_export('b', ops, {});
    expect(r.ok && r.value.obj.allocSite).toBe('dma_buf_export');
  });

  it('an SGT exporter needing P2P matches a P2P importer at distance 0 (the same function) and sets peer2peer; a non-P2P SGT match leaves it false', async () => {
    for (const [distance, p2p, want] of [[0, true, 'ok'], [2, true, 'ok'], [-1, true, '-EINVAL'], [0, false, '-EINVAL']] as const) {
      const k = new Kernel();
      const core = new DmaBufMatchCore(k, 'rfc', () => distance);
      const buf = core.dma_buf_export('b', { release: () => undefined, single_exporter_match: emappingSgt(core, { name: 'exp' }, 'A', true) }, {});
      if (!buf.ok) throw new Error(buf.errno);
      const r = await core.dma_buf_mapping_attach(buf.value, [imappingSgt(core, 'A', p2p)], move, null);
      expect([distance, p2p, r.ok ? 'ok' : r.errno]).toEqual([distance, p2p, want]);
      if (r.ok) expect(r.value.value).toMatchObject({ dev: 'A', peer2peer: true });
    }
    const k = new Kernel();
    const core = new DmaBufMatchCore(k, 'rfc', () => -1);
    const buf = core.dma_buf_export('b', { release: () => undefined, single_exporter_match: emappingSgt(core, { name: 'exp' }, null, false) }, {});
    if (!buf.ok) throw new Error(buf.errno);
    const r = await core.dma_buf_mapping_attach(buf.value, [imappingSgt(core, 'D', false)], move, null);
    expect(r.ok && r.value.value).toMatchObject({ dev: 'D', peer2peer: false });
  });

  it('a PAL match leaves the attachment as kzalloc made it (no device, peer2peer false)', async () => {
    const k = new Kernel();
    const core = new DmaBufMatchCore(k, 'rfc', () => 2);
    const buf = core.dma_buf_export('b', { release: () => undefined, single_exporter_match: emappingPal(core, { name: 'pal_exp' }) }, {});
    if (!buf.ok) throw new Error(buf.errno);
    const r = await core.dma_buf_mapping_attach(buf.value, [imappingPal(core)], move, null);
    expect(r.ok && r.value.value).toMatchObject({ dev: null, peer2peer: false });
  });

  it('dma_buf_pal_map_phys: resv held, linked only by iommufd (MATCH-RESTRICT names the caller); dma_buf_pal_unmap_phys hands the PAL back to the exporter', async () => {
    const k = new Kernel();
    const core = new DmaBufMatchCore(k, 'rfc', () => 2);
    const calls: string[] = [];
    const pal: PalExpOps = { map_phys: () => ({ ok: true, pal: k.heap.alloc<readonly PhysVec[]>('pal', 'exp_map_phys', [])! }), unmap_phys: (p: KObj<readonly PhysVec[]>) => void calls.push(`unmap ${p.allocSite}`) };
    const buf = core.dma_buf_export('b', { release: () => undefined, single_exporter_match: emappingPal(core, { name: 'pal_exp', pal }) }, {});
    if (!buf.ok) throw new Error(buf.errno);
    const r = await core.dma_buf_mapping_attach(buf.value, [imappingPal(core)], move, null);
    if (!r.ok) throw new Error(r.errno);
    const a = r.value.value;
    const got = dma_buf_pal_map_phys(k, a, 'iommufd');
    expect(k.log.violations.map((v) => [v.rule, v.evidence])).toEqual([['LOCK-RESV', { lock: 'b.resv', site: 'dma_buf_pal_map_phys' }]]);
    k.log.violations.length = 0;
    await buf.value.resv.lock('test');
    dma_buf_pal_map_phys(k, a, 'iommufd');
    expect(k.log.violations).toEqual([]);
    dma_buf_pal_map_phys(k, a, 'dma-importer');
    buf.value.resv.unlock('test');
    expect(k.log.violations.map((v) => [v.rule, v.evidence])).toEqual([['MATCH-RESTRICT', { caller: 'dma-importer' }]]);
    expect(k.log.violations[0]!.message).toMatch(/dma-importer called dma_buf_pal_map_phys, which only iommufd may link/);
    if (!got.ok) throw new Error(got.errno);
    dma_buf_pal_unmap_phys(a, got.pal);
    expect(calls).toEqual(['unmap exp_map_phys']);
  });

  it('the core converters are the profile’s (004), each from its type to its type', () => {
    for (const profile of ['rfc', 'converter'] as const) {
      const core = new DmaBufMatchCore(new Kernel(), profile, () => 2);
      const byName: Record<string, string> = { PAL: core.pal_type.name, SGT: core.sgt_type.name, IOMMU_DOMAIN: core.iommu_domain_type.name };
      expect(core.converters().map((c) => [c.from.name, c.to.name])).toEqual(spec(profile).converters.map((c) => [byName[c.from], byName[c.to]]));
      expect(new Set(core.converters().map((c) => c.name)).size).toBe(core.converters().length);
    }
  });
});
