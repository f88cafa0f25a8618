// Issue 13 items 2 and 4: the fault points of the VFIO create path (kzalloc
// priv and kcalloc phys_vec before get_dmabuf_phys(), dma_buf_export(),
// dma_buf_fd()), the BAR claim of mainline's create (702809dabdec), and the
// device facts (p2pdma off, unassigned BARs, BAR regions held by another
// driver). Each input runs on the model and on the ports side by side.
import { describe, expect, it } from 'vitest';
import { CREATE_FAULTS, type CreateFault, type LcCmd } from '../models/lifecycle.ts';
import { differences, DIFFERENCES } from '../models/profiles.ts';
import { diff } from '../src/commands/profiles.ts';
import type { LcSetup } from '../src/gen/lifecycle.ts';
import { runLifecycle, opName } from '../src/harness/lifecycle.ts';
import { explainAll } from '../src/harness/lifecycle-prop.ts';
import { lifecycleConfig } from '../src/harness/suites/lifecycle.ts';
import { dmaImporter, iommufdImporter, iommufdMainline, vfioPci, vfioPciMainline } from '../src/harness/bundled.ts';
import { palInputProviderWithoutP2pdma, palInputUnclaimedBar, palUnwindPhysVecLeak, uafFdUnwindFallsThrough } from '../src/bugs/lifecycle-create.ts';
import type { ExporterPlugin } from '../src/harness/plugin.ts';
import { vfioExporter } from '../src/harness/bundled.ts';
import { vfioDmaBufPhysFromRequest } from '../src/impl/vfio/dmabuf_phys.ts';
import { V8_PORT, type VfioDmabufPort } from '../src/impl/vfio/vfio_pci_core.ts';
import { createPriv, exportPriv, freeCreateAllocs } from '../src/impl/vfio/vfio_pci_dmabuf.ts';
import type { Profile } from '../models/profiles.ts';

const cfgOf = (e: ExporterPlugin, p: Profile) => lifecycleConfig(e, { dma: dmaImporter, iommufd: p === 'mainline' ? iommufdMainline : iommufdImporter }, p);
const V8 = cfgOf(vfioPci, 'v8');
const MAINLINE = cfgOf(vfioPciMainline, 'mainline');
const BAR0 = { index: 0, type: 'mem' as const, start: 0x38000000000n, size: 0x100000n, busOffset: 0n };
const BAR2 = { index: 2, type: 'mem' as const, start: 0x38080000000n, size: 0x100000n, busOffset: 0n };
const IO4 = { index: 4, type: 'io' as const, start: 0xe400n, size: 0x100n, busOffset: 0n };
const setupOf = (extra: Partial<LcSetup> = {}): LcSetup => ({ bars: [BAR0, BAR2, IO4], pageSize: 4096n, dmaRoute: 'THRU_HOST_BRIDGE', iova: false, ...extra });
const create = (region: number, fault?: CreateFault, ranges = [{ offset: 0n, length: 0x1000n }, { offset: 0x2000n, length: 0x1000n }]): LcCmd =>
  ({ op: 'create', dev: 0, region, ranges, ...(fault ? { fault } : {}) });
const results = (r: Awaited<ReturnType<typeof runLifecycle>>) => r.steps.map((s) => [s.result, s.expected]);
const rules = (r: Awaited<ReturnType<typeof runLifecycle>>) => r.violations.map((v) => v.rule);

describe('create fault points (issue 13 item 2)', () => {
  it('dma_buf_fd() fails after dma_buf_export() for a two-range request: the v8 unwind frees priv and puts the registration twice, the documented finding C1', async () => {
    const cmds = [create(0, 'fd')];
    const r = await runLifecycle(V8, cmds, { keepGoing: true, setup: setupOf() });
    expect(results(r)).toEqual([['-EMFILE', '-EMFILE']]);
    // The failed create made no bufN: its objects are named after its step, as replay numbers it (step 1).
    expect(r.violations.map((v) => `${v.rule}: ${v.message}`)).toEqual([
      'UAF-REF: vfio_pci_core_feature_dma_buf drops the last registration reference of dev0 while the device is still registered',
      "UAF-OBJ: use after free of step 1's priv in vfio_pci_core_feature_dma_buf: allocated in vfio_pci_core_feature_dma_buf, freed in vfio_pci_dma_buf_release",
      "UAF-OBJ: double free of step 1's phys_vec in vfio_pci_core_feature_dma_buf: allocated in vfio_pci_core_feature_dma_buf, freed in vfio_pci_dma_buf_release",
      "UAF-OBJ: double free of step 1's priv in vfio_pci_core_feature_dma_buf: allocated in vfio_pci_core_feature_dma_buf, freed in vfio_pci_dma_buf_release",
    ]);
    // The evidence keeps the kernel's names.
    expect(r.violations[1]!.evidence).toMatchObject({ object: expect.stringMatching(/^priv#\d+$/) });
    expect(await explainAll({ cfg: V8, setup: setupOf(), names: r.names, results: r.results }, r.violations, cmds)).toEqual(['fd-unwind-double-put', 'fd-unwind-double-free', 'fd-unwind-double-free', 'fd-unwind-double-free']);
    // The model: the create fails and nothing is left (no dma-buf).
    expect(r.model.bufs).toEqual([]);
  });

  it('the fixed unwind (mainline, e98137f0a874: put the dma-buf and return) is clean, and the device still exports afterwards', async () => {
    const r = await runLifecycle(MAINLINE, [create(0, 'fd'), create(0), { op: 'close-fd', buf: 0 }, { op: 'event', dev: 0, event: 'close' }], { keepGoing: true, setup: setupOf() });
    expect(results(r)).toEqual([['-EMFILE', '-EMFILE'], ['ok', 'ok'], ['ok', 'ok'], ['ok', 'ok']]);
    expect(r.violations).toEqual([]);
  });

  it('every fault point: its errno in the seed order, nothing left behind, on both ports', async () => {
    for (const cfg of [V8, MAINLINE]) {
      for (const fault of CREATE_FAULTS.filter((f) => f !== 'fd')) {
        const r = await runLifecycle(cfg, [create(0, fault)], { keepGoing: true, setup: setupOf() });
        expect([fault, ...results(r)[0]!]).toEqual([fault, '-ENOMEM', '-ENOMEM']);
        expect(r.violations).toEqual([]);
      }
      // priv and phys_vec come before get_dmabuf_phys(): a range past the BAR end fails -ENOMEM first,
      const past = [{ offset: 0x100000n, length: 0x1000n }];
      for (const fault of ['priv', 'phys_vec'] as const) expect(results(await runLifecycle(cfg, [create(0, fault, past)], { setup: setupOf() }))).toEqual([['-ENOMEM', '-ENOMEM']]);
      // and after the input checks: a misaligned range is -EINVAL whatever the fault; dma_buf_export() comes after get_dmabuf_phys().
      const misaligned = [{ offset: 0x10n, length: 0x1000n }];
      expect(results(await runLifecycle(cfg, [create(0, 'priv', misaligned)], { setup: setupOf() }))).toEqual([['-EINVAL', '-EINVAL']]);
      expect(results(await runLifecycle(cfg, [create(0, 'export', past)], { setup: setupOf() }))).toEqual([['-EINVAL', '-EINVAL']]);
    }
  });

  it('the command names its fault point', () => {
    expect(opName(create(0, 'fd', []))).toBe('create(dev0, region 0, no ranges, dma_buf_fd fails)');
    expect(opName(create(0, 'priv', []))).toBe('create(dev0, region 0, no ranges, kzalloc(priv) fails)');
  });

  it('PAL-UNWIND names what a failed create leaves allocated (seeded bug: err_free_phys skipped)', async () => {
    const r = await runLifecycle(cfgOf(palUnwindPhysVecLeak, 'v8'), [create(0, undefined, [{ offset: 0x100000n, length: 0x1000n }])], { setup: setupOf() });
    expect(results(r)).toEqual([['-EINVAL', '-EINVAL']]);
    expect(rules(r)).toEqual(['PAL-UNWIND']);
    expect(r.violations[0]!.message).toBe("the failed create of dev0 left step 1's phys_vec (allocated in vfio_pci_core_feature_dma_buf) allocated");
  });

  it('PAL-UNWIND names a registration reference a failed create keeps (a failed dma_buf_export() that skips err_dev_put)', async () => {
    const site = 'vfio_pci_core_feature_dma_buf';
    const keepsRegistration: VfioDmabufPort['feature_dma_buf'] = async (vdev, ops, req, phys = vfioDmaBufPhysFromRequest) => {
      const created = createPriv(vdev, req, phys, site);
      if (!created.ok) return created;
      const privObj = created.value;
      if (!vdev.registration.tryGet()) return { ok: false, errno: '-ENODEV' };
      const dmabuf = await exportPriv(vdev, ops, privObj, site);
      if (!dmabuf) {
        freeCreateAllocs(vdev.k, { privObj, phys_vec: privObj.value.phys_vec }, site); // the registration put is left out
        return { ok: false, errno: '-ENOMEM' };
      }
      return { ok: true, value: dmabuf };
    };
    const e = vfioExporter('keeps-registration', 'export failure keeps the registration', { port: { ...V8_PORT, feature_dma_buf: keepsRegistration } });
    const r = await runLifecycle(cfgOf(e, 'v8'), [create(0, 'export')], { setup: setupOf() });
    expect(results(r)).toEqual([['-ENOMEM', '-ENOMEM']]);
    expect(r.violations.map((v) => `${v.rule}: ${v.message}`)).toEqual(['PAL-UNWIND: the failed create of dev0 left a registration reference of dev0 taken']);
  });

  it('the mainline create with the unwind before e98137f0a874 is caught under mainline, where C1 is no documented finding', async () => {
    const cmds = [create(0, 'fd')];
    const r = await runLifecycle(cfgOf(uafFdUnwindFallsThrough, 'mainline'), cmds, { keepGoing: true, setup: setupOf() });
    expect(new Set(rules(r))).toEqual(new Set(['UAF-OBJ', 'UAF-REF']));
    expect((await explainAll({ cfg: cfgOf(uafFdUnwindFallsThrough, 'mainline'), setup: setupOf(), names: r.names, results: r.results }, r.violations, cmds)).every((id) => id === null)).toBe(true);
  });
});

describe('BAR claim at create (mainline, 702809dabdec) and device facts (issue 13 item 4)', () => {
  it('a BAR whose regions another driver holds: -ENODEV under mainline, exported under v8 (the seed never claims it)', async () => {
    const busy = setupOf({ busy: [2] });
    expect(results(await runLifecycle(MAINLINE, [create(2), create(0)], { setup: busy }))).toEqual([['-ENODEV', '-ENODEV'], ['ok', 'ok']]);
    expect(results(await runLifecycle(V8, [create(2)], { setup: busy }))).toEqual([['ok', 'ok']]);
    const bug = await runLifecycle(cfgOf(palInputUnclaimedBar, 'mainline'), [create(2)], { setup: busy });
    expect([results(bug), rules(bug)]).toEqual([[['ok', '-ENODEV']], ['PAL-INPUT']]);
  });

  it('the claim comes with the region-index check: before the input checks and the fault points', async () => {
    const busy = setupOf({ busy: [2] });
    expect(results(await runLifecycle(MAINLINE, [create(2, 'priv', [{ offset: 0x10n, length: 0x1000n }])], { setup: busy }))).toEqual([['-ENODEV', '-ENODEV']]);
  });

  it('an absent or unassigned BAR: pci_iomap() fails, -ENODEV under mainline; no provider, -EINVAL under v8; an IO BAR is claimed but has no provider', async () => {
    const unassigned = setupOf({ bars: [BAR0, { ...BAR2, mappable: false }, IO4] });
    for (const [cfg, want] of [[MAINLINE, '-ENODEV'], [V8, '-EINVAL']] as const) {
      expect(results(await runLifecycle(cfg, [create(3)], { setup: unassigned }))).toEqual([[want, want]]);
      expect(results(await runLifecycle(cfg, [create(2)], { setup: unassigned }))).toEqual([[want, want]]);
      expect(results(await runLifecycle(cfg, [create(4)], { setup: unassigned }))).toEqual([['-EINVAL', '-EINVAL']]);
    }
  });

  it('pcim_p2pdma_init() failed -EOPNOTSUPP (tolerated at probe): no BAR has a provider, every create is -EINVAL; a device that hands out providers anyway is PAL-INPUT', async () => {
    const off = setupOf({ p2pdma: false });
    for (const cfg of [V8, MAINLINE]) expect(results(await runLifecycle(cfg, [create(0), create(2)], { setup: off }))).toEqual([['-EINVAL', '-EINVAL'], ['-EINVAL', '-EINVAL']]);
    const bug = await runLifecycle(cfgOf(palInputProviderWithoutP2pdma, 'v8'), [create(0)], { setup: off });
    expect([results(bug), rules(bug)]).toEqual([[['ok', '-EINVAL']], ['PAL-INPUT']]);
  });

  it('profiles --diff v8 mainline lists the BAR claim with its upstream source', () => {
    expect(differences('v8', 'mainline').map((d) => d.key)).toContain('createClaimsBar');
    expect(DIFFERENCES.find((d) => d.key === 'createClaimsBar')!.passage).toMatch(/702809dabdec.*vfio_pci_core_setup_barmap/);
    expect(diff('v8', 'mainline')).toMatch(/create claims the BAR it exports/);
  });
});
