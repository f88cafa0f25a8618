// The exporter unit: drivers/vfio/pci/vfio_pci_dmabuf.c of 002 v8 10/11,
// read at test time from ../shared/seeds and compiled unmodified, driven by
// the lifecycle suite exactly as its TypeScript port (vfio-pci) is. The
// documented findings are the port's, each violation raised in a service
// call names the C line, and a search of both finds the same findings.
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dmaImporter, iommufdImporter, vfioExporter, vfioPci } from '../src/harness/bundled.ts';
import type { Search } from '../src/harness/suite.ts';
import { V8_PORT } from '../src/impl/vfio/vfio_pci_core.ts';
import type { RuleId } from '../src/rules/registry.ts';
import { createCmd, runLifecycle, type LifecycleConfig } from '../src/harness/lifecycle.ts';
import type { ExporterPlugin } from '../src/harness/plugin.ts';
import { lifecycleConfig, lifecycleTarget } from '../src/harness/suites/lifecycle.ts';
import type { LcCmd } from '../models/lifecycle.ts';
import { loadKernelC, type KernelCUnits } from '../src/kernel-c/index.ts';

import { NEEDS_SEEDS, SEEDS } from './shared.ts';

const P002 = `${SEEDS}/002_1379aab826d3415b.txt`;
const P003 = `${SEEDS}/003_8f4712741c71a171.txt`;
const HAVE = existsSync(P002);

const cfgOf = (e: ExporterPlugin): LifecycleConfig => ({ exporter: e, importers: { dma: dmaImporter, iommufd: iommufdImporter }, devices: 2, route: 'THRU_HOST_BRIDGE' });
const show = (vs: readonly { step?: number; rule: string }[]) => vs.map((v) => [v.step, v.rule]);

describe.skipIf(!HAVE)(`kernel C exporter: vfio_pci_dmabuf.c of 002 v8 10/11 ${NEEDS_SEEDS}`, () => {
  let units: KernelCUnits;
  let c: ExporterPlugin;
  beforeAll(async () => {
    const r = await loadKernelC({ patches: [P002, P003] });
    if (!r.ok) throw new Error(r.message);
    units = r.value;
    c = r.value.exporter!;
  }, 60_000);
  afterAll(() => units?.close());

  it('is built from the whole file (every item after a #line of the kernel file) and 003 is named as mangled', () => {
    const e = units.exporter!;
    expect(e.vfio).toBe(true);
    expect(e.sources.filter((s) => s.startsWith('drivers/vfio/pci/vfio_pci_dmabuf.c:')).map((s) => s.split(' ')[1])).toEqual(expect.arrayContaining([
      'vfio_pci_dma_buf', 'vfio_pci_dma_buf_attach', 'vfio_pci_dma_buf_map', 'vfio_pci_dma_buf_unmap', 'vfio_pci_dma_buf_release', 'vfio_pci_dmabuf_ops',
      'vfio_pci_core_fill_phys_vec', 'vfio_pci_core_get_dmabuf_phys', 'validate_dmabuf_input', 'vfio_pci_core_feature_dma_buf', 'vfio_pci_dma_buf_move', 'vfio_pci_dma_buf_cleanup',
    ]));
    expect(e.iommufdMap).toBe(false);
    expect(units.notes[0]).toMatch(/003_8f4712741c71a171\.txt:\d+: the hunk @@ -82,6 \+82,40 @@ of drivers\/vfio\/pci\/vfio_pci_dmabuf\.c \(adding vfio_pci_dma_buf_iommufd_map\) is mangled/);
  });

  const L1: LcCmd[] = [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'event', dev: 0, event: 'mem-off' }, { op: 'event', dev: 0, event: 'close' }];
  const L2: LcCmd[] = [createCmd(0, 1), { op: 'attach', buf: 0, importer: 'iommufd', p2p: true }, { op: 'event', dev: 0, event: 'mem-off' }, { op: 'event', dev: 0, event: 'mem-on' }];

  it('cleanup-notifies-revoked (L1, REV-NOTIFY) on the C as on the port', async () => {
    const [p, k] = [await runLifecycle(cfgOf(vfioPci), L1), await runLifecycle(cfgOf(c), L1)];
    expect(show(k.violations)).toEqual([[3, 'REV-NOTIFY']]);
    // The same message, plus the C file:line (a check after the step names the C's last call).
    expect(k.violations.map((v) => v.message.replace(/ \[[^\]]*\]$/, ''))).toEqual(p.violations.map((v) => v.message));
    for (const v of k.violations) {
      expect(String(v.evidence?.['cSite'])).toMatch(/^drivers\/vfio\/pci\/vfio_pci_dmabuf\.c:\d+ \(\w+\)$/);
      expect(v.message).toContain(`${v.evidence?.['cSite']}]`);
    }
  });

  it("a count found after the step (L1's move_notify calls) says its line is the last kernel call before the check; one raised in a kernel call (L2's move_notify) names that call's line alone", async () => {
    const after = (await runLifecycle(cfgOf(c), L1)).violations[0]!;
    expect(after.rule).toBe('REV-NOTIFY');
    expect(after.evidence?.['cSiteIs']).toBe('last-call');
    expect(after.message).toMatch(/^att0 got 1 move_notify call\(s\) in close\(dev0\), the model says 0 \[vfio_pci_dma_buf_cleanup returned; found by a check after the step; last kernel call before the check: drivers\/vfio\/pci\/vfio_pci_dmabuf\.c:\d+ \(vfio_pci_dma_buf_cleanup\)\]$/);
    const during = (await runLifecycle(cfgOf(c), L2)).violations[0]!;
    expect(during.rule).toBe('REV-IMPORTER');
    expect(during.evidence?.['cSiteIs']).toBeUndefined();
    expect(during.message).toMatch(/ \[drivers\/vfio\/pci\/vfio_pci_dmabuf\.c:\d+ \(vfio_pci_dma_buf_move\)\]$/);
    expect(during.message).not.toContain('before the check');
  });

  it('unrevoke-notifies-iommufd (L2, REV-IMPORTER) names the dma_buf_move_notify() of vfio_pci_dma_buf_move in the seed', async () => {
    const k = await runLifecycle(cfgOf(c), L2);
    expect(show(k.violations)).toEqual([[3, 'REV-IMPORTER']]);
    expect(k.violations[0]!.evidence?.['cSite']).toMatch(/^drivers\/vfio\/pci\/vfio_pci_dmabuf\.c:\d+ \(vfio_pci_dma_buf_move\)$/);
  });

  it('a hand-worked lifecycle (create, maps on both importers, FLR, D3, reset, close-fd, close, unbind) gives the port\'s results and violations', async () => {
    const cmds: LcCmd[] = [
      createCmd(0, 2), createCmd(1, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'attach', buf: 0, importer: 'dma', p2p: false }, { op: 'map', att: 0 }, { op: 'access', att: 0 },
      { op: 'event', dev: 0, event: 'flr' }, { op: 'map', att: 0 }, { op: 'event', dev: 0, event: 'd3-enter' }, { op: 'map', att: 0 }, { op: 'event', dev: 0, event: 'd3-exit' },
      { op: 'map', att: 0 }, { op: 'event', dev: 0, event: 'reset' }, { op: 'hot-reset', devs: [0, 1] }, { op: 'close-fd', buf: 0 }, { op: 'unmap', att: 0 }, { op: 'detach', att: 0 },
      { op: 'event', dev: 0, event: 'close' }, createCmd(0, 1), { op: 'event', dev: 0, event: 'unbind' }, { op: 'event', dev: 1, event: 'close' },
    ];
    const [p, k] = [await runLifecycle(cfgOf(vfioPci), cmds, { keepGoing: true }), await runLifecycle(cfgOf(c), cmds, { keepGoing: true })];
    expect(k.steps.map((s) => s.result)).toEqual(p.steps.map((s) => s.result));
    expect(show(k.violations)).toEqual(show(p.violations));
  });

  it('a wrong errno from the create names the entry point and what it returned, and the trail of the C\'s crossings (the bug is between them)', async () => {
    // The one-token change of the trial's c5: a range that ends at the end of the BAR is refused.
    const r = await loadKernelC({ patches: [P002], transform: (_p, t) => t.replace('if (end > max_addr)', 'if (end >= max_addr)') });
    if (!r.ok) throw new Error(r.message);
    try {
      const k = await runLifecycle(cfgOf(r.value.exporter!), [{ op: 'create', dev: 0, region: 0, ranges: [{ offset: 0n, length: 0x100000n }] }]);
      const v = k.violations.find((x) => x.rule === 'PAL-INPUT')!;
      expect(v.evidence?.['cReturned']).toBe('vfio_pci_core_feature_dma_buf returned -EINVAL');
      expect(v.message).toMatch(/ \[vfio_pci_core_feature_dma_buf returned -EINVAL; found by a check after the step; last kernel call before the check: drivers\/vfio\/pci\/vfio_pci_dmabuf\.c:\d+ \(vfio_pci_core_feature_dma_buf\)\]$/);
      const trail = v.evidence?.['cTrail'] as string[];
      expect(trail[0]).toMatch(/^-> vfio_pci_core_feature_dma_buf \(drivers\/vfio\/pci\/vfio_pci_dmabuf\.c:\d+\)$/);
      expect(trail.at(-1)).toBe('<- vfio_pci_core_feature_dma_buf returned -EINVAL');
      expect(trail.slice(1, -1).every((l) => /^drivers\/vfio\/pci\/vfio_pci_dmabuf\.c:\d+ \(vfio_pci_core_feature_dma_buf\): (alloc|kfree|\w+)$/.test(l))).toBe(true);
      expect(trail.some((l) => / \(kc_probe\)/.test(l))).toBe(false);
    } finally {
      r.value.close();
    }
  }, 60_000);

  it('PAL-FILL reads the C\'s priv->phys_vec: a fill one page short is PAL-FILL at the create; the unmodified C holds the model\'s PAL', async () => {
    const create = { op: 'create', dev: 0, region: 0, ranges: [{ offset: 0n, length: 0x2000n }] } as const;
    const r = await loadKernelC({ patches: [P002], transform: (_p, t) => t.replace('phys_vec[i].len = dma_ranges[i].length;', 'phys_vec[i].len = dma_ranges[i].length - PAGE_SIZE;') });
    if (!r.ok) throw new Error(r.message);
    try {
      const k = await runLifecycle(cfgOf(r.value.exporter!), [create]);
      expect(k.violations.map((v) => [v.rule, v.message.replace(/ \[[^\]]*\]$/, '')])).toEqual([['PAL-FILL', "buf0's phys_vec[0] is 0x38000000000+0x1000, the model's PAL has 0x38000000000+0x2000 for range 0 (offset 0x0, length 0x2000 of region 0)"]]);
    } finally {
      r.value.close();
    }
    expect((await runLifecycle(cfgOf(c), [create])).violations).toEqual([]);
  }, 60_000);

  it('the lifecycle suite (serial search and races) finds on the C exactly what it finds on the port of the same text', async () => {
    // 002 alone has no private interconnect (003's hunk cannot be compiled): the like-for-like port is
    // vfio-pci without vfio_pci_dma_buf_iommufd_map; iommufd's map is -EOPNOTSUPP on both, as the model says.
    const { iommufd_map: _interconnect, ...without003 } = V8_PORT;
    const port002 = vfioExporter('vfio-pci:002-only', 'the port of 002 v8 10/11 without 003', { port: without003 });
    const search = (e: ExporterPlugin) => lifecycleTarget(e.name, lifecycleConfig(e, { dma: dmaImporter, iommufd: iommufdImporter }, 'v8'), 'exporter').search(1, 30, new Set());
    const ids = (s: Search) => [...new Set(s.findings.flatMap((f) => f.explainedBy))].sort();
    const cases = (s: Search) => s.failures.map((f) => [show(f.violations), f.counterexample.steps.map((x) => `${x.command} -> ${x.result}`)]);
    // No failure on either, and on the way only documented findings the port meets too. C1 is AddressSanitizer's
    // heap-use-after-free of priv on the C (its unit dies there, so that run goes no further) and the double put on the port.
    const [p, k] = [await search(port002), await search(c)];
    expect(cases(k)).toEqual([]);
    expect(cases(p)).toEqual([]);
    for (const id of ids(k)) expect([...ids(p), 'fd-unwind-double-free']).toContain(id);
    // Every violation the search met on the C names a C file:line (a check after a step: the C's last call, or the function it entered).
    for (const f of k.findings) for (const v of f.violations) expect(String(v.evidence?.['cSite'])).toMatch(/^drivers\/(vfio\/pci\/vfio_pci_dmabuf|dma-buf\/dma-buf)\.c:\d+ \(\w+\)$/);
    // C1 on the C is AddressSanitizer's heap-use-after-free of priv in the create, and the unit process dies there.
    expect(ids(k)).toEqual(expect.arrayContaining(['fd-unwind-double-free', 'unrevoke-notifies-iommufd']));
  }, 60_000);
});

describe.skipIf(!HAVE)(`kernel C exporter: a crash ends what the run judges ${NEEDS_SEEDS}`, () => {
  // The release frees priv before priv->phys_vec (a user's one-line bug, derived from the seed at test time).
  const releaseUaf = (path: string, t: string) => {
    if (path !== 'drivers/vfio/pci/vfio_pci_dmabuf.c') return t;
    const out = t.replace(/kfree\(priv->phys_vec\);(\s*)kfree\(priv\);/, 'kfree(priv);$1kfree(priv->phys_vec);');
    if (out === t) throw new Error('the release\'s two kfree() calls were not found in the seed');
    return out;
  };
  let units: KernelCUnits;
  beforeAll(async () => {
    const r = await loadKernelC({ patches: [P002], transform: releaseUaf });
    if (!r.ok) throw new Error(r.message);
    units = r.value;
  }, 60_000);
  afterAll(() => units?.close());

  it('the sanitizer\'s report is the one violation; what the harness sees after it (-EIO results, state the dead C left) is in its evidence.afterCrash', async () => {
    // close-fd runs the release (the crash); then a create and a close reach only the dead unit
    const cmds: LcCmd[] = [createCmd(0, 1), { op: 'close-fd', buf: 0 }, createCmd(0, 1), { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'event', dev: 0, event: 'close' }];
    const r = await runLifecycle(cfgOf(units.exporter!), cmds, { keepGoing: true });
    expect(show(r.violations)).toEqual([[1, 'UAF-OBJ']]);
    const v = r.violations[0]!;
    expect(v.message).toMatch(/^c:v8:vfio-pci release: AddressSanitizer: heap-use-after-free drivers\/vfio\/pci\/vfio_pci_dmabuf\.c:\d+ in vfio_pci_dma_buf_release$/);
    const after = v.evidence?.['afterCrash'] as string[];
    // the create after the crash returned -EIO where the model says ok: a consequence, named there
    expect(after).toEqual(expect.arrayContaining([expect.stringMatching(/^PAL-INPUT: create\(dev0, .*\) returned -EIO, the model says ok/)]));
    // the same case on the unmodified C (a fresh unit process each): no crash and nothing after it
    const seed = await loadKernelC({ patches: [P002] });
    if (!seed.ok) throw new Error(seed.message);
    try {
      const clean = await runLifecycle(cfgOf(seed.value.exporter!), cmds, { keepGoing: true });
      expect(clean.violations.filter((x) => String(x.evidence?.['kind'] ?? '').startsWith('c-'))).toEqual([]);
    } finally {
      seed.value.close();
    }
  }, 60_000);
});
