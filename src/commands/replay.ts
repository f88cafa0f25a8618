// dmabuf-conform replay <report.json> [--case ID] [--exporter PATH|name] [--importer PATH|name]:
// re-run one counterexample of a report exactly and print it step by step
// (command, result, the model's expectation, the rule that broke). A case of
// a user plugin needs the same --exporter/--importer as the run that found it.
import { existsSync, readFileSync } from 'node:fs';
import type { ExporterPlugin, ImporterPlugin } from '../harness/plugin.ts';
import { allTargets } from '../harness/targets.ts';
import type { Report, ViolationRecord } from '../report/types.ts';
import { loadPlugin } from './run.ts';
import { UsageError } from './usage.ts';

const USAGE = 'usage: dmabuf-conform replay <report.json> [--case ID] [--exporter PATH|name] [--importer PATH|name]';

function parse(args: readonly string[]): { file: string; caseId?: string; exporter?: string; importer?: string } {
  const [file, ...rest] = args;
  if (!file || file.startsWith('--')) throw new UsageError(USAGE);
  const out: { file: string; caseId?: string; exporter?: string; importer?: string } = { file };
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, v] = [rest[i]!, rest[i + 1]];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value (${USAGE})`);
    if (flag === '--case') out.caseId = v;
    else if (flag === '--exporter') out.exporter = v;
    else if (flag === '--importer') out.importer = v;
    else throw new UsageError(`unknown option '${flag}' (${USAGE})`);
  }
  return out;
}

function readReport(file: string): Report {
  if (!existsSync(file)) throw new UsageError(`${file}: no such file`);
  let report: Report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  } catch {
    throw new UsageError(`${file}: not a JSON report`);
  }
  if (!Array.isArray(report.violations)) throw new UsageError(`${file}: not a dmabuf-conform report`);
  return report;
}

function pick(report: Report, file: string, caseId: string | undefined): ViolationRecord {
  const v = caseId ? report.violations.find((x) => x.id === caseId) : report.violations.find((x) => !x.known) ?? report.violations[0];
  if (!v) throw new UsageError(caseId ? `${file}: no case '${caseId}' (ids: ${report.violations.slice(0, 5).map((x) => x.id).join(', ')}${report.violations.length > 5 ? ', ...' : ''})` : `${file}: the report has no violations`);
  return v;
}

export async function run(args: string[]): Promise<number> {
  const a = parse(args);
  const report = readReport(a.file);
  const v = pick(report, a.file, a.caseId);
  const exporters = a.exporter ? [(await loadPlugin(a.exporter, 'exporter')) as ExporterPlugin] : [];
  const importers = a.importer ? [(await loadPlugin(a.importer, 'importer')) as ImporterPlugin] : [];
  const targets = allTargets(exporters.length || importers.length ? { exporters, importers } : undefined);
  const target = targets.find((t) => t.name === v.implementation);
  if (!target) throw new UsageError(`${v.implementation}: not a bundled implementation; replay a plugin's case with the run's --exporter/--importer`);
  const found = await target.replay(v.counterexample.input);
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
