// The wall time of `npm test` (type-check and the whole vitest suite with
// coverage), run as a child process with its output kept for a failure.
import { spawn } from 'node:child_process';
import { since } from './stats.ts';

export interface NpmTestBench {
  readonly ms: number;
  readonly exitCode: number;
  /** The last lines of its output when it failed. */
  readonly tail?: string;
}

export function benchNpmTest(): Promise<NpmTestBench> {
  const t0 = performance.now();
  const child = spawn('npm', ['test'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (b: Buffer) => { output = (output + b.toString()).slice(-20000); };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const exitCode = code ?? 1;
      resolve({ ms: since(t0), exitCode, ...(exitCode ? { tail: output.split('\n').slice(-30).join('\n') } : {}) });
    });
  });
}
