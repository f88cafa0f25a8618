// `npm test` in a fresh clone, without ../shared (the seeds and the lspci dumps live beside the checkout,
// never in it): the tests that read it are skipped, and the run says so once per missing folder, at the
// end, with how many tests it skipped (properties/shared-reporter.ts). They were skipped silently.
// DMABUF_SHARED points the tests at a folder that does not exist, as a fresh clone's ../shared.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NEEDS_LSPCI, NEEDS_SEEDS } from '../../properties/shared.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-fresh-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface JsonResults { readonly testResults: readonly { readonly assertionResults: readonly { readonly fullName: string; readonly status: string }[] }[] }

describe('a clone without ../shared', () => {
  it('skips the tests that read it and says, once per folder, which folder is missing and how many tests it skipped', () => {
    const shared = join(tmp, 'no-shared');
    const json = join(tmp, 'results.json');
    const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'properties/lspci.test.ts', 'properties/kernel-c-exporter.test.ts', 'properties/runner-cli.test.ts', '-t', 'passage|lspci|dump|kernel C|\\.txt|matrix'], { encoding: 'utf8', env: { ...process.env, DMABUF_SHARED: shared, CI_JSON_REPORT: json } });
    expect(r.status).toBe(0);
    const results = JSON.parse(readFileSync(json, 'utf8')) as JsonResults;
    const skipped = (mark: string) => results.testResults.flatMap((f) => f.assertionResults).filter((t) => t.fullName.includes(mark) && t.status !== 'passed' && t.status !== 'failed').length;
    const lines = `${r.stdout}${r.stderr}`.split('\n').filter((l) => /test\(s\) skipped: /.test(l));
    expect(skipped(NEEDS_SEEDS)).toBeGreaterThan(0);
    expect(skipped(NEEDS_LSPCI)).toBeGreaterThan(0);
    expect(lines).toEqual([
      `${skipped(NEEDS_SEEDS)} test(s) skipped: ${join(shared, 'seeds')} is missing; the kernel C tests (they compile the seeds' C) and the check of the seed passages read it. CI has it (README, "Tests and budgets").`,
      `${skipped(NEEDS_LSPCI)} test(s) skipped: ${join(shared, 'topologies', 'lspci')} is missing; the lspci tests on real machines' dumps read it. CI has it (README, "Tests and budgets").`,
    ]);
  });

  it('with ../shared there, nothing is said', () => {
    const r = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', 'properties/lspci.test.ts', '-t', 'amd-raphael'], { encoding: 'utf8', env: { ...process.env, CI_JSON_REPORT: '' } });
    expect(r.status).toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/test\(s\) skipped: /);
  });
});
