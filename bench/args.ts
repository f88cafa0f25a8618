// The bench's command line: --no-npm-test skips the `npm test` timing,
// --deep (or DMABUF_BENCH_DEEP=1) raises the search budgets, --only runs
// some sections (the goals of the others are "not measured").
import { UsageError } from '../src/commands/usage.ts';

/** The bench's sections, in the order they run. */
export const SECTIONS = ['steps', 'exhaustive', 'conversion', 'cli', 'bugs', 'npm-test'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchArgs {
  readonly npmTest: boolean;
  readonly deep: boolean;
  /** The sections to run (all by default). */
  readonly only: ReadonlySet<Section>;
  readonly help: boolean;
}

export const BENCH_USAGE = `usage: npm run bench -- [--no-npm-test] [--deep] [--only SECTION,...] [--help]
  --no-npm-test   do not time \`npm test\` (the slowest part, about a minute)
  --deep          five times the search budgets (also DMABUF_BENCH_DEEP=1)
  --only LIST     run only these sections: ${SECTIONS.join(', ')}
                  (steps: lifecycle steps/s and fast-check's ceiling, about 30 s; exhaustive: k = 4, 5, 6;
                  conversion: the model on 1, 1,000 and 65,536 ranges; cli: cold start and run --time;
                  bugs: every seeded bug over 10 seeds, the longest part; npm-test: the test gate)`;

const isSection = (s: string): s is Section => (SECTIONS as readonly string[]).includes(s);

export function parseBenchArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): BenchArgs {
  let only: Set<Section> = new Set(SECTIONS);
  let npmTest = true;
  let deep = env.DMABUF_BENCH_DEEP === '1';
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--no-npm-test') npmTest = false;
    else if (flag === '--deep') deep = true;
    else if (flag === '--help' || flag === '-h') help = true;
    else if (flag === '--only' || flag.startsWith('--only=')) {
      const list = flag === '--only' ? argv[++i] : flag.slice('--only='.length);
      if (!list) throw new UsageError(`--only needs a list of sections (${SECTIONS.join(', ')})`);
      const names = list.split(',').map((s) => s.trim()).filter(Boolean);
      const bad = names.filter((s) => !isSection(s));
      if (bad.length || !names.length) throw new UsageError(`--only: unknown section '${bad[0] ?? list}' (sections: ${SECTIONS.join(', ')})`);
      only = new Set(names.filter(isSection));
    } else throw new UsageError(`unknown option '${flag}' (options: --no-npm-test --deep --only SECTION,... --help)`);
  }
  if (!npmTest) only.delete('npm-test');
  return { npmTest: only.has('npm-test'), deep, only, help };
}
