import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

// The vitest config Stryker runs (`npm run mutation`, stryker.config.mjs): the
// project's own (the 'dmabuf-conform' alias, the time-out), no coverage gate
// (Stryker measures per-test coverage itself) and only the suites that drive
// src/impl and the kernel checkers in this process. Left out: suites that run
// the CLI or plugins in child processes or workers, build the kernel C, or
// only test reports and topology parsing; a mutant active in this process is
// invisible there, so they would only cost time.
export const MUTATION_SUITES = [
  'properties/exhaustive.test.ts',
  'properties/kernel-dma.test.ts',
  'properties/kernel-locks.test.ts',
  'properties/kernel-objects.test.ts',
  'properties/lifecycle.test.ts',
  'properties/lifecycle-reach.test.ts',
  'properties/match.test.ts',
  'properties/match-convert.test.ts',
  'properties/match-lifecycle.test.ts',
  'properties/mainline.test.ts',
  'properties/match-vfio.test.ts',
  'properties/pal.test.ts',
  'properties/race.test.ts',
  'properties/route.test.ts',
  'properties/route-examples.test.ts',
  'properties/sgt.test.ts',
  'properties/mutation-*.test.ts',
  // Issue 13's suites (the close path, create faults, importers that unmap later): in-process lifecycles.
  'properties/close-path.test.ts',
  'properties/create-faults.test.ts',
  'properties/late-unmap.test.ts',
];

// Spread, not mergeConfig: mergeConfig would append to the base's include list.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: process.env.STRYKER_SUITES ? process.env.STRYKER_SUITES.split(',') : MUTATION_SUITES,
    coverage: { enabled: false },
    reporters: ['default'],
  },
});
