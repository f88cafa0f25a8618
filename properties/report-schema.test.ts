// The shipped JSON Schema of the report: fixture reports validate; broken
// ones are rejected with one line naming the path; the validator implements
// every keyword the schema uses; writeReports is atomic and refuses a report
// that breaks the schema.
import fc from 'fast-check';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAP_TYPES } from '../models/pci/types.ts';
import { PROFILES } from '../models/profiles.ts';
import { REPORT_FILES, renderReports, reportJson, writeFileAtomic, writeReports } from '../src/report/index.ts';
import { reportSchema, SUPPORTED_KEYWORDS, validate, validateReport, type Schema } from '../src/report/schema.ts';
import { RULES } from '../src/rules/registry.ts';
import { budget } from './budget.ts';
import { fixtureReport } from './report-fixtures.ts';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'dmabuf-report-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The fixture as plain JSON, to break in place. */
const json = (): any => JSON.parse(reportJson(fixtureReport()));
const defs = (reportSchema() as { $defs: Record<string, { enum?: unknown[]; pattern?: string }> }).$defs;

function keywordsOf(s: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(s)) s.forEach((x) => keywordsOf(x, out));
  else if (s && typeof s === 'object') {
    for (const [k, v] of Object.entries(s)) {
      if (k === 'properties' || k === '$defs') Object.values(v as object).forEach((x) => keywordsOf(x, out));
      else if (k !== 'enum' && k !== 'const') {
        out.add(k);
        keywordsOf(v, out);
      }
    }
  }
  return out;
}

describe('report.schema.json', () => {
  it('the fixture report (a route and a lifecycle violation) validates', () => {
    expect(validateReport(json())).toEqual({ ok: true, value: json() });
  });

  it('uses only keywords the validator implements, and agrees with the code it describes', () => {
    expect([...keywordsOf(reportSchema())].filter((k) => !SUPPORTED_KEYWORDS.includes(k))).toEqual([]);
    expect((reportSchema() as Record<string, unknown>).$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(defs.profile!.enum).toEqual([...PROFILES]);
    expect((defs.route as { properties: { mapType: { enum: unknown[] } } }).properties.mapType.enum).toEqual([...MAP_TYPES]);
    const ruleId = new RegExp(defs.ruleId!.pattern!, 'u');
    expect(RULES.map((r) => r.id).filter((id) => !ruleId.test(id))).toEqual([]);
  });

  const broken: [string, (r: any) => void, string][] = [
    ['a missing field', (r) => delete r.seed, 'report.seed: missing'],
    ['an unknown field', (r) => (r.tool.extra = 1), 'report.tool.extra: unknown field'],
    ['a wrong const', (r) => (r.schemaVersion = 2), 'report.schemaVersion: expected 1, got 2'],
    ['a bad lane', (r) => (r.violations[1].counterexample.steps[0].from = 'cpu'), 'report.violations[1].counterexample.steps[0].from: expected one of user, device, exporter, core, importer, iommu, got "cpu"'],
    ['a bad type', (r) => (r.results[2].runs = '400'), 'report.results[2].runs: expected integer, got "400"'],
    ['a negative count', (r) => (r.summary.checks = -1), 'report.summary.checks: expected a number >= 0, got -1'],
    ['an empty step list', (r) => (r.violations[0].counterexample.steps = []), 'report.violations[0].counterexample.steps: expected at least 1 item(s), got 0'],
    ['a bad fingerprint', (r) => (r.violations[0].fingerprint = 'XYZ'), 'report.violations[0].fingerprint: expected a string matching /^[0-9a-f]{8,64}$/, got "XYZ"'],
    ['an odd timing key', (r) => (r.timings.perImplementationMs['bug:x y'] = -3), 'report.timings.perImplementationMs["bug:x y"]: expected a number >= 0, got -3'],
    ['an unknown rule', (r) => (r.violations[0].rule = 'ROUTE-NOPE'), "report.violations[0].rule: unknown rule 'ROUTE-NOPE' (see dmabuf-conform rules)"],
    ['a dangling violation id', (r) => (r.results[0].violations = ['nope']), 'report.results[0].violations[0]: no violation has id "nope"'],
    ['an unlisted violation', (r) => ((r.results[4].violations = []), (r.results[4].status = 'pass')), 'report.violations[1]: no result lists violation "bug:rev-map-ignores-revoked/REV-MAP/0"'],
    ['a wrong status', (r) => (r.results[4].status = 'violation'), "report.results[4].status: expected 'known' for 1 violation(s), 1 known, got 'violation'"],
    ['a wrong summary', (r) => (r.summary.new = 5), 'report.summary.new: expected 1 (counted from the report), got 5'],
    ['a failing step past the end', (r) => (r.violations[1].counterexample.failingStep = 9), 'report.violations[1].counterexample.failingStep: 9 is past the last step (6 step(s))'],
    ['steps out of order', (r) => (r.violations[1].counterexample.steps[3].index = 7), 'report.violations[1].counterexample.steps[3].index: expected 3, got 7'],
    ['a bad topology', (r) => (r.violations[0].counterexample.topology.devices[2].acs.rr = 'yes'), 'report.violations[0].counterexample.topology.devices[2].acs.rr: expected boolean, got "yes"'],
    ['a route through nowhere', (r) => r.violations[0].counterexample.route.path.push('ghost'), "report.violations[0].counterexample.route.path[5]: 'ghost' is not in the topology"],
    ['a route without topology', (r) => delete r.violations[0].counterexample.topology, 'report.violations[0].counterexample.route: a route needs a topology'],
    ['a duplicate implementation', (r) => r.implementations.push(r.implementations[0]), 'report.implementations[3].name: duplicate implementation "bug:route-acs-client-inclusive"'],
    ['an unknown implementation', (r) => (r.results[7].implementation = 'nvidia'), "report.results[7].implementation: 'nvidia' is not in report.implementations"],
    ['a duplicate result', (r) => (r.results[8].rule = 'REV-MAP'), 'report.results[8]: a second result for vfio-pci × REV-MAP'],
  ];

  it.each(broken)('rejects %s with one line naming the path', (_what, breakIt, error) => {
    const r = json();
    breakIt(r);
    expect(validateReport(r)).toEqual({ ok: false, error });
  });

  it('any value put anywhere gives ok or one line starting with the path, never a crash', () => {
    const paths: (string | number)[][] = [];
    const walk = (v: unknown, p: (string | number)[]) => {
      paths.push(p);
      if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, [...p, Array.isArray(v) ? Number(k) : k]);
    };
    walk(json(), []);
    fc.assert(fc.property(fc.constantFrom(...paths.filter((p) => p.length > 0)), fc.jsonValue({ maxDepth: 2 }), (path, value) => {
      const r = json();
      const parent = path.slice(0, -1).reduce((o, k) => o[k], r);
      parent[path.at(-1)!] = value;
      const out = validateReport(r);
      if (!out.ok) expect(out.error).toMatch(/^report[.[][^\n]*$/);
    }), { seed: 8, numRuns: budget(300) });
  });

  it('the validator: boolean schemas, type lists, maximum, bad $ref and unknown keywords', () => {
    const root: Schema = { $defs: { n: { type: ['integer', 'null'], maximum: 3 } }, type: 'array', items: { $ref: '#/$defs/n' } };
    expect(validate(root, [1, null, 3])).toBeNull();
    expect(validate(root, [1, 4])).toBe('$[1]: expected a number <= 3, got 4');
    expect(validate(root, [true])).toBe('$[0]: expected integer or null, got true');
    expect(validate(false, 1)).toBe('$: not allowed');
    expect(validate({ $ref: '#/$defs/none' }, 1)).toBe("$: the schema's $ref '#/$defs/none' resolves to nothing");
    expect(validate({ oneOf: [] }, 1)).toBe("$: the schema uses 'oneOf', which this validator does not implement");
    expect(validate({ type: 'object', properties: { a: true }, additionalProperties: false }, { a: 1, b: 2 })).toBe('$.b: unknown field');
    expect(validate({ minLength: 2 }, '🙂')).toBe('$: expected at least 2 character(s), got "🙂"');
  });
});

describe('writeReports', () => {
  it('writes the five files, leaves no temporary file behind, and report.json validates', () => {
    const dir = tempDir();
    writeReports(fixtureReport(), dir);
    expect(readdirSync(dir).sort()).toEqual([...REPORT_FILES].sort());
    const back = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8'));
    expect(validateReport(back).ok).toBe(true);
    expect(Object.keys(back).at(-1)).toBe('timings');
  });

  it('renders byte-identical files from the same report', () => {
    expect(renderReports(fixtureReport())).toEqual(renderReports(fixtureReport()));
  });

  it('refuses a report that breaks the schema, with one line, and writes nothing', () => {
    const dir = join(tempDir(), 'out');
    const bad = { ...fixtureReport(), summary: { checks: 1, violations: 2, known: 1, new: 1 } };
    expect(() => writeReports(bad, dir)).toThrow(/^the report does not match src\/report\/report\.schema\.json: report\.summary\.checks: expected 10 \(counted from the report\), got 1$/);
    expect(existsSync(dir)).toBe(false);
  });

  it('replaces a file whole and cleans up when the rename fails', () => {
    const dir = tempDir();
    const file = join(dir, 'report.json');
    writeFileSync(file, 'old');
    writeFileAtomic(file, 'new');
    expect(readFileSync(file, 'utf8')).toBe('new');
    expect(() => writeFileAtomic(join(dir, 'missing', 'x.json'), 'x')).toThrow();
    expect(readdirSync(dir)).toEqual(['report.json']);
  });
});
