// A documented finding met during a lifecycle search is recorded with the commands that showed it
// (lifecycle-prop.ts FindingLog): the whole run up to that step, a dozen commands where the finding
// needs three or four. Before it is described for the report, fast-check shrinks it: a property over
// sub-lists of the recorded commands that fails while the case still shows that finding, given the
// recorded case as an example (fc.subarray can shrink a value it did not generate); fast-check's shrunk
// counterexample is the case reported. This runs once per finding a search meets, never per step, and not
// for a finding the runner already holds a case of (SearchOptions.knownFindings, suites/lifecycle.ts).
import fc from 'fast-check';
import { step, type LcCmd, type LcState } from '../../models/lifecycle.ts';
import type { LcSetup } from '../gen/lifecycle.ts';
import type { RuleId } from '../rules/registry.ts';
import type { Violation } from '../rules/violation.ts';
import { explainAll } from './lifecycle-prop.ts';
import { Real, runLifecycle, type LifecycleConfig, type LifecycleRun } from './lifecycle.ts';

/** Lifecycle runs one finding's shrink may make besides the recorded case's own. The default run's 31 findings
 *  met serially (2 to 11 commands each) took 3 to 40 (407 in all, half a second of the run's CPU). A count, not
 *  a time, so the same seed gives the same case; past it the smallest case found so far is kept. */
export const FINDING_SHRINK_RUNS = 100;

/** Which objects each command of a case refers to, as positions in the case: the create that made the
 *  dma-buf an attach, close-fd names, and the attach that made the attachment a map, unmap, detach or access
 *  names. A case's commands name dma-bufs and attachments by index (models/lifecycle.ts): with a command
 *  left out, the indices after it move, so a sub-list is renumbered through these positions. */
interface Makers {
  readonly buf: readonly number[];
  readonly att: readonly number[];
}

/** Walk the model over `cmds`, calling `made(pos, kind, index)` for each dma-buf and attachment a command makes.
 *  `rename` rewrites a command before it runs (null: it names an object this case never made). */
function walk(init: LcState, cmds: readonly LcCmd[], cfg: LifecycleConfig, rename: (c: LcCmd, i: number) => LcCmd | null, made: (i: number, kind: 'buf' | 'att', index: number) => void): LcCmd[] | null {
  let s = init;
  const out: LcCmd[] = [];
  for (const [i, raw] of cmds.entries()) {
    const c = rename(raw, i);
    if (c === null) return null;
    let next: LcState;
    try {
      next = step(s, c, cfg.profile).next;
    } catch {
      return null; // a command the model cannot run (an object index past the end)
    }
    if (next.bufs.length > s.bufs.length) made(i, 'buf', next.bufs.length - 1);
    if (next.atts.length > s.atts.length) made(i, 'att', next.atts.length - 1);
    out.push(c);
    s = next;
  }
  return out;
}

function makersOf(init: LcState, cmds: readonly LcCmd[], cfg: LifecycleConfig): Makers | null {
  const buf: number[] = [];
  const att: number[] = [];
  const ok = walk(init, cmds, cfg, (c) => c, (i, kind, index) => ((kind === 'buf' ? buf : att)[index] = i));
  return ok ? { buf, att } : null;
}

/** The commands at positions `kept` of `cmds`, their object indices renumbered to what the same makers
 *  get in the shorter case; null when one names an object whose maker is left out (or made nothing). */
function subCase(init: LcState, cmds: readonly LcCmd[], makers: Makers, kept: readonly number[], cfg: LifecycleConfig): LcCmd[] | null {
  const buf = new Map<number, number>();
  const att = new Map<number, number>();
  const rename = (c: LcCmd): LcCmd | null => {
    switch (c.op) {
      case 'attach': case 'close-fd': {
        const b = buf.get(makers.buf[c.buf] ?? -1);
        return b === undefined ? null : b === c.buf ? c : { ...c, buf: b };
      }
      case 'map': case 'unmap': case 'detach': case 'access': {
        const a = att.get(makers.att[c.att] ?? -1);
        return a === undefined ? null : a === c.att ? c : { ...c, att: a };
      }
      default:
        return c;
    }
  };
  return walk(init, kept.map((p) => cmds[p]!), cfg, rename, (i, kind, index) => (kind === 'buf' ? buf : att).set(kept[i]!, index));
}

/** The (rule) showings of finding `id` in a run's violations: the wanted ones its case must keep. */
async function rulesShowing(id: string, cfg: LifecycleConfig, setup: LcSetup | undefined, r: LifecycleRun, cmds: readonly LcCmd[], want: (v: Violation) => boolean): Promise<Set<RuleId>> {
  const violations = r.violations;
  const by = await explainAll({ cfg, setup, names: r.names, results: r.results }, violations, cmds);
  return new Set(violations.filter((v, i) => by[i] === id && want(v)).map((v) => v.rule));
}

export interface ShrunkFinding {
  readonly cmds: LcCmd[];
  /** Lifecycle runs the shrink made (at most FINDING_SHRINK_RUNS, plus the recorded case's own). */
  readonly runs: number;
}

/** The smallest sub-list of a recorded case that fast-check's shrinker finds still showing finding `id`
 *  under every wanted rule the recorded case showed it under; the recorded case when none is smaller
 *  (or it does not show the finding when run alone, or the model cannot run it). Deterministic. */
export async function shrinkFinding(cfg: LifecycleConfig, id: string, recorded: { readonly cmds: readonly LcCmd[]; readonly setup?: LcSetup }, want: (v: Violation) => boolean, opts: { readonly budget?: number; readonly interruptAfterTimeLimit?: number } = {}): Promise<ShrunkFinding> {
  const cmds = recorded.cmds;
  const setup = recorded.setup ? { setup: recorded.setup } : {};
  if (cmds.length <= 1) return { cmds: [...cmds], runs: 0 };
  let runs = 0;
  const showing = async (c: readonly LcCmd[]): Promise<Set<RuleId>> => {
    runs++;
    try {
      const r = await runLifecycle(cfg, c, { keepGoing: true, ...setup });
      return await rulesShowing(id, cfg, recorded.setup, r, c, want);
    } catch {
      return new Set(); // a run that throws past the guarded hooks shows nothing to keep
    }
  };
  const need = await showing(cmds);
  if (need.size === 0) return { cmds: [...cmds], runs };
  const init = new Real(cfg, recorded.setup).initialState();
  const makers = makersOf(init, cmds, cfg);
  if (makers === null) return { cmds: [...cmds], runs };
  const budget = opts.budget ?? FINDING_SHRINK_RUNS;
  const all = cmds.map((_, i) => i);
  // Fails (the finding is still there) on a sub-list that shows it under every rule; a candidate past
  // the budget, or one naming an object it no longer makes, passes, so shrinking stops there.
  const property = fc.asyncProperty(fc.subarray(all), async (positions) => {
    if (positions.length === cmds.length) return false; // the recorded case itself, run above
    if (runs > budget) return true; // runs counts the recorded case's own run too
    const c = subCase(init, cmds, makers, positions, cfg);
    if (c === null) return true;
    const got = await showing(c);
    return ![...need].every((r) => got.has(r));
  });
  // The step that met the finding alone first (C1 is one create; a C unit restarts its process after each
  // of its crashes, so each run there costs a process), then the recorded case: the first that fails is shrunk.
  const out = await fc.check(property, { numRuns: 2, examples: [[[all.length - 1]], [all]], seed: 0, ...(opts.interruptAfterTimeLimit === undefined ? {} : { interruptAfterTimeLimit: opts.interruptAfterTimeLimit }) });
  const positions = out.failed ? out.counterexample?.[0] : undefined;
  const best = positions ? subCase(init, cmds, makers, positions, cfg) : null;
  return { cmds: best ?? [...cmds], runs };
}
