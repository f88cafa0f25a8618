// dmabuf-conform run: every bundled implementation (or the plugins given),
// every profile it supports, the default budget; reports into reports/latest/
// and every counterexample into the corpus beside it (reports/corpus/).
// Exit 0 when every violation is in the baseline, 1 on a new one, 2 on bad usage.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { PROFILES, isProfile, type Profile } from '../../models/profiles.ts';
import { bundledExporters, bundledImporters } from '../harness/bundled.ts';
import type { ExporterPlugin, ImporterPlugin, Plugin } from '../harness/plugin.ts';
import { baselineOf, mergeBaseline, runConformance, writeAtomic, type Baseline, type Progress } from '../harness/runner.ts';
import { allTargets } from '../harness/targets.ts';
import { writeReports } from '../report/index.ts';
import { isRuleId, type RuleId } from '../rules/registry.ts';
import { UsageError } from './usage.ts';

export const DEFAULT_SEED = 42;
export const DEFAULT_RUNS = 400;
/** The shipped baseline, wherever the command is run from. */
export const DEFAULT_BASELINE = fileURLToPath(new URL('../../reports/baseline.json', import.meta.url));

export interface RunArgs {
  seed: number;
  runs: number;
  timeMs?: number;
  exhaustive?: number;
  profiles: Profile[];
  rules?: Set<RuleId>;
  exporter?: string;
  importer?: string;
  out: string;
  baseline?: string;
  writeBaseline?: string;
  bail: boolean;
  quiet: boolean;
}

const VALUE_FLAGS = ['--profile', '--exporter', '--importer', '--rules', '--seed', '--runs', '--time', '--exhaustive', '--out', '--baseline', '--write-baseline'];

function int(flag: string, v: string, min: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min) throw new UsageError(`${flag}: expected an integer >= ${min}, got '${v}'`);
  return Number(v);
}

export function parseRunArgs(argv: readonly string[]): RunArgs {
  const a: RunArgs = { seed: DEFAULT_SEED, runs: DEFAULT_RUNS, profiles: [...PROFILES], out: 'reports/latest', bail: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    if (flag === '--bail') { a.bail = true; continue; }
    if (flag === '--quiet') { a.quiet = true; continue; }
    if (flag === '--help' || flag === '-h') throw new UsageError(`usage: dmabuf-conform run ${VALUE_FLAGS.map((f) => `[${f} ...]`).join(' ')} [--bail] [--quiet] (README.md, "Commands")`, 0);
    if (!VALUE_FLAGS.includes(flag)) throw new UsageError(`unknown option '${flag}' (options: ${[...VALUE_FLAGS, '--bail', '--quiet'].join(' ')})`);
    const v = argv[++i];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    switch (flag) {
      case '--seed': a.seed = int(flag, v, 0); break;
      case '--runs': a.runs = int(flag, v, 1); break;
      case '--exhaustive': a.exhaustive = int(flag, v, 1); break;
      case '--time': {
        const m = /^(\d+)(ms|s|m)?$/.exec(v);
        if (!m) throw new UsageError(`--time: expected a duration like 30s, 500ms or 2m, got '${v}'`);
        a.timeMs = Number(m[1]) * (m[2] === 'm' ? 60000 : m[2] === 'ms' ? 1 : 1000);
        break;
      }
      case '--profile': {
        const ps = v.split(',');
        for (const p of ps) if (!isProfile(p)) throw new UsageError(`--profile: unknown profile '${p}' (profiles: ${PROFILES.join(', ')})`);
        a.profiles = ps as Profile[];
        break;
      }
      case '--rules': {
        const rs = v.split(',');
        for (const r of rs) if (!isRuleId(r)) throw new UsageError(`--rules: unknown rule '${r}' (see dmabuf-conform rules)`);
        a.rules = new Set(rs as RuleId[]);
        break;
      }
      case '--exporter': a.exporter = v; break;
      case '--importer': a.importer = v; break;
      case '--out':
        if (existsSync(v) && !statSync(v).isDirectory()) throw new UsageError(`--out ${v}: exists and is not a directory`);
        a.out = v;
        break;
      case '--baseline': a.baseline = v; break;
      case '--write-baseline': a.writeBaseline = v; break;
    }
  }
  return a;
}

/** Validate what a plugin module exports: one clear line naming the problem. */
export function checkPluginShape(p: unknown, where: string): Plugin {
  if (!p || typeof p !== 'object') throw new UsageError(`${where}: the module's default export is not a plugin object`);
  const o = p as Record<string, unknown>;
  if (o.kind !== 'exporter' && o.kind !== 'importer') throw new UsageError(`${where}: plugin.kind must be 'exporter' or 'importer', got ${JSON.stringify(o.kind)}`);
  if (typeof o.name !== 'string' || !o.name) throw new UsageError(`${where}: plugin.name must be a non-empty string`);
  if (!Array.isArray(o.profiles) || o.profiles.length === 0 || !o.profiles.every((x) => typeof x === 'string' && isProfile(x))) throw new UsageError(`${where}: plugin.profiles must list profiles among ${PROFILES.join(', ')}`);
  if (o.kind === 'exporter' && typeof o.probe !== 'function') throw new UsageError(`${where}: an exporter plugin needs a probe(kernel, device) function`);
  if (o.kind === 'importer' && (typeof o.attach !== 'function' || (o.importer !== 'dma' && o.importer !== 'iommufd'))) throw new UsageError(`${where}: an importer plugin needs attach() and importer 'dma' or 'iommufd'`);
  return p as Plugin;
}

/** A plugin by bundled name or module path (.ts loads through tsx, .js/.mjs as is). */
export async function loadPlugin(spec: string, kind: 'exporter' | 'importer'): Promise<Plugin> {
  const all = [...bundledExporters(), ...bundledImporters()];
  const bundled = all.find((p) => p.name === spec);
  if (bundled) {
    if (bundled.kind !== kind) throw new UsageError(`--${kind} ${spec}: that bundled plugin is an ${bundled.kind}`);
    return bundled;
  }
  const path = isAbsolute(spec) ? spec : resolve(spec);
  if (!existsSync(path)) throw new UsageError(`--${kind} ${spec}: no such file, and no bundled ${kind} of that name (bundled: ${all.filter((p) => p.kind === kind && !p.bugOf).map((p) => p.name).join(', ')}, and the bug:* variants)`);
  let mod: { default?: unknown };
  try {
    // A .ts plugin loads as an ES module wherever it lives, with or without a package.json of its own.
    const url = pathToFileURL(path).href;
    mod = (/\.[cm]?ts$/.test(path) ? await tsImport(url, import.meta.url) : await import(url)) as { default?: unknown };
  } catch (e) {
    throw new UsageError(`--${kind} ${spec}: the plugin failed to load: ${loadError(e)}`);
  }
  const p = checkPluginShape(defaultExport(mod), `--${kind} ${spec}`);
  if (p.kind !== kind) throw new UsageError(`--${kind} ${spec}: the plugin is an ${p.kind}`);
  return p;
}

/** A module's default export; tsx may hand back a .ts module compiled as CommonJS, whose default is the ESM namespace again. */
function defaultExport(mod: { default?: unknown }): unknown {
  const d = mod.default;
  return d && typeof d === 'object' && 'default' in d && !('kind' in d) ? (d as { default: unknown }).default : d;
}

/** The first line of a load error; for a transform (syntax) error, the line that says where. */
function loadError(e: unknown): string {
  const lines = (e instanceof Error ? e.message : String(e)).split('\n').filter(Boolean);
  return lines[0]!.startsWith('Transform failed') && lines[1] ? lines[1] : lines[0]!;
}

function loadBaseline(path: string | undefined): Baseline {
  const file = path ?? DEFAULT_BASELINE;
  if (!existsSync(file)) {
    if (path) throw new UsageError(`--baseline ${path}: no such file`);
    return { version: 1, findings: [] };
  }
  return readBaseline(file);
}

function readBaseline(file: string): Baseline {
  try {
    const b = JSON.parse(readFileSync(file, 'utf8')) as Baseline;
    if (b.version !== 1 || !Array.isArray(b.findings)) throw new Error('not a baseline');
    return b;
  } catch {
    throw new UsageError(`${file}: not a baseline file (expected {"version": 1, "findings": [...]})`);
  }
}

/** One live line on a terminal, a plain line every few seconds otherwise, nothing with --quiet. */
export function progressPrinter(quiet: boolean, out: { isTTY?: boolean; write(s: string): unknown } = process.stderr, everyMs = 2000): (p: Progress) => void {
  if (quiet) return () => undefined;
  let last = 0;
  return (p) => {
    const line = `[${p.done}/${p.total}] ${p.target} (${p.profile}) — ${p.runs} runs, ${p.violations} violation(s), ${p.newOnes} new`;
    if (out.isTTY) out.write(`\r\x1b[K${line}${p.done === p.total ? '\n' : ''}`);
    else if (p.done === p.total || Date.now() - last >= everyMs) {
      last = Date.now();
      out.write(`${line}\n`);
    }
  };
}

export async function run(argv: string[]): Promise<number> {
  const a = parseRunArgs(argv);
  const baseline = loadBaseline(a.baseline);
  const exporters = a.exporter ? [(await loadPlugin(a.exporter, 'exporter')) as ExporterPlugin] : [];
  const importers = a.importer ? [(await loadPlugin(a.importer, 'importer')) as ImporterPlugin] : [];
  const targets = allTargets(exporters.length || importers.length ? { exporters, importers } : undefined);
  const { report, newCount } = await runConformance({
    seed: a.seed, runs: a.runs, ...(a.timeMs === undefined ? {} : { timeMs: a.timeMs }), ...(a.exhaustive === undefined ? {} : { exhaustive: a.exhaustive }),
    profiles: a.profiles, ...(a.rules ? { rules: a.rules } : {}), targets, baseline, corpusDir: join(dirname(a.out), 'corpus'), bail: a.bail,
    replayCommand: (id) => `npx dmabuf-conform replay ${a.out}/report.json --case '${id}'${a.exporter ? ` --exporter ${a.exporter}` : ''}${a.importer ? ` --importer ${a.importer}` : ''}`,
    progress: progressPrinter(a.quiet),
  });
  writeReports(report, a.out);
  if (a.writeBaseline) {
    const older = existsSync(a.writeBaseline) ? readBaseline(a.writeBaseline) : { version: 1 as const, findings: [] };
    const merged = mergeBaseline(older, baselineOf(report, targets), new Set(targets.map((t) => t.name)));
    writeAtomic(a.writeBaseline, `${JSON.stringify(merged, null, 2)}\n`);
  }
  if (!a.quiet) {
    const s = report.summary;
    process.stdout.write(`${report.implementations.length} implementations, ${s.checks} checks in ${(report.timings.totalMs / 1000).toFixed(1)} s: ${s.known} known finding(s) (${a.baseline ?? relative(process.cwd(), DEFAULT_BASELINE)}), ${s.new} new — reports in ${a.out}/\n`);
    for (const v of report.violations.filter((x) => !x.known)) process.stdout.write(`NEW ${v.rule} ${v.implementation}: ${v.message}\n    replay: ${v.replay}\n`);
  }
  return newCount > 0 ? 1 : 0;
}
