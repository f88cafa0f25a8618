// The lifecycle search reaches the create path, the routes and the races
// (issue 11, "What to build" 4 and 5): four one-line bugs, each built as the
// bundled seeded bugs are (the VFIO exporter with a port or device
// override), found by the lifecycle target's own search with the default
// budget and named by the rule the model's comparison gives.
import { describe, expect, it } from 'vitest';
import { err, ok } from '../models/errno.ts';
import type { DeviceEvent } from '../models/lifecycle.ts';
import type { DmaBufRequest, VfioDeviceView } from '../models/pal.ts';
import { VFIO_PCI_ROM_REGION_INDEX } from '../models/pci/types.ts';
import { dmaImporter, iommufdImporter, vfioExporter, vfioPci } from '../src/harness/bundled.ts';
import fc from 'fast-check';
import type { LcCmd } from '../models/lifecycle.ts';
import { lifecycleProperty } from '../src/harness/lifecycle-prop.ts';
import { createCmd, lcInput, readLcInput, Real, runLifecycle } from '../src/harness/lifecycle.ts';
import type { ExporterPlugin } from '../src/harness/plugin.ts';
import { LIFECYCLE_RULES, lifecycleConfig, lifecycleTarget } from '../src/harness/suites/lifecycle.ts';
import type { Found } from '../src/harness/suite.ts';
import { lifecycleBugExporters } from '../src/bugs/lifecycle.ts';
import { createOps, vfioDmaBufPhysFromRequest, type CreateOps } from '../src/impl/vfio/dmabuf_phys.ts';
import { V8_PORT, VfioPciCore } from '../src/impl/vfio/vfio_pci_core.ts';
import { list_del, vfio_pci_core_feature_dma_buf, VfioPciDmabufOps, type VfioPciDmaBuf } from '../src/impl/vfio/vfio_pci_dmabuf.ts';
import type { DmaBuf } from '../src/impl/dma-buf-core.ts';
import type { KObj } from '../src/kernel/objects.ts';

/** Budget of the default run per target and search. */
const RUNS = 400;

async function search(exporter: ExporterPlugin, seed = 1): Promise<{ failures: readonly Found[]; runs: number }> {
  const t = lifecycleTarget(exporter.name, lifecycleConfig(exporter, { dma: dmaImporter, iommufd: iommufdImporter }), 'exporter');
  let runs = 0;
  const s = await t.search(seed, RUNS, new Set(), { observe: (d) => void (runs += d.numRuns) });
  return { failures: s.failures, runs };
}

const rulesOf = (fs: readonly Found[]) => fs.flatMap((f) => f.violations.filter((_, i) => f.explainedBy[i] === null).map((v) => v.rule));

// (a) vfio_pci_core_feature_dma_buf() with `region_index > VFIO_PCI_ROM_REGION_INDEX`: the ROM passes validation.
function romAccepted(dev: VfioDeviceView, req: DmaBufRequest, ops: CreateOps = createOps(dev)) {
  if (!dev.hasGetDmabufPhys) return err('-EOPNOTSUPP');
  if (!req.nrRanges || req.flags) return err('-EINVAL');
  if (req.regionIndex > VFIO_PCI_ROM_REGION_INDEX) return err('-ENODEV'); // BUG: >= ROM
  if (req.ranges.length < req.nrRanges) return err('-EFAULT');
  const ranges = req.ranges.slice(0, req.nrRanges);
  const length = ops.validate_dmabuf_input(ranges, dev.pageSize);
  if (!length.ok) return length;
  if (dev.allocPriv && !dev.allocPriv()) return err('-ENOMEM');
  const phys = ops.get_dmabuf_phys(dev, req.regionIndex, ranges);
  if (!phys.ok) return phys;
  return ok({ phys: phys.value.phys, size: length.value, provider: phys.value.provider });
}
const romExporter = vfioExporter('rom-accepted', 'create accepts the ROM region', { port: { ...V8_PORT, feature_dma_buf: (vdev, ops, req) => vfio_pci_core_feature_dma_buf(vdev, ops, req, romAccepted) } });

// (b) vfio_pci_runtime_pm_exit() that powers the device up but never unrevokes.
class PmExitNoUnrevoke extends VfioPciCore {
  override async event(e: DeviceEvent): Promise<string> {
    if (e !== 'pm-exit' || !this.open) return super.event(e);
    await this.vdev.memory_lock.downWrite('vfio_pci_runtime_pm_exit');
    if (this.vdev.pm_runtime_engaged) {
      this.vdev.pm_runtime_engaged = false;
      this.vdev.power = 'D0';
    }
    this.vdev.memory_lock.upWrite('vfio_pci_runtime_pm_exit'); // BUG: vfio_pci_dma_buf_move(vdev, false) missing
    return 'ok';
  }
}
const pmExitExporter = vfioExporter('pm-exit-no-unrevoke', 'runtime PM exit forgets to unrevoke', { device: PmExitNoUnrevoke });

// (c) The conversion's pci_p2pdma_bus_addr_map() that returns the CPU physical address.
class BusOffsetIgnored extends VfioPciDmabufOps {
  constructor(...args: ConstructorParameters<typeof VfioPciDmabufOps>) {
    super(...args);
    this.mappingKernel.busAddrMap = (_provider, paddr) => paddr; // BUG: + provider->bus_offset dropped
  }
}
const busOffsetExporter = vfioExporter('bus-offset-ignored', 'BUS_ADDR mapping without the bus offset', { port: { ...V8_PORT, makeOps: (k, cfg) => new BusOffsetIgnored(k, cfg.routeTo) } });

// (e) The release takes priv off vdev->dmabufs without memory_lock (002 v8 10/11 takes it for write around the
// list_del_init()): a walk of vfio_pci_dma_buf_move() under the lock races it.
class ReleaseWithoutMemoryLock extends VfioPciDmabufOps {
  override async release(dmabuf: DmaBuf): Promise<void> {
    const site = 'vfio_pci_dma_buf_release';
    const privObj = dmabuf.priv as KObj<VfioPciDmaBuf>;
    const priv = this.k.heap.use(privObj, site);
    if (priv.vdev) {
      list_del(priv.vdev, privObj); // BUG: down_write(&vdev->memory_lock) dropped
      priv.vdev.registration.put(site);
    }
    this.k.heap.free(priv.phys_vec, site);
    this.k.heap.free(privObj, site);
  }
}
const releaseNoLockExporter = vfioExporter('release-without-memory-lock', 'release changes vdev->dmabufs without memory_lock', { port: { ...V8_PORT, makeOps: (k, cfg) => new ReleaseWithoutMemoryLock(k, cfg.routeTo) } });

// (d) src/bugs/lifecycle-hot-reset.ts, a race-only bug.
const hotResetExporter = lifecycleBugExporters().find((p) => p.name === 'bug:rev-hot-reset-undo-keeps-revoked')!;

describe('the lifecycle search finds one-line bugs of the create path, the routes and the races (default budget)', () => {
  it('(a) create accepts region 6 (ROM): PAL-INPUT, the model says -ENODEV', async () => {
    const { failures } = await search(romExporter);
    expect(rulesOf(failures)).toContain('PAL-INPUT');
    const f = failures.find((x) => x.violations.some((v) => v.rule === 'PAL-INPUT'))!;
    const { cmds } = readLcInput(f.counterexample.input);
    expect(cmds.some((c) => c.op === 'create' && c.region === VFIO_PCI_ROM_REGION_INDEX)).toBe(true);
    expect(f.violations.find((v) => v.rule === 'PAL-INPUT')!.message).toMatch(/region 6.*the model says -ENODEV/);
  });

  it('(b) runtime PM exit that forgets to unrevoke: REV-WINDOW (the revoked state compareStep judges), create and pm-entry (either order); pm-exit', async () => {
    const { failures } = await search(pmExitExporter);
    expect(rulesOf(failures)).toContain('REV-WINDOW');
    const { cmds } = readLcInput(failures[0]!.counterexample.input);
    // Both orders are minimal: a dma-buf created before the runtime suspend is revoked by it, one created after is revoked at birth.
    expect([['create', 'pm-entry', 'pm-exit'], ['pm-entry', 'create', 'pm-exit']]).toContainEqual(cmds.map((c) => (c.op === 'event' ? c.event : c.op)));
  });

  it('(c) a BUS_ADDR mapping without the provider bus offset: ROUTE-BUSADDR, one range, bus offset 4096', async () => {
    const { failures } = await search(busOffsetExporter);
    expect(rulesOf(failures)).toContain('ROUTE-BUSADDR');
    const f = failures.find((x) => x.violations.some((v) => v.rule === 'ROUTE-BUSADDR'))!;
    const { cmds, setup } = readLcInput(f.counterexample.input);
    expect(setup?.dmaRoute).toBe('BUS_ADDR');
    expect(setup?.bars[0]?.busOffset).toBe(0x1000n);
    expect(cmds.map((c) => c.op)).toEqual(['create', 'attach', 'map']);
    expect(cmds[0]!.op === 'create' && cmds[0]!.ranges.length).toBe(1);
  });

  it('(d) a hot reset whose -EBUSY undo leaves the first device revoked: REV-WINDOW from the race outcome', async () => {
    const { failures } = await search(hotResetExporter);
    expect(rulesOf(failures)).toContain('REV-WINDOW');
    const f = failures.find((x) => x.violations.some((v) => v.rule === 'REV-WINDOW'))!;
    expect((f.counterexample.input as { name?: string }).name).toBe('two hot resets of overlapping device sets');
  });

  it('(e) a release that changes vdev->dmabufs without memory_lock: LOCK-MEMLOCK at the list_del_init()', async () => {
    const { failures } = await search(releaseNoLockExporter);
    expect(rulesOf(failures)).toContain('LOCK-MEMLOCK');
    const f = failures.find((x) => x.violations.some((v) => v.rule === 'LOCK-MEMLOCK'))!;
    expect(f.violations.find((v) => v.rule === 'LOCK-MEMLOCK')!.message).toMatch(/list_del_init\(&priv->dmabufs_elm\) runs without .*memory_lock held for write/);
  });

  it('the faithful port shows none of them with the same budget', async () => {
    const { failures } = await search(vfioPci);
    expect(rulesOf(failures)).toEqual([]);
  });
});

describe('the generated lifecycle inputs reach every branch of the create path and of the routes', () => {
  it('over the default budget: every create errno of models/pal.ts, ROM and past-ROM regions, IO and absent BARs, both page sizes, every route, IOVA granted and refused, every create fault point, p2pdma off, unassigned and busy BARs', async () => {
    const seen = new Set<string>();
    const orig = Real.prototype.run;
    Real.prototype.run = async function (this: Real, c: LcCmd, i: number) {
      const r = await orig.call(this, c, i);
      seen.add(`page ${this.setup.pageSize}`);
      if (c.op === 'create') {
        const bar = this.setup.bars.find((b) => b.index === c.region);
        seen.add(`create ${r.result}`);
        seen.add(`region ${c.region >= 6 ? c.region : bar ? bar.type : 'absent'} -> ${r.result}`);
        seen.add(`ranges ${Math.min(c.ranges.length, 4)}`);
        if (r.result === 'ok' && c.ranges.some((x) => bar && x.offset + x.length === bar.size)) seen.add('range to the BAR end');
        // Issue 13: the create's fault points and the device facts.
        if (c.fault) seen.add(`fault ${c.fault} -> ${r.result}`);
        if (this.setup.p2pdma === false) seen.add(`p2pdma off -> ${r.result}`);
        if (bar?.mappable === false) seen.add(`region unassigned -> ${r.result}`);
        if (this.setup.busy?.includes(c.region) && bar?.type === 'mem') seen.add(`region busy -> ${r.result}`);
      }
      if (c.op === 'map' && this.atts[c.att]?.importer === 'dma') seen.add(`map ${this.setup.dmaRoute}${this.setup.dmaRoute === 'THRU_HOST_BRIDGE' ? ` iova ${this.setup.iova}` : ''}${this.setup.dmaRoute === 'BUS_ADDR' && this.setup.bars[0]!.busOffset !== 0n ? ' offset' : ''} -> ${r.result}`);
      return r;
    };
    try {
      await fc.assert(lifecycleProperty(lifecycleConfig(vfioPci, { dma: dmaImporter, iommufd: iommufdImporter }), { judge: { want: (v) => LIFECYCLE_RULES.includes(v.rule) } }), { numRuns: RUNS, seed: 1 });
    } finally {
      Real.prototype.run = orig;
    }
    const want = [
      'page 4096', 'page 65536', 'create ok', 'create -EINVAL', 'create -ENODEV', 'create -EOVERFLOW', 'create -EBADF',
      'region 6 -> -ENODEV', 'region 7 -> -ENODEV', 'region io -> -EINVAL', 'region absent -> -EINVAL', 'region mem -> ok',
      'ranges 0', 'ranges 1', 'ranges 2', 'ranges 3', 'ranges 4', 'range to the BAR end',
      'map BUS_ADDR offset -> ok', 'map THRU_HOST_BRIDGE iova true -> ok', 'map THRU_HOST_BRIDGE iova false -> ok', 'map NOT_SUPPORTED -> -EINVAL',
      'fault priv -> -ENOMEM', 'fault phys_vec -> -ENOMEM', 'fault export -> -ENOMEM', 'fault fd -> -EMFILE',
      'p2pdma off -> -EINVAL', 'region unassigned -> -EINVAL', 'region busy -> ok',
    ];
    expect(want.filter((w) => !seen.has(w)), [...seen].filter((x) => x.startsWith('map')).join('; ')).toEqual([]);
  });

  it('an earlier input {cmds} (creates as {nRanges, valid}) replays with the default setup', async () => {
    const t = lifecycleTarget('vfio-pci', lifecycleConfig(vfioPci, { dma: dmaImporter, iommufd: iommufdImporter }), 'exporter');
    const f = await t.replay({ cmds: [{ op: 'create', dev: 0, nRanges: 2, valid: true }, { op: 'create', dev: 0, nRanges: 1, valid: false }, { op: 'attach', buf: 0, importer: 'iommufd', p2p: true }, { op: 'map', att: 0 }] });
    expect(f.counterexample.steps.map((s) => [s.command, s.result])).toEqual([
      ['create(dev0, region 0, 0x0+0x1000 0x2000+0x1000)', 'ok'], ['create(dev0, region 0, 0x1+0x1000)', '-EINVAL'], ['attach(buf0, iommufd)', 'ok'], ['map(att0)', '-EOPNOTSUPP'],
    ]);
    expect(f.violations).toEqual([]);
    // Written back as {cmds, setup}? No: a replay without a setup keeps none, and reads back the same.
    expect(readLcInput(f.counterexample.input).cmds).toEqual(readLcInput({ cmds: [createCmd(0, 2), createCmd(0, 1, false), { op: 'attach', buf: 0, importer: 'iommufd', p2p: true }, { op: 'map', att: 0 }] }).cmds);
  });

  it('an input with a setup round-trips through JSON exactly (u64s as {$u64})', () => {
    const setup = { bars: [{ index: 0, type: 'mem' as const, start: 0x38000000000n, size: 0x10000n, busOffset: 0xffffffffffff0000n }], pageSize: 65536n, dmaRoute: 'BUS_ADDR' as const, iova: true };
    const cmds: LcCmd[] = [{ op: 'create', dev: 1, region: 0, ranges: [{ offset: 0n, length: 0x10000n }] }];
    expect(readLcInput(JSON.parse(JSON.stringify(lcInput(cmds, setup))))).toEqual({ cmds, setup });
  });

  it('a dma-buf whose size is its first range only is PAL-SIZE at the create (two ranges)', async () => {
    const firstOnly = vfioExporter('size-first-range', 'dma-buf size from the first range', {
      port: { ...V8_PORT, feature_dma_buf: (vdev, ops, req) => vfio_pci_core_feature_dma_buf(vdev, ops, req, (view, r) => {
        const pal = vfioDmaBufPhysFromRequest(view, r);
        return pal.ok ? ok({ ...pal.value, size: pal.value.phys[0]!.len }) : pal; // BUG: priv->size = dma_ranges[0].length
      }) },
    });
    const r = await runLifecycle(lifecycleConfig(firstOnly, { dma: dmaImporter, iommufd: iommufdImporter }), [createCmd(0, 1), createCmd(0, 2)], { keepGoing: true });
    expect(r.violations.map((v) => [v.step, v.rule, v.message])).toEqual([[1, 'PAL-SIZE', 'buf1 has size 0x1000, the sum of its ranges is 0x2000']]);
  });

  it('the wider inputs show the conversion finding 1 (every IOVA range linked at offset 0, DMA-IOVA) on two-range dma-bufs, a convert-suite rule', async () => {
    const setup = { bars: [{ index: 0, type: 'mem' as const, start: 0x38000000000n, size: 0x100000n, busOffset: 0n }], pageSize: 4096n, dmaRoute: 'THRU_HOST_BRIDGE' as const, iova: true };
    const r = await runLifecycle(lifecycleConfig(vfioPci, { dma: dmaImporter, iommufd: iommufdImporter }), [createCmd(0, 2), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'map', att: 0 }], { keepGoing: true, setup });
    expect(r.violations.map((v) => [v.step, v.rule])).toEqual([[2, 'DMA-IOVA']]);
    expect(LIFECYCLE_RULES).not.toContain('DMA-IOVA');
  });
});
