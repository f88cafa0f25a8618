// dmabuf-conform explain RULE [--report FILE] [--corpus DIR]: the rule, the
// seed passage it comes from, and the smallest known violation: from the last
// report (reports/latest/report.json), else replayed from the failure corpus
// (reports/corpus/). Both files are checked by their shipped schemas; a bad
// one is one line naming it (exit 2).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Step } from '../report/types.ts';
import { readJsonFile } from '../report/validate.ts';
import { PASSAGES } from '../rules/passages.ts';
import { getRule, isRuleId, type RuleId } from '../rules/registry.ts';
import { parseFlags, UsageError } from './usage.ts';

/** What `explain --help` prints. */
export const USAGE = 'usage: dmabuf-conform explain RULE [--report FILE] [--corpus DIR]';

interface Smallest {
  readonly implementation: string;
  readonly message: string;
  readonly steps: readonly Step[];
  readonly failingStep: number;
  readonly source: string;
}

/** One quoted piece of a passage: where it is from, and the words. */
export interface Quote {
  readonly from: string;
  readonly text: string;
}

/** A passage (`cite: "words" / cite: "words"`, src/rules/passages.ts) cut into its quotes, each with its citation. */
export function quotesOf(passage: string): Quote[] {
  return [...passage.matchAll(/\s*\/?\s*([^"]+?):\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => ({ from: m[1]!.trim(), text: m[2]! }));
}

/** The document a citation names: `002 v8 06/11 dma_buf_unmap()` -> `002 v8 06/11`; `003` -> `003`. */
function citationKey(cite: string): string {
  return /^.*?\b\d+(?:-\d+)?\/\d+\b/.exec(cite)?.[0] ?? cite.split(' ')[0]!;
}

/** The rule's lines: the source is where the passage shown is quoted from, so the two always agree. */
export function ruleLines(id: RuleId): string[] {
  const r = getRule(id);
  const head = [`${r.id} (${r.family}; profiles ${r.profiles.join(', ')})`, `  ${r.title}`];
  const passage = PASSAGES[id];
  const quotes = passage === undefined ? [] : quotesOf(passage);
  if (passage === undefined || quotes.length === 0) return [...head, `source: ${r.seed}`, 'passage: (no verbatim passage; see the source above)'];
  const sources = [...new Set(quotes.map((q) => q.from))];
  const covered = sources.every((s) => r.seed.includes(citationKey(s)));
  return [...head, `source: ${sources.join('; ')}${covered ? '' : ` (the rule also rests on ${r.seed})`}`, `passage: ${passage}`];
}

function fromReport(file: string, rule: RuleId): Smallest | undefined {
  if (!existsSync(file)) return undefined;
  const r = readJsonFile('report', file);
  if (!r.ok) throw new UsageError(r.error);
  const v = r.value.violations.filter((x) => x.rule === rule).sort((a, b) => a.counterexample.steps.length - b.counterexample.steps.length)[0];
  return v && { implementation: v.implementation, message: v.message, steps: v.counterexample.steps, failingStep: v.counterexample.failingStep, source: file };
}

async function fromCorpus(dir: string, rule: RuleId): Promise<Smallest | undefined> {
  if (!existsSync(dir)) return undefined;
  const entries = readdirSync(dir).filter((x) => x.endsWith('.json')).sort().flatMap((f) => {
    const file = join(dir, f);
    const e = readJsonFile('corpus-entry', file);
    if (!e.ok) throw new UsageError(e.error);
    return e.value.rule === rule ? [{ file, entry: e.value }] : [];
  });
  if (entries.length === 0) return undefined;
  const { targetsOf } = await import('../harness/catalog.ts'); // the harness loads only when a case is replayed
  const targets = targetsOf();
  let best: Smallest | undefined;
  for (const { file, entry } of entries) {
    const t = targets.find((x) => x.name === entry.implementation);
    if (!t) continue;
    let found;
    try {
      found = await t.replay(entry.input);
    } catch (err) {
      throw new UsageError(`${file}: /input: cannot be replayed (${(err as Error).message.split('\n')[0]})`);
    }
    const v = found.violations.find((x) => x.rule === rule);
    if (v && (!best || found.counterexample.steps.length < best.steps.length)) best = { implementation: t.name, message: v.message, steps: found.counterexample.steps, failingStep: found.counterexample.failingStep, source: file };
  }
  return best;
}

function parse(args: readonly string[]): { rule: RuleId; report: string; corpus: string } {
  const { values, positionals } = parseFlags(args, { report: { type: 'string' }, corpus: { type: 'string' } }, USAGE);
  const [id, ...extra] = positionals;
  if (!id) throw new UsageError(USAGE);
  if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}' (${USAGE})`);
  if (!isRuleId(id)) throw new UsageError(`unknown rule '${id}' (see dmabuf-conform rules)`);
  return { rule: id, report: values.report ?? 'reports/latest/report.json', corpus: values.corpus ?? 'reports/corpus' };
}

/** `explain RULE`: print the rule, its source and passage, and its smallest known violation; exit 0. */
export async function run(args: string[]): Promise<number> {
  const a = parse(args);
  const out = ruleLines(a.rule);
  const s = fromReport(a.report, a.rule) ?? (await fromCorpus(a.corpus, a.rule));
  if (s) {
    out.push(`smallest known violation (${s.implementation}, from ${s.source}): ${s.message}`);
    for (const st of s.steps) out.push(`${st.index === s.failingStep ? '>' : ' '} ${String(st.index + 1).padStart(3)}. ${st.command} -> ${st.result} (model: ${st.expected})${st.rule ? `  <- ${st.rule}` : ''}`);
  } else {
    out.push(`no known violation of ${a.rule} (in ${a.report} or ${a.corpus}/; run \`dmabuf-conform run\` first, or name a run's report written elsewhere: --report DIR/report.json)`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
