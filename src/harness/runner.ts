// The conformance runner: searches every target for violations (fast-check,
// seeded, shrunk), replays the failure corpus first, classifies each
// violation as known (baseline) or new, and builds the JSON report.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Profile } from '../../models/profiles.ts';
import { REPORT_SCHEMA_VERSION, type Report, type RuleResult, type ViolationRecord } from '../report/types.ts';
import type { RuleId } from '../rules/registry.ts';
import { jsonSafe } from '../rules/violation.ts';
import { exhaustive } from './exhaustive.ts';
import { lifecycleConfig, type Found, type Target } from './targets.ts';
import { bundledExporters, dmaImporter, iommufdImporter } from './bundled.ts';

export const TOOL_VERSION = '0.1.0';

export interface BaselineEntry {
  readonly fingerprint: string;
  readonly implementation: string;
  readonly rule: RuleId;
  readonly why: string;
}

export interface Baseline {
  readonly version: 1;
  readonly findings: readonly BaselineEntry[];
}

export interface RunOptions {
  readonly seed: number;
  readonly runs: number;
  readonly timeMs?: number;
  readonly exhaustive?: number;
  readonly profiles: readonly Profile[];
  readonly rules?: ReadonlySet<RuleId>;
  readonly targets: readonly Target[];
  readonly baseline: Baseline;
  readonly corpusDir?: string;
  readonly bail: boolean;
  readonly replayCommand: (id: string) => string;
  readonly progress: (p: { target: string; done: number; total: number; violations: number; newOnes: number }) => void;
}

function sha(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16);
}

/** Canonical JSON: object keys sorted, so a fingerprint does not depend on key order. */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

/** A documented finding or a seeded bug is the same finding whatever input shows it;
 *  anything else is identified by its shrunk counterexample. */
export function fingerprint(t: Target, rule: RuleId, explainedBy: string | null, input: unknown): string {
  if (explainedBy) return sha(`${t.name}|${rule}|finding:${explainedBy}`);
  if (t.bugOf === rule) return sha(`${t.name}|${rule}|seeded-bug`);
  return sha(`${t.name}|${rule}|${canonical(input)}`);
}

interface Hit {
  readonly rule: RuleId;
  readonly found: Found;
  readonly index: number;
}

function hitsOf(found: Found, rules: ReadonlySet<RuleId> | undefined): Hit[] {
  const seen = new Set<RuleId>();
  const out: Hit[] = [];
  found.violations.forEach((v, index) => {
    if (seen.has(v.rule) || (rules && !rules.has(v.rule))) return;
    seen.add(v.rule);
    out.push({ rule: v.rule, found, index });
  });
  return out;
}

interface CorpusEntry {
  readonly implementation: string;
  readonly rule: RuleId;
  readonly input: unknown;
}

function corpusEntries(dir: string | undefined, target: string): CorpusEntry[] {
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.json')).sort().flatMap((f) => {
    try {
      const e = JSON.parse(readFileSync(join(dir, f), 'utf8')) as CorpusEntry;
      return e.implementation === target ? [e] : [];
    } catch {
      return [];
    }
  });
}

/** Write a file atomically: a temporary file, then a rename. */
export function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

export async function runConformance(opts: RunOptions): Promise<{ report: Report; newCount: number }> {
  const t0 = performance.now();
  const known = new Set(opts.baseline.findings.map((f) => f.fingerprint));
  const records: ViolationRecord[] = [];
  const results: RuleResult[] = [];
  const perImpl: Record<string, number> = {};
  let newCount = 0;
  const targets = opts.targets.filter((t) => t.profiles.some((p) => opts.profiles.includes(p)));
  const hitsBy = new Map<string, Hit[]>();
  const runsBy = new Map<string, number>();
  const deadline = opts.timeMs === undefined ? undefined : t0 + opts.timeMs;

  const searchTarget = async (t: Target, round: number) => {
    const ts = performance.now();
    const hits = hitsBy.get(t.name) ?? [];
    const skip = new Set<RuleId>([...hits.map((h) => h.rule), ...t.rules.filter((r) => opts.rules && !opts.rules.has(r))]);
    for (let i = 0; i < 4 && skip.size < t.rules.length; i++) {
      const found = await t.search(opts.seed + round * 1000 + i, opts.runs, skip);
      runsBy.set(t.name, (runsBy.get(t.name) ?? 0) + opts.runs);
      if (!found) break;
      const fresh = hitsOf(found, opts.rules).filter((h) => !skip.has(h.rule));
      if (fresh.length === 0) break;
      for (const h of fresh) skip.add(h.rule);
      hits.push(...fresh);
    }
    // The corpus replays after the search, so it never changes what the search does.
    if (round === 0) {
      for (const e of corpusEntries(opts.corpusDir, t.name)) hits.push(...hitsOf(await t.replay(e.input), opts.rules).filter((h) => h.rule === e.rule));
    }
    hitsBy.set(t.name, hits);
    perImpl[t.name] = (perImpl[t.name] ?? 0) + (performance.now() - ts);
  };

  for (let round = 0; ; round++) {
    for (const [done, t] of targets.entries()) {
      await searchTarget(t, round);
      const all = [...hitsBy.values()].flat();
      opts.progress({ target: t.name, done: done + 1, total: targets.length, violations: all.length, newOnes: 0 });
      if (opts.bail && all.some((h) => !known.has(fingerprint(t, h.rule, h.found.explainedBy[h.index] ?? null, h.found.counterexample.input)))) break;
    }
    if (!deadline || performance.now() >= deadline || opts.bail) break;
  }

  if (opts.exhaustive !== undefined) {
    for (const e of bundledExporters().filter((x) => !x.bugOf)) {
      const r = await exhaustive(lifecycleConfig(e, { dma: dmaImporter, iommufd: iommufdImporter }), opts.exhaustive);
      opts.progress({ target: `exhaustive:${e.name} k=${opts.exhaustive} (${r.states} states)`, done: 1, total: 1, violations: r.violations.length, newOnes: 0 });
      const t = targets.find((x) => x.name === e.name);
      if (!t) continue;
      for (const v of r.violations.slice(0, 4)) {
        const found = await t.replay({ cmds: v.path });
        (hitsBy.get(t.name) ?? hitsBy.set(t.name, []).get(t.name)!).push(...hitsOf(found, opts.rules).filter((h) => !hitsBy.get(t.name)!.some((x) => x.rule === h.rule)));
      }
    }
  }

  for (const t of targets) {
    const hits = hitsBy.get(t.name) ?? [];
    const profile = t.profiles.find((p) => opts.profiles.includes(p))!;
    for (const rule of t.rules) {
      if (opts.rules && !opts.rules.has(rule)) {
        results.push({ implementation: t.name, profile, rule, runs: 0, status: 'not-applicable', violations: [] });
        continue;
      }
      const ids: string[] = [];
      const fps = new Set<string>();
      let allKnown = true;
      for (const h of hits.filter((x) => x.rule === rule)) {
        const v = h.found.violations[h.index]!;
        const explained = h.found.explainedBy[h.index] ?? null;
        const fp = fingerprint(t, rule, explained, h.found.counterexample.input);
        if (fps.has(fp)) continue;
        fps.add(fp);
        const id = `${t.name}/${rule}/${ids.length}`;
        const isKnown = known.has(fp);
        allKnown &&= isKnown;
        if (!isKnown) newCount++;
        ids.push(id);
        records.push({ id, rule, implementation: t.name, profile, message: v.message, evidence: jsonSafe(v.evidence ?? {}), fingerprint: fp, replay: opts.replayCommand(id), known: isKnown, counterexample: h.found.counterexample });
      }
      results.push({ implementation: t.name, profile, rule, runs: runsBy.get(t.name) ?? 0, status: ids.length === 0 ? 'pass' : allKnown ? 'known' : 'violation', violations: ids });
    }
  }

  if (opts.corpusDir) {
    mkdirSync(opts.corpusDir, { recursive: true });
    for (const r of records) writeAtomic(join(opts.corpusDir, `${r.fingerprint}.json`), `${JSON.stringify({ implementation: r.implementation, rule: r.rule, input: r.counterexample.input }, null, 2)}\n`);
  }

  const report: Report = {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'dmabuf-conform', version: TOOL_VERSION },
    seed: opts.seed,
    profiles: opts.profiles,
    budget: { runs: opts.runs, ...(opts.timeMs === undefined ? {} : { timeMs: opts.timeMs }), ...(opts.exhaustive === undefined ? {} : { exhaustive: opts.exhaustive }) },
    implementations: targets.map((t) => ({ name: t.name, kind: t.kind, profiles: t.profiles })),
    summary: { checks: results.filter((r) => r.status !== 'not-applicable').length, violations: records.length, known: records.filter((r) => r.known).length, new: newCount },
    results,
    violations: records,
    timings: { totalMs: Math.round(performance.now() - t0), perImplementationMs: Object.fromEntries(Object.entries(perImpl).map(([k, v]) => [k, Math.round(v)])) },
  };
  return { report, newCount };
}

/** The baseline that accepts every violation of a report. */
export function baselineOf(report: Report): Baseline {
  const seen = new Set<string>();
  const findings: BaselineEntry[] = [];
  for (const v of report.violations) {
    if (seen.has(v.fingerprint)) continue;
    seen.add(v.fingerprint);
    findings.push({ fingerprint: v.fingerprint, implementation: v.implementation, rule: v.rule, why: v.message });
  }
  return { version: 1, findings };
}
