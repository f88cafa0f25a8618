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

/** Where the objects a run's kernel names have names of the case's own (the lifecycle: `vdev0.dmabuf7` is the
 *  case's `buf0`): kernel name (a dma-buf's, a device's, a heap object's `attachment#15`) to the case's. */
export interface CaseNames {
  caseNames(): ReadonlyMap<string, string>;
}

/** Collects violations; checkers report here and the run goes on. */
export class ViolationLog {
  readonly violations: Violation[] = [];
  step: number | undefined = undefined;
  /** The case's names of the kernel's objects, asked when a violation is reported: its message names them as
   *  the case's commands do (withCaseNames); its evidence keeps the kernel's names. */
  names: CaseNames | null = null;

  /** A checker's report: a rule of the catalog and a message saying what happened. Anything else
   *  (an unknown or empty rule id, an empty message) is a broken checker, refused with one line. */
  report(rule: RuleId, message: string, evidence?: Record<string, unknown>): void {
    if (!isRuleId(rule)) throw new Error(`violation log: '${rule}' is not a rule of the catalog`);
    if (message.trim() === '') throw new Error(`violation log: a ${rule} report without a message`);
    if (this.names) message = withCaseNames(message, this.names.caseNames());
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

/** `message` with each kernel name of `names` replaced by the case's: a whole name (`vdev0.dmabuf7` → `buf0`,
 *  `attachment#15` → `att1`), also where it begins a dotted one (`vdev0.dmabuf7.resv` → `buf0.resv`,
 *  `vdev0.memory_lock` → `dev0.memory_lock`); a name inside a longer one (`vdev0.dmabuf71`, `x.vdev0`) stays. */
export function withCaseNames(message: string, names: ReadonlyMap<string, string>): string {
  if (names.size === 0) return message;
  let pattern = PATTERNS.get(names);
  if (!pattern) {
    const alternatives = [...names.keys()].sort((a, b) => b.length - a.length).map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    pattern = new RegExp(`(?<![\\w.#-])(?:${alternatives.join('|')})(?![\\w#-])`, 'g');
    PATTERNS.set(names, pattern);
  }
  return message.replace(pattern, (n) => names.get(n) ?? n);
}

/** The pattern of each names map, built once (a lifecycle judgement renames every evidence string with one map). */
const PATTERNS = new WeakMap<ReadonlyMap<string, string>, RegExp>();

/** JSON-safe rendering of evidence values (bigint → hex string). */
export function jsonSafe(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v)));
}
