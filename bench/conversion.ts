// Conversion model time: models/sgt.ts expectedConversion on n ranges of
// 16 GiB each (65,536 of them total 2^50 bytes), BUS_ADDR, mainline's
// page-aligned segment limit (as properties/sgt.test.ts), then every entry of
// the table it describes produced in order (as the table check reads them);
// median of a few repetitions.
import { expectedConversion, forEachEntry, maxSegmentSize } from '../models/sgt.ts';
import { cpuMs, cpuSince, summarize, since } from './stats.ts';

const RANGE_BYTES = 1n << 34n;
const REPEAT = 5;
const NO_FAILURES = { dmaAlloc: false, stateAlloc: false, sgAlloc: false, syncFails: false, iovaRefused: true };

export interface ConversionBench {
  readonly ranges: number;
  readonly bytes: string;
  readonly segments: number;
  /** The model and a walk of every entry of its table. */
  readonly ms: number;
  /** CPU time of the process for the median repetition's span (all threads, GC included). */
  readonly cpuMs: number;
}

/** The model's table for `phys`, every entry produced: the number of entries and their total length. */
function convertAndWalk(phys: readonly { paddr: bigint; len: bigint }[], size: bigint): { entries: number; bytes: bigint } {
  const r = expectedConversion(phys, size, 'BUS_ADDR', NO_FAILURES, maxSegmentSize('page-aligned', 4096n), 0n, 0n);
  if (!r.ok) throw new Error(`expectedConversion(${phys.length} ranges) failed: ${r.errno}`);
  let [entries, bytes] = [0, 0n];
  forEachEntry(r.value.spans, r.value.max, (_addr, len) => {
    entries++;
    bytes += len;
    return true;
  });
  return { entries, bytes };
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
    const walked = convertAndWalk(phys, size);
    times.push(since(t0));
    cpu.push(cpuSince(c0));
    if (walked.bytes !== size) throw new Error(`the model's table for ${ranges} ranges covers 0x${walked.bytes.toString(16)} bytes, not 0x${size.toString(16)}`);
    segments = walked.entries;
  }
  return { ranges, bytes: `0x${size.toString(16)}`, segments, ms: summarize(times).median, cpuMs: summarize(cpu).median };
}
