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
import { readLcInput } from '../src/harness/lifecycle.ts';
import type { ExporterPlugin } from '../src/harness/plugin.ts';
import { lifecycleConfig, lifecycleTarget } from '../src/harness/suites/lifecycle.ts';
import type { Found } from '../src/harness/suite.ts';
import { lifecycleBugExporters } from '../src/bugs/lifecycle.ts';
import { createOps, type CreateOps } from '../src/impl/vfio/dmabuf_phys.ts';
import { V8_PORT, VfioPciCore } from '../src/impl/vfio/vfio_pci_core.ts';
import { vfio_pci_core_feature_dma_buf, VfioPciDmabufOps } from '../src/impl/vfio/vfio_pci_dmabuf.ts';

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

  it('(b) runtime PM exit that forgets to unrevoke: REV-WINDOW (the revoked state compareStep judges), create; pm-entry; pm-exit', async () => {
    const { failures } = await search(pmExitExporter);
    expect(rulesOf(failures)).toContain('REV-WINDOW');
    const { cmds } = readLcInput(failures[0]!.counterexample.input);
    expect(cmds.map((c) => (c.op === 'event' ? c.event : c.op))).toEqual(['create', 'pm-entry', 'pm-exit']);
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

  it('the faithful port shows none of them with the same budget', async () => {
    const { failures } = await search(vfioPci);
    expect(rulesOf(failures)).toEqual([]);
  });
});
