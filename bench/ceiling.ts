// fast-check's own ceiling for model-based runs: a two-command counter model
// (fc.commands + fc.modelRun, inc and dec on a number), generated and run by
// fc.check exactly as the lifecycle bench runs its sequences. Lifecycle steps/s
// are judged as a ratio of this, measured in the same run on the same machine.
// The same model with async commands through fc.asyncModelRun is measured
// beside it: the lifecycle's commands are async (fc.scheduler interleaves
// them at every kernel lock), so that is the floor fast-check itself sets it.
import fc from 'fast-check';
import { cpuMs, cpuSince, since } from './stats.ts';

type Model = { n: number };
type Real = { n: number };

class Inc implements fc.Command<Model, Real> {
  check = () => true;
  run(m: Model, r: Real): void {
    r.n++;
    m.n++;
    if (r.n !== m.n) throw new Error('inc');
  }
  toString = () => 'inc';
}

class Dec implements fc.Command<Model, Real> {
  check = (m: Readonly<Model>) => m.n > 0;
  run(m: Model, r: Real): void {
    r.n--;
    m.n--;
    if (r.n !== m.n) throw new Error('dec');
  }
  toString = () => 'dec';
}

/** A command of the counter model, async: its run is a promise fc.asyncModelRun awaits. */
class Async implements fc.AsyncCommand<Model, Real> {
  constructor(private readonly sync: fc.Command<Model, Real>) {}
  check = (m: Readonly<Model>) => this.sync.check(m);
  async run(m: Model, r: Real): Promise<void> {
    this.sync.run(m, r);
  }
  toString = () => this.sync.toString();
}

export interface CeilingBench {
  readonly sequences: number;
  readonly steps: number;
  readonly ms: number;
  readonly stepsPerSecond: number;
  /** CPU time of the best round (the process, all threads). */
  readonly cpuMs: number;
}

/** A round runs its batch of sequences as many times as it takes to last this long: a 10 ms round
 *  (the ceiling's 5,000 sequences) swung by 2× from run to run with the JIT and the heap's growth. */
export const MIN_ROUND_MS = 300;
const ROUNDS = 5;

const hasRan = (c: unknown): boolean => (c as { hasRan: boolean }).hasRan;

/** The counter model's steps (commands that ran) over `sequences` sequences, sync (fc.modelRun). */
function syncBatch(seed: number, sequences: number, maxCommands: number): number {
  const arb = fc.commands([fc.constant(new Inc()), fc.constant(new Dec())], { maxCommands });
  let steps = 0;
  fc.assert(fc.property(arb, (cmds) => {
    fc.modelRun(() => ({ model: { n: 0 }, real: { n: 0 } }), cmds);
    for (const c of cmds) if (hasRan(c)) steps++;
  }), { seed, numRuns: sequences });
  return steps;
}

/** The same with async commands (fc.asyncProperty + fc.asyncModelRun). */
async function asyncBatch(seed: number, sequences: number, maxCommands: number): Promise<number> {
  const arb = fc.commands([fc.constant(new Async(new Inc())), fc.constant(new Async(new Dec()))], { maxCommands });
  let steps = 0;
  await fc.assert(fc.asyncProperty(arb, async (cmds) => {
    await fc.asyncModelRun(() => ({ model: { n: 0 }, real: { n: 0 } }), cmds);
    for (const c of cmds) if (hasRan(c)) steps++;
  }), { seed, numRuns: sequences });
  return steps;
}

/** Best of ROUNDS rounds of at least MIN_ROUND_MS each, after a warm-up round of another seed. */
async function rounds(sequences: number, batch: (seed: number) => number | Promise<number>, seed: number): Promise<CeilingBench> {
  const t = performance.now();
  await batch(seed + 1);
  const repeat = Math.max(1, Math.ceil(MIN_ROUND_MS / Math.max(1, performance.now() - t)));
  const out: CeilingBench[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = cpuMs();
    const t0 = performance.now();
    let steps = 0;
    for (let i = 0; i < repeat; i++) steps += await batch(seed);
    const ms = since(t0);
    out.push({ sequences: sequences * repeat, steps, ms, cpuMs: cpuSince(c0), stepsPerSecond: Math.round((steps / ms) * 1000) });
  }
  return out.reduce((a, b) => (b.ms / b.steps < a.ms / a.steps ? b : a));
}

/** fast-check's ceiling: the counter model through fc.modelRun (the goal's reference). */
export function benchCeiling(seed: number, sequences: number, maxCommands: number): Promise<CeilingBench> {
  return rounds(sequences, (s) => syncBatch(s, sequences, maxCommands), seed);
}

/** The same counter model with async commands through fc.asyncModelRun (what an async command costs fast-check itself). */
export function benchAsyncCeiling(seed: number, sequences: number, maxCommands: number): Promise<CeilingBench> {
  return rounds(sequences, (s) => asyncBatch(s, sequences, maxCommands), seed);
}
