// The runner's command line (issue 7, 15): bad usage and bad input are one
// line and exit 2 before any work; rules, --help, progress. Whole runs
// (findings, baseline, replay, plugins by path, explain) are test/e2e/cli-run.test.ts.
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cliIn } from './cli-helpers.ts';
import { HAVE_SEEDS, NEEDS_SEEDS, SEEDS } from './shared.ts';
import { besideOut, parseRunArgs, progressPrinter, shellWord } from '../src/commands/run.ts';
import { replayAt } from '../src/commands/merge-reports.ts';
import { UsageError } from '../src/commands/usage.ts';
import { loadPlugin } from '../src/harness/load.ts';
import type { Progress } from '../src/harness/runner.ts';
import { PASSAGES } from '../src/rules/passages.ts';
import { RULES } from '../src/rules/registry.ts';
import { PROFILES } from '../models/profiles.ts';
import { emptySelection } from '../src/commands/run.ts';
import { infoOf } from '../src/harness/runner.ts';
import { allTargets } from '../src/harness/targets.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-runner-'));
const cli = cliIn();
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

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
    [['--out', resolve('package.json')], /--out .*package.json: exists and is not a directory/],
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
    writeFileSync(join(dir, 'corpus', 'x.json'), JSON.stringify({ implementation: 'vfio-pci', rule: 'REV-MAP', input: { part: 'route', input: { topology: {}, pairs: [], offsets: [] } } }));
    const r = await cli('run', '--exporter', 'vfio-pci', '--out', join(dir, 'latest'), '--quiet');
    expect(r.code).toBe(2);
    expect(r.err).toBe(`dmabuf-conform run: ${join(dir, 'corpus', 'x.json')}: /input: cannot be replayed (no part 'route' in vfio-pci (parts: lifecycle, export))\n`);
    expect(existsSync(join(dir, 'latest'))).toBe(false);
  });

  it('a plugin module of the wrong shape, or one that fails to load, is named in one line', async () => {
    const shapes: [string, string, RegExp][] = [
      ['not-object.mjs', 'export default 42;', /default export is not a plugin object/],
      ['no-kind.mjs', "export default { name: 'x', profiles: ['v8'] };", /plugin.kind must be one of exporter, importer, route, pal, conversion, match, converter/],
      ['no-description.mjs', "export default { kind: 'exporter', name: 'x', profiles: ['v8'], probe() {} };", /plugin.description must say what the plugin is/],
      ['no-probe.mjs', "export default { kind: 'exporter', name: 'x', description: 'd', profiles: ['v8'] };", /an exporter plugin needs probe\(kernel, device\)/],
      ['no-limit.mjs', "export default { kind: 'conversion', name: 'x', description: 'd', profiles: ['v8'], map() {}, unmap() {} };", /a conversion plugin needs limit/],
      ['bad-profile.mjs', "export default { kind: 'exporter', name: 'x', description: 'd', profiles: ['v7'], probe() {} };", /plugin.profiles must list profiles/],
      ['importer.mjs', "export default { kind: 'importer', name: 'x', description: 'd', importer: 'dma', profiles: ['v8'], attach() {} };", /the plugin is an importer/],
      ['throws.mjs', "throw new Error('boom at load');", /the plugin failed to load: boom at load/],
      ['syntax.ts', "export default {\n  kind: 'exporter', name: 'x' +\n", /the plugin failed to load: .*syntax\.ts:3:0: ERROR: Unexpected end of file/],
      ['number.ts', 'export default 42;', /default export is not a plugin object/],
    ];
    // The loader's one-line errors, in-process (the CLI prints a UsageError as one line, exit 2: checked
    // below end to end for a .ts syntax error through tsx in the worker; every other load error takes
    // the worker's one bad-input path, as --exporter no-such-exporter above).
    for (const [file, text, msg] of shapes) {
      writeFileSync(join(tmp, file), text);
      const e = await loadPlugin(join(tmp, file), '--exporter', 'exporter').then(() => undefined, (x: unknown) => x);
      expect(e).toBeInstanceOf(UsageError);
      expect((e as Error).message.split('\n')).toHaveLength(1);
      if (file !== 'syntax.ts') expect((e as Error).message).toMatch(msg);
    }
    for (const [file, , msg] of shapes.filter(([f]) => f === 'syntax.ts')) {
      const r = await cli('run', '--exporter', join(tmp, file));
      expect([r.code, r.err.trim().split('\n').length]).toEqual([2, 1]);
      expect(r.err).toMatch(msg);
    }
  });

  // In-process, as run's worker does them (the CLI's one line and exit 2 for both paths: nvgrace-gpu
  // --profile rfc and --exporter no-such-exporter above; each CLI case starts a worker, ~1 s of CPU).
  it('--rules that no given plugin checks is nothing to check; a bundled plugin given as the wrong kind is one line', async () => {
    const p2pdma = await loadPlugin('p2pdma', '--plugin');
    expect(emptySelection(allTargets([p2pdma]).map(infoOf), [...PROFILES], new Set(['REV-MAP']))).toMatch(/^no rule of --rules REV-MAP is checked on p2pdma \(they check ROUTE-/);
    const e = await loadPlugin('vfio-pci', '--importer', 'importer').then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toBe('--importer vfio-pci: that bundled plugin is an exporter');
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

describe('rules and explain', () => {
  it('rules lists the whole catalog', async () => {
    const r = await cli('rules');
    expect(r.out.trim().split('\n').map((l) => l.split(/\s+/)[0])).toEqual(RULES.map((x) => x.id));
    expect((await cli('rules', 'extra')).code).toBe(2);
  });

  const seedsDir = SEEDS;
  it.skipIf(!HAVE_SEEDS)(`every passage quotes the seeds verbatim (ROUTE-DIST quotes drivers/pci/p2pdma.c) ${NEEDS_SEEDS}`, () => {
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
    expect(tty.text).toBe('\r\x1b[K[1/2] vfio-pci (v8) — 400 runs so far, 1 violation(s): 1 known, 0 new\r\x1b[K[2/2] vfio-pci (v8) — 400 runs so far, 1 violation(s): 1 known, 0 new\n');
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

describe('the replay command a run prints', () => {
  it('is npx dmabuf-conform where npx finds the tool, else the bin by its path', async () => {
    const { selfCommand } = await import('../src/commands/run.ts');
    expect(selfCommand('/w/proj/node_modules/dmabuf-conform/bin/dmabuf-conform.mjs', '/w/proj')).toBe('npx dmabuf-conform');
    expect(selfCommand('/w/tool/bin/dmabuf-conform.mjs', '/w/tool')).toBe('npx dmabuf-conform');
    expect(selfCommand('/w/tool/bin/dmabuf-conform.mjs', '/w/mydriver')).toBe('/w/tool/bin/dmabuf-conform.mjs');
    expect(selfCommand(undefined, '/w')).toBe('npx dmabuf-conform');
  });
});

describe('--out is a directory, whatever else is on the line', () => {
  it('after --kernel-patch FILE... it is the reports folder, not a patch; the corpus goes beside it, also for . and x/.', () => {
    const a = parseRunArgs(['--kernel-patch', 'a.patch', 'b.patch', '--out', 'mine', 'c.patch']);
    expect([a.out, a.kernelPatches, a.corpus]).toEqual(['mine', ['a.patch', 'b.patch', 'c.patch'], 'corpus']);
    expect(parseRunArgs([]).corpus).toBe(join('reports', 'corpus'));
    expect(parseRunArgs(['--out', 'reports/latest/']).corpus).toBe(join('reports', 'corpus'));
    expect(besideOut('.')).toBe(join('..', 'corpus'));
    expect(besideOut('mine/.')).toBe('corpus');
    expect(besideOut('/srv/ci/latest')).toBe('/srv/ci/corpus');
  });

  it("the replay command names --out's report as one shell word, and merge-reports points it at its own --out however the tool was called", () => {
    expect(shellWord('reports/latest/report.json')).toBe('reports/latest/report.json');
    expect(shellWord('my out/report.json')).toBe("'my out/report.json'");
    expect(shellWord("it's/report.json")).toBe("'it'\\''s/report.json'");
    expect(replayAt("npx dmabuf-conform replay shard-1/report.json --case 'x/REV-MAP/0' --exporter ./a.ts", 'reports/latest')).toBe("npx dmabuf-conform replay reports/latest/report.json --case 'x/REV-MAP/0' --exporter ./a.ts");
    // run by the bin's path (selfCommand), from a folder with a space: the merged --out replaced all the same.
    expect(replayAt("/w/tool/bin/dmabuf-conform.mjs replay 'my shards/1/report.json' --case 'x/REV-MAP/0'", 'my merged')).toBe("/w/tool/bin/dmabuf-conform.mjs replay 'my merged/report.json' --case 'x/REV-MAP/0'");
  });

  it.each([
    [['--kernel-patch', join(tmp, 'none.patch'), '--out', resolve('package.json')], /--out .*package\.json: exists and is not a directory$/],
    [['--kernel-tree', 'test/fixtures/kernel-tree', '--out', join(resolve('package.json'), 'latest')], /--out .*package\.json is a file, not a directory$/],
  ])('a file given as --out is refused before any kernel C is read or built: %j', async (args, msg) => {
    const r = await cli('run', ...args);
    expect([r.code, r.out]).toEqual([2, '']);
    expect(r.err.trim()).toMatch(msg);
    expect(r.err.trim().split('\n')).toHaveLength(1);
  });
});

describe('--kernel-tree / --kernel-patch: what is wrong, precisely', () => {
  const notTree = join(tmp, 'not-a-tree');
  mkdirSync(notTree, { recursive: true });
  it.each([
    [['--kernel-tree', 'README.md'], /^kernel tree README\.md: is a file, not a directory \(give the top of a kernel source tree\)$/],
    [['--kernel-tree', join(tmp, 'no-tree')], /^kernel tree .*no-tree: no such directory$/],
    [['--kernel-tree', notTree], /^kernel tree .*not-a-tree: not a kernel tree: it has none of drivers\/dma-buf\/dma-buf-mapping\.c, drivers\/dma-buf\/dma-buf\.c, drivers\/vfio\/pci\/vfio_pci_dmabuf\.c, drivers\/pci\/p2pdma\.c$/],
    [['--kernel-patch', tmp], /^patch .*: is a directory, not a patch or mbox file \(a source tree is --kernel-tree\)$/],
    [['--kernel-patch', join(tmp, 'none.patch')], /^patch .*none\.patch: no such file$/],
  ])('run %j: one line, exit 2, nothing written', async (args, msg) => {
    const out = join(tmp, 'kc-out');
    const r = await cli('run', '--plugin', 'p2pdma', '--quiet', '--out', out, ...args);
    expect([r.code, r.out]).toEqual([2, '']);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err.trim().replace(/^dmabuf-conform run: /, '')).toMatch(msg);
    expect(existsSync(out)).toBe(false);
  });
});
