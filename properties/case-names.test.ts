// A lifecycle violation's message names the kernel objects as the case's commands do (dev0, buf1, att0:
// opName), not by the kernel's names (vdev0, vdev0.dmabuf5 from a heap counter, attachment#9), which a reader
// cannot match with the commands; the evidence keeps the kernel's names (src/harness/case-names.ts).
import { describe, expect, it } from 'vitest';
import type { LcCmd } from '../models/lifecycle.ts';
import { V8_PORT, createAndExport, dma_buf_detach, dma_buf_fd, dmaImporter, iommufdImporter, vfioDmaBufPhysFromRequest, vfioExporter, vfioPci, type DmaImporterAttachment, type ImporterPlugin, type VfioDmabufPort } from '../src/index.ts';
import { createCmd, opName, runLifecycle } from '../src/harness/lifecycle.ts';
import { lifecycleConfig } from '../src/harness/suites/lifecycle.ts';
import { dmaImporterLate, iommufdMainline, matchLifecycleConfig } from '../src/harness/bundled.ts';
import { caseNamesOf } from '../src/harness/case-names.ts';
import { ViolationLog, withCaseNames } from '../src/rules/violation.ts';
import { KObj } from '../src/kernel/objects.ts';

const v8 = (dma: ImporterPlugin = dmaImporter) => lifecycleConfig(vfioPci, { dma, iommufd: iommufdImporter }, 'v8');
const CLOSE: LcCmd = { op: 'event', dev: 0, event: 'close' };

describe('lifecycle messages name objects as the case does', () => {
  it("the close's REV-WINDOW names the device, the mapped attachment and its dma-buf as the commands do (dev0, att0, buf1)", async () => {
    // buf1 is the kernel's vdev0.dmabuf<n> with n a heap counter; att0 is the first attach of the case.
    const cmds: LcCmd[] = [createCmd(0, 1), createCmd(0, 1), { op: 'attach', buf: 1, importer: 'dma', p2p: true }, { op: 'map', att: 0 }, CLOSE];
    const r = await runLifecycle(v8(), cmds, { keepGoing: true });
    const window = r.violations.find((v) => v.rule === 'REV-WINDOW')!;
    expect(window.message).toBe('dev0: BAR regions released, memory decode off and the function reset in vfio_pci_core_disable while att0 (dma-client) of buf1 still maps its MMIO');
    // The evidence keeps the kernel's names.
    expect(window.evidence).toMatchObject({ device: 'vdev0', users: [expect.stringMatching(/^an importer of vdev0\.dmabuf\d+ \(dma-client\)$/)] });
    expect(r.violations.map((v) => v.message).join('\n')).not.toMatch(/vdev\d|dmabuf\d|attachment#/);
  });

  it("a user importer's detach that detaches twice: UAF-OBJ names att1, the case's attachment, not attachment#<n>", async () => {
    const twice: ImporterPlugin = {
      ...dmaImporter, name: 'user-detach-twice',
      async attach(k, dmabuf, exporter, opts) {
        const r = await dmaImporter.attach(k, dmabuf, exporter, opts);
        if (!r.ok) return r;
        const a = r.value as DmaImporterAttachment;
        const detach = a.detach.bind(a);
        a.detach = async () => {
          await detach();
          await dma_buf_detach(k, a.attach); // BUG
        };
        return r;
      },
    };
    const cmds: LcCmd[] = [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'detach', att: 1 }];
    const r = await runLifecycle(v8(twice), cmds, { keepGoing: true });
    const uaf = r.violations.filter((v) => v.rule === 'UAF-OBJ');
    expect(uaf.map((v) => [v.step, v.message])).toEqual([
      [3, 'use after free of att1 in dma_buf_detach: allocated in dma_buf_dynamic_attach, freed in dma_buf_detach'],
      [3, 'double free of att1 in dma_buf_detach: allocated in dma_buf_dynamic_attach, freed in dma_buf_detach'],
    ]);
    expect(uaf[0]!.evidence).toMatchObject({ object: expect.stringMatching(/^attachment#\d+$/) });
  });
});

describe('an attach names the importer that attached', () => {
  it("the steps and messages name the importer plugin: the bundled one by its name, a user's with its kind", async () => {
    const mine: ImporterPlugin = { ...dmaImporter, name: 'my-dma' };
    const cmds: LcCmd[] = [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: false }, { op: 'attach', buf: 0, importer: 'iommufd', p2p: true }];
    const r = await runLifecycle(v8(mine), cmds, { keepGoing: true });
    expect(r.steps.map((s) => s.command).slice(1)).toEqual(['attach(buf0, my-dma (dma), no p2p)', 'attach(buf0, iommufd)']);
    const late = await runLifecycle(lifecycleConfig(vfioPci, { dma: dmaImporterLate, iommufd: iommufdMainline }, 'v8'), cmds, { keepGoing: true });
    expect(late.steps.map((s) => s.command).slice(1)).toEqual(['attach(buf0, dma-importer:late-unmap, no p2p)', 'attach(buf0, iommufd:mainline)']);
    // Without the run's importers (a command on its own) the kind.
    expect(opName(cmds[1]!)).toBe('attach(buf0, dma, no p2p)');
  });

  it("a wrong attach result names the importer in its message", async () => {
    const refuses: ImporterPlugin = { ...dmaImporter, name: 'my-refusing-dma', attach: async () => ({ ok: false, errno: '-EINVAL' }) };
    const r = await runLifecycle(v8(refuses), [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }], { keepGoing: true });
    expect(r.violations.map((v) => v.message)).toEqual(['attach(buf0, my-refusing-dma (dma)) returned -EINVAL, the model says ok']);
  });
});

describe('REV-IMPORTER names the attachment that got the move', () => {
  // att0 is a DMA importer's, att1 iommufd's: the message names att1 (and its dma-buf), not only buf0.
  const cmds: LcCmd[] = [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'attach', buf: 0, importer: 'iommufd', p2p: true }, { op: 'event', dev: 0, event: 'mem-off' }, { op: 'event', dev: 0, event: 'mem-on' }];
  const want = [4, 'iommufd got move_notify for att1 of buf0 while it is not revoked: a move, which an importer that cannot fault must never see'];

  it('v8 (unrevoke-notifies-iommufd)', async () => {
    const r = await runLifecycle(v8(), cmds, { keepGoing: true });
    expect(r.violations.filter((v) => v.rule === 'REV-IMPORTER').map((v) => [v.step, v.message])).toEqual([want]);
  });

  it('rfc and converter: the match-making iommufd importer', async () => {
    for (const profile of ['rfc', 'converter'] as const) {
      const r = await runLifecycle(matchLifecycleConfig(profile), cmds, { keepGoing: true });
      expect([profile, r.violations.filter((v) => v.rule === 'REV-IMPORTER').map((v) => [v.step, v.message])]).toEqual([profile, [want]]);
    }
  });
});

describe('a failed create names its objects after its step', () => {
  it("the second create's unwind (dma_buf_fd fails, v8: C1) names its priv and phys_vec as step 2's, the first create's as buf0's", async () => {
    const cmds: LcCmd[] = [createCmd(0, 1), { ...createCmd(0, 2), fault: 'fd' } as LcCmd];
    const r = await runLifecycle(v8(), cmds, { keepGoing: true });
    const uaf = r.violations.filter((v) => v.rule === 'UAF-OBJ');
    expect(uaf.map((v) => [v.step, v.message.split(' in ')[0]])).toEqual([[1, "use after free of step 2's priv"], [1, "double free of step 2's phys_vec"], [1, "double free of step 2's priv"]]);
    expect(r.violations.map((v) => v.message).join('\n')).not.toMatch(/#\d/);
  });

  it("a create that fails at dma_buf_fd() and never puts what it exported: PAL-UNWIND names step 1's dma-buf, priv and phys_vec", async () => {
    const leaks: VfioDmabufPort['feature_dma_buf'] = async (vdev, ops, req, phys = vfioDmaBufPhysFromRequest) => {
      const r = await createAndExport(vdev, ops, req, phys, 'vfio_pci_core_feature_dma_buf');
      if (!r.ok) return r;
      if (dma_buf_fd(vdev.k, r.value.dmabuf, req.openFlags) < 0) return { ok: false, errno: '-EMFILE' }; // BUG: no dma_buf_put()
      return { ok: true, value: r.value.dmabuf };
    };
    const e = vfioExporter('leaks-on-fd', 'the fd failure leaks the dma-buf', { port: { ...V8_PORT, feature_dma_buf: leaks } });
    const r = await runLifecycle(lifecycleConfig(e, { dma: dmaImporter, iommufd: iommufdImporter }, 'v8'), [{ ...createCmd(0, 1), fault: 'fd' } as LcCmd], { keepGoing: true });
    const unwind = r.violations.find((v) => v.rule === 'PAL-UNWIND')!;
    expect(unwind.message).toMatch(/^the failed create of dev0 left /);
    expect(unwind.message).toContain("step 1's dma-buf (allocated in dma_buf_export) allocated");
    expect(unwind.message).toContain("step 1's priv (allocated in vfio_pci_core_feature_dma_buf) allocated");
    expect(unwind.message).not.toMatch(/#\d|vdev\d/);
  });

  it("a later step's message names the failed create's leftovers by its step; a successful create's other objects are its dma-buf's", () => {
    const obj = (kind: string, id: number) => new KObj(kind, id, 's', null);
    const made = { name: 'vdev0.dmabuf9', obj: obj('dma_buf', 3), priv: obj('priv', 1) } as never;
    const t = caseNamesOf([{ name: 'vdev0' }], [made], [], [{ step: 0, buf: 0, objs: [obj('priv', 1), obj('phys_vec', 2), obj('dma_buf', 3)] }, { step: 2, buf: null, objs: [obj('priv', 4), obj('phys_vec', 5)] }]);
    expect([t.get('priv#1'), t.get('phys_vec#2'), t.get('dma_buf#3'), t.get('priv#4'), t.get('phys_vec#5')]).toEqual(["buf0's priv", "buf0's phys_vec", 'buf0', "step 3's priv", "step 3's phys_vec"]);
  });
});

describe('withCaseNames and caseNamesOf', () => {
  const names = new Map([['vdev0', 'dev0'], ['vdev0.dmabuf7', 'buf0'], ['vdev0.dmabuf71', 'buf1'], ['attachment#1', 'att0']]);

  it('replaces whole names and the head of a dotted one; a name inside a longer one stays', () => {
    expect(withCaseNames('takes vdev0.dmabuf7.resv of vdev0.dmabuf7, then vdev0.dmabuf71 and vdev0.memory_lock', names)).toBe('takes buf0.resv of buf0, then buf1 and dev0.memory_lock');
    expect(withCaseNames('attachment#1 and attachment#12 and x.vdev0 and vdev01', names)).toBe('att0 and attachment#12 and x.vdev0 and vdev01');
    expect(withCaseNames('vdev0.dmabuf7', new Map())).toBe('vdev0.dmabuf7');
  });

  it('a kernel name two dma-bufs share names neither; the priv is named after its dma-buf', () => {
    const buf = (name: string, id: number) => ({ name, obj: new KObj('dma_buf', id, 's', null), priv: new KObj('priv', id + 100, 's', {}) }) as never;
    const t = caseNamesOf([{ name: 'gpu0' }], [buf('bo', 1), buf('bo', 2), buf('bo7', 3)], [{ obj: null }]);
    expect(t.get('bo')).toBeUndefined();
    expect([t.get('gpu0'), t.get('bo7'), t.get('dma_buf#2'), t.get('priv#103')]).toEqual(['dev0', 'buf2', 'buf1', "buf2's priv"]);
  });

  it('a log without names reports the message as given', () => {
    const log = new ViolationLog();
    log.report('UAF-REF', 'vdev0.dmabuf7 dropped');
    log.names = { caseNames: () => names };
    log.report('UAF-REF', 'vdev0.dmabuf7 dropped');
    expect(log.violations.map((v) => v.message)).toEqual(['vdev0.dmabuf7 dropped', 'buf0 dropped']);
  });
});
