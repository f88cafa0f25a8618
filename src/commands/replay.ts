// dmabuf-conform replay <report.json|case.json> [--case ID] [--exporter PATH|name] [--importer PATH|name]:
// re-run one counterexample exactly and print it step by step (command,
// result, the model's expectation, the rule that broke, and the documented
// finding that explains it). The file is a report (one of its violations,
// by --case) or one case in the corpus-entry format (`implementation`,
// `rule`, `input`: a corpus file, or a reproducer of examples/findings/).
// A case of a user plugin needs the same --exporter/--importer as the run
// that found it. The file is checked by its shipped schema first; a file that
// breaks it, or a counterexample that no longer replays, is one line naming
// the file and field (exit 2). Exit 0 when the rule broke again, 1 when not.
import { readFileSync } from 'node:fs';
import type { ExporterPlugin, ImporterPlugin } from '../harness/plugin.ts';
import type { Found } from '../harness/suite.ts';
import type { Report } from '../report/types.ts';
import { readJsonFile, validateValue } from '../report/validate.ts';
import { parseFlags, UsageError } from './usage.ts';

/** What `replay --help` prints. */
export const USAGE = 'usage: dmabuf-conform replay <report.json|case.json> [--case ID] [--exporter PATH|name] [--importer PATH|name] [--plugin PATH|name] [--kernel-tree DIR] [--kernel-patch FILE...]';

interface ReplayArgs {
  readonly file: string;
  readonly caseId?: string;
  readonly exporter?: string;
  readonly importer?: string;
  readonly plugin?: string;
  /** The kernel's own C of the run that found the case (a `c:...` implementation). */
  readonly kernelTree?: string;
  readonly kernelPatches: readonly string[];
}

function parse(args: readonly string[]): ReplayArgs {
  const { values, positionals } = parseFlags(args, { case: { type: 'string' }, exporter: { type: 'string' }, importer: { type: 'string' }, plugin: { type: 'string' }, 'kernel-tree': { type: 'string' }, 'kernel-patch': { type: 'string', multiple: true } }, USAGE);
  const [file, ...extra] = positionals;
  if (!file) throw new UsageError(USAGE);
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}' (${USAGE})`);
  return { file, caseId: values.case, exporter: values.exporter, importer: values.importer, plugin: values.plugin, kernelTree: values['kernel-tree'] as string | undefined, kernelPatches: (values['kernel-patch'] as string[] | undefined) ?? [] };
}

/** report.json read and checked against schemas/report.schema.json; every problem is one line naming the file. */
export function readReport(file: string): Report {
  const r = readJsonFile('report', file);
  if (r.ok) return r.value;
  if (!/: \/schemaVersion: missing/.test(r.error)) throw new UsageError(r.error);
  throw new UsageError(`${file}: not a dmabuf-conform report (it has no /schemaVersion)`);
}

/** One case to replay: whose it is, the rule it broke, its input, and where in the file the input is (for messages). */
interface ReplayCase {
  readonly title: string;
  readonly implementation: string;
  readonly rule: string;
  readonly input: unknown;
  readonly where: string;
}

function pick(report: Report, file: string, caseId: string | undefined): ReplayCase {
  const at = caseId ? report.violations.findIndex((x) => x.id === caseId) : Math.max(0, report.violations.findIndex((x) => !x.known));
  const v = report.violations[at];
  if (!v) throw new UsageError(caseId ? `${file}: no case '${caseId}' (ids: ${report.violations.slice(0, 5).map((x) => x.id).join(', ')}${report.violations.length > 5 ? ', ...' : ''})` : `${file}: the report has no violations`);
  const where = `${file}: /violations/${at}/counterexample/input`;
  // The report schema leaves a counterexample's input to its suite; the corpus-entry schema says what each part's is.
  const checked = validateValue('corpus-entry', { implementation: v.implementation, rule: v.rule, input: v.counterexample.input });
  if (!checked.ok) throw new UsageError(checked.error.replace(/^\/input/, where));
  return { title: `${v.id}: ${v.rule} — ${v.message}`, implementation: v.implementation, rule: v.rule, input: v.counterexample.input, where };
}

/** What a file's JSON looks like: a report (it names a schemaVersion), one case (it names any field of one), or neither. */
function shapeOf(file: string): 'report' | 'case' | 'neither' {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return 'case'; // unreadable or not JSON: the corpus-entry reader says so in one line
  }
  if (typeof json !== 'object' || json === null) return 'case';
  if ('schemaVersion' in json) return 'report';
  return ['implementation', 'rule', 'input'].some((k) => k in json) ? 'case' : 'neither';
}

/** The case of a file: a report's violation when it names a schemaVersion, else one case in the corpus-entry format. */
function caseOf(file: string, caseId: string | undefined): ReplayCase {
  const shape = shapeOf(file);
  if (shape === 'report') return pick(readReport(file), file, caseId);
  if (shape === 'neither') throw new UsageError(`${file}: neither a dmabuf-conform report (it has no /schemaVersion) nor one case (no /implementation, /rule or /input)`);
  const entry = readJsonFile('corpus-entry', file);
  if (!entry.ok) throw new UsageError(entry.error);
  if (caseId) throw new UsageError(`${file}: --case picks a violation of a report; this file is one case (corpus-entry format)`);
  const e = entry.value;
  return { title: `${e.implementation}: ${e.rule}`, implementation: e.implementation, rule: e.rule, input: e.input, where: `${file}: /input` };
}

async function replayCase(a: ReplayArgs, v: ReplayCase): Promise<Found> {
  const [{ loadPlugin }, { targetsOf }] = await Promise.all([import('../harness/load.ts'), import('../harness/catalog.ts')]);
  const given = [...(a.exporter ? [await loadPlugin(a.exporter, '--exporter', 'exporter')] : []), ...(a.importer ? [await loadPlugin(a.importer, '--importer', 'importer')] : []), ...(a.plugin ? [await loadPlugin(a.plugin, '--plugin')] : [])];
  // The kernel's own C, built (or found in the cache) as the run built it.
  let closeC = () => undefined as void;
  if (a.kernelTree !== undefined || a.kernelPatches.length) {
    const { kernelCPlugins } = await import('../kernel-c/plugins.ts');
    const kc = await kernelCPlugins({ ...(a.kernelTree === undefined ? {} : { tree: a.kernelTree }), patches: [...a.kernelPatches] });
    if (!kc.ok) throw new UsageError(kc.message);
    given.push(...kc.plugins);
    closeC = () => kc.close();
  }
  const targets = targetsOf(given);
  const target = targets.find((t) => t.name === v.implementation);
  if (!target) {
    closeC();
    throw new UsageError(`${v.implementation}: not a bundled implementation; replay a plugin's case with the run's --exporter/--importer${/^c:/.test(v.implementation) ? ' (a kernel C unit: --kernel-tree/--kernel-patch)' : ''}`);
  }
  let found: Found;
  try {
    found = await target.replay(v.input);
  } catch (e) {
    // The input was edited (or written by another version): it does not describe a case this implementation can run.
    throw new UsageError(`${v.where}: cannot be replayed (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`);
  } finally {
    closeC();
  }
  // Every case of a report has a step (the schema says so); an input that replays none was edited into something else.
  if (found.counterexample.steps.length === 0) throw new UsageError(`${v.where}: cannot be replayed (it gives no step)`);
  return found;
}

/** One file's case replayed: what it names (title, rule) and what the replay found. @throws UsageError on bad input */
export async function replayFile(args: readonly string[]): Promise<{ readonly title: string; readonly rule: string; readonly found: Found }> {
  const a = parse(args);
  const v = caseOf(a.file, a.caseId);
  return { title: v.title, rule: v.rule, found: await replayCase(a, v) };
}

/** `replay`: re-run one case step by step; 0 when its rule broke again, 1 when not, 2 on bad input. */
export async function run(args: string[]): Promise<number> {
  const { title, rule, found } = await replayFile(args);
  const v = { title, rule };
  const cx = found.counterexample;
  process.stdout.write(`replaying ${v.title}\n`);
  const w = Math.max(7, ...cx.steps.map((s) => s.command.length));
  process.stdout.write(`      ${'command'.padEnd(w)}  ${'result'.padEnd(12)} model\n`);
  for (const s of cx.steps) {
    const mark = s.index === cx.failingStep ? '>' : ' ';
    process.stdout.write(`${mark} ${String(s.index + 1).padStart(3)}. ${s.command.padEnd(w)}  ${s.result.padEnd(12)} ${s.expected}${s.rule ? `   <- ${s.rule}` : ''}\n`);
  }
  found.violations.forEach((x, i) => {
    const finding = found.explainedBy[i];
    process.stdout.write(`  ${x.rule}${x.step === undefined ? '' : ` (step ${x.step + 1})`}: ${x.message}${finding ? `   [documented finding ${finding}]` : ''}\n`);
  });
  const reproduced = found.violations.some((x) => x.rule === v.rule);
  process.stdout.write(reproduced ? `reproduced ${v.rule}\n` : `did NOT reproduce ${v.rule}\n`);
  return reproduced ? 0 : 1;
}
