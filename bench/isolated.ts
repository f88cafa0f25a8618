// One throughput section of the bench in a process of its own (a fresh JIT and heap), its figures
// as JSON on stdout. Measured one after another in one process, a section runs on the inline
// caches and the heap the one before left: exhaustive k = 6 took 75 % more CPU after the lifecycle
// steps than alone. fast-check's ceiling too runs in a process of its own, as the lifecycle does.
import { benchAsyncCeiling, benchCeiling } from './ceiling.ts';
import { benchConversion } from './conversion.ts';
import { benchExhaustive } from './exhaustive.ts';
import { benchSteps } from './lifecycle-steps.ts';
import { MAX_COMMANDS } from '../src/harness/suites/lifecycle.ts';

/** The sections this runs: `steps SEED SEQUENCES dist|src`, `ceiling SEED SEQUENCES`, `exhaustive`, `conversion`. */
async function measure(section: string | undefined, args: readonly string[]): Promise<unknown> {
  const [seed, sequences] = args.slice(0, 2).map(Number) as [number, number];
  switch (section) {
    case 'steps':
      return benchSteps(seed, sequences, args[2] === 'dist');
    case 'ceiling':
      // Apart from the lifecycle: after it, fast-check's shared code is polymorphic and the counter model ran
      // at 1.0 or 1.7 µs a step from one run to the next.
      return { ceiling: await benchCeiling(seed, sequences, MAX_COMMANDS), asyncCeiling: await benchAsyncCeiling(seed, sequences, MAX_COMMANDS) };
    case 'exhaustive': {
      const out = [];
      for (const k of [4, 5, 6]) out.push(await benchExhaustive(k));
      return out;
    }
    case 'conversion':
      return [1, 1_000, 65_536].map(benchConversion);
    default:
      throw new Error(`bench/isolated.ts: no section '${section}' (steps SEED SEQUENCES dist|src, ceiling SEED SEQUENCES, exhaustive, conversion)`);
  }
}

const [section, ...args] = process.argv.slice(2);
process.stdout.write(`${JSON.stringify(await measure(section, args))}\n`);
