// What the report's JSON Schema (schemas/report.schema.json) cannot say:
// every id refers to something that exists (result -> violation ids,
// implementations, topology device ids on a route), steps are in order, and
// the summary counts add up. Each error is one line, `/pointer: what`, in
// the form src/report/validate.ts gives schema errors.
import { parseTopology } from '../../models/pci/load.ts';
import { isRuleId } from '../rules/registry.ts';
import { isCheck, type Report, type RuleStatus, type ViolationRecord } from './types.ts';

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/** `topology.devices[2].acs.rr` (parseTopology's paths) as a JSON Pointer `/devices/2/acs/rr` under `base`. */
export function pointerOf(dotted: string, base = ''): string {
  const parts = dotted.split(/\.|\[(\d+)\]/).filter((x) => x !== undefined && x !== '');
  return `${base}/${parts.slice(1).join('/')}`.replace(/\/$/, '') || '/';
}

/** The status a result must have, given the violations it lists. */
function statusFor(listed: readonly ViolationRecord[], status: RuleStatus): RuleStatus {
  if (listed.length === 0) return status === 'not-applicable' || status === 'not-checked' ? status : 'pass';
  return listed.every((v) => v.known) ? 'known' : 'violation';
}

function checkViolation(v: ViolationRecord, at: string, impls: ReadonlySet<string>): string | null {
  if (!isRuleId(v.rule)) return `${at}/rule: unknown rule '${v.rule}' (see dmabuf-conform rules)`;
  if (!impls.has(v.implementation)) return `${at}/implementation: '${v.implementation}' is not in /implementations`;
  const ce = v.counterexample;
  if (ce.failingStep >= ce.steps.length) return `${at}/counterexample/failingStep: ${ce.failingStep} is past the last step (${ce.steps.length} step(s))`;
  for (const [k, s] of ce.steps.entries()) {
    if (s.index !== k) return `${at}/counterexample/steps/${k}/index: expected ${k}, got ${s.index}`;
    if (s.rule !== undefined && !isRuleId(s.rule)) return `${at}/counterexample/steps/${k}/rule: unknown rule '${s.rule}'`;
  }
  if (ce.topology === undefined) return ce.route ? `${at}/counterexample/route: a route needs a topology` : null;
  const t = parseTopology(ce.topology);
  if (!t.ok) return `${pointerOf(t.error.slice(0, t.error.indexOf(': ')), `${at}/counterexample/topology`)}${t.error.slice(t.error.indexOf(': '))}`;
  const known = new Set([...t.value.devices.map((d) => d.id), ...t.value.hostBridges.map((h) => h.id)]);
  const route = ce.route;
  if (!route) return null;
  const named: [string, string][] = [['provider', route.provider], ['client', route.client], ...route.path.map((id, i): [string, string] => [`path/${i}`, id]), ...route.blockedBy.map((id, i): [string, string] => [`blockedBy/${i}`, id])];
  const missing = named.find(([, id]) => !known.has(id));
  return missing ? `${at}/counterexample/route/${missing[0]}: '${missing[1]}' is not in the topology` : null;
}

function checkResults(r: Report, byId: ReadonlyMap<string, ViolationRecord>, impls: ReadonlySet<string>): string | null {
  const listedBy = new Map<string, string>();
  const seen = new Set<string>();
  for (const [j, res] of r.results.entries()) {
    const at = `/results/${j}`;
    if (!isRuleId(res.rule)) return `${at}/rule: unknown rule '${res.rule}' (see dmabuf-conform rules)`;
    if (!impls.has(res.implementation)) return `${at}/implementation: '${res.implementation}' is not in /implementations`;
    const key = `${res.implementation}\u0000${res.rule}`;
    if (seen.has(key)) return `${at}: a second result for ${res.implementation} × ${res.rule}`;
    seen.add(key);
    const listed: ViolationRecord[] = [];
    for (const [k, id] of res.violations.entries()) {
      const v = byId.get(id);
      if (!v) return `${at}/violations/${k}: no violation has id ${show(id)}`;
      if (v.implementation !== res.implementation || v.rule !== res.rule) return `${at}/violations/${k}: violation ${show(id)} belongs to ${v.implementation} × ${v.rule}`;
      if (listedBy.has(id)) return `${at}/violations/${k}: violation ${show(id)} is already listed by ${listedBy.get(id)}`;
      listedBy.set(id, at);
      listed.push(v);
    }
    if (res.status === 'not-checked' && res.runs !== 0) return `${at}/status: 'not-checked' with ${res.runs} run(s): a rule some case ran was checked`;
    if ((res.status === 'not-checked') !== (res.why !== undefined)) return res.why === undefined ? `${at}: a 'not-checked' result needs why (what stopped its search)` : `${at}/why: only a 'not-checked' result says why`;
    const want = statusFor(listed, res.status);
    if (res.status !== want) return `${at}/status: expected '${want}' for ${listed.length} violation(s), ${listed.filter((v) => v.known).length} known, got '${res.status}'`;
  }
  const orphan = r.violations.findIndex((v) => !listedBy.has(v.id));
  return orphan >= 0 ? `/violations/${orphan}: no result lists violation ${show(r.violations[orphan]!.id)}` : null;
}

function checkSummary(r: Report): string | null {
  const want = {
    checks: r.results.filter((x) => isCheck(x.status)).length,
    violations: r.violations.length,
    known: r.violations.filter((v) => v.known).length,
    new: r.violations.filter((v) => !v.known).length,
  };
  const bad = (Object.keys(want) as (keyof typeof want)[]).find((k) => r.summary[k] !== want[k]);
  return bad ? `/summary/${bad}: expected ${want[bad]} (counted from the report), got ${r.summary[bad]}` : null;
}

/** What no schema can say: ids refer to what exists, and the counts add up; null when all hold. */
export function crossCheck(r: Report): string | null {
  const impls = new Set<string>();
  for (const [i, im] of r.implementations.entries()) {
    if (impls.has(im.name)) return `/implementations/${i}/name: duplicate implementation ${show(im.name)}`;
    impls.add(im.name);
  }
  const byId = new Map<string, ViolationRecord>();
  for (const [i, v] of r.violations.entries()) {
    if (byId.has(v.id)) return `/violations/${i}/id: duplicate id ${show(v.id)}`;
    byId.set(v.id, v);
    const e = checkViolation(v, `/violations/${i}`, impls);
    if (e) return e;
  }
  return checkResults(r, byId, impls) ?? checkSummary(r);
}
