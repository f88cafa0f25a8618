// dmabuf-conform replay <report.json> [--case ID] [--exporter PATH|name] [--importer PATH|name]:
// re-run one counterexample of a report exactly and print it step by step
// (command, result, the model's expectation, the rule that broke). A case of
// a user plugin needs the same --exporter/--importer as the run that found it.
// The report is checked by its shipped schema first; a report that breaks it,
// or a counterexample that no longer replays, is one line naming the file and
// field (exit 2). Exit 0 when the rule broke again, 1 when it did not.
import type { ExporterPlugin, ImporterPlugin } from '../harness/plugin.ts';
import type { Found } from '../harness/suite.ts';
import type { Report, ViolationRecord } from '../report/types.ts';
import { readJsonFile } from '../report/validate.ts';
import { parseFlags, UsageError } from './usage.ts';

/** What `replay --help` prints. */
export const USAGE = 'usage: dmabuf-conform replay <report.json> [--case ID] [--exporter PATH|name] [--importer PATH|name] [--plugin PATH|name]';

interface ReplayArgs {
  readonly file: string;
  readonly caseId?: string;
  readonly exporter?: string;
  readonly importer?: string;
  readonly plugin?: string;
}

function parse(args: readonly string[]): ReplayArgs {
  const { values, positionals } = parseFlags(args, { case: { type: 'string' }, exporter: { type: 'string' }, importer: { type: 'string' }, plugin: { type: 'string' } }, USAGE);
  const [file, ...extra] = positionals;
  if (!file) throw new UsageError(USAGE);
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}' (${USAGE})`);
  return { file, caseId: values.case, exporter: values.exporter, importer: values.importer, plugin: values.plugin };
}

/** report.json read and checked against schemas/report.schema.json; every problem is one line naming the file. */
export function readReport(file: string): Report {
  const r = readJsonFile('report', file);
  if (r.ok) return r.value;
  if (!/: \/schemaVersion: missing/.test(r.error)) throw new UsageError(r.error);
  throw new UsageError(`${file}: not a dmabuf-conform report (it has no /schemaVersion)`);
}

function pick(report: Report, file: string, caseId: string | undefined): { v: ViolationRecord; at: number } {
  const at = caseId ? report.violations.findIndex((x) => x.id === caseId) : Math.max(0, report.violations.findIndex((x) => !x.known));
  const v = report.violations[at];
  if (!v) throw new UsageError(caseId ? `${file}: no case '${caseId}' (ids: ${report.violations.slice(0, 5).map((x) => x.id).join(', ')}${report.violations.length > 5 ? ', ...' : ''})` : `${file}: the report has no violations`);
  return { v, at };
}

async function replayCase(a: ReplayArgs, v: ViolationRecord, where: string): Promise<Found> {
  const [{ loadPlugin }, { targetsOf }] = await Promise.all([import('../harness/load.ts'), import('../harness/catalog.ts')]);
  const given = [...(a.exporter ? [await loadPlugin(a.exporter, '--exporter', 'exporter')] : []), ...(a.importer ? [await loadPlugin(a.importer, '--importer', 'importer')] : []), ...(a.plugin ? [await loadPlugin(a.plugin, '--plugin')] : [])];
  const targets = targetsOf(given);
  const target = targets.find((t) => t.name === v.implementation);
  if (!target) throw new UsageError(`${v.implementation}: not a bundled implementation; replay a plugin's case with the run's --exporter/--importer`);
  let found: Found;
  try {
    found = await target.replay(v.counterexample.input);
  } catch (e) {
    // The input was edited (or written by another version): it does not describe a case this implementation can run.
    throw new UsageError(`${where}: cannot be replayed (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`);
  }
  // Every case of a report has a step (the schema says so); an input that replays none was edited into something else.
  if (found.counterexample.steps.length === 0) throw new UsageError(`${where}: cannot be replayed (it gives no step)`);
  return found;
}

/** `replay`: re-run one case step by step; 0 when its rule broke again, 1 when not, 2 on bad input. */
export async function run(args: string[]): Promise<number> {
  const a = parse(args);
  const report = readReport(a.file);
  const { v, at } = pick(report, a.file, a.caseId);
  const found = await replayCase(a, v, `${a.file}: /violations/${at}/counterexample/input`);
  const cx = found.counterexample;
  process.stdout.write(`replaying ${v.id}: ${v.rule} — ${v.message}\n`);
  const w = Math.max(7, ...cx.steps.map((s) => s.command.length));
  process.stdout.write(`      ${'command'.padEnd(w)}  ${'result'.padEnd(12)} model\n`);
  for (const s of cx.steps) {
    const mark = s.index === cx.failingStep ? '>' : ' ';
    process.stdout.write(`${mark} ${String(s.index + 1).padStart(3)}. ${s.command.padEnd(w)}  ${s.result.padEnd(12)} ${s.expected}${s.rule ? `   <- ${s.rule}` : ''}\n`);
  }
  for (const x of found.violations) process.stdout.write(`  ${x.rule}${x.step === undefined ? '' : ` (step ${x.step + 1})`}: ${x.message}\n`);
  const reproduced = found.violations.some((x) => x.rule === v.rule);
  process.stdout.write(reproduced ? `reproduced ${v.rule}\n` : `did NOT reproduce ${v.rule}\n`);
  return reproduced ? 0 : 1;
}
