// The shipped JSON Schema of the report (report.schema.json, draft 2020-12)
// and a compact validator for the subset of JSON Schema it uses, plus the
// cross-references a schema cannot say (result -> violation ids, summary
// counts, topology ids). Every error is one line naming the bad field's path:
// `report.violations[2].counterexample.steps[0].from: expected one of user, ...`.
import { readFileSync } from 'node:fs';
import { parseTopology } from '../../models/pci/load.ts';
import { isRuleId } from '../rules/registry.ts';
import type { Report, RuleStatus, ViolationRecord } from './types.ts';

export type Schema = boolean | { readonly [keyword: string]: unknown };
export type Checked<T> = { ok: true; value: T } | { ok: false; error: string };

/** Keywords that say nothing about the instance. */
const ANNOTATIONS = ['$schema', '$id', '$defs', '$comment', 'title', 'description'];
/** Every keyword this validator implements; a schema using another one is rejected. */
export const SUPPORTED_KEYWORDS: readonly string[] = [
  ...ANNOTATIONS, '$ref', 'type', 'const', 'enum', 'pattern', 'minimum', 'maximum', 'minLength', 'minItems',
  'items', 'properties', 'required', 'additionalProperties',
];

let shipped: Schema | undefined;

/** src/report/report.schema.json, read once. */
export function reportSchema(): Schema {
  shipped ??= JSON.parse(readFileSync(new URL('./report.schema.json', import.meta.url), 'utf8')) as Schema;
  return shipped;
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function hasType(v: unknown, t: string): boolean {
  switch (t) {
    case 'integer': return typeof v === 'number' && Number.isInteger(v);
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'array': return Array.isArray(v);
    case 'object': return isObject(v);
    case 'null': return v === null;
    default: return typeof v === t;
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return a === b;
}

/** `path.key`, or `path["odd key"]` when the key is not an identifier. */
function child(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function resolveRef(root: Schema, ref: string): Schema | undefined {
  if (!ref.startsWith('#/')) return undefined;
  let cur: unknown = root;
  for (const seg of ref.slice(2).split('/')) cur = isObject(cur) ? cur[seg.replace(/~1/g, '/').replace(/~0/g, '~')] : undefined;
  return typeof cur === 'boolean' || isObject(cur) ? cur : undefined;
}

function checkScalar(s: Record<string, unknown>, v: unknown, path: string): string | null {
  if ('const' in s && !deepEqual(v, s.const)) return `${path}: expected ${show(s.const)}, got ${show(v)}`;
  if (Array.isArray(s.enum) && !s.enum.some((e) => deepEqual(v, e))) return `${path}: expected one of ${s.enum.map((e) => (typeof e === 'string' ? e : show(e))).join(', ')}, got ${show(v)}`;
  if (typeof v === 'string') {
    if (typeof s.minLength === 'number' && [...v].length < s.minLength) return `${path}: expected at least ${s.minLength} character(s), got ${show(v)}`;
    if (typeof s.pattern === 'string' && !new RegExp(s.pattern, 'u').test(v)) return `${path}: expected a string matching /${s.pattern}/, got ${show(v)}`;
  }
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && v < s.minimum) return `${path}: expected a number >= ${s.minimum}, got ${show(v)}`;
    if (typeof s.maximum === 'number' && v > s.maximum) return `${path}: expected a number <= ${s.maximum}, got ${show(v)}`;
  }
  return null;
}

function checkArray(root: Schema, s: Record<string, unknown>, v: unknown[], path: string): string | null {
  if (typeof s.minItems === 'number' && v.length < s.minItems) return `${path}: expected at least ${s.minItems} item(s), got ${v.length}`;
  if (s.items === undefined) return null;
  for (const [i, x] of v.entries()) {
    const e = validate(s.items as Schema, x, root, `${path}[${i}]`);
    if (e) return e;
  }
  return null;
}

function checkObject(root: Schema, s: Record<string, unknown>, v: Record<string, unknown>, path: string): string | null {
  for (const k of (s.required as string[] | undefined) ?? []) if (!(k in v)) return `${child(path, k)}: missing`;
  const props = (s.properties as Record<string, Schema> | undefined) ?? {};
  for (const [k, x] of Object.entries(v)) {
    const sub = k in props ? props[k]! : s.additionalProperties as Schema | undefined;
    if (sub === false) return `${child(path, k)}: unknown field`;
    const e = sub === undefined ? null : validate(sub, x, root, child(path, k));
    if (e) return e;
  }
  return null;
}

/** The first way `value` breaks `schema`, as `path: what`, or null. */
export function validate(schema: Schema, value: unknown, root: Schema = schema, path = '$'): string | null {
  if (schema === true) return null;
  if (schema === false) return `${path}: not allowed`;
  const bad = Object.keys(schema).find((k) => !SUPPORTED_KEYWORDS.includes(k));
  if (bad) return `${path}: the schema uses '${bad}', which this validator does not implement`;
  if (typeof schema.$ref === 'string') {
    const target = resolveRef(root, schema.$ref);
    if (target === undefined) return `${path}: the schema's $ref '${schema.$ref}' resolves to nothing`;
    const e = validate(target, value, root, path);
    if (e) return e;
  }
  if (schema.type !== undefined) {
    const types = Array.isArray(schema.type) ? (schema.type as string[]) : [schema.type as string];
    if (!types.some((t) => hasType(value, t))) return `${path}: expected ${types.join(' or ')}, got ${show(value)}`;
  }
  const e = checkScalar(schema, value, path);
  if (e) return e;
  if (Array.isArray(value)) return checkArray(root, schema, value, path);
  if (isObject(value)) return checkObject(root, schema, value, path);
  return null;
}

/** The status a result must have, given the violations it lists. */
function statusFor(listed: readonly ViolationRecord[], status: RuleStatus): RuleStatus {
  if (listed.length === 0) return status === 'not-applicable' ? status : 'pass';
  return listed.every((v) => v.known) ? 'known' : 'violation';
}

function checkViolation(v: ViolationRecord, at: string, impls: ReadonlySet<string>): string | null {
  if (!isRuleId(v.rule)) return `${at}.rule: unknown rule '${v.rule}' (see dmabuf-conform rules)`;
  if (!impls.has(v.implementation)) return `${at}.implementation: '${v.implementation}' is not in report.implementations`;
  const ce = v.counterexample;
  if (ce.failingStep >= ce.steps.length) return `${at}.counterexample.failingStep: ${ce.failingStep} is past the last step (${ce.steps.length} step(s))`;
  for (const [k, s] of ce.steps.entries()) {
    if (s.index !== k) return `${at}.counterexample.steps[${k}].index: expected ${k}, got ${s.index}`;
    if (s.rule !== undefined && !isRuleId(s.rule)) return `${at}.counterexample.steps[${k}].rule: unknown rule '${s.rule}'`;
  }
  if (ce.topology === undefined) return ce.route ? `${at}.counterexample.route: a route needs a topology` : null;
  const t = parseTopology(ce.topology);
  if (!t.ok) return `${at}.counterexample.${t.error}`;
  const known = new Set([...t.value.devices.map((d) => d.id), ...t.value.hostBridges.map((h) => h.id)]);
  const route = ce.route;
  if (!route) return null;
  const named: [string, string][] = [['provider', route.provider], ['client', route.client], ...route.path.map((id, i): [string, string] => [`path[${i}]`, id]), ...route.blockedBy.map((id, i): [string, string] => [`blockedBy[${i}]`, id])];
  const missing = named.find(([, id]) => !known.has(id));
  return missing ? `${at}.counterexample.route.${missing[0]}: '${missing[1]}' is not in the topology` : null;
}

function checkResults(r: Report, byId: ReadonlyMap<string, ViolationRecord>, impls: ReadonlySet<string>): string | null {
  const listedBy = new Map<string, string>();
  const seen = new Set<string>();
  for (const [j, res] of r.results.entries()) {
    const at = `report.results[${j}]`;
    if (!isRuleId(res.rule)) return `${at}.rule: unknown rule '${res.rule}' (see dmabuf-conform rules)`;
    if (!impls.has(res.implementation)) return `${at}.implementation: '${res.implementation}' is not in report.implementations`;
    const key = `${res.implementation}\u0000${res.rule}`;
    if (seen.has(key)) return `${at}: a second result for ${res.implementation} × ${res.rule}`;
    seen.add(key);
    const listed: ViolationRecord[] = [];
    for (const [k, id] of res.violations.entries()) {
      const v = byId.get(id);
      if (!v) return `${at}.violations[${k}]: no violation has id ${show(id)}`;
      if (v.implementation !== res.implementation || v.rule !== res.rule) return `${at}.violations[${k}]: violation ${show(id)} belongs to ${v.implementation} × ${v.rule}`;
      if (listedBy.has(id)) return `${at}.violations[${k}]: violation ${show(id)} is already listed by ${listedBy.get(id)}`;
      listedBy.set(id, at);
      listed.push(v);
    }
    const want = statusFor(listed, res.status);
    if (res.status !== want) return `${at}.status: expected '${want}' for ${listed.length} violation(s), ${listed.filter((v) => v.known).length} known, got '${res.status}'`;
  }
  const orphan = r.violations.findIndex((v) => !listedBy.has(v.id));
  return orphan >= 0 ? `report.violations[${orphan}]: no result lists violation ${show(r.violations[orphan]!.id)}` : null;
}

function checkSummary(r: Report): string | null {
  const want = {
    checks: r.results.filter((x) => x.status !== 'not-applicable').length,
    violations: r.violations.length,
    known: r.violations.filter((v) => v.known).length,
    new: r.violations.filter((v) => !v.known).length,
  };
  const bad = (Object.keys(want) as (keyof typeof want)[]).find((k) => r.summary[k] !== want[k]);
  return bad ? `report.summary.${bad}: expected ${want[bad]} (counted from the report), got ${r.summary[bad]}` : null;
}

/** What no schema can say: ids refer to what exists, and the counts add up. */
function crossCheck(r: Report): string | null {
  const impls = new Set<string>();
  for (const [i, im] of r.implementations.entries()) {
    if (impls.has(im.name)) return `report.implementations[${i}].name: duplicate implementation ${show(im.name)}`;
    impls.add(im.name);
  }
  const byId = new Map<string, ViolationRecord>();
  for (const [i, v] of r.violations.entries()) {
    if (byId.has(v.id)) return `report.violations[${i}].id: duplicate id ${show(v.id)}`;
    byId.set(v.id, v);
    const e = checkViolation(v, `report.violations[${i}]`, impls);
    if (e) return e;
  }
  return checkResults(r, byId, impls) ?? checkSummary(r);
}

/** A report (parsed JSON) checked against the shipped schema and its cross-references. */
export function validateReport(value: unknown): Checked<Report> {
  const error = validate(reportSchema(), value, reportSchema(), 'report') ?? crossCheck(value as Report);
  return error ? { ok: false, error } : { ok: true, value: value as Report };
}
