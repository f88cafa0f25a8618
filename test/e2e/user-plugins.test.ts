// Issue 11's user path: one-line bugs a kernel developer might write, each a
// plugin of a few lines that imports only 'dmabuf-conform' (test/plugins/),
// given to the default `run` exactly as a user gives theirs: every one is
// reported as new, under the rule the model's comparison gives. Unmodified
// copies of the bundled ports, given the same way, pass.
import { afterAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { main } from '../../src/cli.ts';
import type { Report } from '../../src/report/types.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-user-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function run(out: string, ...args: string[]): Promise<{ code: number; report: Report; err: string }> {
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    const code = await main(['run', ...args, '--out', join(tmp, out), '--quiet']);
    return { code, err, report: JSON.parse(readFileSync(join(tmp, out, 'report.json'), 'utf8')) as Report };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const newRules = (r: Report, impl: string) => [...new Set(r.violations.filter((v) => v.implementation === impl && !v.known).map((v) => v.rule))];

describe('a user\'s one-line bugs, given to the default run', () => {
  it('each is new under its rule: ROM region -> PAL-INPUT, PM exit without unrevoke -> REV-WINDOW, no bus offset -> ROUTE-BUSADDR, hot reset undo -> REV-WINDOW from a race, cleanup without the registration put -> UAF-REF', async () => {
    const p = (f: string) => resolve('test/plugins', f);
    const r = await run('bugs', '--exporter', p('rom-region.ts'), '--exporter', p('pm-exit-no-unrevoke.ts'), '--plugin', p('sgt-no-bus-offset.ts'), '--exporter', p('hot-reset-undo.ts'), '--exporter', p('cleanup-no-registration-put.ts'));
    expect(r.code).toBe(1);
    expect(newRules(r.report, 'user-cleanup-no-registration-put')).toEqual(['UAF-REF']);
    expect(newRules(r.report, 'user-rom-region')).toContain('PAL-INPUT');
    expect(newRules(r.report, 'user-pm-exit-no-unrevoke')).toContain('REV-WINDOW');
    expect(newRules(r.report, 'user-sgt-no-bus-offset')).toContain('ROUTE-BUSADDR');
    const race = r.report.violations.find((v) => v.implementation === 'user-hot-reset-undo' && v.rule === 'REV-WINDOW');
    expect(race?.known).toBe(false);
    expect(JSON.stringify(race?.counterexample.input)).toContain('"race"');
  });

  it('a create that fills the last range one page short is new as PAL-FILL alone, at the create: its maps are not filed again under the conversion rules', async () => {
    const r = await run('fill', '--exporter', resolve('test/plugins', 'fill-short-page.ts'));
    expect(r.code).toBe(1);
    expect(newRules(r.report, 'user-fill-short-page')).toEqual(['PAL-FILL']);
    const v = r.report.violations.find((x) => x.implementation === 'user-fill-short-page' && x.rule === 'PAL-FILL')!;
    expect(v.message).toMatch(/phys_vec\[\d+\] is 0x[0-9a-f]+\+0x[0-9a-f]+, the model's PAL has 0x[0-9a-f]+\+0x[0-9a-f]+ for range \d+ \(offset /);
  });

  it('a variant of the exporter as merged (profile mainline) is written from the public entry: the close order bug is REV-WINDOW; an unmodified copy shows only documented findings', async () => {
    const copy = join(tmp, 'mainline-copy.ts');
    writeFileSync(copy, "import { MAINLINE_PORT, vfioExporter } from 'dmabuf-conform';\nexport default vfioExporter('my-mainline-copy', 'an unmodified copy of vfio-pci:mainline', { port: MAINLINE_PORT, profiles: ['mainline'] });\n");
    const r = await run('mainline', '--exporter', resolve('test/plugins', 'mainline-close-disables-first.ts'), '--exporter', copy);
    expect(newRules(r.report, 'user-mainline-close-disables-first')).toContain('REV-WINDOW');
    expect(newRules(r.report, 'my-mainline-copy')).toEqual([]);
    expect(r.code).toBe(1);
  });

  it('unmodified copies of the bundled VFIO exporter and iommufd importer, written as the user\'s own .ts plugins, show only documented findings', async () => {
    const exporter = join(tmp, 'copy.ts');
    writeFileSync(exporter, "import { vfioExporter } from 'dmabuf-conform';\nexport default vfioExporter('my-vfio-copy', 'an unmodified copy of vfio-pci');\n");
    const importer = join(tmp, 'iommufd-copy.ts');
    writeFileSync(importer, "import { IommufdAttachment, iommufdPlugin } from 'dmabuf-conform';\nexport default iommufdPlugin('my-iommufd-copy', (k, d, e) => new IommufdAttachment(k, d, e));\n");
    const r = await run('copy', '--exporter', exporter, '--importer', importer);
    expect(r.report.implementations.map((i) => i.name)).toEqual(['my-vfio-copy', 'my-iommufd-copy']);
    expect(r.report.violations.filter((v) => !v.known).map((v) => `${v.rule}: ${v.message}`)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report.violations.every((v) => v.finding !== undefined)).toBe(true);
  });
});
