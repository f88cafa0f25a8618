// Exhaustive mode: states, transitions and seconds of the bounded exhaustive
// exploration (src/harness/exhaustive.ts) at depth k, on the configuration of
// properties/exhaustive.test.ts (the vfio-pci port, 1 device).
import { dmaImporter, iommufdImporter, vfioPci } from '../src/harness/bundled.ts';
import { exhaustive } from '../src/harness/exhaustive.ts';
import { cpuMs, cpuSince, since } from './stats.ts';

export interface ExhaustiveBench {
  readonly k: number;
  readonly states: number;
  readonly transitions: number;
  readonly violations: number;
  readonly ms: number;
  /** CPU time of the process over the same span (all threads): what a loaded machine inflates less. */
  readonly cpuMs: number;
}

export async function benchExhaustive(k: number): Promise<ExhaustiveBench> {
  const c0 = cpuMs();
  const t0 = performance.now();
  const r = await exhaustive({ exporter: vfioPci, importers: { dma: dmaImporter, iommufd: iommufdImporter }, devices: 1, route: 'THRU_HOST_BRIDGE' }, k);
  return { k, states: r.states, transitions: r.transitions, violations: r.violations.length, ms: since(t0), cpuMs: cpuSince(c0) };
}
