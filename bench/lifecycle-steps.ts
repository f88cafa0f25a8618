// Lifecycle throughput: model + implementation steps per second over a fixed
// number of command sequences generated and run as a search runs them
// (fc.check, generation included), on the faithful vfio-pci port as the
// lifecycle suite configures it, with every checker on and with them off.
import fc from 'fast-check';
import { dmaImporter, iommufdImporter, vfioPci } from '../src/harness/bundled.ts';
import { lcCommandsArb, lifecycleSetup } from '../src/harness/lifecycle-prop.ts';
import type { LifecycleConfig } from '../src/harness/lifecycle.ts';
import { lifecycleConfig, MAX_COMMANDS } from '../src/harness/suites/lifecycle.ts';
import { cpuMs, cpuSince, since } from './stats.ts';

export interface Throughput {
  readonly checkers: boolean;
  readonly sequences: number;
  readonly steps: number;
  readonly ms: number;
  readonly stepsPerSecond: number;
  /** CPU time of the process over the round (all threads): on a loaded machine it grows less than the wall time. */
  readonly cpuMs: number;
}

export interface StepsBench {
  readonly on: Throughput;
  readonly off: Throughput;
  /** on / off time per step: what the checkers cost. */
  readonly overhead: number;
}

/** Generate and run `sequences` command sequences as a search does (fc.check); the steps the model and the implementation executed. */
async function runSequences(cfg: LifecycleConfig, seed: number, sequences: number): Promise<number> {
  const setup = lifecycleSetup(cfg);
  let steps = 0;
  const counted = fc.asyncProperty(lcCommandsArb(MAX_COMMANDS), async (cmds) => {
    const run = setup();
    await fc.asyncModelRun(() => run, cmds);
    steps += run.model.steps;
  });
  const out = await fc.check(counted, { seed, numRuns: sequences, endOnFailure: true });
  if (out.failed) throw new Error(`the faithful vfio-pci port failed a lifecycle run: ${String(out.errorInstance)}`);
  return steps;
}

const ROUNDS = 3;

/** A configuration of the faithful port as the lifecycle suite configures it, checkers on or off. */
const configWith = (checkers: boolean): LifecycleConfig => ({ ...lifecycleConfig(vfioPci, { dma: dmaImporter, iommufd: iommufdImporter }), checkers });

async function round(cfg: LifecycleConfig, seed: number, sequences: number): Promise<Throughput> {
  const c0 = cpuMs();
  const t0 = performance.now();
  const steps = await runSequences(cfg, seed, sequences);
  const ms = since(t0);
  return { checkers: cfg.checkers ?? true, sequences, steps, ms, stepsPerSecond: Math.round((steps / ms) * 1000), cpuMs: cpuSince(c0) };
}

const best = (rounds: readonly Throughput[]): Throughput => rounds.reduce((a, b) => (b.ms < a.ms ? b : a));

/** Checkers on and off in alternating rounds (the same sequences), the best round of each, after
 *  as many sequences of another seed to warm up: the JIT needs a few thousand runs to settle. */
export async function benchSteps(seed: number, sequences: number): Promise<StepsBench> {
  const [on, off] = [configWith(true), configWith(false)];
  for (const cfg of [on, off]) await runSequences(cfg, seed + 1, sequences);
  const rounds: Throughput[] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push(await round(on, seed, sequences), await round(off, seed, sequences));
  const [bestOn, bestOff] = [best(rounds.filter((r) => r.checkers)), best(rounds.filter((r) => !r.checkers))];
  return { on: bestOn, off: bestOff, overhead: Math.round((bestOff.stepsPerSecond / bestOn.stepsPerSecond) * 100) / 100 };
}
