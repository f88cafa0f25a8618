// The renderers of the JSON report: JUnit XML (well-formed, one testcase per
// implementation × rule, the counterexample in the failure body), TAP 13 as
// kunit_parser reads it, the Markdown PR summary, and the self-contained HTML
// page with its SVG pictures. Property: hostile strings anywhere in the
// report never break out of the markup of any of them.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { profilesLine } from '../src/report/text.ts';
import { targetsOf } from '../src/harness/catalog.ts';
import { EXPORTER_DEV, IMPORTER_DEV, pictureFor } from '../src/harness/picture.ts';
import { renderHtml } from '../src/report/html.ts';
import { renderJunit } from '../src/report/junit.ts';
import { renderMarkdown } from '../src/report/markdown.ts';
import { routePath, sequenceSvg, topologySvg } from '../src/report/svg.ts';
import { renderTap } from '../src/report/tap.ts';
import { oneLine, sanitize } from '../src/report/text.ts';
import type { Report } from '../src/report/types.ts';
import { budget } from './budget.ts';
import { elements, gfmCells, htmlSkeleton, parseXml, TAP_RESULT, TAP_RESULT_SKIP, textOf, urlAttributes, type XmlNode } from './report-checkers.ts';
import { fixtureReport, lifecycleViolation, routeViolation, switchTopology } from './report-fixtures.ts';

const report = fixtureReport();

/** Strings built to break each format: markup, entities, line breaks, directives, forbidden characters. */
const hostile = fc.array(fc.oneof(
  fc.constantFrom('<', '>', '&', '"', "'", '</script>', '<script>alert(1)</script>', ']]>', '<!--', '-->', '&amp;', '&#0;', '\n', '\r\n', '\t',
    '#', '# SKIP', '|', '\\', '\\|', '`', '```', '*', '_', '[x](y)', '<details>', '\nok 99 - fake', '\nnot ok 1', '\n  ---', '\n  ...', '\n## h',
    '\u0000', '\u0008', '\u001f', '\ufffe', '\ud800', '\udc00', '\u2028', '\u0085', '"><img src=x onerror=alert(1)>', 'javascript:', 'https://cdn.example/x.js'),
  fc.string({ unit: 'binary', maxLength: 6 }),
), { minLength: 1, maxLength: 6 }).map((parts) => parts.join(''));

const withSuffix = (s: string) => fixtureReport((x) => `${x}${s}`);

function junitOf(r: Report): XmlNode {
  const parsed = parseXml(renderJunit(r));
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.root;
}

describe('JUnit XML', () => {
  const root = junitOf(report);

  it('is well-formed: one suite per implementation, one testcase per implementation × rule', () => {
    expect(root.name).toBe('testsuites');
    expect(elements(root, 'testsuite').map((s) => s.attrs.name)).toEqual(report.implementations.map((i) => i.name));
    const cases = elements(root, 'testcase').map((c) => `${c.attrs.classname} ${c.attrs.name}`);
    expect(cases).toEqual(report.results.map((x) => `${x.implementation} ${x.rule}`));
    expect(root.attrs).toMatchObject({ tests: '11', failures: '1', skipped: '1' });
  });

  it('a new violation fails with the counterexample in the body; known passes with it in system-out; not checked is skipped', () => {
    const [failure] = elements(root, 'failure');
    expect(failure!.attrs).toEqual({ message: report.violations[0]!.message, type: 'ROUTE-MAPTYPE' });
    const body = textOf(failure!);
    for (const s of report.violations[0]!.counterexample.steps) expect(body).toContain(s.command);
    expect(body).toContain('> 2. pci_p2pdma_map_type(gpu0, gpu1) -> BUS_ADDR (model: NOT_SUPPORTED) [ROUTE-MAPTYPE]');
    expect(body).toContain('ACS redirect at dsp0, dsp1');
    expect(body).toContain(`replay: ${report.violations[0]!.replay}`);
    const out = elements(root, 'system-out').map(textOf);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^known: a documented finding \(reports\/FINDINGS\.md\) or in the baseline\nREV-MAP \(v8\)/);
    expect(out[0]!.split('\n').filter((l) => /^[ >] \d+\. /.test(l))).toHaveLength(6);
    expect(elements(root, 'skipped')).toHaveLength(1);
  });

  it('property: hostile strings keep it well-formed and come back as written', () => {
    fc.assert(fc.property(hostile, (s) => {
      const r = withSuffix(s);
      const back = junitOf(r);
      expect(elements(back, 'testcase')).toHaveLength(r.results.length);
      expect(elements(back, 'failure')[0]!.attrs.message).toBe(oneLine(sanitize(r.violations[0]!.message)));
      expect(elements(back, 'testsuite').map((x) => x.attrs.name)).toEqual(r.implementations.map((i) => sanitize(i.name)));
    }), { seed: 11, numRuns: budget(60) });
  });
});

/** Check a TAP document: header, plan, numbered results as kunit_parser reads them, YAML blocks that parse. */
function tapShape(tap: string): { results: string[]; yaml: string[][] } {
  const lines = tap.trimEnd().split('\n');
  expect(lines.slice(0, 2)).toEqual(['TAP version 13', expect.stringMatching(/^1\.\.\d+$/)]);
  const results: string[] = [];
  const yaml: string[][] = [];
  for (let i = 2; i < lines.length; i++) {
    const l = lines[i]!;
    if (l === '  ---') {
      const end = lines.indexOf('  ...', i);
      expect(end).toBeGreaterThan(i);
      const block = lines.slice(i + 1, end);
      for (const y of block) {
        const m = /^ {2}(?:[a-z]+: (.*)|[a-z]+:| {2}- (.*))$/.exec(y);
        expect(m, y).not.toBeNull();
        const value = m![1] ?? m![2];
        if (value !== undefined && value.startsWith('"')) JSON.parse(value);
      }
      yaml.push(block);
      i = end;
    } else if (l.startsWith('#')) continue;
    else {
      expect(l).toMatch(TAP_RESULT);
      expect(TAP_RESULT.exec(l)![2]).toBe(String(results.length + 1));
      results.push(l);
    }
  }
  expect(lines[1]).toBe(`1..${results.length}`);
  return { results, yaml };
}

describe('TAP 13', () => {
  it('has the plan, one result per implementation × rule, SKIP, TODO for a known finding, and YAML diagnostics', () => {
    const { results, yaml } = tapShape(renderTap(report));
    expect(results).toHaveLength(report.results.length);
    expect(results[0]).toBe('not ok 1 - bug:route-acs-client-inclusive ROUTE-MAPTYPE');
    expect(results[3]).toMatch(TAP_RESULT_SKIP);
    expect(results[4]).toBe('not ok 5 - bug:rev-map-ignores-revoked REV-MAP # TODO known: documented finding or baseline');
    expect(results.filter((l) => l.startsWith('not ok') && !l.includes(' # TODO '))).toHaveLength(1);
    expect(renderTap(report)).not.toMatch(/# XFAIL/);
    expect(yaml).toHaveLength(2);
    expect(yaml[1]).toContain('  expected: "-ENODEV"');
    expect(yaml[1]!.filter((l) => l.startsWith('    - '))).toHaveLength(6);
  });

  it('lists the other violations of a result after the first', () => {
    const two = fixtureReport();
    const second = { ...two.violations[0]!, id: 'bug:route-acs-client-inclusive/ROUTE-MAPTYPE/1', known: true };
    const r: Report = { ...two, violations: [...two.violations, second], results: two.results.map((x, i) => (i === 0 ? { ...x, violations: [second.id, x.violations[0]!] } : x)) };
    const { yaml } = tapShape(renderTap(r));
    expect(yaml[0]).toContain('  known: false');
    expect(yaml[0]!.slice(-2)).toEqual(['  more:', `    - "${second.id}"`]);
  });

  it('property: hostile strings never add, remove or break a test line', () => {
    fc.assert(fc.property(hostile, (s) => {
      const { results, yaml } = tapShape(renderTap(withSuffix(s)));
      expect(results).toHaveLength(report.results.length);
      expect(yaml).toHaveLength(2);
    }), { seed: 12, numRuns: budget(60) });
  });
});

/** Each line's shape: table rows by cell count, headings by level, the rest by kind. */
function mdShape(md: string): string[] {
  return md.split('\n').map((l) => (l.startsWith('|') ? `row:${gfmCells(l).length}` : /^#+ /.test(l) ? `h${l.indexOf(' ')}` : l === '' ? '' : l.startsWith('<') ? l.replace(/\(\d+\)/, '') : 'text'));
}

describe('Markdown summary', () => {
  const md = renderMarkdown(report);

  it('has the implementations × families table and each violation with rule, reason, steps and replay', () => {
    const lines = md.split('\n');
    expect(lines).toContain('| implementation | ROUTE | REV | LOCK | UAF |');
    expect(lines).toContain('| bug:route\\-acs\\-client\\-inclusive | ❌ 1 |  |  |  |'.replace(/\\-/g, '-'));
    expect(lines).toContain('| vfio\\-pci |  | ✅ | ✅ | ✅ |'.replace(/\\-/g, '-'));
    expect(lines).toContain('### ❌ ROUTE-MAPTYPE — bug:route-acs-client-inclusive (v8)');
    expect(lines).toContain('**Reason:** calc\\_map\\_type\\_and\\_dist\\(gpu0, gpu1\\) = BUS\\_ADDR, model NOT\\_SUPPORTED');
    expect(lines).toContain('| **2** | importer → core | `pci_p2pdma_map_type(gpu0, gpu1)` | **BUS\\_ADDR** | **NOT\\_SUPPORTED ← ROUTE-MAPTYPE** |');
    expect(lines).toContain(`Replay: \`${report.violations[1]!.replay}\``);
    expect(lines.indexOf('## New violations (1)')).toBeLessThan(lines.indexOf('<details><summary>Known: documented findings and baseline entries (1)</summary>'));
    expect(lines.filter((l) => /^\| \**\d+\**/.test(l))).toHaveLength(2 + 6);
  });

  it('caps long lists (a PR comment holds 65,536 characters)', () => {
    const many = Array.from({ length: 45 }, (_, i) => ({ ...report.violations[0]!, id: `r/${i}` }));
    const r: Report = { ...report, violations: many, results: [{ ...report.results[0]!, violations: many.map((v) => v.id) }], summary: { ...report.summary, new: 45, violations: 45, known: 0 } };
    expect(renderMarkdown(r)).toContain('… and 5 more: see report.html or report.json.');
  });

  it('code spans survive backticks and pipes', () => {
    const r: Report = { ...report, violations: [lifecycleViolation((x) => (x.startsWith('map') ? `${x} \`a|b\\` : x)), routeViolation()] };
    const lines = renderMarkdown(r).split('\n');
    expect(lines.find((l) => l.startsWith('| **6**'))).toContain('<code>map&#40;att0&#41; &#96;a&#124;b&#92;</code>');
    expect(lines.find((l) => l.startsWith('Replay') && l.includes('REV-MAP'))).toMatch(/^Replay: `npx .*'`$/);
  });

  it('property: hostile strings keep every line in its place and every row its cells', () => {
    const benign = mdShape(renderMarkdown(withSuffix('x')));
    fc.assert(fc.property(hostile, (s) => {
      expect(mdShape(renderMarkdown(withSuffix(s)))).toEqual(benign);
    }), { seed: 13, numRuns: budget(60) });
  });
});

describe('HTML page', () => {
  const html = renderHtml(report);

  it('is self-contained: no URL leaves the page, and the CSP forbids any fetch', () => {
    expect(urlAttributes(html).filter((u) => !u.startsWith('#'))).toEqual([]);
    expect(html).not.toMatch(/https?:\/\/|\/\/cdn|@import|url\((?!#)/);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"`);
  });

  it('has the filters, the summary, and a section per violation with its pictures', () => {
    for (const id of ['f-impl', 'f-family', 'f-status']) expect(html).toContain(`<select id="${id}">`);
    const sections = html.split('<section').slice(1);
    expect(sections).toHaveLength(2);
    expect(sections[0]).toMatch(/data-status="violation"/);
    expect(sections[0]).toContain('<svg class="topology"');
    expect(sections[0]).toContain('<svg class="sequence"');
    expect(sections[1]).toMatch(/data-status="known"/);
    expect(sections[1]).not.toContain('<svg class="topology"');
    expect(sections[1]).toContain('model expects: -ENODEV');
    expect(htmlSkeleton(html).filter((t) => t.startsWith('svg['))).toHaveLength(3);
  });

  it('the header and the table of checks count the same checks, with the pairs not checked apart', () => {
    const checked = report.results.filter((x) => x.status !== 'not-applicable').length;
    expect([report.summary.checks, report.results.length - checked]).toEqual([10, 1]);
    expect(html).toContain('· 10 checks, 1 not checked ·');
    const table = html.slice(html.indexOf('<details class="checks">'), html.indexOf('</details>', html.indexOf('<details class="checks">')));
    expect(table).toContain('<summary>Every check: implementation × rule (10 checks, 1 not checked)</summary>');
    expect(table.match(/<tr data-filter=""[^>]*data-status="(pass|violation|known)"/g)).toHaveLength(10);
    expect(table.match(/<tr data-filter=""[^>]*data-status="not-applicable"/g)).toHaveLength(1);
    const all = renderHtml({ ...report, results: report.results.filter((x) => x.status !== 'not-applicable') });
    expect(all).toContain('(10 checks)</summary>');
  });

  it('a failing step that returned what the model expects shows the difference from the violation, not "got ok / model expects ok"', () => {
    const v = report.violations[1]!;
    const ce = { ...v.counterexample, steps: v.counterexample.steps.map((s, i) => (i === v.counterexample.failingStep ? { ...s, command: 'close(buf0)', result: 'ok', expected: 'ok', rule: 'REV-NOTIFY' as const } : s)) };
    const why = 'att0 got 0 move_notify call(s) in close(buf0), the model says 2';
    const svg = sequenceSvg(ce, 'n', why);
    expect(svg).toContain('>✗ REV-NOTIFY · returned ok as the model expects, but:</text>');
    expect(svg).toContain(`>${why}</text>`);
    expect(svg).not.toContain('>model expects: ok</text>');
    const long = sequenceSvg(ce, 'n', `${'word '.repeat(40)}end`);
    expect(long.match(/class="(expect|got)">word/g)).toHaveLength(2);
    expect(long).toMatch(/class="got">[^<]*…<\/text>/);
    const page = renderHtml({ ...report, violations: [report.violations[0]!, { ...v, rule: 'REV-NOTIFY', message: why, counterexample: ce }] });
    expect(page).toContain(`(REV-NOTIFY): it returned ok as the model expects, but ${why}.`);
    expect(page).toContain(`>${why}</text>`);
  });

  it('the topology shows the route taken and the ACS blockers', () => {
    const v = report.violations[0]!;
    const svg = topologySvg(v.counterexample)!;
    expect(v.counterexample.route!.path).toEqual(['gpu0', 'dsp0', 'usp', 'dsp1', 'gpu1']);
    expect(svg.match(/class="tedge route"/g)).toHaveLength(4 + 1); // + the legend
    expect(svg.match(/class="tnode acs"/g)).toHaveLength(2 + 1);
    expect(svg.match(/class="tnode end"/g)).toHaveLength(2 + 1);
    expect(svg).toContain('>ACS RR CR</text>');
    // The runner may leave path empty: the picture asks the model for it.
    const noPath = { ...v.counterexample, route: { ...v.counterexample.route!, path: [] } };
    expect(topologySvg(noPath)).toBe(svg);
    expect(routePath(switchTopology(), { ...noPath.route, client: 'nobody' })).toEqual([]);
  });

  it('a route across two host bridges goes through the root complex', () => {
    const topo = { hostBridges: [{ id: 'hb0', allowList: 'any' }, { id: 'hb1', allowList: 'any' }], devices: [{ id: 'rp0', kind: 'root-port', parent: 'hb0' }, { id: 'a', kind: 'endpoint', parent: 'rp0', p2pdma: true }, { id: 'b', kind: 'endpoint', parent: 'hb1' }] };
    const ce = { ...report.violations[0]!.counterexample, topology: topo, route: { provider: 'a', client: 'b', mapType: 'THRU_HOST_BRIDGE', distance: 3, path: [], blockedBy: [] } };
    const svg = topologySvg(ce)!;
    expect(svg.match(/class="tedge route"/g)).toHaveLength(5 + 1);
    expect(svg).toContain('class="tnode onroute"/><text x="141" y="43" class="tid">root complex</text>');
    expect(topologySvg({ ...ce, topology: { devices: [] } })).toBeNull();
  });

  it('the sequence diagram: a lane per actor, an arrow per step, the failing one in red', () => {
    const svg = sequenceSvg(report.violations[1]!.counterexample, 'x');
    for (const lane of ['user / device', 'exporter', 'dma-buf core', 'importer', 'IOMMU']) expect(svg).toContain(`>${lane}</text>`);
    expect(svg.match(/marker-end=/g)).toHaveLength(6);
    expect(svg.match(/class="arrow fail"/g)).toHaveLength(1);
    expect(svg).toContain('>✗ REV-MAP</text>');
    expect(svg).toContain('>got: ok</text>');
    const self = sequenceSvg({ ...report.violations[1]!.counterexample, steps: [{ index: 0, from: 'user', to: 'device', command: 'x'.repeat(200), result: 'ok', expected: 'ok', rule: 'UAF-REF' }], failingStep: 0 });
    expect(self).toContain('<path d="M96 70 h36 v10 h-34"');
    expect(self).toMatch(/x{60,}…<\/text>/);
    const steps = [
      { index: 0, from: 'importer', to: 'core', command: 'a', result: 'as model', expected: 'as port' },
      { index: 1, from: 'importer', to: 'core', command: 'b', result: '-EINVAL', expected: 'ok' },
      { index: 2, from: 'importer', to: 'core', command: 'c', result: 'ok', expected: 'ok', rule: 'ROUTE-DIST' },
    ] as const;
    const sides = sequenceSvg({ ...report.violations[1]!.counterexample, steps, failingStep: 2 });
    expect(sides).toContain('class="side">got as model</text>');
    expect(sides).toContain('class="side warn">got -EINVAL · model ok</text>');
  });

  it('property: hostile strings never add or change a tag or an attribute', () => {
    const benign = htmlSkeleton(renderHtml(withSuffix('x')));
    fc.assert(fc.property(hostile, (s) => {
      const page = renderHtml(withSuffix(s));
      expect(htmlSkeleton(page)).toEqual(benign);
      expect(urlAttributes(page).filter((u) => !u.startsWith('#'))).toEqual([]);
    }), { seed: 14, numRuns: budget(40) });
  });
});

describe('a picture for the suites that are given a map type, not a topology', () => {
  it.each(['BUS_ADDR', 'THRU_HOST_BRIDGE', 'NOT_SUPPORTED'] as const)('%s: the model routes the drawn topology to that map type, and the SVG draws it', (mapType) => {
    const pic = pictureFor(mapType);
    expect(pic.route?.mapType).toBe(mapType);
    expect(pic.route?.blockedBy.length === 0).toBe(mapType === 'BUS_ADDR');
    const svg = topologySvg({ suite: 'lifecycle', steps: [], failingStep: 0, input: {}, ...pic });
    expect(svg).toContain(EXPORTER_DEV);
    expect(svg).toContain(IMPORTER_DEV);
  });

  it('UNKNOWN has none, and a lifecycle counterexample of the runner carries one', async () => {
    expect(pictureFor('UNKNOWN')).toEqual({});
    const bug = targetsOf().find((t) => t.name === 'bug:rev-init-not-revoked')!;
    const s = await bug.search(1, 2000, new Set(bug.rules.filter((r) => r !== 'REV-INIT')));
    const found = [...s.failures, ...s.findings].find((f) => f.violations.some((v) => v.rule === 'REV-INIT'));
    expect(found?.counterexample.route?.mapType).toBe('THRU_HOST_BRIDGE');
  });
});

describe('the header names the profiles that ran', () => {
  it('a run whose implementations have only v8 lists v8, and names the profiles asked for that nothing ran under', () => {
    const r = { profiles: ['v8', 'rfc', 'converter', 'mainline'] as const, implementations: [{ name: 'my-vfio', kind: 'exporter' as const, profiles: ['v8'] as const }] };
    expect(profilesLine(r)).toBe('profiles v8 (no implementation for rfc, converter, mainline)');
    expect(profilesLine({ ...r, implementations: [...r.implementations, { name: 'x', kind: 'exporter' as const, profiles: ['rfc', 'converter', 'mainline'] as const }] })).toBe('profiles v8, rfc, converter, mainline');
  });
});
