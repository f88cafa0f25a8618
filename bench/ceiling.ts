// fast-check's own ceiling for model-based runs: a two-command counter model
// (fc.commands + fc.modelRun, inc and dec on a number), generated and run by
// fc.check exactly as the lifecycle bench runs its sequences. Lifecycle steps/s
// are judged as a ratio of this, measured in the same run on the same machine.
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

export interface CeilingBench {
  readonly sequences: number;
  readonly steps: number;
  readonly ms: number;
  readonly stepsPerSecond: number;
  /** CPU time of the best round (the process, all threads). */
  readonly cpuMs: number;
}

/** Generate and run `sequences` counter sequences of up to `maxCommands` commands; best of 3 after a warm-up. */
export function benchCeiling(seed: number, sequences: number, maxCommands: number): CeilingBench {
  const arb = fc.commands([fc.constant(new Inc()), fc.constant(new Dec())], { maxCommands });
  const once = (s: number) => {
    let steps = 0;
    const c0 = cpuMs();
    const t0 = performance.now();
    fc.assert(fc.property(arb, (cmds) => {
      const m = { n: 0 };
      fc.modelRun(() => ({ model: m, real: { n: 0 } }), cmds);
      steps += [...cmds].filter((c) => (c as unknown as { hasRan: boolean }).hasRan).length;
    }), { seed: s, numRuns: sequences });
    return { sequences, steps, ms: since(t0), cpuMs: cpuSince(c0) };
  };
  once(seed + 1);
  const rounds = [once(seed), once(seed), once(seed)];
  const best = rounds.reduce((a, b) => (b.ms < a.ms ? b : a));
  return { ...best, stepsPerSecond: Math.round((best.steps / best.ms) * 1000) };
}
