// dmabuf-conform replay <report.json|case.json> [--case ID] [--exporter PATH|name]... [--importer PATH|name]... [--plugin PATH|name]...:
// re-run one counterexample exactly and print it step by step (command,
// result, the model's expectation, the rule that broke, and the documented
// finding that explains it), after a header saying what is replayed: the
// implementation, the simulated machine (IOMMU flavour, dma_map_phys path) and
// the fault injection of the case. The file is a report (one of its violations,
// by --case) or one case in the corpus-entry format (`implementation`,
// `rule`, `input`: a corpus file, or a reproducer of examples/findings/).
// Plugins given (--exporter/--importer/--plugin, bundled names or files, loaded
// as `run` loads them; the kernel's C with --kernel-tree/--kernel-patch) choose
// where it runs: the case's own implementation when they give it (a plugin's
// case needs the run's flags), else each implementation they give that runs
// the case's part (another version, or the user's fix). The file is checked by
// its shipped schema first; a file that breaks it, or a counterexample that no
// longer replays, is one line naming the file and field (exit 2). Exit 0 when
// the rule broke again on every implementation replayed, 1 when not.
import { readFileSync } from 'node:fs';
import type { Found, Target } from '../harness/suite.ts';
import type { Plugin } from '../harness/plugin.ts';
import type { Report } from '../report/types.ts';
import { readJsonFile, validateValue } from '../report/validate.ts';
import { DEFAULT_PLATFORM, describePlatform, type Platform } from '../kernel/platform.ts';
import { deviceBars } from '../gen/lifecycle.ts';
import type { Bar } from '../../models/pci/types.ts';
import { parseFlags, UsageError } from './usage.ts';

/** What `replay --help` prints (one line, as every command's usage). */
export const USAGE = "usage: dmabuf-conform replay <report.json|case.json> [--case ID] [--exporter PATH|name]... [--importer PATH|name]... [--plugin PATH|name]... [--kernel-tree DIR] [--kernel-patch FILE...] — the implementations given (bundled names such as vfio-pci:mainline, or plugin files, loaded as run loads them) choose where the case runs: its own implementation when they give it (a plugin's case needs the run's flags), else on each implementation they give that runs the case (to confirm a fix); the header names the simulated machine (IOMMU flavour, dma_map_phys path) and the case's fault injection, '>' marks the step where its rule broke; exit 0 when the rule broke again on every implementation replayed, 1 when not, 2 on bad input";
const USAGE_LINE = USAGE.split(' — ')[0]!;

interface ReplayArgs {
  readonly file: string;
  readonly caseId?: string;
  /** Plugins given: [flag, spec]. */
  readonly given: readonly (readonly [flag: '--exporter' | '--importer' | '--plugin', spec: string])[];
  /** The kernel's own C of the run that found the case (a `c:...` implementation). */
  readonly kernelTree?: string;
  readonly kernelPatches: readonly string[];
}

function parse(args: readonly string[]): ReplayArgs {
  const many = { type: 'string', multiple: true } as const;
  const { values, positionals } = parseFlags(args, { case: { type: 'string' }, exporter: many, importer: many, plugin: many, 'kernel-tree': { type: 'string' }, 'kernel-patch': many }, USAGE_LINE);
  const [file, ...extra] = positionals;
  if (!file) throw new UsageError(USAGE_LINE);
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}' (${USAGE_LINE})`);
  const list = (k: 'exporter' | 'importer' | 'plugin') => ((values[k] as unknown as string[] | undefined) ?? []).map((spec) => [`--${k}`, spec] as const);
  return { file, caseId: values.case, given: [...list('exporter'), ...list('importer'), ...list('plugin')], kernelTree: values['kernel-tree'] as string | undefined, kernelPatches: (values['kernel-patch'] as unknown as string[] | undefined) ?? [] };
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

/** The part of the checks a case ran in, and that part's input (the schema has checked the shape). */
const partOf = (input: unknown): { part: string; input: Record<string, unknown> } => input as { part: string; input: Record<string, unknown> };

const hexNum = (v: unknown): string => (typeof v === 'bigint' ? `0x${v.toString(16)}` : v && typeof v === 'object' && '$u64' in v ? String((v as { $u64: string }).$u64) : String(v));
const u64Of = (v: unknown): bigint => BigInt(hexNum(v));

type Json = Record<string, unknown>;

/** A BAR as the case gives it: `BAR 0 mem 0x38000000000+0x100000 (bus offset 0x0)`. */
const barLine = (b: Json): string => `BAR ${String(b.index)} ${String(b.type)} ${hexNum(b.start)}+${hexNum(b.size)}${b.type === 'mem' ? ` (bus offset ${hexNum(b.busOffset)}${b.mappable === false ? ', unassigned' : ''})` : ''}`;

/** What a create path case gives the exporter: the device's BARs and page size, and the request's ranges. */
function createInput(i: Json): string[] {
  const req = i.req as { regionIndex: number; nrRanges: number; ranges: Json[] };
  const ranges = req.ranges.map((r, n) => `${hexNum(r.offset)}+${hexNum(r.length)}${n >= req.nrRanges ? ' (past nr_ranges)' : ''}`);
  const nvgrace = i.nvgrace ? `; nvgrace device memory ${JSON.stringify(i.nvgrace, (_k, x: unknown) => (x && typeof x === 'object' && '$u64' in x ? (x as { $u64: string }).$u64 : x))}` : '';
  return [
    `device: ${((i.bars as Json[]) ?? []).map(barLine).join('; ') || 'no BARs'}; page size ${hexNum(i.pageSize)}${i.p2pdma === false ? '; no p2pdma provider' : ''}${nvgrace}`,
    `request: region ${req.regionIndex}, nr_ranges ${req.nrRanges}: ${ranges.join(', ') || 'no ranges'}`,
  ];
}

/** A lifecycle case's devices, each on a line of its own with its BARs as the create path's replay shows them
 *  (`dev1: BAR 0 mem 0x39000000000+0x100000 (bus offset 0x0); page size 0x1000`): the one layout of the case's
 *  setup at each device's own address (deviceBars, as the run probed them). The devices shown are those the
 *  commands name (dev0 when none does). An input without a setup (an earlier one) shows none. */
function lifecycleDevices(i: Json): string[] {
  const setup = i.setup as { bars?: Json[]; pageSize?: unknown } | undefined;
  if (!setup?.bars) return [];
  const bars = setup.bars.map((b) => ({ ...b, index: Number(b.index), type: b.type as Bar['type'], start: u64Of(b.start), size: u64Of(b.size), busOffset: u64Of(b.busOffset ?? 0) }));
  const named = ((i.cmds as { dev?: unknown }[] | undefined) ?? []).flatMap((c) => (typeof c.dev === 'number' ? [c.dev] : []));
  const devs = [...new Set(named.length ? named : [0])].sort((a, b) => a - b);
  return devs.map((d) => `dev${d}: ${deviceBars({ bars }, d).map((b) => barLine(b as unknown as Json)).join('; ') || 'no BARs'}; page size ${hexNum(setup.pageSize)}`);
}

/** A route case's topology as an indented tree (host bridges, their ports, switches and endpoints, with ACS bits). */
function topologyLines(t: { cpu?: Json; hostBridges: Json[]; devices: Json[] }): string[] {
  const acs = (d: Json): string => {
    const a = d.acs as Record<string, boolean> | undefined;
    if (!a) return '';
    const on = Object.entries(a).filter(([, v]) => v).map(([k]) => k.toUpperCase());
    return ` ACS ${on.length ? on.join(' ') : 'none'}`;
  };
  // The CPU as --cpu takes it (amd:0x19), the allow list as the topology states it or as the kernel's table decides it.
  const family = (f: unknown) => (typeof f === 'number' ? `0x${f.toString(16)}` : String(f));
  const lines = [`topology: CPU ${t.cpu ? `${String(t.cpu.vendor)}:${family(t.cpu.family)}` : 'unknown'}`];
  const walk = (parent: string, depth: number): void => {
    for (const d of t.devices.filter((x) => x.parent === parent)) {
      lines.push(`${'  '.repeat(depth)}${String(d.id)} ${String(d.kind)} ${String(d.slot ?? 0).padStart(2, '0')}.${String(d.function ?? 0)}${acs(d)}${d.p2pdma ? ' p2pdma' : ''}`);
      walk(String(d.id), depth + 1);
    }
  };
  for (const hb of t.hostBridges) {
    lines.push(`  ${String(hb.id)} host bridge (allow list: ${hb.allowList === undefined ? "not stated: the kernel's table decides by the root bus's devices" : String(hb.allowList)})`);
    walk(String(hb.id), 2);
  }
  return lines;
}

/** The simulated machine a case runs on, its fault injection, and what the case gives the implementation
 *  (a create's BARs and ranges, a route's topology): the header lines of its replay (the machine is what
 *  each part's replay gives the kernel: the input's platform, else DEFAULT_PLATFORM). */
export function caseConditions(input: unknown): string[] {
  const { part, input: i } = partOf(input);
  if (part === 'pal') return [`machine: not simulated by the ${part} part (no DMA mapping)`, ...createInput(i)];
  if (part === 'route' && i.topology) return [`machine: not simulated by the ${part} part (no DMA mapping)`, ...topologyLines(i.topology as Parameters<typeof topologyLines>[0])];
  if (!['conversion', 'converter', 'export', 'lifecycle'].includes(part)) return [`machine: not simulated by the ${part} part (no DMA mapping)`];
  const p = i.platform as Platform | undefined;
  const lines = [`machine: ${describePlatform(p ?? DEFAULT_PLATFORM)}${p ? '' : ', the default machine (the case records none)'}`];
  const faults: string[] = [];
  if (part === 'conversion' || part === 'converter') {
    const f = i.faults as { allocFails: string[]; mapFailsAt?: number; linkFailsAt?: number; syncFails: boolean; iovaRefused: boolean; fdFails?: boolean };
    for (const a of f.allocFails) faults.push(`the ${a} allocation fails (-ENOMEM)`);
    if (f.mapFailsAt !== undefined) faults.push(`dma_map_phys() call ${f.mapFailsAt + 1} fails`);
    if (f.linkFailsAt !== undefined) faults.push(`dma_iova_link() call ${f.linkFailsAt + 1} fails`);
    if (f.syncFails) faults.push('dma_iova_sync() fails');
    if (f.iovaRefused) faults.push('dma_iova_try_alloc() refuses (no IOVA: dma_map_phys per range)');
    if (f.fdFails) faults.push('get_unused_fd_flags() fails (-EMFILE)');
    lines.push(`conversion: ${String(i.route)}, ${String(i.dir)}, page size ${hexNum(i.pageSize)}, bus offset ${hexNum(i.busOffset)}`);
  } else if (part === 'export') {
    if (i.iovaRefused) faults.push('dma_iova_try_alloc() refuses (no IOVA: dma_map_phys per range)');
    lines.push(...createInput(i));
  } else {
    lines.push(...lifecycleDevices(i));
    const setup = i.setup as { iova?: boolean; p2pdma?: boolean; busy?: number[] } | undefined;
    // The IOVA refusal only matters to a case that maps (a fresh user read it as part of a cleanup bug).
    const maps = ((i.cmds as { op: string }[] | undefined) ?? []).some((c) => c.op === 'map');
    if (setup?.iova === false && maps) faults.push('dma_iova_try_alloc() refuses (no IOVA: dma_map_phys per range)');
    if (setup?.p2pdma === false) faults.push('pcim_p2pdma_init() fails (-EOPNOTSUPP: no provider)');
    if (setup?.busy?.length) faults.push(`BAR(s) ${setup.busy.join(', ')} held by another driver (-EBUSY)`);
    ((i.cmds as { op: string; fault?: string }[] | undefined) ?? []).forEach((c, n) => {
      if (c.op === 'create' && c.fault) faults.push(`the create of command ${n + 1} fails at its ${c.fault} step`);
    });
  }
  lines.push(`faults: ${faults.length ? faults.join('; ') : 'none'}`);
  return lines;
}

/** One implementation's replay of the case. */
export interface Replayed {
  readonly implementation: string;
  readonly found: Found;
}

/** The implementations the case replays on: its own (bundled, or among the plugins given), else each given one that runs its part. */
async function replayCase(a: ReplayArgs, v: ReplayCase): Promise<Replayed[]> {
  const [{ loadPlugin }, { targetsOf }, { allTargets }] = await Promise.all([import('../harness/load.ts'), import('../harness/catalog.ts'), import('../harness/targets.ts')]);
  for (const [flag, spec] of a.given) if (spec === '') throw new UsageError(`${flag} needs a value (${USAGE_LINE})`);
  const { kernelCPlugins, selectKernelC } = await import('../kernel-c/plugins.ts');
  const flags = a.given.map(([flag, spec]) => [flag, spec, flag === '--plugin' ? undefined : flag === '--exporter' ? 'exporter' : 'importer'] as const);
  // The kernel's own C, built (or found in the cache) as the run built it; its units are chosen by name as
  // run chooses them (--exporter c:v8:vfio-pci), every unit when none is named.
  let closeC = () => undefined as void;
  let rest = flags;
  let cUnits: Plugin[] = [];
  if (a.kernelTree !== undefined || a.kernelPatches.length) {
    const kc = await kernelCPlugins({ ...(a.kernelTree === undefined ? {} : { tree: a.kernelTree }), patches: [...a.kernelPatches] });
    if (!kc.ok) throw new UsageError(kc.message);
    closeC = () => kc.close();
    try {
      const sel = selectKernelC(flags, kc.plugins.map((p) => ({ name: p.name, kind: p.kind })));
      rest = sel.rest;
      cUnits = kc.plugins.filter((p) => !sel.only || sel.only.includes(p.name));
    } catch (e) {
      closeC();
      throw e;
    }
  } else rest = selectKernelC(flags, null).rest;
  // Loaded as run's workers load them (loadPlugin): a bundled name, or a module path.
  const given: Plugin[] = [];
  try {
    for (const [flag, spec, kind] of rest) given.push(await loadPlugin(spec, flag, kind));
  } catch (e) {
    closeC();
    throw e;
  }
  given.push(...cUnits);
  try {
    const { part, input: partInput } = partOf(v.input);
    if (part === 'isolation') throw new UsageError(`${v.where}: a worker that ${({ hung: 'hung', exited: 'ended', tampered: 'had its built-ins changed' } as Record<string, string>)[String((partInput as { why?: unknown }).why)] ?? 'failed'} (${v.rule}), not a case to replay: run again with the run's --seed to see it`);
    const own = targetsOf(given).find((t) => t.name === v.implementation);
    let chosen: Target[];
    if (own) chosen = [own];
    else if (given.length) {
      const offered = allTargets(given);
      chosen = offered.filter((t) => t.part.split('+').includes(part));
      if (!chosen.length) throw new UsageError(`${v.where}: a case of the ${part} part (found on ${v.implementation}); ${offered.length ? `none of the implementations given runs it (${offered.map((t) => `${t.name}: ${t.part}`).join('; ')})` : 'no suite checks what the plugins given provide'}`);
    } else {
      throw new UsageError(`${v.implementation}: not a bundled implementation; replay a plugin's case with the run's --exporter/--importer/--plugin${/^c:/.test(v.implementation) ? ' (a kernel C unit: --kernel-tree/--kernel-patch)' : ''}, or choose where to replay it with them (e.g. --exporter vfio-pci:mainline)`);
    }
    const out: Replayed[] = [];
    for (const target of chosen) {
      let found: Found;
      try {
        found = await target.replay(v.input);
      } catch (e) {
        // The input was edited (or written by another version): it does not describe a case this implementation can run.
        throw new UsageError(`${v.where}: cannot be replayed${target.name === v.implementation ? '' : ` on ${target.name}`} (${(e instanceof Error ? e.message : String(e)).split('\n')[0]})`);
      }
      // Every case of a report has a step (the schema says so); an input that replays none was edited into something else.
      if (found.counterexample.steps.length === 0) throw new UsageError(`${v.where}: cannot be replayed (it gives no step)`);
      out.push({ implementation: target.name, found });
    }
    return out;
  } finally {
    closeC();
  }
}

/** One file's case replayed: what it names (title, rule, implementation, machine), and what each replay found
 *  (`found`: the first). @throws UsageError on bad input */
export async function replayFile(args: readonly string[]): Promise<{ readonly title: string; readonly rule: string; readonly implementation: string; readonly conditions: readonly string[]; readonly replays: readonly Replayed[]; readonly found: Found }> {
  const a = parse(args);
  const v = caseOf(a.file, a.caseId);
  const replays = await replayCase(a, v);
  return { title: v.title, rule: v.rule, implementation: v.implementation, conditions: caseConditions(v.input), replays, found: replays[0]!.found };
}

/** The step where `rule` broke (the first of its violations that names a step), else the counterexample's
 *  failing step; -1 when the rule did not break (nothing to mark). */
export function stepOfRule(found: Found, rule: string): number {
  if (!found.violations.some((x) => x.rule === rule)) return -1;
  const at = found.violations.find((x) => x.rule === rule && x.step !== undefined && x.step < found.counterexample.steps.length)?.step;
  return at ?? found.counterexample.failingStep;
}

/** One replay, step by step: '>' marks the step where the case's rule broke; each step names the rules it broke. */
export function replayLines(found: Found, rule: string): string[] {
  const cx = found.counterexample;
  const marked = stepOfRule(found, rule);
  const w = Math.max(7, ...cx.steps.map((s) => s.command.length));
  const rw = Math.max(12, ...cx.steps.map((s) => s.result.length + 1));
  const lines = [`      ${'command'.padEnd(w)}  ${'result'.padEnd(rw)} model`];
  cx.steps.forEach((s, i) => {
    // The rules this step broke: the violations that name it, the step's own label, and the case's rule where it is marked.
    const broke = [...new Set([...found.violations.filter((x) => x.step === i).map((x) => x.rule), ...(s.rule ? [s.rule] : []), ...(i === marked ? [rule] : [])])];
    lines.push(`${i === marked ? '>' : ' '} ${String(i + 1).padStart(3)}. ${s.command.padEnd(w)}  ${s.result.padEnd(rw)} ${s.expected}${broke.length ? `   <- ${broke.join(', ')}` : ''}`);
  });
  let shown = '';
  found.violations.forEach((x, i) => {
    const finding = found.explainedBy[i];
    lines.push(`  ${x.rule}${x.step === undefined ? '' : ` (step ${x.step + 1})`}: ${x.message}${finding ? `   [documented finding ${finding}]` : ''}`);
    // A plugin hook that threw: the thrown error's stack (its first frame in the plugin's file is the message's site).
    const stack = x.evidence?.['stack'];
    if (Array.isArray(stack) && stack.length) lines.push(`      the stack it threw with, innermost first:`, ...stack.map((l) => `        ${String(l)}`));
    // A kernel C unit's: its last crossings of the bridge (entries, the services it called, returns), oldest first.
    const trail = x.evidence?.['cTrail'];
    if (Array.isArray(trail) && trail.length) {
      const text = trail.map((l) => `        ${String(l)}`);
      if (text.join('\n') === shown) lines.push(`      the C's last crossings of the bridge: as above`);
      else lines.push(`      the C's last crossings of the bridge, oldest first:`, ...text);
      shown = text.join('\n');
    }
  });
  return lines;
}

/** `replay`: re-run one case step by step on each implementation chosen; 0 when its rule broke again on every one, 1 when not, 2 on bad input. */
export async function run(args: string[]): Promise<number> {
  const r = await replayFile(args);
  process.stdout.write(`replaying ${r.title}\n`);
  for (const l of r.conditions) process.stdout.write(`  ${l}\n`);
  let all = true;
  for (const { implementation, found } of r.replays) {
    process.stdout.write(`  on ${implementation}${implementation === r.implementation ? '' : ` (the case was found on ${r.implementation})`}\n`);
    for (const l of replayLines(found, r.rule)) process.stdout.write(`${l}\n`);
    const reproduced = found.violations.some((x) => x.rule === r.rule);
    all &&= reproduced;
    const other = found.violations.length - found.violations.filter((x) => x.rule === r.rule).length;
    process.stdout.write(reproduced ? `reproduced ${r.rule}${r.replays.length > 1 ? ` on ${implementation}` : ''}\n` : `did NOT reproduce ${r.rule}${r.replays.length > 1 || implementation !== r.implementation ? ` on ${implementation}` : ''}${other ? ` (${other} other violation(s) above)` : ' (no rule broke)'}\n`);
  }
  return all ? 0 : 1;
}
