// @ts-check
// `npm run mutation` (issue 11 item 8): Stryker over the implementations under
// test (src/impl) and the simulated kernel services that report rules
// (src/kernel). Results: reports/MUTATION.md (triage), reports/mutation.json
// (summary, read by bench/mutation.ts), reports/mutation/ (raw, not in git).
//
// Two parts, each with its own incremental file and report, so either can be
// re-run alone: STRYKER_PART=impl (src/impl, the ≥ 85 % target) and
// STRYKER_PART=kernel (the checkers); `npm run mutation` runs both.
const PARTS = {
  impl: ['src/impl/**/*.ts'],
  kernel: ['src/kernel/{locks,objects,files,dma,iommu,pci,scatterlist}.ts'],
};
const part = process.env.STRYKER_PART ?? 'impl';
if (!(part in PARTS)) throw new Error(`STRYKER_PART must be one of ${Object.keys(PARTS).join(', ')}, got ${part}`);
// STRYKER_SCRATCH=name: a trial run (e.g. one file with --mutate) whose incremental file and
// reports go to reports/mutation/<part>-<name>.* (not in git), leaving the committed ones alone.
const scratch = process.env.STRYKER_SCRATCH;
const incrementalFile = scratch ? `reports/mutation/${part}-${scratch}.incremental.json` : `reports/stryker-incremental-${part}.json`;
const out = scratch ? `reports/mutation/${part}-${scratch}` : `reports/mutation/${part}`;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.stryker.config.ts', related: false },
  checkers: ['typescript'],
  tsconfigFile: 'tsconfig.stryker.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  coverageAnalysis: 'perTest',
  mutate: PARTS[/** @type {keyof typeof PARTS} */ (part)],
  // Kept in git so a re-run only tests mutants whose code or covering tests changed.
  incremental: true,
  incrementalFile,
  // Two cores shared with other engineers.
  concurrency: 2,
  timeoutMS: 3000,
  reporters: ['clear-text', 'progress', 'json', 'html'],
  jsonReporter: { fileName: `${out}.json` },
  htmlReporter: { fileName: `${out}.html` },
  clearTextReporter: { allowColor: false, logTests: false, reportScoreTable: true },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  ignorePatterns: ['reports/coverage', 'reports/latest', 'reports/mutation', 'reports/corpus', 'node_modules', '.stryker-tmp*'],
  thresholds: { high: 90, low: 85, break: null },
};
