import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { Profile } from '../models/profiles.ts';
import { requestFor } from '../src/harness/lifecycle.ts';
import type { DeviceEvent } from '../models/lifecycle.ts';
import { Kernel } from '../src/kernel/kernel.ts';
import { VfioPciCore } from '../src/impl/vfio/vfio_pci_core.ts';
import { DmaBufMatchCore, imappingPal, imappingSgt, type DmaBufMappingMatch } from '../src/impl/dma-buf-match.ts';
import { asMatchDmaBuf } from '../src/impl/dma-buf-match.ts';
import { RFC_POSTED, RFC_REVIEW_FIX, vfioMatchOps, type VfioMatchVariant } from '../src/impl/vfio/vfio_pci_dmabuf_match.ts';
import { matchCleanedAttach } from '../src/bugs/match-cleaned-attach.ts';
import { checkCleaned } from '../src/rules/match.ts';
import { ViolationLog } from '../src/rules/violation.ts';
import { budget } from './budget.ts';

const BAR0 = { index: 0, type: 'mem' as const, start: 0x38000000000n, size: 0x100000n, busOffset: 0n };
type Imp = 'iommufd' | 'dma-p2p' | 'dma' | 'domain';

async function setup(profile: Profile, variant: VfioMatchVariant) {
  const k = new Kernel();
  const dev = new VfioPciCore(k, { name: 'vdev0', bars: [BAR0], pageSize: 4096n, routeTo: () => 'BUS_ADDR' });
  const r = await dev.create(requestFor(2, true));
  if (!r.ok) throw new Error(r.errno);
  const core = new DmaBufMatchCore(k, profile, (p, c) => (p === 'vdev0' && c === 'nic0' ? 4 : -1));
  const buf = asMatchDmaBuf(r.value, vfioMatchOps(core, r.value, variant, 'vdev0'));
  const list = (imp: Imp): DmaBufMappingMatch[] => {
    if (imp === 'iommufd') return [imappingPal(core)];
    if (imp === 'domain') return [{ type: core.iommu_domain_type, sgt_data: imappingPal(core).sgt_data, imp_priv: 'iommufd' }];
    return [imappingSgt(core, 'nic0', imp === 'dma-p2p')];
  };
  const attach = async (imp: Imp) => {
    const before = buf.attachments.size;
    const a = await core.dma_buf_mapping_attach(buf, list(imp), { allow_peer2peer: imp === 'dma-p2p', move_notify: () => undefined }, null);
    return { a, added: buf.attachments.size - before };
  };
  return { k, dev, attach };
}

describe('VFIO exporter through the RFC core (rfc, converter)', () => {
  it('offers [PAL, SGT(P2P)] in rfc and [PAL] in converter', async () => {
    const rfc = await setup('rfc', RFC_REVIEW_FIX);
    const pal = await rfc.attach('iommufd');
    expect(pal.a.ok && pal.a.value.value.map_type?.type.name).toBe('Physical Address List');
    const sgt = await rfc.attach('dma-p2p');
    expect(sgt.a.ok && [sgt.a.value.value.map_type?.type.name, sgt.a.value.value.peer2peer]).toEqual(['DMA Mapped Scatter Gather Table', true]);
    expect((await rfc.attach('dma')).a).toEqual({ ok: false, errno: '-EINVAL' });
    const conv = await setup('converter', RFC_REVIEW_FIX);
    expect((await conv.attach('iommufd')).a).toEqual({ ok: false, errno: '-EINVAL' });
    const dom = await conv.attach('domain');
    expect(dom.a.ok && dom.a.value.value.map_type?.converter).toBe('PAL→IOMMU_DOMAIN');
    const viaSgt = await conv.attach('dma-p2p');
    expect(viaSgt.a.ok && viaSgt.a.value.value.map_type?.exp_ops?.name).toBe('core:PAL→SGT');
    expect(rfc.k.log.violations).toEqual([]);
  });

  const cleanedProperty = (variant: VfioMatchVariant) =>
    fc.asyncProperty(fc.constantFrom<Profile>('rfc', 'converter'), fc.array(fc.constantFrom<DeviceEvent>('mem-off', 'mem-on', 'flr', 'reset', 'd3-enter', 'd3-exit'), { maxLength: 4 }), fc.constantFrom<Imp>('iommufd', 'dma-p2p', 'dma', 'domain'), async (profile, evs, imp) => {
      const s = await setup(profile, variant);
      for (const e of [...evs, 'close' as const]) await s.dev.event(e);
      const { a, added } = await s.attach(imp);
      const log = new ViolationLog();
      checkCleaned(log, a.ok ? 'ok' : a.errno, added);
      return !log.has('MATCH-CLEANED');
    });

  it('MATCH-CLEANED: after close every attach fails -ENODEV and adds nothing (RFC as posted)', async () => {
    await fc.assert(cleanedProperty(RFC_POSTED), { numRuns: budget(60), seed: 66 });
  });

  it('FINDING rfc12-fix-cleaned-einval: with the review fix, attach after cleanup answers -EINVAL when nothing matches, not -ENODEV (MATCH-CLEANED)', async () => {
    const out = await fc.check(cleanedProperty(RFC_REVIEW_FIX), { numRuns: budget(60), seed: 66 });
    expect(out.failed).toBe(true);
    const [profile, evs, imp] = out.counterexample!;
    expect(evs).toEqual([]);
    expect([profile, imp]).toEqual(['converter', 'iommufd']);
    const s = await setup('rfc', RFC_REVIEW_FIX);
    await s.dev.event('close');
    expect((await s.attach('dma')).a).toEqual({ ok: false, errno: '-EINVAL' });
    expect((await s.attach('iommufd')).a).toEqual({ ok: false, errno: '-ENODEV' });
  });

  it(`${matchCleanedAttach.name} → MATCH-CLEANED`, async () => {
    const s = await setup('rfc', matchCleanedAttach);
    await s.dev.event('close');
    const { a, added } = await s.attach('iommufd');
    const log = new ViolationLog();
    checkCleaned(log, a.ok ? 'ok' : a.errno, added);
    expect(log.rules()).toEqual(['MATCH-CLEANED']);
  });

  it('FINDING rfc12-match-mapping-unlocked: the posted match_mapping asserts the reservation lock that dma_buf_mapping_attach() never takes (LOCK-RESV)', async () => {
    const posted = await setup('rfc', RFC_POSTED);
    expect((await posted.attach('iommufd')).a.ok).toBe(true);
    expect(posted.k.log.violations.map((v) => [v.rule, v.message])).toEqual([['LOCK-RESV', 'vfio_pci_dma_buf_match_mapping runs without vdev0.dmabuf2.resv held']]);
    const fixed = await setup('rfc', RFC_REVIEW_FIX);
    await fixed.attach('iommufd');
    expect(fixed.k.log.violations).toEqual([]);
  });
});
