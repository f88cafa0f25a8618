// Issue 13: the default `run` (seed 42, the default budget) reports the
// documented findings of the bundled ports, not only some other seed: D1 on
// the drain as first merged, C1 on the seed's create. The runner's first
// search of a target is target.search(DEFAULT_SEED, DEFAULT_RUNS); a finding
// met there is what report.json carries in its `finding` field.
import { describe, expect, it } from 'vitest';
import { DEFAULT_RUNS, DEFAULT_SEED } from '../../src/commands/run.ts';
import { vfioPci, vfioPciFirstDrain } from '../../src/harness/bundled.ts';
import { lifecycleSuite } from '../../src/harness/suites/lifecycle.ts';
import type { ExporterPlugin } from '../../src/harness/plugin.ts';

async function findingsOf(p: ExporterPlugin): Promise<Set<string>> {
  const t = lifecycleSuite.targets(p, [])[0]!;
  const s = await t.search(DEFAULT_SEED, DEFAULT_RUNS, new Set());
  return new Set([...s.findings, ...s.failures].flatMap((f) => f.explainedBy).filter((x): x is string => x !== null));
}

describe('the default run meets the documented lifecycle findings', () => {
  it('D1 (create, memory off, close on the drain as first merged) on vfio-pci:mainline-1a8a5227', async () => {
    const ids = await findingsOf(vfioPciFirstDrain);
    expect(ids).toContain('first-drain-close-double-put');
    expect(ids).toContain('first-drain-close-reinvalidates');
  });

  it('C1 (a failed dma_buf_fd() after the export) on vfio-pci', async () => {
    const ids = await findingsOf(vfioPci);
    expect(ids).toContain('fd-unwind-double-free');
    expect(ids).toContain('fd-unwind-double-put');
  });
});
