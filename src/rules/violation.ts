import type { RuleId } from './registry.ts';

/** One broken rule, as every checker reports it (DESIGN.md "Conventions"). */
export interface Violation {
  readonly rule: RuleId;
  readonly message: string;
  /** Index of the step (command) that broke the rule, when there is one. */
  readonly step?: number;
  /** What the checker saw: addresses, sizes, alloc/free sites, lock stacks. */
  readonly evidence?: Readonly<Record<string, unknown>>;
}

/** Collects violations; checkers report here and the run goes on. */
export class ViolationLog {
  readonly violations: Violation[] = [];
  step: number | undefined = undefined;

  report(rule: RuleId, message: string, evidence?: Record<string, unknown>): void {
    const v: Violation = { rule, message, ...(this.step === undefined ? {} : { step: this.step }), ...(evidence ? { evidence } : {}) };
    this.violations.push(v);
  }

  has(rule: RuleId): boolean {
    return this.violations.some((v) => v.rule === rule);
  }

  rules(): RuleId[] {
    return [...new Set(this.violations.map((v) => v.rule))];
  }
}

/** JSON-safe rendering of evidence values (bigint → hex string). */
export function jsonSafe(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)));
}
