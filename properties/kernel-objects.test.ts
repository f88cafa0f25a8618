// KASAN (src/kernel/objects.ts), files and references (src/kernel/files.ts)
// and the composite Kernel against tiny models: UAF-OBJ names the alloc, free
// and use sites; double free; fput below zero and a second release are
// UAF-REF; get on a dying file is UAF-DYING; a registration put twice is
// UAF-REF; right usage is silent; checkers off keeps semantics, reports nothing.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Kernel } from '../src/kernel/kernel.ts';
import type { KFile, Registration } from '../src/kernel/files.ts';
import type { KObj } from '../src/kernel/objects.ts';
import type { RuleId } from '../src/rules/registry.ts';
import { budget } from './budget.ts';
import { expectRules, Op, reported } from './kernel-ops.ts';

const site = fc.constantFrom('s0', 's1', 's2');
const kind = fc.constantFrom('priv', 'phys_vec', 'sg_table', 'attachment');

// ---- heap
interface HeapModel { readonly checkers: boolean; readonly objs: { kind: string; alloc: string; free?: string; value: number }[] }
interface HeapReal { readonly k: Kernel; readonly objs: KObj<number>[] }

const heapCmds = [
  fc.record({ kind, site, value: fc.integer() }).map(({ kind, site, value }) => new Op<HeapModel, HeapReal>(`alloc(${kind}, ${site})`, async (m, r) => {
    m.objs.push({ kind, alloc: site, value });
    const got = await reported(r.k.log, () => r.objs.push(r.k.heap.alloc(kind, site, value)!));
    expectRules(got, [], m.checkers);
    expect(r.objs.at(-1)).toMatchObject({ kind, allocSite: site, freed: false });
  })),
  fc.record({ i: fc.nat(), site }).map(({ i, site }) => new Op<HeapModel, HeapReal>(`free(#${i}, ${site})`, async (m, r) => {
    if (!m.objs.length) return;
    const o = m.objs[i % m.objs.length]!;
    const got = await reported(r.k.log, () => r.k.heap.free(r.objs[i % m.objs.length]!, site));
    expectRules(got, o.free === undefined ? [] : ['UAF-OBJ'], m.checkers);
    if (got.length) expect(got[0]!.evidence).toMatchObject({ allocSite: o.alloc, freeSite: o.free, useSite: site });
    o.free ??= site;
  })),
  fc.record({ i: fc.nat(), site }).map(({ i, site }) => new Op<HeapModel, HeapReal>(`use(#${i}, ${site})`, async (m, r) => {
    if (!m.objs.length) return;
    const o = m.objs[i % m.objs.length]!;
    let value = 0;
    const got = await reported(r.k.log, () => (value = r.k.heap.use(r.objs[i % m.objs.length]!, site)));
    expect(value).toBe(o.value);
    expectRules(got, o.free === undefined ? [] : ['UAF-OBJ'], m.checkers);
    if (got.length) expect(got[0]!.evidence).toMatchObject({ allocSite: o.alloc, freeSite: o.free, useSite: site });
  })),
  fc.option(kind, { nil: undefined }).map((k) => new Op<HeapModel, HeapReal>(`live(${k ?? ''})`, (m, r) => {
    const want = m.objs.flatMap((o, i) => (o.free === undefined && (k === undefined || o.kind === k) ? [i] : []));
    expect(r.k.heap.live(k).map((o) => r.objs.indexOf(o as KObj<number>))).toEqual(want);
  })),
];

describe('KASAN heap against a model', () => {
  it('use after free and double free are UAF-OBJ naming the alloc, free and use sites; live() is the unfreed set', async () => {
    await fc.assert(fc.asyncProperty(fc.boolean(), fc.commands(heapCmds, { maxCommands: 30 }), async (checkers, cmds) => {
      await fc.asyncModelRun(() => ({ model: { checkers, objs: [] }, real: { k: new Kernel({ checkers }), objs: [] } }), cmds);
    }), { numRuns: budget(200) });
  });

  it('objects used only between their alloc and their single free report nothing', () => {
    fc.assert(fc.property(fc.array(fc.tuple(kind, fc.nat(3)), { maxLength: 20 }), (lives) => {
      const k = new Kernel();
      for (const [kd, uses] of lives) {
        const o = k.heap.alloc(kd, 'alloc', uses)!;
        for (let u = 0; u < k.heap.use(o, 'use'); u++) k.heap.use(o, 'use');
        k.heap.free(o, 'free');
      }
      expect(k.heap.live()).toEqual([]);
      expect(k.log.violations).toEqual([]);
    }), { numRuns: budget(100) });
  });

  it('KASAN report of a use after free', () => {
    const k = new Kernel();
    const priv = k.heap.alloc('priv', 'vfio_pci_core_feature_dma_buf', { revoked: false })!;
    k.heap.free(priv, 'vfio_pci_dma_buf_release');
    k.heap.use(priv, 'vfio_pci_dma_buf_move');
    k.heap.free(priv, 'vfio_pci_dma_buf_cleanup');
    expect(k.log.violations.map((v) => v.message)).toEqual([
      `use after free of priv#${priv.id} in vfio_pci_dma_buf_move: allocated in vfio_pci_core_feature_dma_buf, freed in vfio_pci_dma_buf_release`,
      `double free of priv#${priv.id} in vfio_pci_dma_buf_cleanup: allocated in vfio_pci_core_feature_dma_buf, freed in vfio_pci_dma_buf_release`,
    ]);
    expect(k.log.rules()).toEqual(['UAF-OBJ']);
  });

  it('an injected allocation failure returns null and allocates nothing', () => {
    const k = new Kernel();
    k.heap.failAlloc = (kd) => kd === 'priv';
    expect(k.heap.alloc('priv', 'x', 1)).toBeNull();
    expect(k.heap.alloc('phys_vec', 'x', 1)).not.toBeNull();
    expect(k.heap.live().map((o) => o.kind)).toEqual(['phys_vec']);
  });
});

// ---- files and the registration
interface RefModel {
  readonly checkers: boolean;
  count: number;
  released: boolean;
  releases: number;
  lastPut?: string;
  reg: number;
  unregistering: boolean;
}
interface RefReal { readonly k: Kernel; readonly file: KFile; readonly reg: Registration; releases: number }

const refCmds = [
  fc.constant(new Op<RefModel, RefReal>('get_file_active', (m, r) => {
    const ok = m.count > 0 && !m.released;
    expect(r.file.getFileActive('cleanup')).toBe(ok);
    if (ok) m.count++;
  })),
  site.map((s) => new Op<RefModel, RefReal>(`get_file(${s})`, async (m, r) => {
    const got = await reported(r.k.log, () => r.file.get(s));
    expectRules(got, m.count === 0 ? ['UAF-DYING'] : [], m.checkers);
    if (got.length) expect(got[0]!.evidence).toMatchObject({ site: s, putSite: m.lastPut });
    m.count++;
  })),
  site.map((s) => new Op<RefModel, RefReal>(`fput(${s})`, async (m, r) => {
    let want: RuleId[] = [];
    if (m.count === 0) want = ['UAF-REF'];
    else if (--m.count === 0) {
      m.lastPut = s;
      if (m.released) {
        want = ['UAF-REF'];
      } else {
        m.released = true;
        m.releases++;
      }
    }
    expectRules(await reported(r.k.log, () => r.file.fput(s)), want, m.checkers);
    expect([r.file.count, r.file.dying, r.file.released, r.releases]).toEqual([m.count, m.count === 0, m.released, m.releases]);
  })),
  fc.constant(new Op<RefModel, RefReal>('vfio_device_try_get_registration', (m, r) => {
    expect(r.reg.tryGet('create')).toBe(m.reg > 0);
    if (m.reg > 0) m.reg++;
  })),
  site.map((s) => new Op<RefModel, RefReal>(`vfio_device_put_registration(${s})`, async (m, r) => {
    let want: RuleId[] = [];
    if (m.reg === 0) want = ['UAF-REF'];
    else if (--m.reg === 0 && !m.unregistering) want = ['UAF-REF'];
    expectRules(await reported(r.k.log, () => r.reg.put(s)), want, m.checkers);
    expect(r.reg.count).toBe(m.reg);
  })),
  fc.constant(new Op<RefModel, RefReal>('vfio_unregister_group_dev', (m, r) => {
    m.unregistering = r.reg.unregistering = true;
  })),
];

function refReal(checkers: boolean): RefReal {
  const k = new Kernel({ checkers });
  const r: RefReal = { k, file: undefined!, reg: k.newRegistration('vdev0'), releases: 0 };
  return Object.assign(r, { file: k.newFile('dmabuf0', async () => void r.releases++) });
}

describe('file and registration references against a model', () => {
  it('fput below zero and a second release are UAF-REF, get on a dying file UAF-DYING, get_file_active fails on it; the registration put below zero or before unregistration is UAF-REF', async () => {
    await fc.assert(fc.asyncProperty(fc.boolean(), fc.commands(refCmds, { maxCommands: 30 }), async (checkers, cmds) => {
      await fc.asyncModelRun(() => ({ model: { checkers, count: 1, released: false, releases: 0, reg: 1, unregistering: false }, real: refReal(checkers) }), cmds);
    }), { numRuns: budget(200) });
  });

  it('balanced gets and puts report nothing and release once, at the last put', async () => {
    await fc.assert(fc.asyncProperty(fc.nat(5), fc.nat(5), async (files, regs) => {
      const r = refReal(true);
      for (let i = 0; i < files; i++) expect(r.file.getFileActive()).toBe(true);
      for (let i = 0; i < regs; i++) expect(r.reg.tryGet()).toBe(true);
      for (let i = 0; i < files; i++) await r.file.fput('user');
      for (let i = 0; i < regs; i++) r.reg.put('release');
      expect(r.releases).toBe(0);
      await r.file.fput('close');
      r.reg.unregistering = true;
      r.reg.put('vfio_unregister_group_dev');
      expect([r.releases, r.file.released, r.reg.tryGet()]).toEqual([1, true, false]);
      expect(r.k.log.violations).toEqual([]);
    }), { numRuns: budget(50) });
  });

  it('examples: fput below zero, get on a dying file, the registration put twice', async () => {
    const r = refReal(true);
    expect(r.reg.tryGet('vfio_pci_core_feature_dma_buf')).toBe(true);
    r.reg.put('vfio_pci_dma_buf_release');
    r.reg.put('vfio_pci_dma_buf_cleanup');
    await r.file.fput('close');
    r.file.get('vfio_pci_dma_buf_move');
    await r.file.fput('vfio_pci_dma_buf_move');
    await r.file.fput('vfio_pci_dma_buf_move');
    expect(r.k.log.violations.map((v) => [v.rule, v.evidence?.['site']])).toEqual([
      ['UAF-REF', 'vfio_pci_dma_buf_cleanup'],
      ['UAF-DYING', 'vfio_pci_dma_buf_move'],
      ['UAF-REF', 'vfio_pci_dma_buf_move'],
      ['UAF-REF', 'vfio_pci_dma_buf_move'],
    ]);
    expect(r.releases).toBe(1);
  });
});

describe('the release runs as task work of the task that dropped the last reference (fc.scheduler)', () => {
  // vfio_pci_dma_buf_cleanup() races the last fput of the dma-buf (seed 002:
  // "the refcount prevents both"): get_file_active() skips a dying file.
  const race = async (s: fc.Scheduler, get: 'active' | 'get_file') => {
    const k = new Kernel();
    k.setScheduler(s);
    let releases = 0;
    let freedBeforeCleanupPut = false;
    const file = k.newFile('dmabuf0', async () => void releases++);
    const { settled } = await k.runTasks({
      close: () => file.fput('close'),
      cleanup: async () => {
        await k.preempt('cleanup: list walk');
        if (get === 'active' ? !file.getFileActive() : (file.get('vfio_pci_dma_buf_cleanup'), false)) return;
        await k.preempt('cleanup: revoke');
        freedBeforeCleanupPut = file.released;
        await file.fput('vfio_pci_dma_buf_cleanup');
      },
    });
    expect(settled.size).toBe(2);
    return { k, releases, freedBeforeCleanupPut };
  };

  it('with get_file_active every schedule releases exactly once and reports nothing; dying while the release is pending', async () => {
    await fc.assert(fc.asyncProperty(fc.scheduler(), async (s) => {
      const { k, releases, freedBeforeCleanupPut } = await race(s, 'active');
      expect(releases).toBe(1);
      expect(freedBeforeCleanupPut).toBe(false);
      expect(k.log.violations).toEqual([]);
    }), { numRuns: budget(60) });
  });

  it('with get_file some schedule takes a reference on the dying file (UAF-DYING), found by fast-check', async () => {
    const out = await fc.check(fc.asyncProperty(fc.scheduler(), async (s) => !(await race(s, 'get_file')).k.log.has('UAF-DYING')), { numRuns: 200, seed: 5 });
    expect(out.failed).toBe(true);
  });

  it('between the last fput and the task\'s return to user space the file is dying and not released', async () => {
    const k = new Kernel();
    const s = fc.sample(fc.scheduler(), { numRuns: 1, seed: 2 })[0]!;
    k.setScheduler(s);
    let released = false;
    const file = k.newFile('dmabuf0', async () => void (released = true));
    const put = file.fput('close');
    expect([file.dying, file.released, file.getFileActive(), released]).toEqual([true, false, false, false]);
    expect(s.report().map((t) => t.label)).toEqual(['__fput(dmabuf0)']);
    await s.waitIdle();
    await put;
    expect([file.dying, file.released, released]).toEqual([true, false, false]);
    await k.runTaskWork();
    expect([file.released, released]).toEqual([true, true]);
  });
});

describe('UAF-DYING whatever the touch: a dying file\'s reservation lock and its importers', () => {
  const dying = async () => {
    const k = new Kernel();
    const s = fc.sample(fc.scheduler(), { numRuns: 1, seed: 2 })[0]!;
    k.setScheduler(s);
    const file = k.newFile('dmabuf0', async () => undefined);
    const resv = k.newResv('dmabuf0.resv', file);
    const put = file.fput('close');
    await s.waitIdle();
    await put;
    return { k, file, resv };
  };

  it('taking the resv of a dma-buf whose release is pending is UAF-DYING naming the site and the last put', async () => {
    const { k, file, resv } = await dying();
    expect(file.dying && !file.released).toBe(true);
    expect(resv.tryLock('vfio_pci_dma_buf_move')).toBe(true);
    resv.unlock('vfio_pci_dma_buf_move');
    expect(k.log.violations.map((v) => [v.rule, v.message])).toEqual([['UAF-DYING', 'vfio_pci_dma_buf_move takes dmabuf0.resv of dmabuf0, whose file is dying (last reference dropped in close, release pending)']]);
  });

  it('the release itself may touch it, and a live or plain resv reports nothing', async () => {
    const { k, resv } = await dying();
    await k.runTaskWork();
    k.setScheduler(undefined);
    await resv.lock('dma_buf_release');
    resv.unlock('dma_buf_release');
    const live = k.newFile('dmabuf1', async () => undefined);
    await k.newResv('dmabuf1.resv', live).lock('importer_map');
    await k.newResv('plain.resv').lock('x');
    expect(k.log.violations).toEqual([]);
  });
});

describe('the composite kernel', () => {
  it('checkers off keeps every service working and silences all of them (heap, DMA API, lockdep, references)', async () => {
    const k = new Kernel({ checkers: false });
    const o = k.heap.alloc('priv', 'a', 7)!;
    k.heap.free(o, 'f');
    expect(k.heap.use(o, 'u')).toBe(7);
    k.dma.dma_unmap_phys(0x1000n, 0x1000n, 'DMA_TO_DEVICE');
    const r = k.newRegistration('vdev0');
    r.put('p');
    k.beginOp('op');
    await k.newResv('buf0.resv').lock('leak');
    k.endOp();
    expect(k.log.violations).toEqual([]);
    k.checkers = true;
    k.heap.free(o, 'f2');
    k.dma.dma_unmap_phys(0x1000n, 0x1000n, 'DMA_TO_DEVICE');
    expect(k.log.rules()).toEqual(['UAF-OBJ', 'DMA-UNMAP']);
  });

  it('beginOp numbers the violations of an operation; endOp names the operation in LOCK-BALANCE', async () => {
    const k = new Kernel();
    k.beginOp('pm-entry(dev0)', 4);
    await k.newRwSem('dev0.memory_lock').downWrite('vfio_pci_runtime_pm_entry');
    k.endOp();
    expect(k.log.violations).toMatchObject([{ rule: 'LOCK-BALANCE', step: 4, evidence: { op: 'pm-entry(dev0)' } }]);
  });

  it('preempt is a resolved promise without a scheduler and a labelled scheduled task with one; runTasks needs a scheduler and passes errors on', async () => {
    const k = new Kernel();
    expect(k.preemptible).toBe(false);
    await k.preempt('x');
    await expect(k.runTasks({ a: async () => 1 })).rejects.toThrow(/scheduler/);
    const s = fc.sample(fc.scheduler(), { numRuns: 1, seed: 4 })[0]!;
    k.setScheduler(s);
    expect(k.preemptible).toBe(true);
    const p = k.preempt('point');
    expect(s.report().map((t) => [t.label, t.status])).toEqual([['point', 'pending']]);
    await s.waitIdle();
    await p;
    await expect(k.runTasks({ ok: async () => 1, bad: async () => Promise.reject(new Error('boom')) })).rejects.toThrow('boom');
    const { settled } = await k.runTasks({ a: async () => k.currentTask(), b: async () => k.currentTask() });
    expect([...settled].sort()).toEqual([['a', 'a'], ['b', 'b']]);
    k.setScheduler(undefined);
    expect(k.currentTask()).toBe('main');
  });
});
