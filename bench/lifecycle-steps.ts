// Lifecycle throughput: model + implementation steps per second over a fixed
// number of command sequences generated and run as a search runs them
// (fc.check, generation included), on the faithful vfio-pci port as the
// lifecycle suite configures it, with every checker on and with them off; and
// what generating those commands alone costs. The modules are the build's
// (dist/, what `npx dmabuf-conform run` runs) when it is current, else the
// sources through tsx.
import { existsSync } from 'node:fs';
import fc from 'fast-check';
import type * as Bundled from '../src/harness/bundled.ts';
import type * as LifecycleProp from '../src/harness/lifecycle-prop.ts';
import type { LifecycleConfig } from '../src/harness/lifecycle.ts';
import type * as LifecycleSuite from '../src/harness/suites/lifecycle.ts';
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
  /** The same sequences generated (fc.check over the command arbitrary) and not run: steps = commands generated. */
  readonly generation: Throughput;
  /** Where the modules came from: the build (dist/) or the sources (tsx). */
  readonly modules: 'dist' | 'src';
}

interface Harness {
  readonly bundled: typeof Bundled;
  readonly prop: typeof LifecycleProp;
  readonly suite: typeof LifecycleSuite;
  readonly modules: 'dist' | 'src';
}

/** The harness modules: the build's when `dist` is set (the caller checked it is current), else the sources. */
async function load(dist: boolean): Promise<Harness> {
  const [dir, ext] = dist && existsSync(new URL('../dist/.built', import.meta.url)) ? ['../dist/src', 'js'] : ['../src', 'ts'];
  const at = (path: string) => new URL(`${dir}/${path}.${ext}`, import.meta.url).href;
  const [bundled, prop, suite] = await Promise.all([import(at('harness/bundled')), import(at('harness/lifecycle-prop')), import(at('harness/suites/lifecycle'))]);
  return { bundled, prop, suite, modules: dir === '../dist/src' ? 'dist' : 'src' } as Harness;
}

/** Generate and run `sequences` command sequences as a search does (fc.check); the steps the model and the implementation executed. */
async function runSequences(h: Harness, cfg: LifecycleConfig, seed: number, sequences: number): Promise<number> {
  const setup = h.prop.lifecycleSetup(cfg);
  let steps = 0;
  const counted = fc.asyncProperty(h.prop.lcCommandsArb(h.suite.MAX_COMMANDS), async (cmds) => {
    const run = setup();
    await fc.asyncModelRun(() => run, cmds);
    steps += run.model.steps;
  });
  const out = await fc.check(counted, { seed, numRuns: sequences, endOnFailure: true });
  if (out.failed) throw new Error(`the faithful vfio-pci port failed a lifecycle run: ${String(out.errorInstance)}`);
  return steps;
}

/** The same sequences generated and walked, not run: the commands fast-check built. */
async function generateSequences(h: Harness, seed: number, sequences: number): Promise<number> {
  let commands = 0;
  const counted = fc.asyncProperty(h.prop.lcCommandsArb(h.suite.MAX_COMMANDS), async (cmds) => {
    for (const _ of cmds) commands++;
  });
  await fc.check(counted, { seed, numRuns: sequences });
  return commands;
}

const ROUNDS = 3;

/** A configuration of the faithful port as the lifecycle suite configures it, checkers on or off. */
const configWith = (h: Harness, checkers: boolean): LifecycleConfig => ({ ...h.suite.lifecycleConfig(h.bundled.vfioPci, { dma: h.bundled.dmaImporter, iommufd: h.bundled.iommufdImporter }), checkers });

async function round(checkers: boolean, sequences: number, work: () => Promise<number>): Promise<Throughput> {
  const c0 = cpuMs();
  const t0 = performance.now();
  const steps = await work();
  const ms = since(t0);
  return { checkers, sequences, steps, ms, stepsPerSecond: Math.round((steps / ms) * 1000), cpuMs: cpuSince(c0) };
}

const best = (rounds: readonly Throughput[]): Throughput => rounds.reduce((a, b) => (b.ms / b.steps < a.ms / a.steps ? b : a));

/** Checkers on and off in alternating rounds (the same sequences), the best round of each, after
 *  as many sequences of another seed to warm up: the JIT needs a few thousand runs to settle.
 *  `dist`: run the build's modules (the caller made sure it is current). */
export async function benchSteps(seed: number, sequences: number, dist: boolean): Promise<StepsBench> {
  const h = await load(dist);
  const [on, off] = [configWith(h, true), configWith(h, false)];
  for (const cfg of [on, off]) await runSequences(h, cfg, seed + 1, sequences);
  await generateSequences(h, seed + 1, sequences);
  const rounds: Throughput[] = [];
  const gen: Throughput[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    rounds.push(await round(true, sequences, () => runSequences(h, on, seed, sequences)), await round(false, sequences, () => runSequences(h, off, seed, sequences)));
    gen.push(await round(false, sequences, () => generateSequences(h, seed, sequences)));
  }
  const [bestOn, bestOff] = [best(rounds.filter((r) => r.checkers)), best(rounds.filter((r) => !r.checkers))];
  return { on: bestOn, off: bestOff, overhead: Math.round((bestOff.stepsPerSecond / bestOn.stepsPerSecond) * 100) / 100, generation: best(gen), modules: h.modules };
}
