// The CLI run in-process for tests: what it printed and its exit code.
import { vi } from 'vitest';
import { main } from '../src/cli.ts';

/** A function that runs `dmabuf-conform ARGS...` in this process, capturing stdout and stderr. */
export function cliIn(): (...argv: string[]) => Promise<{ code: number; out: string; err: string }> {
  return async (...argv) => {
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
    try {
      return { code: await main(argv), out, err };
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
  };
}
