import { defineConfig } from 'vitest/config';
import SharedReporter from './properties/shared-reporter.ts';

// npm run test:e2e: the end-to-end checks that run the tool as a user does
// (whole default runs on user plugins, the packed tarball installed in an
// empty folder). Too long for the npm test gate; .ci/run runs them after it.
export default defineConfig({
  resolve: { alias: { 'dmabuf-conform': new URL('./src/index.ts', import.meta.url).pathname } },
  test: {
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 300_000,
    fileParallelism: false,
    reporters: ['default', new SharedReporter(), ...(process.env.CI_JSON_REPORT ? [['json', { outputFile: process.env.CI_JSON_REPORT }] as ['json', { outputFile: string }]] : [])],
  },
});
