// The shipped JSON Schemas (schemas/, run by ajv): fixture reports validate;
// broken ones are rejected with one line naming the field as a JSON Pointer;
// the schemas agree with the code they describe; writeReports is atomic and
// refuses a report that breaks the schema.
import fc from 'fast-check';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAP_TYPES } from '../models/pci/types.ts';
import { PROFILES } from '../models/profiles.ts';
import { REPORT_FILES, renderReports, reportJson, writeFileAtomic, writeReports } from '../src/report/index.ts';
import { FILE_KINDS, readJsonFile, schemaOf, validateFile, validateReport, type FileKind } from '../src/report/validate.ts';
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
const defs = (schemaOf('report') as { $defs: Record<string, { enum?: unknown[]; pattern?: string }> }).$defs;

describe('report.schema.json', () => {
  it('the fixture report (a route and a lifecycle violation) validates', () => {
    expect(validateReport(json())).toEqual({ ok: true, value: json() });
  });

  it('every shipped schema is draft 2020-12 with an $id, and agrees with the code it describes', () => {
    for (const k of FILE_KINDS) {
      const s = schemaOf(k);
      expect([k, s.$schema, s.$id]).toEqual([k, 'https://json-schema.org/draft/2020-12/schema', `https://dmabuf-conform.dev/schemas/${k}.schema.json`]);
    }
    expect(defs.profile!.enum).toEqual([...PROFILES]);
    expect((defs.route as { properties: { mapType: { enum: unknown[] } } }).properties.mapType.enum).toEqual([...MAP_TYPES]);
    const ruleId = new RegExp(defs.ruleId!.pattern!, 'u');
    expect(RULES.map((r) => r.id).filter((id) => !ruleId.test(id))).toEqual([]);
  });

  const broken: [string, (r: any) => void, string][] = [
    ['a missing field', (r) => delete r.seed, '/seed: missing (required)'],
    ['an unknown field', (r) => (r.tool.extra = 1), '/tool/extra: unknown field'],
    ['a later schema version', (r) => (r.schemaVersion = 99), '/schemaVersion: must be 1, got 99'],
    ['a bad lane', (r) => (r.violations[1].counterexample.steps[0].from = 'cpu'), '/violations/1/counterexample/steps/0/from: must be one of user, device, exporter, core, importer, iommu, got "cpu"'],
    ['a bad type', (r) => (r.results[2].runs = '400'), '/results/2/runs: must be integer, got "400"'],
    ['a negative count', (r) => (r.summary.checks = -1), '/summary/checks: must be >= 0, got -1'],
    ['an empty step list', (r) => (r.violations[0].counterexample.steps = []), '/violations/0/counterexample/steps: must NOT have fewer than 1 items, got []'],
    ['a bad fingerprint', (r) => (r.violations[0].fingerprint = 'XYZ'), '/violations/0/fingerprint: must match pattern "^[0-9a-f]{8,64}$", got "XYZ"'],
    ['an odd timing key', (r) => (r.timings.perImplementationMs['bug:x/y'] = -3), '/timings/perImplementationMs/bug:x~1y: must be >= 0, got -3'],
    ['not an object', (r) => (r.tool = []), '/tool: must be object, got []'],
    ['an unknown rule', (r) => (r.violations[0].rule = 'ROUTE-NOPE'), "/violations/0/rule: unknown rule 'ROUTE-NOPE' (see dmabuf-conform rules)"],
    ['a dangling violation id', (r) => (r.results[0].violations = ['nope']), '/results/0/violations/0: no violation has id "nope"'],
    ['an unlisted violation', (r) => ((r.results[4].violations = []), (r.results[4].status = 'pass')), '/violations/1: no result lists violation "bug:rev-map-ignores-revoked/REV-MAP/0"'],
    ['a wrong status', (r) => (r.results[4].status = 'violation'), "/results/4/status: expected 'known' for 1 violation(s), 1 known, got 'violation'"],
    ['a wrong summary', (r) => (r.summary.new = 5), '/summary/new: expected 1 (counted from the report), got 5'],
    ['a failing step past the end', (r) => (r.violations[1].counterexample.failingStep = 9), '/violations/1/counterexample/failingStep: 9 is past the last step (6 step(s))'],
    ['steps out of order', (r) => (r.violations[1].counterexample.steps[3].index = 7), '/violations/1/counterexample/steps/3/index: expected 3, got 7'],
    ['a bad topology', (r) => (r.violations[0].counterexample.topology.devices[2].acs.rr = 'yes'), '/violations/0/counterexample/topology/devices/2/acs/rr: expected boolean, got "yes"'],
    ['a route through nowhere', (r) => r.violations[0].counterexample.route.path.push('ghost'), "/violations/0/counterexample/route/path/5: 'ghost' is not in the topology"],
    ['a route without topology', (r) => delete r.violations[0].counterexample.topology, '/violations/0/counterexample/route: a route needs a topology'],
    ['a duplicate implementation', (r) => r.implementations.push(r.implementations[0]), '/implementations/3/name: duplicate implementation "bug:route-acs-client-inclusive"'],
    ['an unknown implementation', (r) => (r.results[7].implementation = 'nvidia'), "/results/7/implementation: 'nvidia' is not in /implementations"],
    ['a duplicate result', (r) => (r.results[8].rule = 'REV-MAP'), '/results/8: a second result for vfio-pci × REV-MAP'],
  ];

  it.each(broken)('rejects %s with one line naming the field', (_what, breakIt, error) => {
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
      if (!out.ok) expect(out.error).toMatch(/^\/[^\n]*: [^\n]+$/);
    }), { seed: 8, numRuns: budget(300) });
  });
});

describe('the other shipped schemas: baseline, corpus entry, convert case', () => {
  const baseline = () => ({ version: 1, findings: [{ fingerprint: '0f9852eb6f08e47b', implementation: 'vfio-pci', rule: 'REV-IMPORTER', why: 'documented finding' }] });
  it('the shipped baseline and the example cases validate', () => {
    expect(readJsonFile('baseline', 'reports/baseline.json').ok).toBe(true);
    for (const f of readdirSync('examples/cases')) expect([f, readJsonFile('case', join('examples/cases', f)).ok]).toEqual([f, true]);
    expect(validateFile('corpus-entry', 'c.json', { implementation: 'vfio-pci', rule: 'REV-MAP', input: { part: 'lifecycle', input: { cmds: [] } } }).ok).toBe(true);
    for (const f of readdirSync('examples/findings')) expect([f, readJsonFile('corpus-entry', join('examples/findings', f)).ok]).toEqual([f, true]);
  });

  const bad: [FileKind, unknown, string][] = [
    ['baseline', { ...baseline(), findings: [baseline().findings[0], { ...baseline().findings[0], fingerprint: 3 }] }, 'f.json: /findings/1/fingerprint: must be string, got 3'],
    ['baseline', { ...baseline(), version: 2 }, 'f.json: /version: must be 1, got 2'],
    ['baseline', { findings: [] }, 'f.json: /version: missing (required)'],
    ['baseline', { ...baseline(), findings: [{ ...baseline().findings[0], rule: 'REV-NOPE' }] }, "f.json: /findings/0/rule: unknown rule 'REV-NOPE' (see dmabuf-conform rules)"],
    ['corpus-entry', { implementation: 'vfio-pci', rule: 'REV-MAP' }, 'f.json: /input: missing (required)'],
    ['corpus-entry', { implementation: '', rule: 'REV-MAP', input: 1 }, 'f.json: /implementation: must NOT have fewer than 1 characters, got ""'],
    // The input is checked by its part (issue: a case without input.input leaked a JavaScript message at replay).
    ['corpus-entry', { implementation: 'vfio-pci', rule: 'REV-MAP', input: { part: 'lifecycle' } }, 'f.json: /input/input: missing (required)'],
    ['corpus-entry', { implementation: 'vfio-pci', rule: 'REV-MAP', input: { cmds: [] } }, 'f.json: /input/part: missing (required)'],
    ['corpus-entry', { implementation: 'vfio-pci', rule: 'REV-MAP', input: { part: 'lifecycles', input: {} } }, 'f.json: /input/part: must be one of route, lifecycle, pal, conversion, export, match, converter, cleaned, isolation, got "lifecycles"'],
    ['corpus-entry', { implementation: 'vfio-pci', rule: 'REV-MAP', input: { part: 'lifecycle', input: { cmds: [{ op: 'event', dev: 0, event: 'boom' }] } } }, 'f.json: /input/input/cmds/0/event: must be one of mem-off, mem-on, flr, af-flr, reset, d3-enter, d3-exit, pm-entry, pm-exit, close, open, unbind, got "boom"'],
    ['corpus-entry', { implementation: 'v8:dma_buf_map', rule: 'LEN-SUM', input: { part: 'conversion', input: { phys: [{ paddr: 4096, len: { $u64: '0x1000' } }] } } }, 'f.json: /input/input/size: missing (required)'],
    ['corpus-entry', { implementation: 'vfio-pci', rule: 'PAL-INPUT', input: { part: 'export', input: { bars: [], req: { regionIndex: 0, nrRanges: 1, ranges: [{ offset: 0, length: { $u64: '0x1000' } }] }, hasOps: true, alive: true, pageSize: { $u64: '0x1000' }, route: 'BUS_ADDR', iovaRefused: false } } }, 'f.json: /input/input/req/ranges/0/offset: must be object, got 0'],
    ['case', { topology: { hostBridges: [{ id: 'hb0' }], devices: [] }, exporter: 'a', client: 'b', request: { ranges: [{ offset: '0x1000', length: 'big' }] } }, 'f.json: /request/ranges/0/length: must match pattern "^(0x[0-9a-fA-F]+|[0-9]+)$", got "big"'],
    ['case', { topology: {}, exporter: 'a', client: 'b', request: { ranges: [] }, extra: 1 }, 'f.json: /extra: unknown field'],
    ['case', [], 'f.json: /: must be object, got []'],
  ];
  it.each(bad)('a bad %s file is one line naming file and field', (kind, value, error) => {
    expect(validateFile(kind, 'f.json', value)).toEqual({ ok: false, error });
  });

  it('a missing, unreadable or non-JSON file is one line naming the file', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'broken.json'), '{"version": 1,');
    expect(readJsonFile('baseline', join(dir, 'none.json'))).toEqual({ ok: false, error: `${join(dir, 'none.json')}: no such file` });
    expect(readJsonFile('baseline', dir)).toEqual({ ok: false, error: `${dir}: is a directory, not a baseline file` });
    const broken = readJsonFile('corpus-entry', join(dir, 'broken.json'));
    expect(broken.ok ? '' : broken.error).toMatch(/^.*broken\.json: not JSON \(.+\)$/);
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
    expect(() => writeReports(bad, dir)).toThrow(/^the report does not match schemas\/report\.schema\.json: \/summary\/checks: expected 10 \(counted from the report\), got 1$/);
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
