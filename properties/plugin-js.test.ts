// A plugin written as .js loads anywhere, as README says, whether it is an ES module or CommonJS, and
// imports (or requires) 'dmabuf-conform' as a .ts or .mjs plugin does. In a folder with no package.json
// Node takes a .js for CommonJS: an ES .js failed with "Cannot require() ES Module ... in a cycle", a
// CommonJS one with "Cannot find module 'dmabuf-conform'". Run through the CLI (the plugins load in the
// run's worker threads, through Node's own loaders, as a user's do).
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliIn } from './cli-helpers.ts';
import type { Report } from '../src/report/types.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-js-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const cli = cliIn();

const write = (file: string, text: string) => {
  const p = join(tmp, file);
  mkdirSync(join(p, '..'), { recursive: true });
  writeFileSync(p, text);
  return p;
};

describe('.js plugins, ES module or CommonJS, in a folder with no package.json', () => {
  it('each loads and runs: import or require of dmabuf-conform, an ES helper of its own, exports.default', async () => {
    // An ES .js importing a helper of its own, also .js.
    write('lib/rom.js', 'export const romToo = (r) => r <= 6;\n');
    const plugins = [
      write('esm.js', "import { vfioExporter } from 'dmabuf-conform';\nexport default vfioExporter('js-esm', 'an ES module .js');\n"),
      write('esm-helper.js', "import { vfioExporter } from 'dmabuf-conform';\nimport { romToo } from './lib/rom.js';\nexport default vfioExporter('js-esm-rom', 'accepts the ROM', { createOps: { region_index_valid: romToo } });\n"),
      write('cjs.js', "const { vfioExporter } = require('dmabuf-conform');\nmodule.exports = vfioExporter('js-cjs', 'a CommonJS .js');\n"),
      write('cjs-default.cjs', "const { vfioExporter } = require('dmabuf-conform');\nexports.default = vfioExporter('cjs-default', 'a .cjs with exports.default');\n"),
    ];
    const out = join(tmp, 'out');
    const r = await cli('run', ...plugins.flatMap((p) => ['--exporter', p]), '--out', out, '--runs', '10', '--profile', 'v8');
    expect(r.err).not.toMatch(/failed to load|Cannot/);
    expect(r.code).toBe(1); // the ROM variant's PAL-INPUT is new
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(report.implementations.map((i) => i.name)).toEqual(['js-esm', 'js-esm-rom', 'js-cjs', 'cjs-default']);
    expect(report.violations.filter((v) => !v.known).map((v) => `${v.implementation} ${v.rule}`)).toEqual(['js-esm-rom PAL-INPUT']);
  });

  it('a .js that is neither loads as one line naming the file, exit 2', async () => {
    const bad = write('bad.js', "const { vfioExporter } = require('dmabuf-conform');\nexport default vfioExporter('x', 'y');\n");
    const r = await cli('run', '--exporter', bad, '--out', join(tmp, 'out-bad'), '--runs', '5');
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toBe(`dmabuf-conform run: --exporter ${bad}: the plugin failed to load: it uses require() in an ES module (import/export): write a .js plugin as one or the other (README, "Testing your own implementation")\n`);
  });
});
