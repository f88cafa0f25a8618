// The one line a run without ../shared prints: which folder is missing, how many tests it skipped, and
// what they are (properties/shared.ts). Without it a fresh clone's `npm test` skipped 49 tests silently.
import type { Reporter, TestModule } from 'vitest/node';
import { SHARED_FOLDERS } from './shared.ts';

/** For each missing folder, the tests skipped for it (their names carry its mark). */
export function skippedForShared(modules: readonly TestModule[]): string[] {
  const lines: string[] = [];
  for (const [mark, folder, present, what] of SHARED_FOLDERS) {
    if (present) continue;
    let n = 0;
    for (const m of modules) for (const t of m.children.allTests()) if (t.fullName.includes(mark) && t.result().state === 'skipped') n++;
    if (n > 0) lines.push(`${n} test(s) skipped: ${folder} is missing; ${what} read it. CI has it (README, "Tests and budgets").`);
  }
  return lines;
}

export default class SharedReporter implements Reporter {
  onTestRunEnd(modules: readonly TestModule[]): void {
    for (const l of skippedForShared(modules)) process.stderr.write(`\n${l}\n`);
  }
}
