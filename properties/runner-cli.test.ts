// The runner's command line (issue 7): run options and exit codes (0 all
// known, 1 a new violation, 2 bad usage in one line), plugins by path and by
// name, baseline and --write-baseline, replay, rules, explain, progress.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../src/cli.ts';
import { progressPrinter } from '../src/commands/run.ts';
import type { Progress } from '../src/harness/runner.ts';
import type { Report } from '../src/report/types.ts';
import { PASSAGES } from '../src/rules/passages.ts';
import { RULES } from '../src/rules/registry.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-runner-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Run the CLI in-process; what it printed and its exit code. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await main(argv), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const emptyBaseline = join(tmp, 'empty.json');
writeFileSync(emptyBaseline, '{"version": 1, "findings": []}\n');
// Issue 15 item 7: a baseline entry with a numeric fingerprint, a schema-invalid and a corrupt corpus entry.
const numericFingerprint = join(tmp, 'numeric.json');
writeFileSync(numericFingerprint, JSON.stringify({ version: 1, findings: [{ fingerprint: 3, implementation: 'vfio-pci', rule: 'REV-MAP', why: 'x' }] }));
const badCorpus = join(tmp, 'bad-corpus');
mkdirSync(badCorpus);
writeFileSync(join(badCorpus, 'a.json'), JSON.stringify({ implementation: 'vfio-pci', rule: 42, input: {} }));
const corruptCorpus = join(tmp, 'corrupt-corpus');
mkdirSync(corruptCorpus);
writeFileSync(join(corruptCorpus, 'z.json'), '{"implementation": ');

describe('run: bad usage is one line and exit 2', () => {
  it.each([
    [['--frobnicate'], /unknown option '--frobnicate'/],
    [['--runs'], /--runs needs a value/],
    [['--runs', 'many'], /--runs: expected an integer from 1 to \d+, got 'many'/],
    [['--seed', '99999999999999999999999'], /--seed: expected an integer from 0 to 2147483647/],
    [['--seed', '-1'], /--seed needs a value|--seed: expected/],
    [['--time', 'soon'], /--time: expected a duration like 30s/],
    [['--profile', 'v9'], /--profile: unknown profile 'v9'/],
    [['--rules', 'REV-MAP,NOPE-1'], /--rules: unknown rule 'NOPE-1'/],
    [['--baseline', join(tmp, 'missing.json')], /no such file/],
    [['--baseline', join(tmp)], /is a directory, not a baseline file/],
    [['--baseline', numericFingerprint], /numeric\.json: \/findings\/0\/fingerprint: must be string, got 3\n$/],
    [['--write-baseline', numericFingerprint], /numeric\.json: \/findings\/0\/fingerprint: must be string, got 3\n$/],
    [['--corpus', resolve('package.json')], /--corpus .*package\.json: exists and is not a directory/],
    [['--corpus', '/proc/x'], /--corpus \/proc\/x: /],
    [['--corpus', badCorpus], /bad-corpus\/a\.json: \/rule: must be string, got 42\n$/],
    [['--corpus', corruptCorpus], /corrupt-corpus\/z\.json: not JSON \(/],
    [['--exporter', 'no-such-exporter'], /no such file, and no bundled plugin of that name \(bundled: vfio-pci, nvgrace-gpu, .*and the bug:\* seeded bugs\)/],
    [['--out', '/proc/x'], /--out \/proc\/x: /],
    [['--out', join(resolve('package.json'), 'x')], /package.json is a file, not a directory/],
    [['--write-baseline', join(tmp, 'no-dir', 'b.json')], /--write-baseline .*: no such directory/],
    [['--exporter', 'nvgrace-gpu', '--profile', 'rfc'], /nothing to check: none of nvgrace-gpu follows --profile rfc/],
    [['--plugin', 'p2pdma', '--rules', 'REV-MAP'], /nothing to check: no rule of --rules REV-MAP is checked on p2pdma/],
    [['--out', resolve('package.json')], /--out .*package.json: exists and is not a directory/],
    [['--importer', 'vfio-pci'], /that bundled plugin is an exporter/],
    [['extra'], /unexpected argument 'extra'/],
  ])('run %j', async (args, msg) => {
    const r = await cli('run', ...args);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(msg);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('a corpus entry whose input no longer replays is one line naming the file, exit 2, before any search and with no report written', async () => {
    const dir = join(tmp, 'stale');
    mkdirSync(join(dir, 'corpus'), { recursive: true });
    writeFileSync(join(dir, 'corpus', 'x.json'), JSON.stringify({ implementation: 'vfio-pci', rule: 'REV-MAP', input: { part: 'gone', input: {} } }));
    const r = await cli('run', '--exporter', 'vfio-pci', '--out', join(dir, 'latest'), '--quiet');
    expect(r.code).toBe(2);
    expect(r.err).toBe(`dmabuf-conform run: ${join(dir, 'corpus', 'x.json')}: /input: cannot be replayed (no part 'gone' in vfio-pci (parts: lifecycle, export))\n`);
    expect(existsSync(join(dir, 'latest'))).toBe(false);
  });

  it('a plugin module of the wrong shape, or one that fails to load, is named in one line', async () => {
    const shapes: [string, string, RegExp][] = [
      ['not-object.mjs', 'export default 42;', /default export is not a plugin object/],
      ['no-kind.mjs', "export default { name: 'x', profiles: ['v8'] };", /plugin.kind must be one of exporter, importer, route, pal, conversion, match, converter/],
      ['no-probe.mjs', "export default { kind: 'exporter', name: 'x', profiles: ['v8'] };", /an exporter plugin needs probe\(kernel, device\)/],
      ['no-limit.mjs', "export default { kind: 'conversion', name: 'x', profiles: ['v8'], map() {}, unmap() {} };", /a conversion plugin needs limit/],
      ['bad-profile.mjs', "export default { kind: 'exporter', name: 'x', profiles: ['v7'], probe() {} };", /plugin.profiles must list profiles/],
      ['importer.mjs', "export default { kind: 'importer', name: 'x', importer: 'dma', profiles: ['v8'], attach() {} };", /the plugin is an importer/],
      ['throws.mjs', "throw new Error('boom at load');", /the plugin failed to load: boom at load/],
      ['syntax.ts', "export default {\n  kind: 'exporter', name: 'x' +\n", /the plugin failed to load: .*syntax\.ts:3:0: ERROR: Unexpected end of file/],
      ['number.ts', 'export default 42;', /default export is not a plugin object/],
    ];
    for (const [file, text, msg] of shapes) {
      writeFileSync(join(tmp, file), text);
      const r = await cli('run', '--exporter', join(tmp, file));
      expect([r.code, r.err.trim().split('\n').length]).toEqual([2, 1]);
      expect(r.err).toMatch(msg);
    }
  });

  it('run --help prints the options and exits 0', async () => {
    const r = await cli('run', '--help');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^usage: dmabuf-conform run \[--profile P,\.\.\.\].*\[--plugin PATH\|name\]\.\.\..*\[--bail\] \[--quiet\]/);
  });

  it('unknown commands and bare --help', async () => {
    expect((await cli('frob')).code).toBe(2);
    const help = await cli('--help');
    expect(help.code).toBe(0);
    for (const c of ['run', 'replay', 'rules', 'explain']) expect(help.out).toContain(`  ${c}`);
  });
});

describe('run: findings, baseline and exit codes', () => {
  const out = join(tmp, 'bug', 'latest');
  const base = ['--exporter', 'bug:rev-init-not-revoked', '--runs', '40', '--out', out];

  it('a new violation exits 1 and prints its replay command; --write-baseline accepts it; the next run exits 0', async () => {
    const first = await cli('run', ...base, '--baseline', emptyBaseline, '--write-baseline', join(tmp, 'b.json'));
    expect(first.code).toBe(1);
    expect(first.out).toMatch(/NEW REV-INIT bug:rev-init-not-revoked/);
    expect(first.out).toMatch(/replay: npx dmabuf-conform replay .*report\.json --case 'bug:rev-init-not-revoked\/REV-INIT\/0' --exporter bug:rev-init-not-revoked/);
    const again = await cli('run', ...base, '--baseline', join(tmp, 'b.json'));
    expect(again.code).toBe(0);
    expect(again.out).toMatch(/\d+ known finding\(s\) .*, 0 new/);
    expect(existsSync(join(tmp, 'bug', 'corpus'))).toBe(true);
    // Issue 15 item 2: the corpus is dirname(--out)/corpus unless --corpus says otherwise, and the report says which it used.
    expect(again.err).toContain(`corpus ${join(tmp, 'bug', 'corpus')} (`);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(rep.corpus?.path).toBe(join(tmp, 'bug', 'corpus'));
    expect(rep.corpus?.replayed).toBe(readdirSync(join(tmp, 'bug', 'corpus')).length);
    expect(rep.corpus?.replayed).toBeGreaterThan(0);
  });

  it('a seeded bug given by name is checked as a user plugin is: the shipped baseline knows only the faithful ports, so it is new', async () => {
    expect((await cli('run', ...base, '--quiet')).code).toBe(1);
  });

  it('replay re-runs one case step by step and says whether the rule broke again', async () => {
    const file = join(out, 'report.json');
    const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
    const id = report.violations[0]!.id;
    const r = await cli('replay', file, '--case', id, '--exporter', 'bug:rev-init-not-revoked');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/>\s+\d+\. create\(dev\d, .*\)\s+ok\s+ok\s+<- REV-INIT/);
    expect(r.out).toMatch(/reproduced REV-INIT/);
    expect((await cli('replay', file, '--case', 'nope')).err).toMatch(/no case 'nope'/);
    expect((await cli('replay', file)).code).toBe(0);
    expect((await cli('replay', join(tmp, 'none.json'))).code).toBe(2);
    expect((await cli('replay', emptyBaseline)).err).toMatch(/not a dmabuf-conform report/);
  });

  it('--quiet prints nothing; --rules limits the checks; --bail stops at the first new violation', async () => {
    const q = await cli('run', ...base, '--quiet', '--baseline', emptyBaseline);
    expect([q.code, q.out, q.err]).toEqual([1, '', '']);
    const limited = await cli('run', ...base, '--quiet', '--baseline', emptyBaseline, '--rules', 'LOCK-ORDER');
    expect(limited.code).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(rep.results.filter((r) => r.status !== 'not-applicable').map((r) => r.rule)).toEqual(['LOCK-ORDER']);
    await cli('run', ...base, '--quiet');
    const other = join(tmp, 'other', 'latest');
    // Two targets run at once; once a new violation shows, no further target starts.
    const later = ['vfio_pci_core_feature_dma_buf', 'mainline:dma_buf_phys_vec_to_sgt', 'rfc:dma_buf_match_mapping'];
    const bail = await cli('run', '--exporter', 'bug:rev-init-not-revoked', '--plugin', 'p2pdma', ...later.flatMap((p) => ['--plugin', p]), '--runs', '20', '--out', other, '--quiet', '--bail', '--baseline', emptyBaseline);
    expect(bail.code).toBe(1);
    const bailed = JSON.parse(readFileSync(join(other, 'report.json'), 'utf8')) as Report;
    expect(later.some((name) => bailed.results.filter((r) => r.implementation === name).every((r) => r.runs === 0))).toBe(true);
  });

  it('--time D ends within D + 10 % (the searches get the deadline) and names the targets it cut short; --exhaustive K explores every state within K commands', async () => {
    const out = join(tmp, 'other', 'latest');
    let started = 0;
    const header = vi.fn();
    const err = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((/^dmabuf-conform run: seed/.test(String(s)) && (started = performance.now(), header())), true));
    const o = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    let code: number;
    try {
      code = await main(['run', '--time', '3s', '--out', out]);
    } finally {
      err.mockRestore();
      o.mockRestore();
    }
    // From the line printed once the workers are up to the reports written.
    const took = performance.now() - started;
    expect(header).toHaveBeenCalledOnce();
    expect(code).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(rep.budget.timeMs).toBe(3000);
    expect(rep.timings.totalMs).toBeLessThanOrEqual(3300);
    expect(took).toBeLessThanOrEqual(3300);
    // 12 targets in 3 s on two lanes: each gets about half a second of its first round, less than 400 runs' worth for the lifecycle ones.
    expect(rep.budget.cutShort).toContain('vfio-pci');
    expect(rep.implementations.map((i) => i.name)).toEqual(expect.arrayContaining([...rep.budget.cutShort!]));
    const e = await cli('run', '--exporter', 'vfio-pci', '--runs', '5', '--exhaustive', '2', '--out', out);
    expect(e.code).toBe(0);
    expect(e.err).toMatch(/exhaustive vfio-pci k=2: \d+ states/);
  });
});

describe('a third-party plugin by path', () => {
  it('a .ts plugin outside the repository (no package.json of its own) loads, and the shipped baseline is found from any directory', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmabuf-plugin-'));
    const text = readFileSync('examples/plugins/gpu-exporter.ts', 'utf8').replaceAll("'../../", `'${resolve('.')}/`);
    writeFileSync(join(dir, 'gpu.ts'), text);
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const r = await cli('run', '--exporter', 'gpu.ts', '--out', 'out');
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/3 known finding\(s\) \(.*reports\/baseline\.json\), 0 new/);
    } finally {
      process.chdir(cwd);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the faithful importers checked against vfio-pci inherit its documented findings', async () => {
    const r = await cli('run', '--importer', 'iommufd', '--out', join(tmp, 'imp'));
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/\d+ known finding\(s\) .*, 0 new/);
  });

  it('examples/plugins/gpu-exporter.ts loads through tsx, runs under each profile it declares, and shows only the findings of the exporter it is based on', async () => {
    const out = join(tmp, 'gpu', 'latest');
    const r = await cli('run', '--exporter', resolve('examples/plugins/gpu-exporter.ts'), '--out', out);
    expect(r.code).toBe(0);
    const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(rep.implementations).toEqual([
      { name: 'example-gpu', kind: 'exporter', profiles: ['v8'] },
      { name: 'example-gpu:rfc', kind: 'exporter', profiles: ['rfc'] },
      { name: 'example-gpu:converter', kind: 'exporter', profiles: ['converter'] },
    ]);
    // The default budget meets the documented findings of vfio-pci (REV-IMPORTER, L2) and of its
    // RFC match half (LOCK-RESV, M2); the shipped baseline knows them under the names they were documented for.
    expect(rep.violations.map((v) => [v.implementation, v.rule, v.known])).toEqual([
      ['example-gpu', 'REV-IMPORTER', true], ['example-gpu:rfc', 'LOCK-RESV', true], ['example-gpu:converter', 'LOCK-RESV', true],
    ]);
    expect(readdirSync(out).sort()).toEqual(['junit.xml', 'report.html', 'report.json', 'report.tap', 'summary.md']);
  });
});

describe('rules and explain', () => {
  it('rules lists the whole catalog', async () => {
    const r = await cli('rules');
    expect(r.out.trim().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(RULES.map((x) => x.id));
    expect((await cli('rules', 'extra')).code).toBe(2);
  });

  it('explain prints the rule, its seed passage and the smallest known violation from a report or the corpus', async () => {
    const report = join(tmp, 'bug', 'latest', 'report.json');
    const r = await cli('explain', 'REV-INIT', '--report', report);
    expect(r.out).toContain(PASSAGES['REV-INIT']);
    expect(r.out).toMatch(/smallest known violation \(bug:rev-init-not-revoked, from .*report\.json\)/);
    const c = await cli('explain', 'REV-INIT', '--report', join(tmp, 'none.json'), '--corpus', join(tmp, 'bug', 'corpus'));
    expect(c.out).toMatch(/smallest known violation \(bug:rev-init-not-revoked, from .*corpus/);
    const none = await cli('explain', 'MATCH-LEGACY', '--report', join(tmp, 'none.json'), '--corpus', join(tmp, 'none'));
    expect(none.out).toMatch(/no known violation of MATCH-LEGACY/);
    expect((await cli('explain', 'NOPE')).code).toBe(2);
    expect((await cli('explain')).code).toBe(2);
  });

  const seedsDir = '../shared/seeds';
  it.skipIf(!existsSync(seedsDir))('every passage quotes the seeds verbatim (ROUTE-DIST quotes drivers/pci/p2pdma.c)', () => {
    const norm = (s: string) => s.replace(/\s+/g, ' ').trim();
    const seeds = readdirSync(seedsDir).map((f) => norm(readFileSync(join(seedsDir, f), 'utf8').replace(/^[>+\- \t]*(\*|\/\/)?/gm, ' ')));
    const missing = Object.entries(PASSAGES).filter(([id]) => id !== 'ROUTE-DIST').flatMap(([id, p = '']) => {
      const quotes = [...p.matchAll(/"((?:[^"\\]|\\.)*)"/g)].flatMap((m) => m[1]!.replace(/\\"/g, '"').split('...').map(norm).filter(Boolean));
      return quotes.length === 0 ? [`${id}: no quote`] : quotes.filter((q) => !seeds.some((s) => s.includes(q))).map((q) => `${id}: ${q}`);
    });
    expect(missing).toEqual([]);
  });
});

describe('progress', () => {
  const p: Progress = { target: 'vfio-pci', profile: 'v8', done: 1, total: 2, runs: 400, violations: 1, newOnes: 0 };
  it('one live line on a terminal, plain periodic lines otherwise, nothing when quiet', () => {
    const tty = { isTTY: true, text: '', write(s: string) { this.text += s; } };
    const show = progressPrinter(false, tty);
    show(p);
    show({ ...p, done: 2 });
    expect(tty.text).toBe('\r\x1b[K[1/2] vfio-pci (v8) — 400 runs, 1 violation(s), 0 new\r\x1b[K[2/2] vfio-pci (v8) — 400 runs, 1 violation(s), 0 new\n');
    const pipe = { isTTY: false, text: '', write(s: string) { this.text += s; } };
    const plain = progressPrinter(false, pipe, 60_000);
    plain(p);
    plain(p);
    plain({ ...p, done: 2 });
    expect(pipe.text.split('\n').filter(Boolean)).toHaveLength(2);
    const quiet = { text: '', write(s: string) { this.text += s; } };
    progressPrinter(true, quiet)(p);
    expect(quiet.text).toBe('');
  });
});
