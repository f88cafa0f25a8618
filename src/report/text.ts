// Text helpers every renderer shares: the rule family of a rule, the one-line
// form of a message, the counterexample as plain text, and the characters no
// XML/HTML document may carry.
import type { Report, RuleStatus, ViolationRecord } from './types.ts';

/** ROUTE-MAPTYPE -> ROUTE. */
export function familyOf(rule: string): string {
  return rule.split('-')[0]!;
}

/** Rule families in the order the report first shows them. */
export function familiesOf(r: Report): string[] {
  return [...new Set(r.results.map((x) => familyOf(x.rule)))];
}

/** Implementations in report order. */
export function implementationsOf(r: Report): string[] {
  return [...new Set([...r.implementations.map((i) => i.name), ...r.results.map((x) => x.implementation)])];
}

/** The worst status among results: a new violation, then a known one, then a rule not checked (no case
 *  ran it: not a pass), then pass. */
export function worstStatus(statuses: readonly RuleStatus[]): RuleStatus {
  return (['violation', 'known', 'not-checked', 'pass'] as const).find((s) => statuses.includes(s)) ?? 'not-applicable';
}

/** The families whose checkers see a bug where the code does it (KASAN, lockdep, DMA-API debug), before
 *  those that see its effect on a result or a state. */
const AT_THE_LINE = ['UAF', 'LOCK', 'DMA'];

/** The one order every format lists violations in (run's NEW lines, summary.md, the HTML, the violations
 *  of a JUnit case or TAP point): new before known, each implementation in report order, and within one
 *  the smallest case first (fewest steps, then the earliest failing step, then what a kernel debug tool
 *  sees at the line): one bug often breaks several rules (a reference dropped twice shows as UAF-DYING,
 *  REV-MAP, LOCK-ORDER...), and the smallest case is the likeliest cause of the rest; a plugin's own failure
 *  (PLUGIN-THROW, -TIMEOUT, -EXIT, -GLOBAL) before all of them, its cause. Stable otherwise. */
export function readingOrder<V extends Pick<ViolationRecord, 'implementation' | 'rule' | 'known' | 'counterexample'>>(violations: readonly V[]): V[] {
  const rank = (v: V) => {
    const at = AT_THE_LINE.indexOf(familyOf(v.rule));
    const size = v.counterexample.steps.length * 10_000 + v.counterexample.failingStep * 10 + (at < 0 ? AT_THE_LINE.length : at);
    // A plugin that threw, hung or ended (PLUGIN-*) leads its implementation: what its steps show after it (a lock
    // left held, -EIO where the model says ok, dma-bufs left unrevoked) is the fallback of the hook that failed.
    return familyOf(v.rule) === 'PLUGIN' ? size - 1e12 : size;
  };
  const order = [...new Set(violations.map((v) => v.implementation))];
  return [...violations].sort((x, y) => Number(x.known) - Number(y.known) || order.indexOf(x.implementation) - order.indexOf(y.implementation) || rank(x) - rank(y));
}

/** Each implementation whose rules no case checked, once, with why and the rules: `acme: PLUGIN-TIMEOUT
 *  stopped acme's search before any case ran (LOCK-RESV, REV-MAP, ...)`. */
export function notChecked(r: Pick<Report, 'results'>): { readonly implementation: string; readonly why: string; readonly rules: readonly string[] }[] {
  const out = new Map<string, { implementation: string; why: string; rules: string[] }>();
  for (const x of r.results) {
    if (x.status !== 'not-checked') continue;
    const key = `${x.implementation}\u0000${x.why ?? ''}`;
    const e = out.get(key) ?? { implementation: x.implementation, why: x.why ?? 'no case ran', rules: [] };
    e.rules.push(x.rule);
    out.set(key, e);
  }
  return [...out.values()];
}

/**
 * Characters XML 1.0 forbids (C0 controls but tab, LF, CR; U+FFFE/U+FFFF;
 * unpaired surrogates) become U+FFFD, so any string is safe to embed.
 */
export function sanitize(s: string): string {
  return s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}

/** Whitespace runs (newlines included) collapse to one space. */
export function oneLine(s: string): string {
  return s.replace(/[\s\u0085]+/g, ' ').trim();
}

/** The counterexample as plain text: one line per step, `>` on the failing one. */
export function counterexampleText(v: ViolationRecord): string {
  const ce = v.counterexample;
  const steps = ce.steps.map((s) => `${s.index === ce.failingStep ? '>' : ' '} ${s.index + 1}. ${oneLine(s.command)} -> ${oneLine(s.result)} (model: ${oneLine(s.expected)})${s.rule ? ` [${s.rule}]` : ''}`);
  const route = ce.route ? [`route ${ce.route.provider} -> ${ce.route.client}: model ${ce.route.mapType}, distance ${ce.route.distance}${ce.route.blockedBy.length ? `, ACS redirect at ${ce.route.blockedBy.join(', ')}` : ''}`] : [];
  return [`${v.rule} (${v.profile}): ${oneLine(v.message)}`, ...route, ...steps, `replay: ${v.replay}`, `fingerprint: ${v.fingerprint}`].join('\n');
}

/** The header's profiles: those of the run that some implementation was checked under (a run of one v8
 *  plugin lists v8, not every profile asked), the others named as not run. */
export function profilesLine(r: Pick<Report, 'profiles' | 'implementations'>): string {
  const ran = r.profiles.filter((p) => r.implementations.some((i) => i.profiles.includes(p)));
  const idle = r.profiles.filter((p) => !ran.includes(p));
  return `profiles ${ran.join(', ') || 'none'}${idle.length ? ` (no implementation for ${idle.join(', ')})` : ''}`;
}
