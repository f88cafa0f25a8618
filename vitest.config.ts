import { basename } from 'node:path';
import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

import SharedReporter from './properties/shared-reporter.ts';
import { HAVE_LSPCI, HAVE_SEEDS } from './properties/shared.ts';

// Inputs that live beside the checkout, never in it (kernel source, real machines' dumps: ../shared,
// properties/shared.ts): a clone without them skips the tests that read them, says so in one line per
// folder at the end (SharedReporter), and the code only they reach leaves the coverage gate.
const UNREACHED = [
  ...(HAVE_SEEDS ? [] : ['src/kernel-c/**']),
  ...(HAVE_LSPCI ? [] : ['src/topology/lspci*.ts', 'src/topology/cpu.ts']),
];

/** The files that take longest (a full run's per-file times), longest first. Vitest orders by the
 *  durations it cached, and a clean clone has none: it then starts the largest files first and the
 *  longest one (catalog) came 33rd of 42, finishing alone on one core. */
const LONGEST = ['catalog', 'runner', 'kernel-c-conversion', 'kernel-c-route', 'runner-cli', 'sgt', 'lifecycle', 'route', 'lifecycle-reach'];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      const i = LONGEST.indexOf(basename(f.moduleId, '.test.ts'));
      return i < 0 ? LONGEST.length : i;
    };
    return (await super.sort(files)).map((f, i) => ({ f, i })).sort((a, b) => rank(a.f) - rank(b.f) || a.i - b.i).map(({ f }) => f);
  }
}

// npm test = tsc --noEmit + this; the thresholds are the gate of issue 3.
export default defineConfig({
  // A plugin imports the package by name; inside this checkout that is src/index.ts.
  resolve: { alias: { 'dmabuf-conform': new URL('./src/index.ts', import.meta.url).pathname } },
  test: {
    include: ['properties/**/*.test.ts'],
    // Both cores: the files are independent (vitest's default leaves one core idle on a 2-core machine).
    maxWorkers: 2,
    // One module graph per worker, reused by the files it runs: every file used to import and
    // evaluate src/ afresh (about 30 s of the gate's CPU under coverage). The files share no state
    // that a test reads back (the module-level counters are names, the env a test sets it restores).
    isolate: false,
    sequence: { sequencer: LongestFirst },
    testTimeout: 60_000,
    reporters: ['default', new SharedReporter(), ...(process.env.CI_JSON_REPORT ? [['json', { outputFile: process.env.CI_JSON_REPORT }] as ['json', { outputFile: string }]] : [])],
    coverage: {
      provider: 'v8',
      include: ['models/**/*.ts', 'src/**/*.ts'],
      exclude: ['src/cli.ts', 'src/commands/**', 'src/report/html/**', ...UNREACHED],
      reporter: ['text-summary', 'json-summary'],
      reportsDirectory: 'reports/coverage',
      thresholds: {
        'models/**/*.ts': { lines: 95 },
        'src/**/*.ts': { lines: 85 },
      },
    },
  },
});
