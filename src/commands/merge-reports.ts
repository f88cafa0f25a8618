// dmabuf-conform merge-reports DIR...: the reports of `run --shard i/n`
// (report.json of each DIR, each checked by the report schema) joined into
// the report the unsharded run writes: implementations, results and
// violations in the run's order, the summary recounted, every rendering
// (JSON, JUnit, TAP, HTML, Markdown) written, and the same verdict: exit 0
// when every violation is known, 1 on a new one, 2 on bad input.
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonFile, writeReports } from '../report/index.ts';
import { isCheck, type Report } from '../report/types.ts';
import { checkOutDir, shellWord } from './run.ts';
import { parseFlags, UsageError } from './usage.ts';

export const USAGE = 'usage: dmabuf-conform merge-reports DIR... [--out DIR] [--quiet]  (each DIR holds the report.json of one run --shard i/n)';

type Shard = { readonly file: string; readonly report: Report & { readonly shard: NonNullable<Report['shard']> } };

/** A DIR (or a report.json given directly), read and checked: a shard's report or one line why not. */
function readShard(arg: string): Shard {
  const file = existsSync(arg) && statSync(arg).isDirectory() ? join(arg, 'report.json') : arg;
  const r = readJsonFile('report', file);
  if (!r.ok) throw new UsageError(r.error);
  if (!r.value.shard) throw new UsageError(`${file}: /shard: missing (not a shard's report: run it with --shard i/n)`);
  return { file, report: r.value as Shard['report'] };
}

/** What every shard of one run shares; the first difference is one line naming the file and the field. */
function checkSameRun(shards: readonly Shard[]): void {
  const [first, ...rest] = shards;
  const same: [string, (r: Report) => unknown][] = [
    ['/tool/version', (r) => r.tool.version], ['/seed', (r) => r.seed], ['/profiles', (r) => r.profiles], ['/platform', (r) => r.platform],
    ['/budget/runs', (r) => r.budget.runs], ['/budget/timeMs', (r) => r.budget.timeMs], ['/budget/exhaustive', (r) => r.budget.exhaustive],
    ['/shard/total', (r) => r.shard!.total], ['/shard/implementations', (r) => r.shard!.implementations],
  ];
  for (const s of rest) {
    for (const [at, get] of same) {
      if (JSON.stringify(get(s.report)) !== JSON.stringify(get(first!.report))) throw new UsageError(`${s.file}: ${at}: ${JSON.stringify(get(s.report)) ?? 'absent'} differs from ${first!.file} (${JSON.stringify(get(first!.report)) ?? 'absent'}): not shards of one run`);
    }
  }
  const total = first!.report.shard.total;
  const byIndex = new Map<number, string>();
  for (const s of shards) {
    const i = s.report.shard.index;
    if (byIndex.has(i)) throw new UsageError(`${s.file}: /shard/index: shard ${i}/${total} is also ${byIndex.get(i)}`);
    byIndex.set(i, s.file);
  }
  const missing = Array.from({ length: total }, (_, i) => i + 1).filter((i) => !byIndex.has(i));
  if (missing.length) throw new UsageError(`shard${missing.length > 1 ? 's' : ''} ${missing.map((i) => `${i}/${total}`).join(', ')} missing: give every shard's report`);
}

/** The replay command of a case, pointed at the merged report (whatever the tool was called as:
 *  npx, or the bin by its path; the shard's report path as run printed it, quoted or not). */
export const replayAt = (cmd: string, out: string): string => cmd.replace(/^(.*? replay )(?:'(?:[^']|'\\'')*'|\S+)( --case )/, (_m, head: string, tail: string) => `${head}${shellWord(join(out, 'report.json'))}${tail}`);

/**
 * The shards' reports as the unsharded run's: implementations in the run's order (each from the shard
 * that checked it), their results and violations in that order, the summary recounted.
 * @throws UsageError when an implementation is checked by two shards
 */
export function mergeShards(reports: readonly Shard['report'][], out: string): Report {
  const first = reports[0]!;
  const owner = new Map<string, Shard['report']>();
  for (const r of reports) {
    for (const i of r.implementations) {
      if (owner.has(i.name)) throw new UsageError(`implementation '${i.name}' is in shards ${owner.get(i.name)!.shard.index} and ${r.shard.index}`);
      owner.set(i.name, r);
    }
  }
  const order = first.shard.implementations.filter((n) => owner.has(n));
  const of = <T extends { readonly implementation: string }>(pick: (r: Report) => readonly T[]) => order.flatMap((n) => pick(owner.get(n)!).filter((x) => x.implementation === n));
  const results = of((r) => r.results);
  const violations = of((r) => r.violations).map((v) => ({ ...v, replay: replayAt(v.replay, out) }));
  const cutShort = first.budget.timeMs === undefined ? undefined : order.filter((n) => owner.get(n)!.budget.cutShort?.includes(n));
  const corpora = reports.map((r) => r.corpus).filter((c) => c !== undefined);
  const { shard: _shard, corpus: _corpus, ...rest } = first;
  return {
    ...rest,
    budget: { ...first.budget, ...(cutShort ? { cutShort } : {}) },
    ...(corpora.length ? { corpus: { path: [...new Set(corpora.map((c) => c.path))].join(', '), replayed: corpora.reduce((n, c) => n + c.replayed, 0) } } : {}),
    implementations: order.map((n) => owner.get(n)!.implementations.find((i) => i.name === n)!),
    summary: { checks: results.filter((r) => isCheck(r.status)).length, violations: violations.length, known: violations.filter((v) => v.known).length, new: violations.filter((v) => !v.known).length },
    results,
    violations,
    // The shards ran side by side: the merged run took as long as the longest.
    timings: { totalMs: Math.max(...reports.map((r) => r.timings.totalMs)), perImplementationMs: Object.fromEntries(order.map((n) => [n, owner.get(n)!.timings.perImplementationMs[n] ?? 0])) },
  };
}

export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { out: { type: 'string' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }, USAGE);
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError(`no shard reports given (${USAGE})`);
  const out = values.out ?? 'reports/latest';
  checkOutDir('--out', out);
  const shards = positionals.map(readShard);
  checkSameRun(shards);
  const report = mergeShards(shards.map((s) => s.report), out);
  writeReports(report, out);
  if (!values.quiet) {
    const s = report.summary;
    process.stdout.write(`${shards.length} shard(s), ${report.implementations.length} implementations, ${s.checks} checks (seed ${report.seed}): ${s.known} known finding(s), ${s.new} new — reports in ${out}/\n`);
    for (const v of report.violations.filter((x) => !x.known)) process.stdout.write(`NEW ${v.rule} ${v.implementation}: ${v.message}\n    replay: ${v.replay}\n`);
  }
  return report.summary.new > 0 ? 1 : 0;
}
