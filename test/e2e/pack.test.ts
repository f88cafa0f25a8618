// The package as a user gets it: `npm pack`, the tarball installed into an
// empty folder, a plugin there that imports 'dmabuf-conform' (and nothing
// from this checkout), run through the installed CLI: a clean copy exits 0,
// a one-line bug exits 1 naming its rule.
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const dir = mkdtempSync(join(tmpdir(), 'dmabuf-pack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm pack, installed into an empty folder', () => {
  it('installs, and runs a plugin that imports dmabuf-conform: a clean copy passes, a one-line bug is found', () => {
    execFileSync('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: resolve('.'), stdio: ['ignore', 'pipe', 'inherit'] });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'))!;
    writeFileSync(join(dir, 'package.json'), '{ "name": "my-driver-tests", "private": true, "type": "module" }\n');
    execFileSync('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent', join(dir, tarball)], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    writeFileSync(join(dir, 'clean.ts'), "import { vfioExporter } from 'dmabuf-conform';\nexport default vfioExporter('my-clean', 'a copy of vfio-pci');\n");
    writeFileSync(join(dir, 'rom.ts'), "import { vfioExporter } from 'dmabuf-conform';\nexport default vfioExporter('my-rom', 'accepts the ROM', { createOps: { region_index_valid: (r) => r <= 6 } });\n");
    const cli = (...args: string[]) => spawnSync(join(dir, 'node_modules', '.bin', 'dmabuf-conform'), args, { cwd: dir, encoding: 'utf8' });
    expect(cli('--version').stdout).toMatch(/^dmabuf-conform \d+\.\d+\.\d+/);
    const clean = cli('run', '--exporter', 'clean.ts', '--out', 'out-clean', '--runs', '100');
    expect(clean.status, clean.stderr).toBe(0);
    const rom = cli('run', '--exporter', 'rom.ts', '--out', 'out-rom', '--runs', '100');
    expect(rom.status, rom.stderr).toBe(1);
    expect(rom.stdout).toMatch(/NEW PAL-INPUT my-rom:/);
  });

  // The installed build (dist/), not the sources: a .js plugin in a folder with no package.json, as an ES
  // module and as CommonJS, imports or requires the installed 'dmabuf-conform' (the tarball installed above).
  it('runs .js plugins from a folder with no package.json, ES module and CommonJS', () => {
    const loose = mkdtempSync(join(tmpdir(), 'dmabuf-loose-'));
    try {
      writeFileSync(join(loose, 'esm.js'), "import { vfioExporter } from 'dmabuf-conform';\nexport default vfioExporter('my-esm', 'an ES module .js');\n");
      writeFileSync(join(loose, 'cjs.js'), "const { vfioExporter } = require('dmabuf-conform');\nmodule.exports = vfioExporter('my-cjs', 'a CommonJS .js');\n");
      const r = spawnSync(join(dir, 'node_modules', '.bin', 'dmabuf-conform'), ['run', '--exporter', join(loose, 'esm.js'), '--exporter', join(loose, 'cjs.js'), '--out', join(loose, 'out'), '--runs', '20'], { cwd: loose, encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^2 implementations, /m);
    } finally {
      rmSync(loose, { recursive: true, force: true });
    }
  });
});
