// The lifecycle as a fast-check model-based property (fc.commands +
// fc.asyncModelRun): every generated command runs on the model and on the
// implementation; a step that breaks a rule not explained by a documented
// finding fails the run, and fast-check shrinks the command list.
import fc from 'fast-check';
import { initialState, step, type LcCmd, type LcState } from '../../models/lifecycle.ts';
import type { RuleId } from '../rules/registry.ts';
import type { Violation } from '../rules/violation.ts';
import { compareStep, opName, resolve, Real, type GenCmd, type LifecycleConfig } from './lifecycle.ts';
import { genCmdArb } from '../gen/lifecycle.ts';

export interface LcModel {
  state: LcState;
  readonly stateAware: boolean;
  steps: number;
  cmds: LcCmd[];
}

/** A documented finding of the faithful lifecycle ports (reports/FINDINGS.md). */
export interface LifecycleFinding {
  readonly id: string;
  readonly rule: RuleId;
  readonly exporters: readonly string[];
  applies(c: LcCmd, v: Violation): boolean;
}

export const LIFECYCLE_FINDINGS: readonly LifecycleFinding[] = [
  { id: 'cleanup-notifies-revoked', rule: 'REV-NOTIFY', exporters: ['vfio-pci', 'nvgrace-gpu', 'vfio-pci:rfc', 'vfio-pci:converter'], applies: (c) => c.op === 'event' && c.event === 'close' },
  // L2: the un-revoke's move_notify reaches an iommufd attachment that the revoke before it already revoked; a move without a revoke is not this finding.
  { id: 'unrevoke-notifies-iommufd', rule: 'REV-IMPORTER', exporters: ['vfio-pci', 'nvgrace-gpu', 'vfio-pci:rfc', 'vfio-pci:converter'], applies: (_c, v) => v.evidence?.['afterRevoke'] === true },
  // reports/FINDINGS.md M2 (issue 6): the posted RFC 12/26 match_mapping asserts resv, which attach does not hold.
  { id: 'rfc12-match-mapping-unlocked', rule: 'LOCK-RESV', exporters: ['vfio-pci:rfc', 'vfio-pci:converter'], applies: (c) => c.op === 'attach' },
];

/** Every bundled lifecycle bug is the v8 VFIO port with one change, so the
 *  port's documented findings are the bug variants' findings too. */
function hasFindingsOf(f: LifecycleFinding, exporter: string): boolean {
  return f.exporters.includes(exporter) || exporter.startsWith('bug:');
}

export function unexplainedLc(exporter: string, violations: readonly Violation[], cmds: readonly LcCmd[]): Violation[] {
  return violations.filter((v) => {
    const c = v.step === undefined ? undefined : cmds[v.step];
    return !LIFECYCLE_FINDINGS.some((f) => f.rule === v.rule && hasFindingsOf(f, exporter) && c !== undefined && f.applies(c, v));
  });
}

export class LifecycleFailure extends Error {
  constructor(readonly violations: Violation[], readonly cmds: LcCmd[]) {
    super(violations.map((v) => `${v.rule}: ${v.message}`).join('\n'));
  }
}

class LcCommand implements fc.AsyncCommand<LcModel, Real, false> {
  constructor(readonly g: GenCmd, readonly failOn?: RuleId, readonly findingsToo = false) {}

  check(m: Readonly<LcModel>): boolean {
    return resolve(this.g, m.state, m.stateAware) !== null;
  }

  async run(m: LcModel, r: Real): Promise<void> {
    const c = resolve(this.g, m.state, m.stateAware)!;
    const { next, expect } = step(m.state, c, r.cfg.profile);
    const got = await r.run(c, m.steps);
    compareStep(r, c, m.state, next, expect, got);
    m.state = next;
    m.steps++;
    m.cmds.push(c);
    const candidates = this.findingsToo ? r.k.log.violations : unexplainedLc(r.cfg.exporter.name, r.k.log.violations, m.cmds);
    const bad = candidates.filter((v) => !this.failOn || v.rule === this.failOn);
    if (bad.length) throw new LifecycleFailure(bad, m.cmds);
  }

  toString(): string {
    return JSON.stringify(this.g);
  }
}

export function lcCommandsArb(maxCommands = 12, failOn?: RuleId, findingsToo = false): fc.Arbitrary<Iterable<fc.AsyncCommand<LcModel, Real, false>>> {
  return fc.commands([genCmdArb.map((g) => new LcCommand(g, failOn, findingsToo))], { maxCommands, size: 'medium' });
}

/** The property: no unexplained violation (of `failOn`, when given) in any
 *  generated lifecycle; with findingsToo, documented findings fail it too. */
export function lifecycleProperty(cfg: LifecycleConfig, opts: { stateAware?: boolean; maxCommands?: number; failOn?: RuleId; findingsToo?: boolean } = {}) {
  return fc.asyncProperty(lcCommandsArb(opts.maxCommands, opts.failOn, opts.findingsToo), async (cmds) => {
    await fc.asyncModelRun(lifecycleSetup(cfg, opts.stateAware), cmds);
  });
}

/** A fresh model and system for each run of generated commands (fc.asyncModelRun's setup). */
export function lifecycleSetup(cfg: LifecycleConfig, stateAware = true): () => { model: LcModel; real: Real } {
  return () => ({ model: { state: initialState(cfg.devices), stateAware, steps: 0, cmds: [] }, real: new Real(cfg) });
}

/** The failing run of a property result, as resolved commands and violations. */
export function failureOf(out: { errorInstance?: unknown }): LifecycleFailure | undefined {
  return out.errorInstance instanceof LifecycleFailure ? out.errorInstance : undefined;
}

export { opName };
