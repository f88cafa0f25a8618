// dmabuf-conform run: every bundled implementation (or the plugins given),
// every profile it supports, the default budget; reports into reports/latest/
// and every counterexample into the corpus beside it (reports/corpus/).
// Exit 0 when every violation is in the baseline, 1 on a new one, 2 on bad usage.
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../package-root.ts';
import { parseArgs } from 'node:util';
import { PROFILES, isProfile, type Profile } from '../../models/profiles.ts';
import { bundledPlugins } from '../harness/bundled.ts';
import type { PluginKind } from '../harness/plugin.ts';
import { workerPool } from '../harness/pool.ts';
import type { PluginSpec } from '../harness/worker.ts';
import { baselineOf, mergeBaseline, readCorpus, runConformance, writeAtomic, type Baseline, type CorpusEntry, type Executor, type Progress, type TargetInfo } from '../harness/runner.ts';
import { readJsonFile } from '../report/validate.ts';
import { writeReports } from '../report/index.ts';
import { notChecked, readingOrder } from '../report/text.ts';
import { isRuleId, type RuleId } from '../rules/registry.ts';
import { UsageError } from './usage.ts';
import { DMA_MAP_PATHS, EVERY_MACHINE, IOMMU_FLAVOURS, describePlatform, isDmaMapPath, isIommuFlavour, platformOfSeed, type Platform } from '../kernel/platform.ts';
import { kernelCPlugins, selectKernelC } from '../kernel-c/plugins.ts';

export const DEFAULT_SEED = 42;
export const DEFAULT_RUNS = 400;
/** The shipped baseline, wherever the command is run from. */
export const DEFAULT_BASELINE = join(PACKAGE_ROOT, 'reports', 'baseline.json');

export interface RunArgs {
  seed: number;
  runs: number;
  timeMs?: number;
  exhaustive?: number;
  profiles: Profile[];
  rules?: Set<RuleId>;
  /** Plugins given: [flag, spec, kind the flag requires]. */
  plugins: [string, string, PluginKind | undefined][];
  out: string;
  /** The failure corpus: replayed first, counterexamples written to it (default `dirname(out)/corpus`). */
  corpus: string;
  /** --shard i/n: this part of the targets (1-based). */
  shard?: { index: number; total: number };
  baseline?: string;
  writeBaseline?: string;
  bail: boolean;
  quiet: boolean;
  /** The kernel's own C (src/kernel-c): a source tree, or patch / mbox files. */
  kernelTree?: string;
  kernelPatches: string[];
  /** --iommu / --dma-map: the simulated machine the run pins; absent (the default, random): every case
   *  (every lifecycle run) draws its own, and its counterexample's input records it. */
  platform?: Platform;
}

export const USAGE = 'usage: dmabuf-conform run [--profile P,...] [--exporter PATH|name] [--importer PATH|name] [--plugin PATH|name]... [--rules IDS] [--seed N] [--runs N | --time 30s] [--exhaustive K] [--out DIR] [--corpus DIR] [--shard I/N] [--baseline FILE] [--write-baseline FILE] [--bail] [--quiet] [--iommu refuse|keep|overwrite|random] [--dma-map direct|iommu|random] [--kernel-tree DIR] [--kernel-patch FILE...]';
/** `run --help`: the usage line, then one line per flag. */
export const HELP = [
  USAGE,
  '',
  'Checks every bundled faithful port under every profile it follows, or the plugins given; reports in --out.',
  'Exit 0: every violation is known (a documented finding, or in the baseline); 1: a new one; 2: bad usage or input.',
  '',
  '  --profile P,...          only these profiles (v8, rfc, converter, mainline; default: all)',
  '  --exporter PATH|name     an exporter plugin (a file, or a bundled name; `dmabuf-conform plugins`); repeatable',
  '  --importer PATH|name     an importer plugin, checked against the exporter given with it; repeatable',
  '  --plugin PATH|name       a plugin of any kind (route, pal, conversion, match, converter, ...); repeatable',
  '  --rules IDS              only these rules, comma-separated (`dmabuf-conform rules`)',
  '  --seed N                 the random seed (default 42): the same seed and corpus give the same report',
  '  --runs N                 fast-check runs per search (default 400)',
  '  --time D                 end within D + 10 % (30s, 500ms, 2m): the searches stop at the deadline',
  '  --exhaustive K           also explore every lifecycle sequence up to K commands (1-8)',
  '  --out DIR                where the reports go (default reports/latest)',
  '  --corpus DIR             the failure corpus, replayed first (default: the folder corpus beside --out)',
  '  --shard I/N              check part I of N of the implementations (merge the shards with merge-reports)',
  '  --baseline FILE          the accepted violations (default reports/baseline.json of the tool)',
  '  --write-baseline FILE    write every violation this run saw to FILE, accepting them (exit 0 once written)',
  '  --bail                   stop at the first new violation',
  '  --quiet                  no progress, header or NEW lines: only the verdict line (and errors)',
  '  --iommu FLAVOUR          refuse, keep, overwrite or random (default): what a link onto a linked IOVA does',
  '  --dma-map PATH           direct, iommu or random (default): the dma_map_phys() path',
  '  --kernel-tree DIR        run the kernel\'s own C from a source tree (the C units; README, "Testing your kernel tree")',
  '  --kernel-patch FILE...   run the post-image of patches or an mbox (the files after it are patches too)',
  '  -h, --help               this help',
].join('\n');

const OPTIONS = {
  profile: { type: 'string' }, exporter: { type: 'string', multiple: true }, importer: { type: 'string', multiple: true }, plugin: { type: 'string', multiple: true },
  rules: { type: 'string' }, seed: { type: 'string' }, runs: { type: 'string' }, time: { type: 'string' }, exhaustive: { type: 'string' },
  out: { type: 'string' }, corpus: { type: 'string' }, shard: { type: 'string' }, baseline: { type: 'string' }, 'write-baseline': { type: 'string' }, bail: { type: 'boolean' }, quiet: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  'kernel-tree': { type: 'string' }, 'kernel-patch': { type: 'string', multiple: true }, iommu: { type: 'string' }, 'dma-map': { type: 'string' },
} as const;

/** --iommu and --dma-map. Neither (or both random, the default): undefined, every case draws its machine.
 *  One or both given: the run is pinned to one machine, the value not given being the seed's choice. */
export function platformArg(seed: number, iommu: string | undefined, dmaMap: string | undefined): Platform | undefined {
  if (iommu !== undefined && iommu !== 'random' && !isIommuFlavour(iommu)) throw new UsageError(`--iommu: expected ${IOMMU_FLAVOURS.join(', ')} or random, got '${iommu}'`);
  if (dmaMap !== undefined && dmaMap !== 'random' && !isDmaMapPath(dmaMap)) throw new UsageError(`--dma-map: expected ${DMA_MAP_PATHS.join(', ')} or random, got '${dmaMap}'`);
  const pinned = (v: string | undefined) => v !== undefined && v !== 'random';
  if (!pinned(iommu) && !pinned(dmaMap)) return undefined;
  const seeded = platformOfSeed(seed);
  return { iommu: pinned(iommu) ? (iommu as Platform['iommu']) : seeded.iommu, dmaMap: pinned(dmaMap) ? (dmaMap as Platform['dmaMap']) : seeded.dmaMap };
}

function int(flag: string, v: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) throw new UsageError(`${flag}: expected an integer from ${min} to ${max}, got '${v}'`);
  return Number(v);
}

function duration(v: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(v);
  if (!m) throw new UsageError(`--time: expected a duration like 30s, 500ms or 2m, got '${v}'`);
  return Number(m[1]) * (m[2] === 'm' ? 60000 : m[2] === 'ms' ? 1 : 1000);
}

/** --shard i/n: 1 ≤ i ≤ n. */
export function shardArg(v: string): { index: number; total: number } {
  const m = /^(\d+)\/(\d+)$/.exec(v);
  const [index, total] = m ? [Number(m[1]), Number(m[2])] : [NaN, NaN];
  if (!m || total < 1 || total > 1000) throw new UsageError(`--shard: expected i/n with 1 ≤ i ≤ n ≤ 1000 (e.g. 1/3), got '${v}'`);
  if (index < 1 || index > total) throw new UsageError(`--shard ${v}: shard index ${index} is out of range 1..${total}`);
  return { index, total };
}

function list<T extends string>(flag: string, v: string, ok: (x: string) => x is T, what: string, hint: string): T[] {
  const xs = v.split(',');
  for (const x of xs) if (!ok(x)) throw new UsageError(`${flag}: unknown ${what} '${x}' (${hint})`);
  return xs as T[];
}

export function parseRunArgs(argv: readonly string[]): RunArgs {
  const { values: v, positionals } = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: false });
  // Lenient parsing takes the next word as a flag's value even when it is another flag (`--exporter --seed 3`).
  const isFlag = (y: unknown) => typeof y === 'string' && /^-(?:-[a-z][a-z-]*|[a-z])$/i.test(y) && (y.replace(/^-+/, '') in OPTIONS || y === '-h');
  for (const [k, x] of Object.entries(v)) {
    if (!(k in OPTIONS)) throw new UsageError(`unknown option '${k.length === 1 ? '-' : '--'}${k}' (${USAGE})`);
    const o = OPTIONS[k as keyof typeof OPTIONS];
    const vals = Array.isArray(x) ? x : [x];
    if (o.type === 'string' && vals.some((y) => typeof y !== 'string' || y === '' || isFlag(y))) throw new UsageError(`--${k} needs a value${vals.some(isFlag) ? ` (it is followed by ${String(vals.find(isFlag))})` : ''} (${USAGE})`);
  }
  // --kernel-patch FILE...: the files after it are patches too.
  if (positionals.length && !v['kernel-patch']) throw new UsageError(`unexpected argument '${positionals[0]}' (${USAGE})`);
  if (v.help) throw new UsageError(HELP, 0);
  const str = (k: keyof typeof OPTIONS) => v[k] as string | undefined;
  const many = (k: keyof typeof OPTIONS) => (v[k] as string[] | undefined) ?? [];
  const seed = str('seed') === undefined ? DEFAULT_SEED : int('--seed', str('seed')!, 0, 2 ** 31 - 1);
  const platform = platformArg(seed, str('iommu'), str('dma-map'));
  return {
    seed,
    ...(platform ? { platform } : {}),
    runs: str('runs') === undefined ? DEFAULT_RUNS : int('--runs', str('runs')!, 1),
    ...(str('time') === undefined ? {} : { timeMs: duration(str('time')!) }),
    ...(str('exhaustive') === undefined ? {} : { exhaustive: int('--exhaustive', str('exhaustive')!, 1, 8) }),
    profiles: str('profile') === undefined ? [...PROFILES] : list('--profile', str('profile')!, isProfile, 'profile', `profiles: ${PROFILES.join(', ')}`),
    ...(str('rules') === undefined ? {} : { rules: new Set(list('--rules', str('rules')!, isRuleId, 'rule', 'see dmabuf-conform rules')) }),
    plugins: [...many('exporter').map((x): [string, string, PluginKind] => ['--exporter', x, 'exporter']), ...many('importer').map((x): [string, string, PluginKind] => ['--importer', x, 'importer']), ...many('plugin').map((x): [string, string, undefined] => ['--plugin', x, undefined])],
    out: str('out') ?? 'reports/latest',
    corpus: str('corpus') ?? besideOut(str('out') ?? 'reports/latest'),
    ...(str('shard') === undefined ? {} : { shard: shardArg(str('shard')!) }),
    ...(str('baseline') === undefined ? {} : { baseline: str('baseline')! }),
    ...(str('write-baseline') === undefined ? {} : { writeBaseline: str('write-baseline')! }),
    bail: v.bail === true,
    quiet: v.quiet === true,
    ...(str('kernel-tree') === undefined ? {} : { kernelTree: str('kernel-tree')! }),
    kernelPatches: [...many('kernel-patch'), ...(v['kernel-patch'] ? positionals : [])],
  };
}

/** The default corpus: the folder `corpus` beside the --out directory (reports/corpus for reports/latest).
 *  --out is a directory whatever its spelling: `.`, `..` or `x/.` have their corpus beside them, not inside. */
export function besideOut(out: string): string {
  const corpus = resolve(out, '..', 'corpus');
  return isAbsolute(out) ? corpus : relative(process.cwd(), corpus) || '.';
}

/** Can `dir` be made (or is it) a writable directory? Checked before any work. */
export function checkOutDir(flag: string, dir: string): void {
  const abs = resolve(dir);
  let p = abs;
  while (!existsSync(p)) p = dirname(p);
  if (!statSync(p).isDirectory()) throw new UsageError(`${flag} ${dir}: ${p === abs ? 'exists and is not a directory' : `${p} is a file, not a directory`}`);
  try {
    accessSync(p, constants.W_OK);
  } catch {
    throw new UsageError(`${flag} ${dir}: ${p} is not writable`);
  }
  if (abs.startsWith('/proc/') || abs.startsWith('/sys/')) throw new UsageError(`${flag} ${dir}: not a place for reports`);
}

/** Can `file` be written (its folder exists and is writable; it is not a directory)? Checked before any work. */
export function checkOutFile(flag: string, file: string): void {
  const abs = resolve(file);
  if (existsSync(abs) && statSync(abs).isDirectory()) throw new UsageError(`${flag} ${file}: is a directory, expected a file`);
  const dir = dirname(abs);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UsageError(`${flag} ${file}: no such directory ${dir}`);
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    throw new UsageError(`${flag} ${file}: ${dir} is not writable`);
  }
}

function loadBaseline(path: string | undefined): Baseline {
  const file = path ?? DEFAULT_BASELINE;
  if (!existsSync(file)) {
    if (path) throw new UsageError(`--baseline ${path}: no such file`);
    return { version: 1, findings: [] };
  }
  return readBaseline(file);
}

/** A baseline file through its schema: `file: /findings/3/fingerprint: must be string, got 3` on error. */
function readBaseline(file: string): Baseline {
  const r = readJsonFile('baseline', file);
  if (!r.ok) throw new UsageError(r.error);
  return r.value;
}

/** The corpus folder: written to (so checked as --out is), and every entry read through its schema. */
function loadCorpus(dir: string): CorpusEntry[] {
  checkOutDir('--corpus', dir);
  return readCorpus(dir);
}

/** One live line on a terminal, a plain line every few seconds otherwise, nothing with --quiet. */
export function progressPrinter(quiet: boolean, out: { isTTY?: boolean; write(s: string): unknown } = process.stderr, everyMs = 2000): (p: Progress) => void {
  if (quiet) return () => undefined;
  let last = 0;
  return (p) => {
    const searching = p.searching ? `searching: ${p.searching.cases} cases in ${Math.round(p.searching.ms / 1000)} s, ` : '';
    const line = `[${p.done}/${p.total}] ${p.target} (${p.profile}) — ${searching}${p.runs} runs so far, ${p.violations} violation(s): ${p.violations - p.newOnes} known, ${p.newOnes} new`;
    if (out.isTTY) out.write(`\r\x1b[K${line}${p.done === p.total ? '\n' : ''}`);
    else if (p.done === p.total || Date.now() - last >= everyMs) {
      last = Date.now();
      out.write(`${line}\n`);
    }
  };
}

/** The plugins a run checks, as its workers load them: the ones given, else every bundled faithful port
 *  (none with --kernel-tree/--kernel-patch, `kernelC`: then the C units are what the run checks). */
export function pluginSpecs(given: RunArgs['plugins'], kernelC = false): PluginSpec[] {
  if (given.length === 0) return kernelC ? [] : bundledPlugins().map((p) => ({ spec: p.name, flag: 'bundled' }));
  return given.map(([flag, spec, kind]) => ({ spec, flag, ...(kind ? { kind } : {}) }));
}

/** A word of a printed command as a shell reads it: as it is when it can be, else in single quotes
 *  (a --out folder or a plugin path with a space still replays when pasted). */
export function shellWord(s: string): string {
  return s === 'npx dmabuf-conform' || /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** How the user can call this tool again from where they are: `npx dmabuf-conform` when npx finds it
 *  (installed in this folder's node_modules, or this folder is the tool's own checkout), else its bin by path. */
export function selfCommand(bin = process.argv[1], cwd = process.cwd()): string {
  if (!bin) return 'npx dmabuf-conform';
  const path = resolve(bin);
  const here = resolve(cwd);
  if (path.startsWith(join(here, 'node_modules') + '/') || path === join(here, 'bin', 'dmabuf-conform.mjs')) return 'npx dmabuf-conform';
  return /\.(mjs|js)$/.test(path) && path.endsWith(join('bin', 'dmabuf-conform.mjs')) ? path : 'npx dmabuf-conform';
}

/** Why a selection checks nothing (exit 2), or null. */
export function emptySelection(targets: readonly TargetInfo[], profiles: readonly Profile[], rules: ReadonlySet<RuleId> | undefined): string | null {
  if (targets.length === 0) return 'no suite checks what the given plugins provide';
  const inProfile = targets.filter((t) => t.profiles.some((p) => profiles.includes(p)));
  if (inProfile.length === 0) return `none of ${targets.map((t) => t.name).join(', ')} follows --profile ${profiles.join(',')} (they follow ${[...new Set(targets.flatMap((t) => t.profiles))].join(', ')})`;
  if (rules && !inProfile.some((t) => t.rules.some((r) => rules.has(r)))) return `no rule of --rules ${[...rules].join(',')} is checked on ${inProfile.map((t) => t.name).join(', ')} (they check ${[...new Set(inProfile.flatMap((t) => t.rules))].join(', ')})`;
  return null;
}

export async function run(argv: string[]): Promise<number> {
  const a = parseRunArgs(argv);
  checkOutDir('--out', a.out);
  if (a.writeBaseline) checkOutFile('--write-baseline', a.writeBaseline);
  const baseline = loadBaseline(a.baseline);
  // Read before any work: --write-baseline keeps the entries of implementations this run does not check.
  const older = a.writeBaseline && existsSync(a.writeBaseline) ? readBaseline(a.writeBaseline) : { version: 1 as const, findings: [] };
  const corpus = loadCorpus(a.corpus);
  // Every target runs isolated in a worker thread, as many at once as there are cores. The
  // kernel's own C (--kernel-tree/--kernel-patch) is built here first (bad input is one line before
  // any search; the builds fill the cache), then each worker loads its units from the cache and
  // runs them: a C unit that crashes or hangs is that worker's finding, never the runner's end.
  // The C units are selected by name as bundled plugins are (--exporter c:v8:vfio-pci); with
  // --kernel-tree/--kernel-patch and no selection the C units alone run (no bundled port), and a
  // selection that names no C unit runs every C unit beside the plugins it names.
  const wantC = a.kernelTree !== undefined || a.kernelPatches.length > 0;
  // Without them a `c:` name is one line (exit 2) saying they are needed.
  let rest = wantC ? a.plugins : selectKernelC(a.plugins, null).rest;
  let kernelC: { tree?: string; patches: string[]; only?: string[] } | null = null;
  if (wantC) {
    const kc = await kernelCPlugins({ ...(a.kernelTree === undefined ? {} : { tree: a.kernelTree }), patches: a.kernelPatches });
    if (!kc.ok) throw new UsageError(kc.message);
    kc.close();
    if (!a.quiet) for (const l of kc.lines) process.stderr.write(`kernel C: ${l}\n`);
    const selection = selectKernelC(a.plugins, kc.plugins.map((p) => ({ name: p.name, kind: p.kind })), kc.skipped);
    rest = selection.rest;
    kernelC = { ...(a.kernelTree === undefined ? {} : { tree: a.kernelTree }), patches: a.kernelPatches, ...(selection.only ? { only: selection.only } : {}) };
  }
  const executor = await workerPool(pluginSpecs(rest, wantC), kernelC ? { kernelC } : {});
  try {
    return await runWith(a, executor, baseline, older, corpus);
  } finally {
    await executor.close();
  }
}

/** The corpus entries this run replays (those of its implementations), and those it leaves to other runs. */
export function corpusCount(corpus: readonly CorpusEntry[], names: ReadonlySet<string>): string {
  const mine = corpus.filter((e) => names.has(e.implementation)).length;
  const others = corpus.length - mine;
  return `${mine} entr${mine === 1 ? 'y' : 'ies'} for these implementations${others ? `, ${others} of others left alone` : ''}`;
}

async function runWith(a: RunArgs, executor: Executor, baseline: Baseline, older: Baseline, corpus: readonly CorpusEntry[]): Promise<number> {
  const targets = executor.targets;
  const names = new Set<string>();
  for (const t of targets) {
    if (names.has(t.name)) throw new UsageError(`two plugins give an implementation named '${t.name}'`);
    names.add(t.name);
  }
  const empty = emptySelection(targets, a.profiles, a.rules);
  if (empty) throw new UsageError(`nothing to check: ${empty}`);
  const given = a.plugins.map(([flag, spec]) => ` ${flag} ${shellWord(spec)}`).join('') + (a.kernelTree === undefined ? '' : ` --kernel-tree ${shellWord(a.kernelTree)}`) + a.kernelPatches.map((p) => ` --kernel-patch ${shellWord(p)}`).join('');
  if (!a.quiet) process.stderr.write(`dmabuf-conform run: seed ${a.seed} (${a.platform ? describePlatform(a.platform) : EVERY_MACHINE}), ${a.timeMs === undefined ? `${a.runs} runs per search` : `${a.runs} runs per search for ${a.timeMs} ms`}, ${targets.length} implementation(s)${a.shard ? `, shard ${a.shard.index}/${a.shard.total}` : ''}, corpus ${a.corpus} (${corpusCount(corpus, names)})\n`);
  const { report, newCount } = await runConformance({
    seed: a.seed, runs: a.runs, ...(a.timeMs === undefined ? {} : { timeMs: a.timeMs }), ...(a.exhaustive === undefined ? {} : { exhaustive: a.exhaustive }),
    profiles: a.profiles, ...(a.platform ? { platform: a.platform } : {}), ...(a.rules ? { rules: a.rules } : {}), executor, baseline, corpusDir: a.corpus, corpus, ...(a.shard ? { shard: a.shard } : {}), bail: a.bail,
    replayCommand: (id) => `${shellWord(selfCommand())} replay ${shellWord(join(a.out, 'report.json'))} --case '${id}'${given}`,
    progress: progressPrinter(a.quiet),
  });
  writeReports(report, a.out);
  if (a.writeBaseline) {
    const merged = mergeBaseline(older, baselineOf(report), new Set(targets.map((t) => t.name)));
    writeAtomic(a.writeBaseline, `${JSON.stringify(merged, null, 2)}\n`);
    if (!a.quiet) process.stdout.write(`baseline: ${merged.findings.length} entr${merged.findings.length === 1 ? 'y' : 'ies'} written to ${a.writeBaseline}${newCount > 0 ? `, accepting this run's ${newCount} new violation(s) (exit 0; run with --baseline ${a.writeBaseline} to fail on new ones)` : ''}\n`);
  }
  // The verdict line, --quiet or not: a quiet run that fails says so.
  const s = report.summary;
  process.stdout.write(`${report.implementations.length} implementations, ${s.checks} checks in ${(report.timings.totalMs / 1000).toFixed(1)} s (seed ${a.seed}): ${s.violations} violation(s): ${s.known} known (documented findings, and baseline ${a.baseline ?? relative(process.cwd(), DEFAULT_BASELINE)}), ${s.new} new — reports in ${a.out}/\n`);
  if (!a.quiet) {
    const cut = report.budget.cutShort ?? [];
    if (cut.length) process.stdout.write(`--time ${a.timeMs} ms cut short the first round of ${cut.length} implementation(s): ${cut.join(', ')}\n`);
    for (const x of notChecked(report)) process.stdout.write(`NOT CHECKED ${x.implementation}: ${x.rules.length} rule(s): ${x.why}\n`);
    for (const v of readingOrder(report.violations).filter((x) => !x.known)) process.stdout.write(`NEW ${v.rule} ${v.implementation}: ${v.message}\n    replay: ${v.replay}\n`);
  }
  // --write-baseline accepts what it wrote: a CI step that (re)writes the baseline succeeds.
  return newCount > 0 && !a.writeBaseline ? 1 : 0;
}
