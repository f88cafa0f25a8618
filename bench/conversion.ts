// Conversion model time: models/sgt.ts expectedConversion on n ranges of
// 16 GiB each (65,536 of them total 2^50 bytes), BUS_ADDR, mainline's
// page-aligned segment limit (as properties/sgt.test.ts); median of a few repetitions.
import { expectedConversion, maxSegmentSize } from '../models/sgt.ts';
import { cpuMs, cpuSince, summarize, since } from './stats.ts';

const RANGE_BYTES = 1n << 34n;
const REPEAT = 5;
const NO_FAILURES = { dmaAlloc: false, stateAlloc: false, sgAlloc: false, syncFails: false, iovaRefused: true };

export interface ConversionBench {
  readonly ranges: number;
  readonly bytes: string;
  readonly segments: number;
  readonly ms: number;
  /** CPU time of the process for the median repetition's span (all threads, GC included). */
  readonly cpuMs: number;
}

export function benchConversion(ranges: number): ConversionBench {
  const phys = Array.from({ length: ranges }, (_, i) => ({ paddr: BigInt(i) << 35n, len: RANGE_BYTES }));
  const size = BigInt(ranges) * RANGE_BYTES;
  const times: number[] = [];
  const cpu: number[] = [];
  let segments = 0;
  for (let i = 0; i < REPEAT; i++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    const r = expectedConversion(phys, size, 'BUS_ADDR', NO_FAILURES, maxSegmentSize('page-aligned', 4096n), 0n, 0n);
    times.push(since(t0));
    cpu.push(cpuSince(c0));
    if (!r.ok) throw new Error(`expectedConversion(${ranges} ranges) failed: ${r.errno}`);
    segments = r.value.segments.length;
  }
  return { ranges, bytes: `0x${size.toString(16)}`, segments, ms: summarize(times).median, cpuMs: summarize(cpu).median };
}
