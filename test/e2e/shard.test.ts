// Sharding (issue 15): `run --shard i/n` runs a deterministic part of the
// targets, chosen by name; `merge-reports DIR...` joins the shards' reports
// into the unsharded run's report, renderings and verdict; bad shard values
// and bad or mismatched shard reports are one line, exit 2.
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { shardOf } from '../../src/harness/runner.ts';
import { REPORT_FILES } from '../../src/report/index.ts';
import type { Report } from '../../src/report/types.ts';
import { cliIn } from '../../properties/cli-helpers.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-shard-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cli = cliIn();

const oneLine = (r: { code: number; err: string }, msg: RegExp) => {
  expect(r.code).toBe(2);
  expect(r.err).toMatch(msg);
  expect(r.err.trim().split('\n')).toHaveLength(1);
};

describe('shardOf: a deterministic partition by name', () => {
  const names = fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { maxLength: 40 });
  it('the shards of n cover every name exactly once, differ in size by one at most, and do not depend on the order names come in', () => {
    fc.assert(fc.property(names, fc.integer({ min: 1, max: 9 }), (xs, n) => {
      const parts = Array.from({ length: n }, (_, i) => shardOf(xs, i + 1, n));
      const all = parts.flatMap((p) => [...p]);
      expect(all.sort()).toEqual([...xs].sort());
      const sizes = parts.map((p) => p.size);
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1);
      const reversed = Array.from({ length: n }, (_, i) => shardOf([...xs].reverse(), i + 1, n));
      expect(reversed).toEqual(parts);
    }));
  });

  it('a name keeps its shard when another target is added to a run of the same size of shards, up to the deal (stable order by hash)', () => {
    // The order is a hash of the name alone: the same on every machine of a CI matrix.
    expect([...shardOf(['vfio-pci', 'p2pdma', 'nvgrace-gpu'], 1, 2)]).toEqual([...shardOf(['nvgrace-gpu', 'vfio-pci', 'p2pdma'], 1, 2)]);
  });
});

describe('run --shard: bad values are one line, exit 2', () => {
  it.each([
    ['0/3', /--shard 0\/3: shard index 0 is out of range 1\.\.3/],
    ['4/3', /--shard 4\/3: shard index 4 is out of range 1\.\.3/],
    ['1/0', /--shard: expected i\/n with 1 ≤ i ≤ n ≤ 1000 \(e\.g\. 1\/3\), got '1\/0'/],
    ['a/b', /--shard: expected i\/n .* got 'a\/b'/],
    ['1of3', /--shard: expected i\/n .* got '1of3'/],
    ['-1/3', /--shard: expected i\/n .* got '-1\/3'/],
    ['1/3/5', /--shard: expected i\/n .* got '1\/3\/5'/],
  ])('--shard %s', async (v, msg) => oneLine(await cli('run', '--shard', v, '--out', join(tmp, 'never')), msg));
});

describe('merge-reports', () => {
  const empty = join(tmp, 'empty.json');
  writeFileSync(empty, '{"version": 1, "findings": []}\n');
  // A new violation (the seeded bug), documented findings (the PAL and conversion ports) and clean targets.
  const plugins = ['--plugin', 'bug:route-busaddr-sign', '--plugin', 'p2pdma', '--plugin', 'vfio_pci_core_feature_dma_buf', '--plugin', 'mainline:dma_buf_phys_vec_to_sgt'];
  const common = [...plugins, '--seed', '7', '--runs', '20', '--baseline', empty, '--quiet'];
  const full = join(tmp, 'full', 'latest');
  const shardDir = (i: number) => join(tmp, `shard-${i}`, 'latest');
  const read = (dir: string) => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
  /** What two runs of one seed share: everything but the wall clock and where the corpus was. */
  const comparable = ({ timings: _t, corpus, ...r }: Report) => ({ ...r, corpus: corpus?.replayed });

  it('the shards\' reports merged are the unsharded run\'s report (timings aside), with every rendering and the same exit code', async () => {
    const whole = await cli('run', ...common, '--out', full, '--corpus', join(tmp, 'corpus-full'));
    expect(whole.code).toBe(1);
    const expected = read(full);
    const shards = [1, 2];
    for (const i of shards) {
      const r = await cli('run', ...common, '--shard', `${i}/2`, '--out', shardDir(i), '--corpus', join(tmp, `corpus-${i}`));
      expect([0, 1]).toContain(r.code);
      const rep = read(shardDir(i));
      expect(rep.shard).toEqual({ index: i, total: 2, implementations: expected.implementations.map((x) => x.name) });
      expect(rep.implementations.length).toBeGreaterThan(0);
    }
    expect(read(shardDir(1)).implementations.length + read(shardDir(2)).implementations.length).toBe(expected.implementations.length);
    rmSync(full, { recursive: true });
    const merged = await cli('merge-reports', shardDir(1), shardDir(2), '--out', full);
    expect(merged.code).toBe(whole.code);
    expect(merged.out).toMatch(/2 shard\(s\), 4 implementations, \d+ checks \(seed 7\): \d+ known finding\(s\), [1-9]\d* new/);
    expect(merged.out).toMatch(/NEW ROUTE-BUSADDR bug:route-busaddr-sign/);
    expect(comparable(read(full))).toEqual(comparable(expected));
    for (const f of REPORT_FILES) expect(existsSync(join(full, f))).toBe(true);
    // The order of the DIRs does not matter.
    const again = join(tmp, 'again');
    expect((await cli('merge-reports', shardDir(2), shardDir(1), '--out', again, '--quiet')).code).toBe(1);
    expect(comparable(read(again))).toEqual({ ...comparable(expected), violations: expected.violations.map((v) => ({ ...v, replay: v.replay.replace(full, again) })) });
  });

  it('bad or mismatched shard reports are one line naming the file and the field, exit 2', async () => {
    const copy = (name: string, edit: (r: Record<string, unknown>) => void) => {
      const dir = join(tmp, name);
      cpSync(shardDir(2), dir, { recursive: true });
      const r = read(dir) as unknown as Record<string, unknown>;
      edit(r);
      writeFileSync(join(dir, 'report.json'), JSON.stringify(r));
      return dir;
    };
    oneLine(await cli('merge-reports'), /no shard reports given/);
    oneLine(await cli('merge-reports', join(tmp, 'nowhere')), /nowhere: no such file/);
    oneLine(await cli('merge-reports', full), /full\/latest\/report\.json: \/shard: missing \(not a shard's report/);
    oneLine(await cli('merge-reports', shardDir(1)), /shards? 2\/2 missing/);
    oneLine(await cli('merge-reports', shardDir(1), shardDir(1)), /shard-1\/latest\/report\.json: \/shard\/index: shard 1\/2 is also/);
    oneLine(await cli('merge-reports', shardDir(1), copy('seed', (r) => void (r.seed = 8))), /seed\/report\.json: \/seed: 8 differs from .*shard-1.*: not shards of one run/);
    oneLine(await cli('merge-reports', shardDir(1), copy('total', (r) => void ((r.shard as { total: number }).total = 3))), /\/shard\/total: 3 differs/);
    oneLine(await cli('merge-reports', shardDir(1), copy('broken', (r) => void (r.summary = 'x'))), /broken\/report\.json: \/summary: must be object/);
    oneLine(await cli('merge-reports', shardDir(1), shardDir(2), '--out', join(process.cwd(), 'package.json', 'x')), /--out .*package\.json is a file, not a directory/);
  });
});
