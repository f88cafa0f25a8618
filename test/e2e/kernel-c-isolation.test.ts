// Isolation of the kernel's own C (issue 12): with --kernel-tree the C units
// are built and run inside the pool's workers, each unit in its own
// sanitized process. A unit that crashes is a finding and its worker goes
// on; a unit that hangs is PLUGIN-TIMEOUT, its worker is replaced and the
// unit process killed with it; the runner and the port beside them are
// untouched. The trees are the route fixture with one change each, written
// at test time.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PROFILES } from '../../models/profiles.ts';
import { workerPool } from '../../src/harness/pool.ts';
import { runConformance } from '../../src/harness/runner.ts';
import { REPO_ROOT } from '../../src/kernel-c/build.ts';
import fc from 'fast-check';
import { topologyWithPairsArb } from '../../src/gen/topology.ts';
import { loadKernelC } from '../../src/kernel-c/index.ts';
import { checkTopology, RouteBench, ROUTE_IMPLS } from '../../src/rules/route.ts';
import { ViolationLog } from '../../src/rules/violation.ts';
import type { Report } from '../../src/report/types.ts';
import { cliIn } from '../../properties/cli-helpers.ts';
import { kernelTreeWithBug } from '../fixtures/kernel-tree-bug.ts';

const FILE = 'drivers/pci/p2pdma.c';
const FIXTURE = readFileSync(join(REPO_ROOT, 'test', 'fixtures', 'kernel-tree', FILE), 'utf8');
const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-kc-iso-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const cli = cliIn();

function tree(name: string, from: string, to: string): string {
  const text = FIXTURE.replace(from, to);
  if (text === FIXTURE) throw new Error(`${from} is not in the fixture`);
  const dir = join(tmp, name);
  mkdirSync(join(dir, 'drivers', 'pci'), { recursive: true });
  writeFileSync(join(dir, FILE), text);
  return dir;
}

/** Processes running `binary` now. */
function running(binary: string): number[] {
  return readdirSync('/proc').filter((p) => /^\d+$/.test(p)).filter((p) => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')[0] === binary;
    } catch {
      return false;
    }
  }).map(Number);
}

async function runTree(dir: string, watchdogMs: number) {
  const built = await loadKernelC({ tree: dir });
  if (!built.ok) throw new Error(built.message);
  built.value.close();
  const binary = built.value.builds.find((b) => b.unit === 'route')!.binary;
  const executor = await workerPool([{ spec: 'p2pdma', flag: '--plugin' }], { kernelC: { tree: dir }, watchdogMs });
  expect(executor.targets.map((t) => t.name)).toEqual(expect.arrayContaining(['c:p2pdma', 'p2pdma']));
  const { report } = await runConformance({ seed: 1, runs: 20, profiles: ['v8'], executor, baseline: { version: 1, findings: [] }, bail: false, replayCommand: (id) => id, progress: () => undefined })
    .finally(() => executor.close());
  return { report, binary };
}

describe('kernel C units run inside the pool workers', () => {
  it('a unit that crashes (ASan: heap-buffer-overflow) is a finding with the C frames; the port beside it is searched to the end', async () => {
    const { report } = await runTree(tree('oob', 'return &p2p->mem[bar];', 'return &p2p->mem[bar + PCI_STD_NUM_BARS];'), 3000);
    const c = report.violations.filter((v) => v.implementation === 'c:p2pdma');
    expect(c.some((v) => v.rule === 'PLUGIN-THROW' && /heap-buffer-overflow/.test(v.message))).toBe(true);
    expect(report.violations.filter((v) => v.implementation === 'p2pdma' && !v.known)).toEqual([]);
    expect(report.results.filter((r) => r.implementation === 'p2pdma' && r.runs > 0).length).toBeGreaterThan(0);
  });

  it('a unit that hangs is PLUGIN-TIMEOUT; its worker is replaced and the unit process killed with it', async () => {
    const dir = tree('hang', '\tif (pdev->p2pdma)\n\t\treturn 0;\n', '\tfor (;;)\n\t\t;\n');
    const { report, binary } = await runTree(dir, 1500);
    const timeout = report.violations.find((v) => v.implementation === 'c:p2pdma' && v.rule === 'PLUGIN-TIMEOUT')!;
    expect(timeout.message).toMatch(/last hook entered: kernel C route: request \d+/);
    expect(report.results.filter((r) => r.implementation === 'p2pdma' && r.runs > 0).length).toBeGreaterThan(0);
    expect(existsSync(binary)).toBe(true);
    expect(running(binary)).toEqual([]);
  });
});

describe('run --kernel-tree (the route unit of the fixture tree, in the pool workers)', () => {
  it('the faithful fixture shows nothing new and the other units are skipped with one line each; the one-token bug is a NEW ROUTE-MAPTYPE naming its C line', async () => {
    const out = join(tmp, 'tree');
    const r = await cli('run', '--plugin', 'p2pdma', '--profile', 'v8', '--runs', '10', '--out', out, '--kernel-tree', join(REPO_ROOT, 'test/fixtures/kernel-tree'));
    expect(r.err).toMatch(/kernel C: exporter unit skipped: no drivers\/vfio\/pci\/vfio_pci_dmabuf\.c in .*test\/fixtures\/kernel-tree/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(report.implementations.map((i) => i.name)).toEqual(expect.arrayContaining(['c:p2pdma', 'p2pdma']));
    expect(report.violations).toEqual([]);
    expect(r.code).toBe(0);
    const bug = await cli('run', '--plugin', 'p2pdma', '--profile', 'v8', '--runs', '10', '--out', join(tmp, 'bug'), '--kernel-tree', kernelTreeWithBug());
    expect(bug.code).toBe(1);
    expect(bug.out).toMatch(/NEW ROUTE-MAPTYPE c:p2pdma: .*\[drivers\/pci\/p2pdma\.c:\d+ \(\w+\)\]/);
    // The printed replay command carries the tree: the C's counterexample replays.
    const replay = /replay: .*? replay (\S+) --case '([^']+)'(.*)$/m.exec(bug.out)!;
    expect(replay[3]).toContain('--kernel-tree');
    const again = await cli('replay', replay[1]!, '--case', replay[2]!, ...replay[3]!.trim().split(/\s+/));
    expect(again.out).toMatch(/reproduced ROUTE-MAPTYPE/);
    expect(again.code).toBe(0);
  });
});


describe('the route unit in depth (the gate checks 6 topologies)', () => {
  it('the fixture agrees with the model and the port on 150 generated topologies', async () => {
    const r = await loadKernelC({ tree: join(REPO_ROOT, 'test/fixtures/kernel-tree') });
    if (!r.ok) throw new Error(r.message);
    const c = r.value.route!;
    try {
      fc.assert(fc.property(topologyWithPairsArb(), ({ topology, pairs }) => {
        const log = new ViolationLog();
        const bench = new RouteBench(topology, c.create, 'classic');
        checkTopology(bench, pairs, log, [0n, 0x1234n]);
        c.judgeC(bench.impl, log, 0);
        expect(log.violations).toEqual([]);
        const port = new RouteBench(topology, ROUTE_IMPLS[0]!.create, 'classic');
        for (const [p, q] of pairs) if (bench.sys.devices.get(p) && bench.sys.devices.get(q)) expect(bench.calc(p, q)).toEqual(port.calc(p, q));
      }), { seed: 11, numRuns: 150 });
    } finally {
      r.value.close();
    }
  });
});
