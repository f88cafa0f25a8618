// The kernel's own C of the route unit (issue 12 item 3): the routing of
// drivers/pci/p2pdma.c compiled with ASan + UBSan against c/shim (kshim_pci.h)
// and checked by the route suite on its generated topologies, config reads of
// the ACS control answered from the topology. The seeds hold no complete
// routing functions, so the C here is test/fixtures/kernel-tree (written for
// this project from models/pci in the kernel's style, not kernel text) and a
// copy with one token changed, made at test time (test/fixtures/kernel-tree-bug.ts). Builds are cached.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topologyWithPairsArb } from '../src/gen/topology.ts';
import { routeSuite } from '../src/harness/suites/route.ts';
import type { RoutePlugin } from '../src/harness/plugin.ts';
import { REPO_ROOT } from '../src/kernel-c/build.ts';
import { fileFragment, indexItems, itemsOf, selectItems } from '../src/kernel-c/extract.ts';
import { loadKernelC, type KernelCUnits } from '../src/kernel-c/index.ts';
import { kernelCPlugins } from '../src/kernel-c/plugins.ts';
import { checkTopology, RouteBench, ROUTE_IMPLS } from '../src/rules/route.ts';
import { ViolationLog } from '../src/rules/violation.ts';
import { KERNEL_TREE, kernelTreeWithBug } from '../test/fixtures/kernel-tree-bug.ts';

const TREE = KERNEL_TREE;
const BUG_TREE = kernelTreeWithBug();
const FILE = 'drivers/pci/p2pdma.c';
/** Topologies per property: every call is a round trip to the unit, so the gate keeps it small; DMABUF_KC_ROUTE_RUNS deepens. */
const RUNS = Number(process.env.DMABUF_KC_ROUTE_RUNS ?? '6');
const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-kc-route-'));
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
  rmSync(BUG_TREE, { recursive: true, force: true });
});

async function routeOf(tree: string): Promise<{ plugin: RoutePlugin; close: () => void; units: KernelCUnits }> {
  const units = await loadKernelC({ tree });
  if (!units.ok) throw new Error(units.message);
  const u = units.value;
  const plugin: RoutePlugin = { kind: 'route', name: u.route!.name, description: 'the route unit', profiles: ['v8'], routing: 'classic', create: u.route!.create, judgeC: u.route!.judgeC };
  return { plugin, units: u, close: () => u.close() };
}

describe('kernel C: the route unit on the fixture tree', () => {
  let good: Awaited<ReturnType<typeof routeOf>>;
  beforeAll(async () => { good = await routeOf(TREE); }, 60_000);
  afterAll(() => good?.close());

  it('extracts the functions, their static helpers and the allow list; the other units are skipped with one line each', () => {
    expect(good.units.route?.functions.get('calc_map_type_and_dist')).toMatch(/^drivers\/pci\/p2pdma\.c:\d+$/);
    const names = good.units.route!.sources.map((s) => s.split(' ')[1]);
    for (const n of ['pcim_p2pdma_init', 'pcim_p2pdma_provider', 'pci_p2pdma_map_type', 'calc_map_type_and_dist', 'pci_p2pdma_distance_many', 'host_bridge_whitelist', 'cpu_supports_p2pdma', 'pci_bridge_has_acs_redir', 'pci_p2pdma_whitelist']) expect(names).toContain(n);
    expect(good.units.skipped).toEqual([
      `conversion unit skipped: no drivers/dma-buf/dma-buf-mapping.c; no drivers/dma-buf/dma-buf.c in ${TREE}`,
      `exporter unit skipped: no drivers/vfio/pci/vfio_pci_dmabuf.c in ${TREE}`,
    ]);
  });

  it('agrees with the model and the port on generated topologies (every ROUTE rule, the ACS list included)', () => {
    const c = good.units.route!;
    fc.assert(fc.property(topologyWithPairsArb(), ({ topology, pairs }) => {
      const log = new ViolationLog();
      const bench = new RouteBench(topology, c.create, 'classic');
      checkTopology(bench, pairs, log, [0n, 0x1234n]);
      c.judgeC(bench.impl, log, 0);
      expect(log.violations).toEqual([]);
      // The port on the same topology, pair by pair: same answers.
      const port = new RouteBench(topology, ROUTE_IMPLS[0]!.create, 'classic');
      for (const [p, q] of pairs) {
        const pd = bench.sys.devices.get(p);
        const qd = bench.sys.devices.get(q);
        if (!pd || !qd) continue;
        expect(bench.calc(p, q)).toEqual(port.calc(p, q));
      }
    }), { seed: 7, numRuns: RUNS });
  });

  it('the route suite finds nothing on it', async () => {
    const [target] = routeSuite.targets(good.plugin, []);
    const s = await target!.search(1, RUNS, new Set());
    expect(s.failures).toEqual([]);
  }, 60_000);
});

describe('kernel C: a one-token bug in the route unit', () => {
  it('the fixture pair differs by exactly one token', () => {
    const a = readFileSync(join(TREE, FILE), 'utf8').split('\n');
    const b = readFileSync(join(BUG_TREE, FILE), 'utf8').split('\n');
    const diff = a.map((l, i) => [l, b[i]] as const).filter(([x, y]) => x !== y);
    expect(diff).toEqual([['\tif (!redirected) {', '\tif (redirected) {']]);
  });

  it('is ROUTE-MAPTYPE, naming the C function and its file:line', async () => {
    const { close, plugin } = await routeOf(BUG_TREE);
    try {
      const [target] = routeSuite.targets(plugin, []);
      const s = await target!.search(1, RUNS, new Set());
      expect(s.failures.length).toBe(1);
      const v = s.failures[0]!.violations.find((x) => x.rule === 'ROUTE-MAPTYPE')!;
      expect(v).toBeDefined();
      expect(String(v.evidence?.['cSite'])).toMatch(/^drivers\/pci\/p2pdma\.c:\d+ \((calc_map_type_and_dist|pci_p2pdma_map_type)\)$/);
      expect(v.message).toMatch(/\[drivers\/pci\/p2pdma\.c:\d+ /);
      // The replay of the shrunk counterexample gives the same.
      const again = await target!.replay(s.failures[0]!.counterexample.input);
      expect(again.violations.map((x) => x.rule)).toEqual(s.failures[0]!.violations.map((x) => x.rule));
    } finally {
      close();
    }
  }, 60_000);
});

describe('kernel C: the route unit, bad input and crashes', () => {
  const tree = (name: string, text?: string) => {
    const dir = join(tmp, name);
    mkdirSync(join(dir, 'drivers', 'pci'), { recursive: true });
    if (text !== undefined) writeFileSync(join(dir, FILE), text);
    return dir;
  };

  it('a tree without drivers/pci/p2pdma.c skips the unit with one line naming the file (no unit left: one line, exit 2)', async () => {
    // A kernel tree (it has a unit's file: an old dma-buf.c without the conversion) that lacks p2pdma.c.
    const dir = tree('empty');
    mkdirSync(join(dir, 'drivers', 'dma-buf'), { recursive: true });
    writeFileSync(join(dir, 'drivers', 'dma-buf', 'dma-buf.c'), 'int dma_buf_init(void)\n{\n\treturn 0;\n}\n');
    const r = await loadKernelC({ tree: dir });
    expect(r.ok && r.value.skipped).toContain(`route unit skipped: no ${FILE} in ${dir}`);
    const p = await kernelCPlugins({ tree: dir });
    expect(p.ok).toBe(false);
    expect(!p.ok && p.message.split('\n')).toHaveLength(1);
    // A folder with none of the units' files is not a kernel tree, and says so.
    const bare = join(tmp, 'bare');
    mkdirSync(bare, { recursive: true });
    expect(await loadKernelC({ tree: bare })).toMatchObject({ ok: false, exitCode: 2, message: expect.stringMatching(/: not a kernel tree: it has none of .*drivers\/pci\/p2pdma\.c$/) });
  });

  it('a p2pdma.c without the routing functions is skipped naming them', async () => {
    const dir = tree('old', 'int pcim_p2pdma_init(struct pci_dev *pdev)\n{\n\treturn 0;\n}\n');
    const r = await loadKernelC({ tree: dir });
    expect(r.ok && r.value.skipped).toContain(`route unit skipped: ${FILE} in ${dir} without pcim_p2pdma_provider, pci_p2pdma_map_type, calc_map_type_and_dist, pci_p2pdma_distance_many`);
  });

  it('patches that change p2pdma.c without the routing functions: one line naming what is missing, exit 2', async () => {
    const patch = join(tmp, 'half.patch');
    writeFileSync(patch, 'diff --git a/drivers/pci/p2pdma.c b/drivers/pci/p2pdma.c\n--- a/drivers/pci/p2pdma.c\n+++ b/drivers/pci/p2pdma.c\n@@ -10,2 +10,6 @@\n int x;\n+int pcim_p2pdma_init(struct pci_dev *pdev)\n+{\n+\treturn 0;\n+}\n int y;\n');
    const r = await loadKernelC({ patches: [patch] });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.exitCode).toBe(2);
      expect(r.message).toBe(`${patch}: ${FILE} lacks pcim_p2pdma_provider, pci_p2pdma_map_type, calc_map_type_and_dist, pci_p2pdma_distance_many`);
    }
  });

  it('a compile error is the compiler\'s first error at the kernel file:line, exit 2', async () => {
    const r = await loadKernelC({ tree: TREE, transform: (_p, t) => t.replace('return ctrl & (PCI_ACS_RR', 'return ctrl & (PCI_ACS_XX') });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.exitCode).toBe(2);
      expect(r.message).toMatch(/^compile error: drivers\/pci\/p2pdma\.c:\d+: .*PCI_ACS_XX/);
    }
  }, 60_000);

  it('an out-of-bounds provider is a sanitizer finding with the C frames and site; the run goes on', async () => {
    const text = readFileSync(join(TREE, FILE), 'utf8');
    const dir = tree('oob', text.replace('return &p2p->mem[bar];', 'return &p2p->mem[bar + PCI_STD_NUM_BARS];'));
    const { close, plugin } = await routeOf(dir);
    try {
      // One topology with a p2pdma provider: its first provider lookup reads past the table.
      const t = fc.sample(topologyWithPairsArb(), { seed: 5, numRuns: 40 }).find((x) => x.topology.devices.some((d) => d.p2pdma && d.bars.some((b) => b.type === 'mem')))!;
      const log = new ViolationLog();
      const bench = new RouteBench(t.topology, plugin.create, 'classic');
      checkTopology(bench, t.pairs, log);
      plugin.judgeC!(bench.impl, log, 0);
      const v = log.violations.find((x) => x.rule === 'PLUGIN-THROW' && /crashed/.test(x.message))!;
      expect(v.message).toMatch(/heap-buffer-overflow/);
      expect((v.evidence?.['frames'] as string[]).join(' ')).toMatch(/p2pdma\.c:\d+|route\.c:\d+/);
      expect(String(v.evidence?.['cSite'])).toMatch(/:\d+/);
      // The unit was restarted: a topology without providers is judged again, clean.
      const quiet = fc.sample(topologyWithPairsArb(), { seed: 5, numRuns: 40 }).find((x) => !x.topology.devices.some((d) => d.p2pdma))!;
      const log2 = new ViolationLog();
      const bench2 = new RouteBench(quiet.topology, plugin.create, 'classic');
      checkTopology(bench2, quiet.pairs, log2);
      plugin.judgeC!(bench2.impl, log2, 0);
      expect(log2.violations).toEqual([]);
    } finally {
      close();
    }
  }, 60_000);
});

describe('kernel C: extraction of the route unit', () => {
  it('an array with an initializer is an item by its name (the allow list), and excluded names are never taken', () => {
    const text = 'static const struct e {\n\tint v;\n} tbl[] = {\n\t{ 1 },\n\t{ 0 }\n};\n\nstatic int grp;\n\nint f(void)\n{\n\treturn tbl[0].v + grp;\n}\n';
    const index = indexItems(itemsOf([fileFragment('x.c', text)]));
    expect(index.get('tbl')?.kind).toBe('decl');
    expect(selectItems(index, ['f']).map((i) => i.name)).toEqual(['tbl', 'grp', 'f']);
    expect(selectItems(index, ['f'], ['grp']).map((i) => i.name)).toEqual(['tbl', 'f']);
  });
});
