// One throughput section of the bench in a process of its own (a fresh JIT and heap), its figures
// as JSON on stdout. Measured one after another in one process, a section runs on the inline
// caches and the heap the one before left: exhaustive k = 6 took 75 % more CPU after the lifecycle
// steps than alone. Lifecycle steps and fast-check's ceiling stay together (their ratio is the goal).
import { benchAsyncCeiling, benchCeiling } from './ceiling.ts';
import { benchConversion } from './conversion.ts';
import { benchExhaustive } from './exhaustive.ts';
import { benchSteps } from './lifecycle-steps.ts';
import { MAX_COMMANDS } from '../src/harness/suites/lifecycle.ts';

/** The sections this runs: `steps SEED SEQUENCES dist|src`, `exhaustive`, `conversion`. */
async function measure(section: string | undefined, args: readonly string[]): Promise<unknown> {
  switch (section) {
    case 'steps': {
      const [seed, sequences] = args.slice(0, 2).map(Number) as [number, number];
      const lifecycleSteps = await benchSteps(seed, sequences, args[2] === 'dist');
      return { lifecycleSteps, ceiling: await benchCeiling(seed, sequences, MAX_COMMANDS), asyncCeiling: await benchAsyncCeiling(seed, sequences, MAX_COMMANDS) };
    }
    case 'exhaustive': {
      const out = [];
      for (const k of [4, 5, 6]) out.push(await benchExhaustive(k));
      return out;
    }
    case 'conversion':
      return [1, 1_000, 65_536].map(benchConversion);
    default:
      throw new Error(`bench/isolated.ts: no section '${section}' (steps SEED SEQUENCES dist|src, exhaustive, conversion)`);
  }
}

const [section, ...args] = process.argv.slice(2);
process.stdout.write(`${JSON.stringify(await measure(section, args))}\n`);
