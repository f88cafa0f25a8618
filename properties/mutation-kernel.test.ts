// Gaps the mutation score (reports/MUTATION.md) found in the kernel services'
// own tests: the scatterlist tables and the IOMMU domain were only ever seen
// through the conversion ports, whose documented findings (an sg_table leaked
// once orig_nents is 0) hide what sg_free_table() frees. Each property here
// checks one service against the kernel's arithmetic directly.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { IommuDomain } from '../src/kernel/iommu.ts';
import { Heap } from '../src/kernel/objects.ts';
import { newSgTable, sg_alloc_table, sg_at, sg_free_table, SG_MAX_SINGLE_ALLOC, SG_SIM_MAX_ENTS } from '../src/kernel/scatterlist.ts';
import { ViolationLog } from '../src/rules/violation.ts';
import { Kernel } from '../src/kernel/kernel.ts';
import { Completion, Kref } from '../src/kernel/completion.ts';
import { budget } from './budget.ts';

/** lib/scatterlist.c: a table of n entries takes one chunk when it fits in SG_MAX_SINGLE_ALLOC,
 *  else each full chunk gives SG_MAX_SINGLE_ALLOC - 1 entries (its last one is the chain link). */
function chunksFor(n: number): number {
  let chunks = 0;
  for (let left = n; left > 0; chunks++) left -= left > SG_MAX_SINGLE_ALLOC ? SG_MAX_SINGLE_ALLOC - 1 : left;
  return chunks;
}

describe('scatterlist: sg_alloc_table / sg_free_table / sg_at', () => {
  it('the chunk arithmetic of lib/scatterlist.c at its edges', () => {
    expect([1, 127, 128, 129, 255, 256, 8129, 8130].map(chunksFor)).toEqual([1, 1, 1, 2, 2, 3, 64, 65]);
  });

  it('n entries take chunksFor(n) allocations; sg_free_table gives every one back; entries are zeroed and sg_at ends at n', () => {
    const n = fc.oneof(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 8000, max: 20_000 }), fc.constantFrom(SG_MAX_SINGLE_ALLOC, SG_MAX_SINGLE_ALLOC + 1, 2 * SG_MAX_SINGLE_ALLOC - 1));
    fc.assert(fc.property(n, (nents) => {
      const log = new ViolationLog();
      const heap = new Heap(log);
      const t = newSgTable();
      expect(sg_alloc_table(heap, t, nents, 'alloc')).toBe(0);
      expect(heap.live('sg_table')).toHaveLength(chunksFor(nents));
      expect(t.nents).toBe(nents);
      expect(t.orig_nents).toBe(nents);
      expect(t.sgl).toHaveLength(nents);
      expect(sg_at(t, 0)).toEqual({ page: null, offset: 0, length: 0, dma_address: 0n, dma_length: 0n });
      expect(sg_at(t, nents - 1)).toBe(t.sgl![nents - 1]);
      expect(sg_at(t, nents)).toBeNull();
      sg_free_table(heap, t, 'free');
      expect(heap.live()).toEqual([]);
      expect(t.sgl).toBeNull();
      expect(sg_at(t, 0)).toBeNull();
      sg_free_table(heap, t, 'again'); // a freed table (sgl NULL) is left alone: no double free
      expect(log.violations).toEqual([]);
    }), { numRuns: budget(40) });
  });

  it('sg_free_table frees only for orig_nents entries (the kernel reads orig_nents, not nents)', () => {
    fc.assert(fc.property(fc.integer({ min: 130, max: 2000 }), fc.integer({ min: 1, max: 2000 }), (nents, orig) => {
      const heap = new Heap(new ViolationLog());
      const t = newSgTable();
      expect(sg_alloc_table(heap, t, nents, 'alloc')).toBe(0);
      const want = Math.max(0, chunksFor(nents) - chunksFor(Math.min(orig, nents)));
      t.orig_nents = Math.min(orig, nents);
      t.nents = 1;
      sg_free_table(heap, t, 'free');
      expect(heap.live('sg_table')).toHaveLength(want);
    }), { numRuns: budget(40) });
  });

  it('0 entries is -EINVAL, more than the simulated kmalloc gives is -ENOMEM, the largest table is allocated; nothing allocated on an error', () => {
    const heap = new Heap(new ViolationLog());
    expect(sg_alloc_table(heap, newSgTable(), 0, 'zero')).toBe(-22);
    expect(sg_alloc_table(heap, newSgTable(), SG_SIM_MAX_ENTS + 1, 'huge')).toBe(-12);
    expect(heap.live()).toEqual([]);
    const t = newSgTable();
    expect(sg_alloc_table(heap, t, SG_SIM_MAX_ENTS, 'max')).toBe(0);
    expect(heap.live('sg_table')).toHaveLength(chunksFor(SG_SIM_MAX_ENTS));
    sg_free_table(heap, t, 'free');
    expect(heap.live()).toEqual([]);
  });

  it('an allocation failure at any chunk returns -ENOMEM with every earlier chunk freed and the table untouched', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1000 }), fc.nat(), (nents, k) => {
      const heap = new Heap(new ViolationLog());
      const failAt = k % chunksFor(nents);
      let calls = 0;
      heap.failAlloc = () => calls++ === failAt;
      const t = newSgTable();
      expect(sg_alloc_table(heap, t, nents, 'alloc')).toBe(-12);
      expect(heap.live()).toEqual([]);
      expect(t).toEqual(newSgTable());
    }), { numRuns: budget(40) });
  });
});

describe('KASAN heap on its own', () => {
  it('a Heap made without saying reports (checkers on by default): a double free is UAF-OBJ with both sites', () => {
    const log = new ViolationLog();
    const heap = new Heap(log);
    const o = heap.alloc('priv', 'a0', 1)!;
    heap.free(o, 'f0');
    heap.free(o, 'f1');
    expect(log.violations.map((v) => [v.rule, v.evidence])).toEqual([['UAF-OBJ', { object: `priv#${o.id}`, allocSite: 'a0', freeSite: 'f0', useSite: 'f1' }]]);
  });
});

describe('IOMMU domain: iommu_map / iommu_unmap', () => {
  const mapArb = fc.array(fc.record({ paddr: fc.bigInt({ min: 0n, max: (1n << 52n) - 1n }), size: fc.bigInt({ min: 1n, max: 1n << 44n }) }), { minLength: 1, maxLength: 12 });

  it('IOVAs are u64, never overlap and keep what was mapped; unmap needs the exact (iova, size) and removes only that mapping', () => {
    fc.assert(fc.property(mapArb, fc.nat(), (maps, pick) => {
      const d = new IommuDomain();
      const iovas = maps.map((m, i) => d.iommu_map(m.paddr, m.size, i % 8, `o${i % 2}`));
      expect(d.mappings.map((m) => [m.iova, m.paddr, m.size, m.prot, m.owner])).toEqual(maps.map((m, i) => [iovas[i], m.paddr, m.size, i % 8, `o${i % 2}`]));
      const spans = d.mappings.map((m) => [m.iova, m.iova + m.size] as const).sort((a, b) => (a[0] < b[0] ? -1 : 1));
      for (const [i, [start, end]] of spans.entries()) {
        expect(start >= 0n && end <= 1n << 64n).toBe(true);
        if (i > 0) expect(start >= spans[i - 1]![1]).toBe(true);
      }
      expect(d.of('o1')).toEqual(d.mappings.filter((_, i) => i % 2 === 1));
      const i = pick % maps.length;
      const m = d.mappings[i]!;
      const before = [...d.mappings];
      expect(d.iommu_unmap(m.iova, m.size + 1n)).toBe(0n);
      expect(d.iommu_unmap(m.iova + 1n, m.size)).toBe(0n);
      expect(d.mappings).toEqual(before);
      expect(d.iommu_unmap(m.iova, m.size)).toBe(m.size);
      expect(d.mappings).toEqual(before.filter((x) => x !== m));
      expect(d.iommu_unmap(m.iova, m.size)).toBe(0n);
      expect(d.mappings).toEqual(before.filter((x) => x !== m));
    }), { numRuns: budget(60) });
  });
});

describe('every report cites where and what: the services refuse empty labels', () => {
  const blank = fc.constantFrom('', ' ', '\t');
  const refused = /simulated kernel: .* needs a non-empty name/;

  it('heap, locks, files, registrations, krefs and completions refuse an empty site or name on every call, not only when a checker fires', async () => {
    await fc.assert(fc.asyncProperty(blank, async (b) => {
      const k = new Kernel();
      const obj = k.heap.alloc('priv', 'probe', 1)!;
      expect(() => k.heap.alloc(b, 'probe', 1)).toThrow(refused);
      expect(() => k.heap.alloc('priv', b, 1)).toThrow(refused);
      expect(() => k.heap.use(obj, b)).toThrow(refused);
      expect(() => k.heap.free(obj, b)).toThrow(refused);
      expect(obj.freed).toBe(false);
      expect(() => k.newResv(b)).toThrow(refused);
      expect(() => k.newRwSem(b)).toThrow(refused);
      const file = k.newFile('buf0', async () => undefined);
      const resv = k.newResv('buf0.resv', file);
      const sem = k.newRwSem('vdev.memory_lock');
      await expect((async () => resv.lock(b))()).rejects.toThrow(refused);
      await expect(k.newResv('plain.resv').lock(b)).rejects.toThrow(refused);
      expect(() => resv.tryLock(b)).toThrow(refused);
      await expect(sem.downWrite(b)).rejects.toThrow(refused);
      expect(() => sem.tryDownWrite(b)).toThrow(refused);
      await resv.lock('probe');
      expect(() => resv.unlock(b)).toThrow(refused);
      expect(resv.isHeld()).toBe(true);
      resv.unlock('probe');
      expect(() => resv.assertHeld('LOCK-RESV', b)).toThrow(refused);
      expect(() => sem.assertHeldWrite('LOCK-MEMLOCK', b)).toThrow(refused);
      expect(() => k.newFile(b, async () => undefined)).toThrow(refused);
      expect(() => file.get(b)).toThrow(refused);
      expect(() => file.touch(b, 'maps')).toThrow(refused);
      expect(() => file.touch('probe', b)).toThrow(refused);
      await expect(file.fput(b)).rejects.toThrow(refused);
      expect(file.count).toBe(1);
      expect(() => k.newRegistration(b)).toThrow(refused);
      const reg = k.newRegistration('vdev');
      expect(() => reg.put(b)).toThrow(refused);
      expect(reg.count).toBe(1);
      expect(() => new Kref(k, b)).toThrow(refused);
      const kref = new Kref(k, 'buf0.kref');
      expect(() => kref.get(b)).toThrow(refused);
      expect(() => kref.put(b, () => undefined)).toThrow(refused);
      expect(kref.count).toBe(1);
      expect(() => new Completion(k, b)).toThrow(refused);
      await expect((async () => new Completion(k, 'buf0.comp').wait(b))()).rejects.toThrow(refused);
      expect(k.log.violations).toEqual([]);
    }), { numRuns: 3 });
  });

  it('an assertion names a catalog rule even when the lock is held; the log takes only catalog rules with a message', async () => {
    const k = new Kernel();
    const resv = k.newResv('buf0.resv');
    const sem = k.newRwSem('vdev.memory_lock');
    await resv.lock('probe');
    await sem.downWrite('probe');
    expect(() => resv.assertHeld('' as 'LOCK-RESV', 'probe')).toThrow(/unknown rule ''/);
    expect(() => sem.assertHeldWrite('LOCK-MEMLOK' as 'LOCK-MEMLOCK', 'probe')).toThrow(/unknown rule 'LOCK-MEMLOK'/);
    resv.assertHeld('LOCK-RESV', 'probe');
    sem.assertHeldWrite('LOCK-MEMLOCK', 'probe');
    expect(k.log.violations).toEqual([]);
    const log = new ViolationLog();
    expect(() => log.report('' as 'LOCK-RESV', 'x')).toThrow(/not a rule of the catalog/);
    expect(() => log.report('LOCK-RESV', ' ')).toThrow(/LOCK-RESV report without a message/);
    log.report('LOCK-RESV', 'f runs without r held', {});
    expect(log.violations).toEqual([{ rule: 'LOCK-RESV', message: 'f runs without r held', evidence: {} }]);
  });
});
