import { isRuleId, type RuleId } from './registry.ts';

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

  /** A checker's report: a rule of the catalog and a message saying what happened. Anything else
   *  (an unknown or empty rule id, an empty message) is a broken checker, refused with one line. */
  report(rule: RuleId, message: string, evidence?: Record<string, unknown>): void {
    if (!isRuleId(rule)) throw new Error(`violation log: '${rule}' is not a rule of the catalog`);
    if (message.trim() === '') throw new Error(`violation log: a ${rule} report without a message`);
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
