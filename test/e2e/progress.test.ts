// While a round runs in a pool worker, the pool tells which target it is and how many cases its searches have
// run (Executor.activity, from the worker's heartbeat): the runner prints it every few seconds
// (Progress.searching), so a long round of a slow implementation is not minutes of silence.
import { describe, expect, it } from 'vitest';
import { workerPool } from '../../src/harness/pool.ts';
import type { RoundRequest } from '../../src/harness/runner.ts';

describe('a running round\'s activity', () => {
  it('names the target and counts its cases as they run; nothing once the round is done', async () => {
    const pool = await workerPool([{ spec: 'vfio-pci', flag: '--exporter' }], { size: 1 });
    try {
      const name = pool.targets.find((t) => t.name.startsWith('vfio-pci'))!.name;
      expect(pool.activity!()).toEqual([]);
      const req: RoundRequest = { round: 0, seed: 7, runs: 400, found: [], corpus: [], deadline: Date.now() + 4000 };
      const round = pool.round(name, req);
      const seen: number[] = [];
      for (let i = 0; i < 30 && seen.length < 3; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const a = pool.activity!();
        if (a.length) {
          expect(a).toEqual([{ target: name, cases: expect.any(Number) }]);
          seen.push(a[0]!.cases);
        }
      }
      expect(seen.length).toBe(3);
      // counting up while the searches run
      expect(seen[2]!).toBeGreaterThan(seen[0]!);
      await round;
      expect(pool.activity!()).toEqual([]);
    } finally {
      await pool.close();
    }
  }, 60_000);
});
