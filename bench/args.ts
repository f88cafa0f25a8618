// The bench's command line: --no-npm-test skips the `npm test` timing,
// --deep (or DMABUF_BENCH_DEEP=1) raises the search budgets.
import { UsageError } from '../src/commands/usage.ts';

export interface BenchArgs {
  readonly npmTest: boolean;
  readonly deep: boolean;
}

const FLAGS = ['--no-npm-test', '--deep'];

export function parseBenchArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchArgs {
  for (const flag of argv) if (!FLAGS.includes(flag)) throw new UsageError(`unknown option '${flag}' (options: ${FLAGS.join(' ')})`);
  return { npmTest: !argv.includes('--no-npm-test'), deep: argv.includes('--deep') || env.DMABUF_BENCH_DEEP === '1' };
}
