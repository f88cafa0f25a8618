// dmabuf-conform explain RULE [--report FILE] [--corpus DIR]: the rule, the
// seed passage it comes from, and the smallest known violation: from the last
// report (reports/latest/report.json), else replayed from the failure corpus
// (reports/corpus/).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allTargets } from '../harness/targets.ts';
import type { Step } from '../report/types.ts';
import { PASSAGES } from '../rules/passages.ts';
import { getRule, isRuleId, type RuleId } from '../rules/registry.ts';
import { UsageError } from './usage.ts';

const USAGE = 'usage: dmabuf-conform explain RULE [--report FILE] [--corpus DIR]';

interface Smallest {
  readonly implementation: string;
  readonly message: string;
  readonly steps: readonly Step[];
  readonly failingStep: number;
  readonly source: string;
}

function fromReport(file: string, rule: RuleId): Smallest | undefined {
  if (!existsSync(file)) return undefined;
  const r = JSON.parse(readFileSync(file, 'utf8')) as { violations?: { rule: string; implementation: string; message: string; counterexample: { steps: Step[]; failingStep: number } }[] };
  const v = (r.violations ?? []).filter((x) => x.rule === rule).sort((a, b) => a.counterexample.steps.length - b.counterexample.steps.length)[0];
  return v && { implementation: v.implementation, message: v.message, steps: v.counterexample.steps, failingStep: v.counterexample.failingStep, source: file };
}

async function fromCorpus(dir: string, rule: RuleId): Promise<Smallest | undefined> {
  if (!existsSync(dir)) return undefined;
  const targets = allTargets();
  let best: Smallest | undefined;
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.json')).sort()) {
    const e = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { implementation: string; rule: string; input: unknown };
    const t = targets.find((x) => x.name === e.implementation);
    if (e.rule !== rule || !t) continue;
    const found = await t.replay(e.input);
    const v = found.violations.find((x) => x.rule === rule);
    if (v && (!best || found.counterexample.steps.length < best.steps.length)) best = { implementation: t.name, message: v.message, steps: found.counterexample.steps, failingStep: found.counterexample.failingStep, source: join(dir, f) };
  }
  return best;
}

function parse(args: readonly string[]): { rule: RuleId; report: string; corpus: string } {
  const [id, ...rest] = args;
  if (!id || id.startsWith('--')) throw new UsageError(USAGE);
  if (!isRuleId(id)) throw new UsageError(`unknown rule '${id}' (see dmabuf-conform rules)`);
  const out = { rule: id, report: 'reports/latest/report.json', corpus: 'reports/corpus' };
  for (let i = 0; i < rest.length; i += 2) {
    const [flag, v] = [rest[i]!, rest[i + 1]];
    if (v === undefined) throw new UsageError(`${flag} needs a value (${USAGE})`);
    if (flag === '--report') out.report = v;
    else if (flag === '--corpus') out.corpus = v;
    else throw new UsageError(`unknown option '${flag}' (${USAGE})`);
  }
  return out;
}

export async function run(args: string[]): Promise<number> {
  const a = parse(args);
  const r = getRule(a.rule);
  const out = [`${r.id} (${r.family}; profiles ${r.profiles.join(', ')})`, `  ${r.title}`, `source: ${r.seed}`, `passage: ${PASSAGES[a.rule] ?? '(no verbatim passage; see the source above)'}`];
  const s = fromReport(a.report, a.rule) ?? (await fromCorpus(a.corpus, a.rule));
  if (s) {
    out.push(`smallest known violation (${s.implementation}, from ${s.source}): ${s.message}`);
    for (const st of s.steps) out.push(`${st.index === s.failingStep ? '>' : ' '} ${String(st.index + 1).padStart(3)}. ${st.command} -> ${st.result} (model: ${st.expected})${st.rule ? `  <- ${st.rule}` : ''}`);
  } else {
    out.push(`no known violation of ${a.rule} (in ${a.report} or ${a.corpus}/; run \`dmabuf-conform run\` first)`);
  }
  process.stdout.write(`${out.join('\n')}\n`);
  return 0;
}
