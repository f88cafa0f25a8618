// The command line as a whole (issue 15): every command's --help prints its
// usage and exits 0; --version and -V print package.json's version; the exit
// codes are 0, 1 and 2 only; profiles --diff of a profile with itself says so;
// explain's source is where its passage is quoted from; replay refuses a
// report its schema refuses (schemaVersion 99, an edited counterexample) in
// one line naming file and field, exit 2. All in-process.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main, version } from '../src/cli.ts';
import { quotesOf, ruleLines } from '../src/commands/explain.ts';
import { corpusCount } from '../src/commands/run.ts';
import { readingOrder } from '../src/report/text.ts';
import { HAVE_SEEDS, NEEDS_SEEDS, SEEDS } from './shared.ts';
import type { ViolationRecord } from '../src/report/types.ts';
import { reportJson } from '../src/report/index.ts';
import { PASSAGES } from '../src/rules/passages.ts';
import { RULES } from '../src/rules/registry.ts';
import { fixtureReport } from './report-fixtures.ts';
import { cliIn } from './cli-helpers.ts';
import { bundledPlugins } from '../src/harness/bundled.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cli = cliIn();

/** One line on stderr, no stack trace. */
const oneLine = (err: string) => err.endsWith('\n') && err.trim().split('\n').length === 1 && !/\n\s+at /.test(err);

describe('--help, --version', () => {
  it.each(['convert', 'explain', 'replay', 'profiles', 'rules', 'route', 'plugins'])('%s --help prints its usage on stdout and exits 0', async (name) => {
    for (const flag of ['--help', '-h']) {
      const r = await cli(name, flag);
      expect([r.code, r.err]).toEqual([0, '']);
      expect(r.out).toMatch(new RegExp(`^usage: dmabuf-conform ${name}\\b.*\\n$`));
    }
    const late = await cli(name, 'x', '--help');
    expect(late.code).toBe(0);
  });

  it('--version and -V print the version of package.json', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect(version()).toBe(pkg.version);
    for (const flag of ['--version', '-V']) expect(await cli(flag)).toEqual({ code: 0, out: `dmabuf-conform ${pkg.version}\n`, err: '' });
  });

  it('bare --help lists every command and the exit codes; no command is usage (exit 2)', async () => {
    const help = await cli('--help');
    expect(help.code).toBe(0);
    for (const c of ['run', 'replay', 'rules', 'explain', 'profiles', 'convert', 'route', 'plugins']) expect(help.out).toContain(`  ${c}`);
    expect(help.out).toContain('exit codes: 0 ok, 1 a new violation (or violations listed), 2 usage or bad input');
    expect((await cli()).code).toBe(2);
  });
});

describe('plugins: every name a selection can give', () => {
  it('lists the bundled ports and importers, and the kernel C units with their flags, saying they need --kernel-tree/--kernel-patch', async () => {
    const r = await cli('plugins');
    expect([r.code, r.err]).toEqual([0, '']);
    const lines = r.out.split('\n');
    const row = (name: string) => lines.find((l) => l.trim().split(/\s+/)[1] === name);
    expect(row('vfio-pci')).toMatch(/^ {2}exporter +vfio-pci +--exporter +v8 /);
    expect(row('iommufd')).toMatch(/^ {2}importer +iommufd +--importer /);
    expect(row('p2pdma')).toMatch(/^ {2}route +p2pdma +--plugin /);
    // The C units, each with the flag that selects it and the kernel file it is built from, under the line saying what they need.
    const c = lines.findIndex((l) => l.startsWith('kernel C units'));
    expect(lines[c]).toMatch(/need --kernel-tree DIR or --kernel-patch FILE/);
    expect(row('c:v8:vfio-pci')).toMatch(/^ {2}exporter +c:v8:vfio-pci +--exporter +drivers\/vfio\/pci\/vfio_pci_dmabuf\.c /);
    expect(row('c:v8:dma_buf_map')).toMatch(/^ {2}conversion +c:v8:dma_buf_map +--plugin +drivers\/dma-buf\/dma-buf\.c \(dma_buf_map, dma_buf_unmap\)$/);
    expect(row('c:mainline:dma_buf_phys_vec_to_sgt')).toMatch(/^ {2}conversion +c:mainline:dma_buf_phys_vec_to_sgt +--plugin +drivers\/dma-buf\/dma-buf-mapping\.c /);
    expect(row('c:p2pdma')).toMatch(/^ {2}route +c:p2pdma +--plugin +drivers\/pci\/p2pdma\.c /);
    for (const name of ['c:v8:vfio-pci', 'c:v8:dma_buf_map', 'c:p2pdma']) expect(lines.indexOf(row(name)!)).toBeGreaterThan(c);
    expect(r.out).not.toMatch(/bug:[a-z]/);
    expect(r.out).toMatch(/\nseeded bugs: \d+ .*`plugins --bugs` lists them\n$/);
  });

  it("each bundled port says what it is: no two share a description, and the RFC 12/26 review fix says what it changes and where it comes from", async () => {
    const r = await cli('plugins');
    const rowOf = (name: string) => r.out.split('\n').find((l) => l.trim().split(/\s+/)[1] === name)!;
    const descriptionOf = (name: string) => rowOf(name).replace(/^ {2}\S+ +\S+ +--\w+ +\S+ +/, '');
    expect(descriptionOf('vfio-pci:rfc-review-fix')).not.toBe(descriptionOf('vfio-pci:rfc'));
    // What the fix changes in vfio_pci_dma_buf_match_mapping() (RFC_REVIEW_FIX: posted false), and the seed it cites.
    expect(descriptionOf('vfio-pci:rfc-review-fix')).toMatch(/without dma_resv_assert_held\(\).*!priv->vdev check.*priv->pdev/);
    expect(descriptionOf('vfio-pci:rfc-review-fix')).toMatch(/RFC 12\/26 review, Baolu Lu and Jason Gunthorpe 2026-04-13, 004 thread/);
    const described = bundledPlugins().map((p) => [p.name, p.description] as const);
    const twice = described.filter(([, d], i) => described.findIndex(([, e]) => e === d) !== i);
    expect(twice).toEqual([]);
  });

  it.skipIf(!HAVE_SEEDS)(`the thread the RFC 12/26 review fix cites (004) lists that review ${NEEDS_SEEDS}`, () => {
    const seed = readFileSync(join(SEEDS, readdirSync(SEEDS).find((f) => f.startsWith('004_'))!), 'utf8');
    expect(seed).toMatch(/\[PATCH RFC 12\/26\] vfio\/pci: Change the DMA-buf exporter to use mapping_type[^\n]*\n2026-04-13 +8:29 +` Baolu Lu\n2026-04-13 13:01 +` Jason Gunthorpe/);
  });

  it('--bugs lists the seeded bugs, each with the rule it breaks', async () => {
    const r = await cli('plugins', '--bugs');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\n {2}conversion +bug:dma-unmap-bidirectional +--plugin +DMA-UNMAP\n/);
  });
});

describe('bad usage: one line, exit 2', () => {
  it.each([
    [['rules', 'extra'], /unexpected argument 'extra'/],
    [['plugins', 'extra'], /unexpected argument 'extra'/],
    [['plugins', '--bugs=yes'], /--bugs takes no value/],
    [['rules', '--frob'], /unknown option '--frob'/],
    [['profiles', '--diff', 'v8'], /--diff needs two profiles/],
    [['profiles', '--diff', 'v8', 'v9'], /--diff: unknown profile 'v9'/],
    [['profiles', 'v8'], /unexpected argument 'v8'/],
    [['profiles', '--diff=v8', 'rfc'], /--diff takes no value/],
    [['explain', 'REV-MAP', '--report='], /--report needs a value/],
    [['explain'], /usage: dmabuf-conform explain RULE/],
    [['explain', 'NOPE-X'], /unknown rule 'NOPE-X'/],
    [['explain', 'REV-MAP', '--report'], /--report needs a value/],
    [['explain', 'REV-MAP', 'REV-INIT'], /unexpected argument 'REV-INIT'/],
    [['replay'], /usage: dmabuf-conform replay/],
    [['replay', 'r.json', '--case'], /--case needs a value/],
    [['replay', 'r.json', '--case', '--exporter', 'x'], /--case needs a value/],
    [['replay', 'r.json', '--bogus'], /unknown option '--bogus'/],
    [['convert', 'a.json', 'b.json'], /usage: dmabuf-conform convert <case\.json>/],
    [['convert', '--frob', 'a.json'], /unknown option '--frob'/],
    [['frobnicate'], /unknown command 'frobnicate'/],
  ])('%j', async (argv, msg) => {
    const r = await cli(...argv);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(msg);
    expect(oneLine(r.err)).toBe(true);
  });
});

describe('profiles --diff', () => {
  it('a profile against itself says there are no differences, not two empty headings', async () => {
    const r = await cli('profiles', '--diff', 'rfc', 'rfc');
    expect(r).toEqual({ code: 0, out: 'rfc and rfc: no differences (same behaviours, same rules)\n', err: '' });
  });
});

describe('explain', () => {
  it("IOMMUFD-ONE says only what it is about (the exporter and the range count): a revoked dma-buf's map is REV-MAP's", async () => {
    const title = async (rule: string) => (await cli('explain', rule)).out.split('\n')[1]!;
    expect(await title('IOMMUFD-ONE')).not.toMatch(/revoked|-ENODEV/);
    expect(await title('IOMMUFD-ONE')).toMatch(/another exporter made -EOPNOTSUPP, nr_ranges ≠ 1 -EOPNOTSUPP/);
    expect(await title('REV-MAP')).toMatch(/private-interconnect map on a revoked dma-buf fail -ENODEV/);
  });

  it('the source line names where the passage shown is quoted from, for every rule', () => {
    for (const r of RULES) {
      const lines = ruleLines(r.id);
      const source = lines.find((l) => l.startsWith('source: '))!;
      const passage = PASSAGES[r.id];
      if (passage === undefined) {
        expect(source).toBe(`source: ${r.seed}`);
        continue;
      }
      expect(lines).toContain(`passage: ${passage}`);
      const quotes = quotesOf(passage);
      expect(quotes.length, r.id).toBeGreaterThan(0);
      for (const q of quotes) expect(source.startsWith(`source: ${q.from}`) || source.includes(`; ${q.from}`), `${r.id}: ${source} / ${q.from}`).toBe(true);
    }
  });

  it('REV-WINDOW quotes 003 and says its source is 003, and that the rule also rests on 002 v8 10/11', () => {
    expect(ruleLines('REV-WINDOW').slice(2)).toEqual([
      'source: 003 (the rule also rests on 002 v8 10/11)',
      `passage: ${PASSAGES['REV-WINDOW']}`,
    ]);
    expect(ruleLines('REV-INIT')[2]).toBe('source: 002 v8 10/11');
  });

  it('a corrupt report or corpus file is one line naming it, exit 2', async () => {
    writeFileSync(join(tmp, 'corrupt.json'), '{"schemaVersion": 1,');
    const r = await cli('explain', 'REV-MAP', '--report', join(tmp, 'corrupt.json'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/corrupt\.json: not JSON \(/);
    expect(oneLine(r.err)).toBe(true);
    const corpus = join(tmp, 'corpus');
    rmSync(corpus, { recursive: true, force: true });
    const { mkdirSync } = await import('node:fs');
    mkdirSync(corpus);
    writeFileSync(join(corpus, 'a.json'), JSON.stringify({ implementation: 'vfio-pci', rule: 42, input: {} }));
    const c = await cli('explain', 'REV-MAP', '--report', join(tmp, 'none.json'), '--corpus', corpus);
    expect([c.code, c.err]).toEqual([2, `dmabuf-conform explain: ${join(corpus, 'a.json')}: /rule: must be string, got 42\n`]);
  });
});

describe('replay refuses what its schema refuses', () => {
  const write = (name: string, edit: (r: any) => void): string => {
    const r = JSON.parse(reportJson(fixtureReport()));
    edit(r);
    const file = join(tmp, name);
    writeFileSync(file, JSON.stringify(r));
    return file;
  };

  it.each([
    ['v99.json', (r: any) => (r.schemaVersion = 99), '/schemaVersion: must be 1, got 99'],
    ['steps.json', (r: any) => (r.violations[1].counterexample.steps[2].index = 'two'), '/violations/1/counterexample/steps/2/index: must be integer, got "two"'],
    ['failing.json', (r: any) => (r.violations[1].counterexample.failingStep = 40), '/violations/1/counterexample/failingStep: 40 is past the last step (6 step(s))'],
    ['nocx.json', (r: any) => delete r.violations[0].counterexample, '/violations/0/counterexample: missing (required)'],
  ])('%s: one line naming file and field, exit 2', async (name, edit, error) => {
    const file = write(name, edit);
    const r = await cli('replay', file);
    expect([r.code, r.out, r.err]).toEqual([2, '', `dmabuf-conform replay: ${file}: ${error}\n`]);
  });

  it.each([
    ['untagged.json', (r: any) => (r.violations[1].counterexample.input = { commands: [] }), /^\/violations\/1\/counterexample\/input\/part: missing \(required\)$/],
    ['null.json', (r: any) => (r.violations[1].counterexample.input = { part: 'lifecycle', input: null }), /^\/violations\/1\/counterexample\/input\/input: must be object, got null$/],
    ['noinput.json', (r: any) => (r.violations[1].counterexample.input = { part: 'lifecycle' }), /^\/violations\/1\/counterexample\/input\/input: missing \(required\)$/],
    ['nocmds.json', (r: any) => (r.violations[1].counterexample.input = { part: 'lifecycle', input: { commands: 'garbage' } }), /^\/violations\/1\/counterexample\/input\/input\/cmds: missing \(required\)$/],
    ['badop.json', (r: any) => (r.violations[1].counterexample.input = { part: 'lifecycle', input: { cmds: [{ op: 'map' }] } }), /^\/violations\/1\/counterexample\/input\/input\/cmds\/0\/att: missing \(required\)$/],
    ['nosteps.json', (r: any) => (r.violations[1].counterexample.input = { part: 'lifecycle', input: { cmds: [] } }), /^\/violations\/1\/counterexample\/input: cannot be replayed \(it gives no step\)$/],
    ['topology.json', (r: any) => (r.violations[0].counterexample.input = { part: 'route', input: { ...r.violations[0].counterexample.input, topology: 7 } }), /^\/violations\/0\/counterexample\/input\/input\/topology: must be object, got 7$/],
    ['topology2.json', (r: any) => (r.violations[0].counterexample.input = { part: 'route', input: { ...r.violations[0].counterexample.input, topology: {} } }), /^\/violations\/0\/counterexample\/input: cannot be replayed \(/],
  ])('an edited counterexample (%s) is one line naming file and field, exit 2, never a JavaScript error', async (name, edit, error) => {
    const file = write(name, edit);
    const id = JSON.parse(readFileSync(file, 'utf8')).violations[name.startsWith('topology') ? 0 : 1].id;
    const r = await cli('replay', file, '--case', id);
    expect([r.code, r.out]).toEqual([2, '']);
    expect(oneLine(r.err)).toBe(true);
    expect(r.err.slice(`dmabuf-conform replay: ${file}: `.length).trim()).toMatch(error);
  });

  it('a file that is not a report, a missing file and broken JSON are one line each', async () => {
    const baseline = join(tmp, 'baseline.json');
    writeFileSync(baseline, '{"version": 1, "findings": []}');
    expect((await cli('replay', baseline)).err).toBe(`dmabuf-conform replay: ${baseline}: neither a dmabuf-conform report (it has no /schemaVersion) nor one case (no /implementation, /rule or /input)\n`);
    expect(await cli('replay', join(tmp, 'none.json'))).toEqual({ code: 2, out: '', err: `dmabuf-conform replay: ${join(tmp, 'none.json')}: no such file\n` });
    writeFileSync(join(tmp, 'half.json'), '{"schemaVersion": 1, "viol');
    const half = await cli('replay', join(tmp, 'half.json'));
    expect(half.code).toBe(2);
    expect(oneLine(half.err)).toBe(true);
  });
});

describe("run's closing lines", () => {
  const record = (rule: string, implementation: string, steps: number, failingStep: number) =>
    ({ id: `${implementation}/${rule}/0`, rule, implementation, known: false, counterexample: { steps: Array.from({ length: steps }, () => ({})), failingStep } }) as unknown as ViolationRecord;

  it('lists each implementation\'s new violations smallest case first, a kernel debug tool\'s rule first among equals', () => {
    // One bug (a reference dropped twice) broke REV-MAP, UAF-DYING and LOCK-ORDER: the 3-step UAF case first.
    const out = readingOrder([record('LOCK-ORDER', 'a', 5, 4), record('REV-MAP', 'a', 3, 2), record('REV-WINDOW', 'b', 2, 1), record('UAF-DYING', 'a', 3, 2), { ...record('UAF-OBJ', 'a', 1, 0), known: true }]);
    expect(out.filter((v) => !v.known).map((v) => `${v.implementation} ${v.rule}`)).toEqual(['a UAF-DYING', 'a REV-MAP', 'a LOCK-ORDER', 'b REV-WINDOW']);
    expect(out.map((v) => `${v.implementation} ${v.rule}`).at(-1)).toBe('a UAF-OBJ');
  });

  it('counts the corpus entries the run replays, and those of other implementations it leaves alone', () => {
    const entry = (implementation: string) => ({ implementation, rule: 'REV-MAP' as const, input: {}, file: `${implementation}.json` });
    expect(corpusCount([entry('a'), entry('b'), entry('c')], new Set(['a']))).toBe('1 entry for these implementations, 2 of others left alone');
    expect(corpusCount([], new Set(['a']))).toBe('0 entries for these implementations');
  });
});
