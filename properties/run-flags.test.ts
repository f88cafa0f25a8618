// run's flags as a new user meets them: `run --help` gives each flag a line (it was the usage line alone),
// and a flag whose value is missing says so even when another flag follows it (`run --exporter --seed 3`
// said "unexpected argument '3'").
import { describe, expect, it } from 'vitest';
import { cliIn } from './cli-helpers.ts';
import { HELP, parseRunArgs, USAGE } from '../src/commands/run.ts';
import { UsageError } from '../src/commands/usage.ts';

const cli = cliIn();
const FLAGS = [...new Set([...USAGE.matchAll(/\[(--[a-z-]+)/g)].map((m) => m[1]!))];

describe('run --help and missing values', () => {
  it('--help prints the usage line, then one line per flag of it', async () => {
    const r = await cli('run', '--help');
    expect([r.code, r.err]).toEqual([0, '']);
    expect(r.out).toBe(`${HELP}\n`);
    const lines = r.out.split('\n');
    expect(lines[0]).toBe(USAGE);
    expect(FLAGS.length).toBeGreaterThan(15);
    for (const f of FLAGS) expect(lines.filter((l) => new RegExp(`^  (?:-h, )?${f}\\b`).test(l)), f).toHaveLength(1);
    expect(lines.find((l) => l.startsWith('  --quiet'))).toMatch(/only the verdict line/);
  });

  it('a flag followed by another flag has no value: one line naming it', () => {
    const refusal = (argv: string[]) => {
      try {
        parseRunArgs(argv);
      } catch (e) {
        return e;
      }
      return undefined;
    };
    for (const [argv, flag, next] of [[['--exporter', '--seed', '3'], '--exporter', '--seed'], [['--out', '-h'], '--out', '-h'], [['--seed', '1', '--plugin', '--quiet'], '--plugin', '--quiet']] as const) {
      const e = refusal([...argv]);
      expect(e).toBeInstanceOf(UsageError);
      expect((e as UsageError).exitCode).toBe(2);
      expect((e as Error).message).toBe(`${flag} needs a value (it is followed by ${next}) (${USAGE})`);
    }
    // A value that only looks like a flag's start is a value.
    expect(parseRunArgs(['--exporter', './-odd.ts']).plugins).toEqual([['--exporter', './-odd.ts', 'exporter']]);
  });
});
