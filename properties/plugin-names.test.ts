// Two plugins that give one implementation name are refused, naming both (exit 2): the runner files
// violations, the corpus and replay under the implementation's name, so two files whose plugins share a
// `name` (or a file's plugin named as a bundled one) were merged into one implementation, and the replay
// command a run printed loaded the first file only ("did NOT reproduce").
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliIn } from './cli-helpers.ts';
import { UsageError } from '../src/commands/usage.ts';
import { loadPlugin } from '../src/harness/load.ts';
import { allTargets } from '../src/harness/targets.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-names-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const cli = cliIn();

const plugin = (file: string, name: string, what: string, profiles = "['v8']") => {
  writeFileSync(join(tmp, file), `import { MAINLINE_PORT, vfioExporter } from 'dmabuf-conform';\nexport default vfioExporter('${name}', '${what}'${profiles === "['mainline']" ? ", { port: { ...MAINLINE_PORT, closeOrder: 'disable-first' }, profiles: ['mainline'] }" : ''});\n`);
  return join(tmp, file);
};
const refusal = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e;
  }
  return undefined;
};

describe('two plugins, one implementation name', () => {
  it('two files whose plugins share a name are refused, naming both files', async () => {
    const a = await loadPlugin(plugin('acme.ts', 'acme', 'the good one'), '--exporter', 'exporter');
    const b = await loadPlugin(plugin('acme-bug.ts', 'acme', 'the buggy one'), '--exporter', 'exporter');
    const e = refusal(() => allTargets([a, b]));
    expect(e).toBeInstanceOf(UsageError);
    expect((e as Error).message).toBe(`two plugins give the implementation 'acme': --exporter ${join(tmp, 'acme.ts')} and --exporter ${join(tmp, 'acme-bug.ts')}; give each plugin its own name (its plugin.name)`);
  });

  it("a file's plugin named as a bundled one is refused beside it; the same plugin given twice is one implementation", async () => {
    const mine = await loadPlugin(plugin('mine.ts', 'vfio-pci', 'same name as bundled'), '--exporter', 'exporter');
    const bundled = await loadPlugin('vfio-pci', '--exporter', 'exporter');
    const e = refusal(() => allTargets([mine, bundled]));
    expect((e as Error).message).toMatch(new RegExp(`^two plugins give the implementation 'vfio-pci': --exporter ${join(tmp, 'mine.ts')} and --exporter vfio-pci \\(bundled\\);`));
    const twice = await loadPlugin(join(tmp, 'mine.ts'), '--exporter', 'exporter');
    expect(twice).toBe(mine);
    const once = allTargets([mine, twice]);
    expect(once.map((t) => t.name)).toEqual(['vfio-pci']);
    expect(once[0]!.part).toBe(allTargets([mine])[0]!.part);
  });

  it('run and replay say so in one line, exit 2', async () => {
    const a = plugin('m1.ts', 'my-mainline', 'disable first', "['mainline']");
    const b = plugin('m2.ts', 'my-mainline', 'disable first, again', "['mainline']");
    const r = await cli('run', '--exporter', a, '--exporter', b, '--out', join(tmp, 'out'), '--runs', '5');
    expect([r.code, r.err.trim().split('\n')]).toEqual([2, [`dmabuf-conform run: two plugins give the implementation 'my-mainline': --exporter ${a} and --exporter ${b}; give each plugin its own name (its plugin.name)`]]);
    const p = await cli('replay', 'examples/findings/D1-first-drain-close-double-put.json', '--exporter', a, '--exporter', b);
    expect(p.code).toBe(2);
    expect(p.err.trim().split('\n')).toHaveLength(1);
    expect(p.err).toContain(`two plugins give the implementation 'my-mainline': --exporter ${a} and --exporter ${b}`);
  });
});
