// The runner's command line end to end (issue 7, 11, 15): whole runs with
// the worker pool, on bundled names, seeded bugs and third-party plugins by
// path; findings, baseline, --write-baseline, replay, --quiet, --rules,
// --bail, --time, --exhaustive, explain from a report and from the corpus.
// Each `run` starts its workers, so these live beside the gate (npm run test:e2e).
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli.ts';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Report } from '../../src/report/types.ts';
import { PASSAGES } from '../../src/rules/passages.ts';
import { cliIn } from '../../properties/cli-helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const cli = cliIn();
const emptyBaseline = join(tmp, 'empty.json');
writeFileSync(emptyBaseline, '{"version": 1, "findings": []}\n');

describe('run: findings, baseline and exit codes', () => {
  const out = join(tmp, 'bug', 'latest');
  const base = ['--exporter', 'bug:rev-init-not-revoked', '--runs', '40', '--out', out];

  it('a new violation is printed with its replay command; --write-baseline accepts it (exit 0); the next run exits 0', async () => {
    const first = await cli('run', ...base, '--baseline', emptyBaseline, '--write-baseline', join(tmp, 'b.json'));
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/^baseline: \d+ entr(y|ies) written to .*b\.json, accepting this run's \d+ new violation\(s\) \(exit 0; run with --baseline .*b\.json to fail on new ones\)$/m);
    expect(first.out).toMatch(/NEW REV-INIT bug:rev-init-not-revoked/);
    expect(first.out).toMatch(/replay: npx dmabuf-conform replay .*report\.json --case 'bug:rev-init-not-revoked\/REV-INIT\/0' --exporter bug:rev-init-not-revoked/);
    const again = await cli('run', ...base, '--baseline', join(tmp, 'b.json'));
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/\d+ known \(documented findings, and baseline .*\), 0 new/);
    expect(existsSync(join(tmp, 'bug', 'corpus'))).toBe(true);
    // Issue 15 item 2: the corpus is dirname(--out)/corpus unless --corpus says otherwise, and the report says which it used.
    expect(again.err).toContain(`corpus ${join(tmp, 'bug', 'corpus')} (`);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(rep.corpus?.path).toBe(join(tmp, 'bug', 'corpus'));
    expect(rep.corpus?.replayed).toBe(readdirSync(join(tmp, 'bug', 'corpus')).length);
    expect(rep.corpus?.replayed).toBeGreaterThan(0);
  });

  it('a seeded bug given by name is checked as a user plugin is: the shipped baseline knows only the faithful ports, so it is new', async () => {
    expect((await cli('run', ...base, '--quiet')).code).toBe(1);
  });

  it('replay re-runs one case step by step and says whether the rule broke again', async () => {
    const file = join(out, 'report.json');
    const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
    const id = report.violations[0]!.id;
    const r = await cli('replay', file, '--case', id, '--exporter', 'bug:rev-init-not-revoked');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/>\s+\d+\. create\(dev\d, .*\)\s+ok\s+ok\s+<- REV-INIT/);
    expect(r.out).toMatch(/reproduced REV-INIT/);
    expect((await cli('replay', file, '--case', 'nope')).err).toMatch(/no case 'nope'/);
    expect((await cli('replay', file)).code).toBe(0);
    expect((await cli('replay', join(tmp, 'none.json'))).code).toBe(2);
    expect((await cli('replay', emptyBaseline)).err).toMatch(/neither a dmabuf-conform report \(it has no \/schemaVersion\) nor one case/);
  });

  it('--quiet prints the verdict line alone; --rules limits the checks; --bail stops at the first new violation', async () => {
    const q = await cli('run', ...base, '--quiet', '--baseline', emptyBaseline);
    expect([q.code, q.err]).toEqual([1, '']);
    expect(q.out).toMatch(/^1 implementations, \d+ checks in [\d.]+ s \(seed 42\): \d+ violation\(s\): \d+ known \(documented findings, and baseline .*\), [1-9]\d* new — reports in .*\/\n$/);
    const limited = await cli('run', ...base, '--quiet', '--baseline', emptyBaseline, '--rules', 'LOCK-ORDER');
    expect(limited.code).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(rep.results.filter((r) => r.status !== 'not-applicable').map((r) => r.rule)).toEqual(['LOCK-ORDER']);
    await cli('run', ...base, '--quiet');
    const other = join(tmp, 'other', 'latest');
    // Once a new violation shows, no further target starts (one worker here, so the order is the given one).
    const later = ['vfio_pci_core_feature_dma_buf', 'mainline:dma_buf_phys_vec_to_sgt', 'rfc:dma_buf_match_mapping'];
    process.env.DMABUF_WORKERS = '1';
    const bail = await cli('run', '--exporter', 'bug:rev-init-not-revoked', '--plugin', 'p2pdma', ...later.flatMap((p) => ['--plugin', p]), '--runs', '20', '--out', other, '--quiet', '--bail', '--baseline', emptyBaseline);
    delete process.env.DMABUF_WORKERS;
    expect(bail.code).toBe(1);
    const bailed = JSON.parse(readFileSync(join(other, 'report.json'), 'utf8')) as Report;
    expect(later.every((name) => bailed.results.filter((r) => r.implementation === name).every((r) => r.runs === 0))).toBe(true);
  });

  it('--time D ends within D + 10 % (the searches get the deadline) and names the targets it cut short; --exhaustive K explores every state within K commands', async () => {
    const out = join(tmp, 'other', 'latest');
    let started = 0;
    const header = vi.fn();
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((/^dmabuf-conform run: seed/.test(String(s)) && (started = performance.now(), header())), true));
    const o = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let code: number;
    try {
      code = await main(['run', '--time', '3s', '--out', out]);
    } finally {
      err.mockRestore();
      o.mockRestore();
    }
    // From the line printed once the workers are up to the reports written.
    const took = performance.now() - started;
    expect(header).toHaveBeenCalledOnce();
    expect(code).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(rep.budget.timeMs).toBe(3000);
    expect(rep.timings.totalMs).toBeLessThanOrEqual(3300);
    expect(took).toBeLessThanOrEqual(3300);
    // 12 targets in 3 s on two lanes: each gets about half a second of its first round, less than 400 runs' worth for the lifecycle ones.
    expect(rep.budget.cutShort).toContain('vfio-pci');
    expect(rep.implementations.map((i) => i.name)).toEqual(expect.arrayContaining([...rep.budget.cutShort!]));
    const e = await cli('run', '--exporter', 'vfio-pci', '--runs', '5', '--exhaustive', '2', '--out', out);
    expect(e.code).toBe(0);
    expect(e.err).toMatch(/exhaustive vfio-pci k=2: \d+ states/);
  });
});

describe('a third-party plugin by path', () => {
  it('a .ts plugin outside the repository (no package.json of its own) loads, and the shipped baseline is found from any directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmabuf-plugin-'));
    // It imports only 'dmabuf-conform', which the runner resolves to itself wherever the plugin lives.
    writeFileSync(join(dir, 'gpu.ts'), readFileSync('examples/plugins/gpu-exporter.ts', 'utf8'));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const r = await cli('run', '--exporter', 'gpu.ts', '--out', 'out');
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/\d+ known \(documented findings, and baseline .*reports\/baseline\.json\), 0 new/);
    } finally {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the faithful importers checked against vfio-pci inherit its documented findings', async () => {
    const r = await cli('run', '--importer', 'iommufd', '--out', join(tmp, 'imp'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\d+ known \(documented findings, and baseline .*\), 0 new/);
  });

  it('examples/plugins/gpu-exporter.ts loads through tsx, runs under each profile it declares, and shows only the findings of the exporter it is based on', async () => {
    const out = join(tmp, 'gpu', 'latest');
    const r = await cli('run', '--exporter', resolve('examples/plugins/gpu-exporter.ts'), '--out', out);
    expect(r.code).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(rep.implementations).toEqual([
      { name: 'example-gpu', kind: 'exporter', profiles: ['v8'] },
      { name: 'example-gpu:rfc', kind: 'exporter', profiles: ['rfc'] },
      { name: 'example-gpu:converter', kind: 'exporter', profiles: ['converter'] },
    ]);
    // What it shows is the documented findings of the VFIO helpers it reuses (L1, L2, M2 ...), known by their ids.
    expect(rep.violations.length).toBeGreaterThan(0);
    expect(rep.violations.filter((v) => !v.known || !v.finding).map((v) => `${v.implementation} ${v.rule}: ${v.message}`)).toEqual([]);
    expect(readdirSync(out).sort()).toEqual(['junit.xml', 'report.html', 'report.json', 'report.tap', 'summary.md']);
  });
});


describe('explain', () => {
  it('explain prints the rule, its seed passage and the smallest known violation from a report or the corpus', async () => {
    const report = join(tmp, 'bug', 'latest', 'report.json');
    const r = await cli('explain', 'REV-INIT', '--report', report);
    expect(r.out).toContain(PASSAGES['REV-INIT']);
    expect(r.out).toMatch(/smallest known violation \(bug:rev-init-not-revoked, from .*report\.json\)/);
    const c = await cli('explain', 'REV-INIT', '--report', join(tmp, 'none.json'), '--corpus', join(tmp, 'bug', 'corpus'));
    expect(c.out).toMatch(/smallest known violation \(bug:rev-init-not-revoked, from .*corpus/);
    const none = await cli('explain', 'MATCH-LEGACY', '--report', join(tmp, 'none.json'), '--corpus', join(tmp, 'none'));
    expect(none.out).toMatch(/no known violation of MATCH-LEGACY/);
    expect((await cli('explain', 'NOPE')).code).toBe(2);
    expect((await cli('explain')).code).toBe(2);
  });

});

describe('a reader that stops early', () => {
  it('`replay ... | true` (the reader gone before the first line): no stack trace, the exit code the command would have had', () => {
    const bin = resolve('bin/dmabuf-conform.mjs');
    const r = spawnSync('bash', ['-c', `node ${JSON.stringify(bin)} replay examples/findings/1-iova-link-offset-zero-keep.json 2>${JSON.stringify(join(tmp, 'epipe.err'))} | true; exit "\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    expect(readFileSync(join(tmp, 'epipe.err'), 'utf8')).toBe('');
    expect(r.status).toBe(0);
  });
});
