// The lock checkers of src/kernel/locks.ts against a tiny model: LOCK-ORDER
// (order inversions across operations, cycles of any length, AA recursion),
// LOCK-BALANCE (unlock not held, wrong mode, returning holding a lock, a lock
// never released), assert-held (LOCK-RESV, LOCK-MEMLOCK); right usage is
// silent, also under fc.scheduler; a real deadlock is reported, not hung on.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Kernel } from '../src/kernel/kernel.ts';
import { ResvLock, RwSem } from '../src/kernel/locks.ts';
import type { RuleId } from '../src/rules/registry.ts';
import { budget } from './budget.ts';
import { expectRules, Op, reported } from './kernel-ops.ts';

type Mode = 'read' | 'write';
interface Spec { readonly name: string; readonly cls: string; readonly rw: boolean; readonly rank: number }
// Three classes, so that cycles longer than two edges occur.
const LOCKS: readonly Spec[] = [
  { name: 'dev0.memory_lock', cls: 'memory_lock', rw: true, rank: 0 },
  { name: 'dev1.memory_lock', cls: 'memory_lock', rw: true, rank: 0 },
  { name: 'buf0.resv', cls: 'resv', rw: false, rank: 1 },
  { name: 'buf1.resv', cls: 'resv', rw: false, rank: 1 },
  { name: 'iopt.rwsem', cls: 'iova_rwsem', rw: true, rank: 2 },
];

interface Real { readonly k: Kernel; readonly locks: (ResvLock | RwSem)[] }

function real(checkers: boolean): Real {
  const k = new Kernel({ checkers });
  return { k, locks: LOCKS.map((s) => (s.rw ? new RwSem(s.name, s.cls, k.lockdep, k) : new ResvLock(s.name, s.cls, k.lockdep, k))) };
}

const take = (l: ResvLock | RwSem, mode: Mode, site: string) => (l instanceof RwSem ? (mode === 'read' ? l.downRead(site) : l.downWrite(site)) : l.lock(site));
const give = (l: ResvLock | RwSem, mode: Mode, site: string) => (l instanceof RwSem ? (mode === 'read' ? l.upRead(site) : l.upWrite(site)) : l.unlock(site));
const heldWrite = (l: ResvLock | RwSem) => (l instanceof RwSem ? l.isHeldWrite() : l.isHeld());

// ---- the model: one task; who holds what, lockdep's held stack, the order pairs
interface Model {
  readonly checkers: boolean;
  readonly state: ({ mode: Mode; depth: number } | null)[];
  held: { lock: number; site: string }[];
  readonly order: Map<string, { held: string; taken: string }>;
}

/** Is there a path a ⇝ b through the recorded pairs? (closure by fixpoint) */
function reaches(m: Model, a: string, b: string): boolean {
  const seen = new Set([a]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const key of m.order.keys()) {
      const [x, y] = key.split('>') as [string, string];
      if (seen.has(x) && !seen.has(y)) {
        seen.add(y);
        grew = true;
      }
    }
  }
  return seen.has(b);
}

/** What acquiring lock i reports: AA, or one LOCK-ORDER per new pair that closes a cycle. */
function modelAcquire(m: Model, i: number, mode: Mode, site: string): { rules: RuleId[]; sites: [string, string][] } {
  const st = m.state[i];
  m.held.push({ lock: i, site });
  if (st) {
    st.depth++;
    return { rules: ['LOCK-ORDER'], sites: [] };
  }
  const rules: RuleId[] = [];
  const sites: [string, string][] = [];
  for (const h of m.held.slice(0, -1)) {
    const a = LOCKS[h.lock]!.cls;
    const b = LOCKS[i]!.cls;
    if (a === b || m.order.has(`${a}>${b}`)) continue;
    m.order.set(`${a}>${b}`, { held: h.site, taken: site });
    if (reaches(m, b, a)) {
      rules.push('LOCK-ORDER');
      sites.push([site, h.site]);
    }
  }
  m.state[i] = { mode: LOCKS[i]!.rw ? mode : 'write', depth: 1 };
  return { rules, sites };
}

function modelRelease(m: Model, i: number, mode: Mode): RuleId[] {
  const st = m.state[i];
  if (!st) return ['LOCK-BALANCE'];
  const rules: RuleId[] = st.mode !== (LOCKS[i]!.rw ? mode : 'write') ? ['LOCK-BALANCE'] : [];
  if (--st.depth === 0) m.state[i] = null;
  m.held.splice(m.held.findLastIndex((h) => h.lock === i), 1);
  return rules;
}

const site = fc.constantFrom('f0', 'f1', 'f2', 'f3');
const ix = fc.nat(LOCKS.length - 1);
const mode = fc.constantFrom<Mode>('read', 'write');

const [takeCmd, giveCmd, tryCmd, assertCmd, endCmd] = [
  fc.record({ i: ix, mode, site }).map(({ i, mode, site }) => new Op<Model, Real>(`take(${LOCKS[i]!.name}, ${mode}, ${site})`, async (m, r) => {
    const want = modelAcquire(m, i, mode, site);
    const got = await reported(r.k.log, () => take(r.locks[i]!, mode, site));
    expectRules(got, want.rules, m.checkers);
    const inversions = got.filter((v) => !v.message.includes('recursively'));
    expect(inversions.map((v) => [v.evidence?.['site'], v.evidence?.['heldSite']])).toEqual(m.checkers ? want.sites : []);
    for (const v of inversions) {
      const [from, to] = String(v.evidence?.['order']).split(' -> ') as [string, string];
      // the other direction's sites are those of a recorded pair leaving `to`
      expect([...m.order].some(([key, e]) => key.startsWith(`${to}>`) && e.taken === v.evidence?.['reverseSite'] && e.held === v.evidence?.['reverseHeldSite'])).toBe(true);
      expect(reaches(m, to, from)).toBe(true);
    }
  })),
  fc.record({ i: ix, mode, site }).map(({ i, mode, site }) => new Op<Model, Real>(`give(${LOCKS[i]!.name}, ${mode}, ${site})`, async (m, r) => {
    const want = modelRelease(m, i, mode);
    expectRules(await reported(r.k.log, () => give(r.locks[i]!, mode, site)), want, m.checkers);
  })),
  fc.record({ i: ix, site }).map(({ i, site }) => new Op<Model, Real>(`trylock(${LOCKS[i]!.name}, ${site})`, async (m, r) => {
    const l = r.locks[i]!;
    const got = await reported(r.k.log, () => expect(l instanceof RwSem ? l.tryDownWrite(site) : l.tryLock(site)).toBe(m.state[i] === null));
    expectRules(got, [], m.checkers);
    if (m.state[i] === null) {
      m.state[i] = { mode: 'write', depth: 1 };
      m.held.push({ lock: i, site });
    }
  })),
  ix.map((i) => new Op<Model, Real>(`assert_held(${LOCKS[i]!.name})`, async (m, r) => {
    const l = r.locks[i]!;
    const rule: RuleId = l instanceof RwSem ? 'LOCK-MEMLOCK' : 'LOCK-RESV';
    const ok = m.state[i]?.mode === 'write';
    expect(heldWrite(l)).toBe(ok);
    expectRules(await reported(r.k.log, () => (l instanceof RwSem ? l.assertHeldWrite(rule, 'check') : l.assertHeld(rule, 'check'))), ok ? [] : [rule], m.checkers);
  })),
  fc.constant(new Op<Model, Real>('endOp', async (m, r) => {
    const want: RuleId[] = m.held.length ? ['LOCK-BALANCE'] : [];
    m.state.fill(null);
    m.held = [];
    expectRules(await reported(r.k.log, () => (r.k.beginOp('op'), r.k.endOp())), want, m.checkers);
  })),
] as const;
// Biased toward taking locks, so that orders pile up into inversions and cycles.
const lockCmd = fc.oneof({ weight: 8, arbitrary: takeCmd }, { weight: 4, arbitrary: giveCmd }, { weight: 1, arbitrary: tryCmd }, { weight: 1, arbitrary: assertCmd }, { weight: 1, arbitrary: endCmd });

describe('lockdep and the locks against a model (one task)', () => {
  it('every order inversion, AA, unbalanced unlock, leaked lock and missing assert-held is reported with its rule, and nothing else; checkers off reports nothing and keeps the semantics', async () => {
    await fc.assert(fc.asyncProperty(fc.boolean(), fc.commands([lockCmd], { maxCommands: 40 }), async (checkers, cmds) => {
      await fc.asyncModelRun(() => ({ model: { checkers, state: LOCKS.map(() => null), held: [], order: new Map() }, real: real(checkers) }), cmds);
    }), { numRuns: budget(300) });
  });

  it('an A→B then B→A inversion across two separate operations reports LOCK-ORDER with both sites, though nothing deadlocked', async () => {
    const k = new Kernel();
    const mem = k.newRwSem('dev0.memory_lock');
    const resv = k.newResv('buf0.resv');
    k.beginOp('mem-off', 0);
    await mem.downWrite('vfio_basic_config_write');
    await resv.lock('vfio_pci_dma_buf_move');
    resv.unlock('vfio_pci_dma_buf_move');
    mem.upWrite('vfio_basic_config_write');
    k.endOp();
    expect(k.log.violations).toEqual([]);
    k.beginOp('close-fd', 1);
    await resv.lock('vfio_pci_dma_buf_release');
    await mem.downWrite('vfio_pci_dma_buf_release');
    mem.upWrite('vfio_pci_dma_buf_release');
    resv.unlock('vfio_pci_dma_buf_release');
    k.endOp();
    expect(k.log.violations).toMatchObject([{ rule: 'LOCK-ORDER', step: 1, evidence: { order: 'resv -> memory_lock', site: 'vfio_pci_dma_buf_release', heldSite: 'vfio_pci_dma_buf_release', reverseSite: 'vfio_pci_dma_buf_move', reverseHeldSite: 'vfio_basic_config_write' } }]);
    expect(k.lockdep.edge('memory_lock', 'resv')).toEqual({ held: 'vfio_basic_config_write', taken: 'vfio_pci_dma_buf_move' });
  });

  it('cycles of any length: orders consistent with one ranking are silent; the first edge against it is LOCK-ORDER naming a recorded path back', async () => {
    const pair = fc.tuple(fc.nat(5), fc.nat(5)).filter(([a, b]) => a !== b).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);
    await fc.assert(fc.asyncProperty(fc.integer({ min: 3, max: 6 }), fc.array(pair, { maxLength: 12 }), async (n, extra) => {
      const k = new Kernel();
      const cls = (i: number) => `c${(i * 7) % n}`; // class names not in rank order
      const locks = Array.from({ length: n }, (_, i) => new ResvLock(`l${i}`, cls(i), k.lockdep, k));
      const nest = async (a: number, b: number) => {
        k.beginOp(`l${a} then l${b}`);
        await locks[a]!.lock(`take_${a}`);
        await locks[b]!.lock(`take_${b}_under_${a}`);
        locks[b]!.unlock('u');
        locks[a]!.unlock('u');
        k.endOp();
      };
      for (let i = 0; i + 1 < n; i++) await nest(i, i + 1);
      for (const [a, b] of extra) if (b < n) await nest(a, b);
      expect(k.log.violations).toEqual([]);
      await nest(n - 1, 0);
      expect(k.log.violations).toHaveLength(1);
      const v = k.log.violations[0]!;
      expect(v).toMatchObject({ rule: 'LOCK-ORDER', evidence: { order: `${cls(n - 1)} -> ${cls(0)}`, site: `take_0_under_${n - 1}`, heldSite: `take_${n - 1}` } });
      const path = String(v.evidence?.['reverseOrder']).split(' -> ');
      expect([path[0], path.at(-1)]).toEqual([cls(0), cls(n - 1)]);
      for (let i = 0; i + 1 < path.length; i++) expect(k.lockdep.edge(path[i]!, path[i + 1]!)).toBeDefined();
      expect(k.lockdep.edge(cls(0), path[1]!)).toEqual({ held: v.evidence?.['reverseHeldSite'], taken: v.evidence?.['reverseSite'] });
    }), { numRuns: budget(100) });
  });

  it('a leaked lock is reported at the end of the operation once, then released so the run goes on', async () => {
    const k = new Kernel();
    const mem = k.newRwSem('dev0.memory_lock');
    k.beginOp('pm-entry');
    await mem.downWrite('vfio_pci_core_pm_entry');
    k.endOp();
    k.beginOp('mem-off');
    await mem.downWrite('vfio_basic_config_write');
    mem.upWrite('vfio_basic_config_write');
    k.endOp();
    expect(k.log.violations).toMatchObject([{ rule: 'LOCK-BALANCE', evidence: { op: 'pm-entry', held: ['dev0.memory_lock'], sites: ['vfio_pci_core_pm_entry'] } }]);
  });
});

/** A well-formed critical section: locks in the global order, released in reverse. */
const program = fc.array(fc.record({ locks: fc.subarray([0, 1, 2, 3, 4]), modes: fc.array(mode, { minLength: 5, maxLength: 5 }) }), { minLength: 1, maxLength: 4 });

async function runProgram(k: Kernel, locks: (ResvLock | RwSem)[], prog: { locks: number[]; modes: Mode[] }[], site: string, owners?: Map<number, Set<string>>, errors?: string[]): Promise<void> {
  for (const cs of prog) {
    for (const i of cs.locks) {
      const m = cs.modes[i]!;
      await take(locks[i]!, m, site);
      const others = owners?.get(i);
      if (others && [...others].some((o) => o.startsWith('write') || m === 'write' || !LOCKS[i]!.rw)) errors?.push(`${site} got ${LOCKS[i]!.name} for ${m} while ${[...others].join(', ')} hold it`);
      others?.add(`${LOCKS[i]!.rw ? m : 'write'}:${site}`);
      await k.preempt(`${site}: critical section`);
    }
    for (const i of [...cs.locks].reverse()) {
      const m = cs.modes[i]!;
      const l = locks[i]!;
      if (l instanceof RwSem) {
        if (m === 'write') l.assertHeldWrite('LOCK-MEMLOCK', site);
      } else {
        l.assertHeld('LOCK-RESV', site);
      }
      owners?.get(i)?.delete(`${LOCKS[i]!.rw ? m : 'write'}:${site}`);
      give(locks[i]!, m, site);
    }
  }
}

describe('right usage is silent', () => {
  it('one task: locks taken in the global order and released, operation by operation', async () => {
    await fc.assert(fc.asyncProperty(fc.array(program, { minLength: 1, maxLength: 4 }), async (ops) => {
      const { k, locks } = real(true);
      for (const prog of ops) {
        k.beginOp('op');
        await runProgram(k, locks, prog, 'task');
        k.endOp();
      }
      expect(k.log.violations).toEqual([]);
    }), { numRuns: budget(100) });
  });

  it('several tasks under fc.scheduler: all return, mutual exclusion holds, readers share, nothing is reported', async () => {
    await fc.assert(fc.asyncProperty(fc.scheduler(), fc.array(program, { minLength: 2, maxLength: 3 }), async (s, progs) => {
      const { k, locks } = real(true);
      k.setScheduler(s);
      const owners = new Map(LOCKS.map((_, i) => [i, new Set<string>()]));
      const errors: string[] = [];
      const tasks = Object.fromEntries(progs.map((p, t) => [`T${t}`, () => runProgram(k, locks, p, `T${t}`, owners, errors)]));
      const { settled, blocked } = await k.runTasks(tasks);
      expect(errors).toEqual([]);
      expect(blocked).toEqual([]);
      expect(settled.size).toBe(progs.length);
      expect(k.log.violations).toEqual([]);
    }), { numRuns: budget(40) });
  });

  it('waiters get the lock in FIFO order, consecutive readers together', async () => {
    await fc.assert(fc.asyncProperty(fc.scheduler(), fc.array(mode, { minLength: 1, maxLength: 6 }), async (s, modes) => {
      const k = new Kernel();
      const mem = k.newRwSem('dev0.memory_lock');
      await mem.downWrite('main');
      k.setScheduler(s);
      const got: string[] = [];
      let readers = 0;
      let maxReaders = 0;
      const done = modes.map((m, t) => k.spawn(`T${t}`, async () => {
        await take(mem, m, `T${t}`);
        got.push(`T${t}`);
        if (m === 'read') maxReaders = Math.max(maxReaders, ++readers);
        await k.preempt(`T${t} holds`);
        if (m === 'read') readers--;
        give(mem, m, `T${t}`);
      }));
      await s.waitIdle();
      const queue = k.lockdep.blocked().map((b) => b.task);
      expect(queue).toHaveLength(modes.length);
      mem.upWrite('main');
      await s.waitIdle();
      await Promise.all(done);
      expect(got).toEqual(queue);
      // the readers at the head of the queue hold it together
      const head = queue.findIndex((t) => modes[Number(t.slice(1))] === 'write');
      expect(maxReaders).toBeGreaterThanOrEqual(head === -1 ? modes.length : head);
      expect(k.log.violations).toEqual([]);
    }), { numRuns: budget(40) });
  });
});

describe('real deadlocks under fc.scheduler are reported, never hung on', () => {
  const abba = async (s: fc.Scheduler) => {
    const k = new Kernel();
    k.setScheduler(s);
    const mem = k.newRwSem('dev0.memory_lock');
    const resv = k.newResv('buf0.resv');
    const out = await k.runTasks({
      move: async () => { await mem.downWrite('vfio_pci_dma_buf_move'); await resv.lock('vfio_pci_dma_buf_move'); resv.unlock('vfio_pci_dma_buf_move'); mem.upWrite('vfio_pci_dma_buf_move'); },
      release: async () => { await resv.lock('dma_buf_release'); await mem.downWrite('dma_buf_release'); mem.upWrite('dma_buf_release'); resv.unlock('dma_buf_release'); },
    });
    return { k, ...out };
  };

  it('AB-BA: every schedule reports LOCK-ORDER with both sites; a schedule that deadlocks also names both waiting tasks and sites', async () => {
    await fc.assert(fc.asyncProperty(fc.scheduler(), async (s) => {
      const { k, settled, blocked } = await abba(s);
      const inversion = k.log.violations.find((v) => v.rule === 'LOCK-ORDER' && !v.message.startsWith('deadlock'));
      expect(new Set([inversion?.evidence?.['site'], inversion?.evidence?.['reverseSite']])).toEqual(new Set(['vfio_pci_dma_buf_move', 'dma_buf_release']));
      if (blocked.length === 0) {
        expect(settled.size).toBe(2);
        return;
      }
      expect(settled.size).toBe(0);
      expect(blocked.map((b) => b.task).sort()).toEqual(['move', 'release']);
      const dl = k.log.violations.filter((v) => v.message.startsWith('deadlock'));
      expect(dl).toHaveLength(1);
      expect(dl[0]).toMatchObject({ rule: 'LOCK-ORDER' });
      expect(new Set(dl[0]!.evidence?.['waitSites'] as string[])).toEqual(new Set(['vfio_pci_dma_buf_move', 'dma_buf_release']));
    }), { numRuns: budget(50) });
  });

  it('same-class deadlocks (resv against resv, no order edge) are found when the scheduler is idle: every task returns or is named in a reported wait-for cycle', async () => {
    const pair = fc.tuple(fc.nat(2), fc.nat(2)).filter(([a, b]) => a !== b);
    await fc.assert(fc.asyncProperty(fc.scheduler(), fc.array(pair, { minLength: 2, maxLength: 4 }), async (s, pairs) => {
      const k = new Kernel();
      k.setScheduler(s);
      const resv = [0, 1, 2].map((i) => k.newResv(`buf${i}.resv`));
      const tasks = Object.fromEntries(pairs.map(([a, b], t) => [`T${t}`, async () => {
        await resv[a]!.lock(`T${t}_outer`);
        await resv[b]!.lock(`T${t}_inner`);
        resv[b]!.unlock(`T${t}_inner`);
        resv[a]!.unlock(`T${t}_outer`);
      }]));
      const { settled, blocked } = await k.runTasks(tasks);
      expect(settled.size + blocked.length).toBe(pairs.length);
      const deadlocks = k.log.violations.filter((v) => v.message.startsWith('deadlock'));
      expect(k.log.violations.length).toBe(deadlocks.length);
      expect(deadlocks.length > 0).toBe(blocked.length > 0);
      for (const d of deadlocks) {
        const names = d.evidence?.['tasks'] as string[];
        expect(names.length).toBeGreaterThanOrEqual(2);
        for (const n of names) expect(blocked.some((b) => b.task === n && b.site === `${n}_inner`)).toBe(true);
      }
    }), { numRuns: budget(40) });
  });

  it('fast-check finds a deadlocking schedule and shrinks it', async () => {
    const out = await fc.check(fc.asyncProperty(fc.scheduler(), async (s) => (await abba(s)).blocked.length === 0), { numRuns: 200, seed: 7 });
    expect(out.failed).toBe(true);
  });

  it('a task waiting for a lock its holder never releases is LOCK-BALANCE naming the holder\'s site', async () => {
    const k = new Kernel();
    const resv = k.newResv('buf0.resv');
    await resv.lock('leaky_map');
    k.setScheduler(fc.sample(fc.scheduler(), { numRuns: 1, seed: 1 })[0]!);
    const { settled, blocked } = await k.runTasks({ importer: async () => { await resv.lock('dma_buf_map_attachment'); resv.unlock('dma_buf_map_attachment'); } });
    expect(settled.size).toBe(0);
    expect(blocked).toEqual([{ task: 'importer', lock: 'buf0.resv', site: 'dma_buf_map_attachment', holders: [{ task: 'main', site: 'leaky_map' }] }]);
    expect(k.log.violations).toMatchObject([{ rule: 'LOCK-BALANCE', evidence: { task: 'importer', holdSites: ['leaky_map'] } }]);
  });
});
