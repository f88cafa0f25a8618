// The CLI as a user meets it: cold start of `--version` and `rules` from the
// build (dist/, as `npm ci` leaves it: built first when the sources are newer),
// and `run --time D` from the command to its exit, with the worker start
// (the time before the run's first line) shown apart.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summarize, since } from './stats.ts';

const BIN = 'bin/dmabuf-conform.mjs';

export interface ColdStartBench {
  readonly command: string;
  /** Median and max of the runs, ms. */
  readonly ms: number;
  readonly maxMs: number;
  readonly fromBuild: boolean;
}

export interface TimeBench {
  readonly budgetMs: number;
  /** From the spawn to the exit. */
  readonly wallMs: number;
  /** Before the run's first line: process start, plugins loaded in the workers. */
  readonly startMs: number;
  /** The rest: what --time promises (≤ budget + 10 %). */
  readonly runMs: number;
  readonly cutShort: number;
}

/** Is any file under src/ or models/ newer than the build stamp (the launcher's own test)? */
function stale(): boolean {
  if (!existsSync('dist/.built')) return true;
  const since = statSync('dist/.built').mtimeMs;
  const walk = (dir: string): boolean => readdirSync(dir, { withFileTypes: true }).some((e) => (e.isDirectory() ? walk(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs > since));
  return ['src', 'models'].some((d) => existsSync(d) && walk(d));
}

/** Build dist/ when it is missing or older than the sources (what `npm ci` does through prepare); is it current now? */
export function ensureBuild(): boolean {
  if (stale()) spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'ignore' });
  return !stale();
}

export function benchColdStart(args: readonly string[], fromBuild: boolean, repeat = 5): ColdStartBench {
  const times: number[] = [];
  for (let i = 0; i < repeat; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [BIN, ...args], { stdio: 'ignore' });
    times.push(since(t0));
    if (r.status !== 0) throw new Error(`dmabuf-conform ${args.join(' ')} exited ${r.status}`);
  }
  const s = summarize(times);
  return { command: args.join(' '), ms: s.median, maxMs: s.max, fromBuild };
}

/** `run --time D --quiet` as a child process; the run's part starts at its first stderr line (printed once the workers are up). */
export function benchTime(budgetMs: number): Promise<TimeBench> {
  const out = mkdtempSync(join(tmpdir(), 'dmabuf-bench-time-'));
  const t0 = performance.now();
  let first = 0;
  const child = spawn(process.execPath, [BIN, 'run', '--time', `${budgetMs}ms`, '--out', join(out, 'latest')], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr.on('data', () => void (first ||= performance.now()));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const end = performance.now();
      try {
        if (code !== 0 && code !== 1) throw new Error(`run --time exited ${code}`);
        const rep = JSON.parse(readFileSync(join(out, 'latest', 'report.json'), 'utf8')) as { budget: { cutShort?: string[] } };
        const start = (first || end) - t0;
        resolve({ budgetMs, wallMs: end - t0, startMs: start, runMs: end - t0 - start, cutShort: rep.budget.cutShort?.length ?? 0 });
      } catch (e) {
        reject(e as Error);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  });
}
