// Isolation (issue 11): each implementation is searched in a worker thread.
// A plugin that spins synchronously, ends its thread or patches a built-in
// is a finding under its own rule, and the run goes on with the others; a
// plugin's exit never ends the runner, and the runner's own built-ins are
// never the plugin's.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { workerPool } from '../../src/harness/pool.ts';
import { runConformance } from '../../src/harness/runner.ts';
import { PROFILES } from '../../models/profiles.ts';

const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-iso-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A variant of vfio-pci whose hook for `event` runs `body` (a user's .ts plugin). */
function plugin(name: string, body: string): string {
  const file = join(tmp, `${name}.ts`);
  writeFileSync(file, `import { vfioPci } from 'dmabuf-conform';
export default { ...vfioPci, name: '${name}', probe: (k: Parameters<typeof vfioPci.probe>[0], cfg: Parameters<typeof vfioPci.probe>[1]) => {
  const d = vfioPci.probe(k, cfg);
  const event = d.event.bind(d);
  return Object.assign(d, { event: async (e: Parameters<typeof event>[0]) => { if (e === 'flr') { ${body} } return event(e); } });
} };
`);
  return file;
}

describe('isolated searches', () => {
  it('a synchronous loop is PLUGIN-TIMEOUT naming the hook, process.exit is PLUGIN-EXIT, a patched built-in is PLUGIN-GLOBAL; the faithful port beside them is searched to the end', async () => {
    const specs = [
      { spec: plugin('spins', 'for (;;) {}'), flag: '--exporter' },
      { spec: plugin('exits', 'process.exit(0);'), flag: '--exporter' },
      { spec: plugin('patches', 'const has = Set.prototype.has; Set.prototype.has = function (v: unknown) { return has.call(this, v); };'), flag: '--exporter' },
      { spec: 'vfio-pci', flag: '--exporter' },
    ];
    const executor = await workerPool(specs, { separately: true, watchdogMs: 600 });
    const { report } = await runConformance({ seed: 1, runs: 30, profiles: [...PROFILES], executor, baseline: { version: 1, findings: [] }, bail: false, replayCommand: (id) => id, progress: () => undefined })
      .finally(() => executor.close());
    const rules = (impl: string) => [...new Set(report.violations.filter((v) => v.implementation === impl).map((v) => v.rule))];
    expect(rules('spins')).toContain('PLUGIN-TIMEOUT');
    expect(report.violations.find((v) => v.implementation === 'spins' && v.rule === 'PLUGIN-TIMEOUT')!.message).toMatch(/did not return within 600 ms.*last hook entered: spins: event\(flr\)/);
    expect(rules('exits')).toContain('PLUGIN-EXIT');
    expect(rules('patches')).toContain('PLUGIN-GLOBAL');
    expect(report.violations.filter((v) => v.implementation === 'vfio-pci' && !v.finding)).toEqual([]);
    expect(report.results.filter((r) => r.implementation === 'vfio-pci' && r.runs > 0).length).toBeGreaterThan(0);
    // The runner's own built-ins are untouched.
    expect(new Set([1]).has(1)).toBe(true);
  });

  it('a plugin that does not load is one line from its worker (exit 2), never a crash of the runner', async () => {
    const bad = join(tmp, 'bad.ts');
    writeFileSync(bad, 'export default { kind: "exporter", name: "x", description: "no probe", profiles: ["v8"] };\n');
    await expect(workerPool([{ spec: bad, flag: '--exporter' }])).rejects.toThrow(/an exporter plugin needs probe\(kernel, device\)/);
  });
});
