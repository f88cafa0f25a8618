// dmabuf-conform self-test: every seeded bug (src/bugs/) goes through
// exactly what a user's plugin goes through (loading as a plugin, the same
// targets, search, budget and judgement as `run`), and must be found with
// the rule it was seeded to break. Only this command knows that rule.
// Exit 0 when every bug is found with its rule, 1 when one is missed, 2 on bad usage.
import { PROFILES } from '../../models/profiles.ts';
import { seededBugs } from '../bugs/index.ts';
import { runConformance } from '../harness/runner.ts';
import { workerPool } from '../harness/pool.ts';
import type { Report } from '../report/types.ts';
import type { RuleId } from '../rules/registry.ts';
import { DEFAULT_RUNS, DEFAULT_SEED } from './run.ts';
import { parseFlags, UsageError } from './usage.ts';

const USAGE = 'usage: dmabuf-conform self-test [--seed N] [--runs N] [--bug NAME]';

/** One seeded bug's outcome: found with its rule or not, the rules it showed, the runs and time its target took. */
export interface SelfTestRow {
  readonly bug: string;
  readonly rule: RuleId;
  readonly found: boolean;
  readonly rules: readonly RuleId[];
  readonly runs: number;
  readonly ms: number;
}

/** Run the seeded bugs (all, or those named) as `run` runs plugins; one row per bug. */
export async function selfTest(seed = DEFAULT_SEED, runs = DEFAULT_RUNS, only?: ReadonlySet<string>): Promise<{ rows: SelfTestRow[]; report: Report }> {
  const bugs = seededBugs().filter((b) => !only || only.has(b.plugin.name));
  // Each bug loads by name in isolated workers and is checked as the only plugin given, as a user's would be.
  const executor = await workerPool(bugs.map((b) => ({ spec: b.plugin.name, flag: 'self-test' })), { separately: true });
  const targets = executor.targets;
  const { report } = await runConformance({ seed, runs, profiles: [...PROFILES], executor, baseline: { version: 1, findings: [] }, bail: false, replayCommand: (id) => `npx dmabuf-conform self-test --seed ${seed} --bug '${id.split('/')[0]}'`, progress: () => undefined }).finally(() => executor.close());
  const rows = bugs.map((b): SelfTestRow => {
    const names = targets.filter((t) => t.name === b.plugin.name || t.name.startsWith(`${b.plugin.name}:`)).map((t) => t.name);
    const seen = report.violations.filter((v) => names.includes(v.implementation) && !v.finding);
    return {
      bug: b.plugin.name, rule: b.rule, found: seen.some((v) => v.rule === b.rule), rules: [...new Set(seen.map((v) => v.rule))],
      runs: report.results.filter((r) => names.includes(r.implementation)).reduce((m, r) => Math.max(m, r.runs), 0),
      ms: names.reduce((n, x) => n + (report.timings.perImplementationMs[x] ?? 0), 0),
    };
  });
  return { rows, report };
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { seed: { type: 'string' }, runs: { type: 'string' }, bug: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, USAGE);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}' (${USAGE})`);
  const num = (flag: string, v: string | undefined, dflt: number) => {
    if (v === undefined) return dflt;
    if (!/^\d+$/.test(v) || Number(v) > 2 ** 31 - 1) throw new UsageError(`${flag}: expected an integer from 0 to ${2 ** 31 - 1}, got '${v}'`);
    return Number(v);
  };
  const known = new Set(seededBugs().map((b) => b.plugin.name));
  if (values.bug !== undefined && !known.has(values.bug)) throw new UsageError(`--bug ${values.bug}: no such seeded bug (${[...known].slice(0, 4).join(', ')}, ...)`);
  const { rows } = await selfTest(num('--seed', values.seed, DEFAULT_SEED), num('--runs', values.runs, DEFAULT_RUNS), values.bug === undefined ? undefined : new Set([values.bug]));
  for (const r of rows) process.stdout.write(`${r.found ? 'ok    ' : 'MISSED'} ${r.bug} (${r.rule})${r.found ? '' : ` showed: ${r.rules.join(', ') || 'nothing'}`} — ${r.runs} runs, ${Math.round(r.ms)} ms\n`);
  const missed = rows.filter((r) => !r.found).length;
  process.stdout.write(`${rows.length - missed} of ${rows.length} seeded bugs found with their rule\n`);
  return missed ? 1 : 0;
}
