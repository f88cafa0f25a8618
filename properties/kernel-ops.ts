// Shared by the kernel*.test.ts properties: one fc.commands command that
// steps a tiny model and the simulated kernel together and compares them.
import type fc from 'fast-check';
import { expect } from 'vitest';
import type { RuleId } from '../src/rules/registry.ts';
import type { Violation, ViolationLog } from '../src/rules/violation.ts';

export class Op<M extends object, R> implements fc.AsyncCommand<M, R> {
  constructor(
    private readonly label: string,
    private readonly body: (m: M, r: R) => Promise<void> | void,
  ) {}

  check(): boolean {
    return true;
  }

  async run(m: M, r: R): Promise<void> {
    await this.body(m, r);
  }

  toString(): string {
    return this.label;
  }
}

/** Run `fn` and return the violations it reported. */
export async function reported(log: ViolationLog, fn: () => unknown): Promise<Violation[]> {
  const from = log.violations.length;
  await fn();
  return log.violations.slice(from);
}

/** The violations are exactly `rules` (in order), or nothing with checkers off. */
export function expectRules(got: readonly Violation[], rules: readonly RuleId[], checkers: boolean): void {
  expect(got.map((v) => v.rule)).toEqual(checkers ? rules : []);
}
