// `replay` on another implementation (a documented finding's case on the
// fixed version, or on the user's plugin), its header (the implementation,
// the simulated machine, the fault injection of the case) and its step
// marker (the step where the case's rule broke). In-process, no CLI spawn.
import { describe, expect, it } from 'vitest';
import { caseConditions, replayLines, stepOfRule } from '../src/commands/replay.ts';
import { deviceBars, type LcSetup } from '../src/gen/lifecycle.ts';
import { fromInput } from '../src/harness/suite.ts';
import { toInput, type Found } from '../src/harness/suite.ts';
import { convertSuite } from '../src/harness/suites/convert.ts';
import { matchSuite } from '../src/harness/suites/match.ts';
import { NO_FAULTS } from '../src/kernel/faults.ts';
import type { ConversionCase } from '../src/rules/conversion.ts';
import { MAINLINE_PHYS_VEC_TO_SGT, V8_PORT, VfioPciDmabufOps, dma_buf_free_sgt, dma_buf_unmap, matchExporter, vfioExporter, type ConversionPlugin, type DmaBufAttachment, type DmaBufDma, type KObj } from '../src/index.ts';
import { cliIn } from './cli-helpers.ts';
import { seededBugs } from '../src/bugs/index.ts';
import { allTargets } from '../src/harness/targets.ts';

const cli = cliIn();
const D1 = 'examples/findings/D1-first-drain-close-double-put.json';
const marked = (out: string) => out.split('\n').filter((l) => l.startsWith('>'));

describe('replay --exporter/--importer/--plugin: where the case runs', () => {
  it("D1's case breaks REV-DRAIN on the first merged drain (its own implementation) and is clean on the fixed mainline", async () => {
    const own = await cli('replay', D1);
    expect(own.code).toBe(0);
    expect(own.out).toContain('  on vfio-pci:mainline-1a8a5227\n');
    expect(marked(own.out)).toEqual([expect.stringMatching(/^>\s+3\. close\(dev0\) .*<- REV-DRAIN$/)]);
    expect(own.out).toMatch(/\nreproduced REV-DRAIN\n$/);

    const fixed = await cli('replay', D1, '--exporter', 'vfio-pci:mainline');
    expect([fixed.code, fixed.err]).toEqual([1, '']);
    expect(fixed.out).toContain('  on vfio-pci:mainline (the case was found on vfio-pci:mainline-1a8a5227)\n');
    expect(fixed.out).toContain('    3. close(dev0)');
    expect(marked(fixed.out)).toEqual([]);
    expect(fixed.out).toMatch(/\ndid NOT reproduce REV-DRAIN on vfio-pci:mainline \(no rule broke\)\n$/);
  });

  it("an attach step names the importer that attached: L2's iommufd attach replayed on mainline is iommufd:mainline's", async () => {
    const own = await cli('replay', 'examples/findings/L2-unrevoke-notifies-iommufd.json');
    expect(own.out).toMatch(/\n {4}2\. attach\(buf0, iommufd\) +ok/);
    const mainline = await cli('replay', 'examples/findings/L2-unrevoke-notifies-iommufd.json', '--exporter', 'vfio-pci:mainline');
    expect(mainline.out).toMatch(/\n {4}2\. attach\(buf0, iommufd:mainline\) +ok/);
    expect(mainline.out).toContain('REV-IMPORTER (step 4): iommufd got move_notify for att0 of buf0 while it is not revoked');
  });

  it("a plugin file goes through run's loader: the user's mainline variant replays the same case", async () => {
    const r = await cli('replay', D1, '--exporter', 'test/plugins/mainline-close-disables-first.ts');
    expect(r.code).toBe(1);
    expect(r.out).toContain('  on user-mainline-close-disables-first (the case was found on vfio-pci:mainline-1a8a5227)\n');
    // The case's own implementation among those given: the case replays there (a run's printed command keeps working).
    const both = await cli('replay', D1, '--exporter', 'vfio-pci:mainline-1a8a5227', '--importer', 'iommufd');
    expect(both.code).toBe(0);
    expect(both.out).toContain('  on vfio-pci:mainline-1a8a5227\n');
  });

  it('an implementation that does not run the case, or an unknown one, is one line and exit 2', async () => {
    const route = await cli('replay', D1, '--plugin', 'p2pdma');
    expect([route.code, route.out]).toEqual([2, '']);
    expect(route.err).toBe(`dmabuf-conform replay: ${D1}: /input: a case of the lifecycle part (found on vfio-pci:mainline-1a8a5227); none of the implementations given runs it (p2pdma: route)\n`);
    const nope = await cli('replay', D1, '--exporter', 'nope');
    expect(nope.code).toBe(2);
    expect(nope.err).toMatch(/^dmabuf-conform replay: --exporter nope: no such file, and no bundled plugin of that name \(bundled: .*vfio-pci:mainline/);
    expect(nope.err.trim().split('\n')).toHaveLength(1);
  });

  it("a worker's crash in a report (part 'isolation') says how to see it again, in one line", async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const file = join(mkdtempSync(join(tmpdir(), 'dmabuf-iso-')), 'x.json');
    writeFileSync(file, JSON.stringify({ implementation: 'vfio-pci', rule: 'PLUGIN-EXIT', input: { part: 'isolation', input: { why: 'exited', seed: 1, round: 0 } } }));
    const r = await cli('replay', file);
    expect([r.code, r.out, r.err]).toEqual([2, '', `dmabuf-conform replay: ${file}: /input: a worker that ended (PLUGIN-EXIT), not a case to replay: run again with the run's --seed to see it\n`]);
  });

  it('replay --help says how to choose the implementation', async () => {
    const h = await cli('replay', '--help');
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/--exporter PATH\|name\]\.\.\./);
    expect(h.out).toContain('else on each implementation they give that runs the case');
    expect(h.out).toContain('simulated machine');
  });
});

describe("replay's header: the machine and the fault injection of the case", () => {
  it('a conversion case names its IOMMU flavour and dma_map_phys path, and its faults', async () => {
    const keep = await cli('replay', 'examples/findings/1-iova-link-offset-zero-keep.json');
    expect(keep.out).toContain('\n  machine: IOMMU keep (keeps the old entry and WARNs (VT-d)); dma_map_phys dma-direct (DMA address = physical)\n');
    expect(keep.out).toContain('\n  faults: none\n');
    const refuse = await cli('replay', 'examples/findings/1-iova-link-offset-zero-refuse.json');
    expect(refuse.out).toMatch(/\n {2}machine: IOMMU refuse /);
    const early = await cli('replay', 'examples/findings/7-iova-leak-on-early-error.json');
    expect(early.out).toContain('\n  faults: the sg_table allocation fails (-ENOMEM)\n');
    const unwind = await cli('replay', 'examples/findings/6-unwind-walks-unmapped-entries.json');
    expect(unwind.out).toContain('\n  faults: dma_map_phys() call 2 fails; dma_iova_try_alloc() refuses (no IOVA: dma_map_phys per range)\n');
  });

  it('a lifecycle case without a machine says it runs on the default; its create faults are named', async () => {
    const c1 = await cli('replay', 'examples/findings/C1-fd-unwind-double-free.json');
    // C1 maps nothing: its setup's IOVA refusal is not one of its conditions.
    expect(c1.out).not.toContain('dma_iova_try_alloc() refuses');
    expect(c1.out).toContain('\n  machine: IOMMU overwrite (overwrites the old entry); dma_map_phys dma-direct (DMA address = physical), the default machine (the case records none)\n');
    expect(c1.out).toMatch(/\n {2}faults: .*the create of command 1 fails at its fd step\n/);
    const m3 = await cli('replay', 'examples/findings/M3-rfc-fix-cleaned-einval.json');
    expect(m3.out).toContain('\n  machine: not simulated by the cleaned part (no DMA mapping)\n');
  });

  it('a create path case shows the BARs and the ranges it gave; a route case its topology', async () => {
    // A fresh user read report.json to learn which range a PAL-INPUT case had sent.
    const top = await cli('replay', 'examples/findings/10-bar-ends-at-2-64.json');
    expect(top.out).toContain('\n  device: BAR 0 mem 0xffffffffffff0000+0x10000 (bus offset 0x0); page size 0x1000\n');
    expect(top.out).toContain('\n  request: region 0, nr_ranges 1: 0x0+0x1000\n');
    // A lifecycle case shows each device it names with its BARs (the one layout, at each device's address), so that
    // 'create(dev1, region 0, 0x0+0x100000) returned -EINVAL' reads as "the range is exactly BAR 0" (a user could not tell).
    const d1 = await cli('replay', 'examples/findings/D1-first-drain-close-double-put.json');
    expect(d1.out).toMatch(/\n {2}dev0: BAR 0 mem 0x38000000000\+0x[0-9a-f]+ \(bus offset 0x[0-9a-f]+\)[^\n]*; page size 0x1000\n/);
    const u = (x: bigint) => ({ $u64: `0x${x.toString(16)}` });
    const setup = { bars: [{ index: 0, type: 'mem', start: u(0x38000000000n), size: u(0x100000n), busOffset: u(0x1000n) }, { index: 2, type: 'mem', start: u(0x38080000000n), size: u(0x10000n), busOffset: u(0n), mappable: false }, { index: 4, type: 'io', start: u(0xe400n), size: u(0x100n), busOffset: u(0n) }], pageSize: u(0x1000n), dmaRoute: 'THRU_HOST_BRIDGE', iova: true };
    const cmds = [{ op: 'create', dev: 1, region: 0, ranges: [{ offset: u(0n), length: u(0x100000n) }] }, { op: 'event', dev: 0, event: 'mem-off' }];
    expect(caseConditions({ part: 'lifecycle', input: { cmds, setup } }).slice(1, 3)).toEqual([
      'dev0: BAR 0 mem 0x38000000000+0x100000 (bus offset 0x1000); BAR 2 mem 0x38080000000+0x10000 (bus offset 0x0, unassigned); BAR 4 io 0xe400+0x100; page size 0x1000',
      'dev1: BAR 0 mem 0x39000000000+0x100000 (bus offset 0x1000); BAR 2 mem 0x39080000000+0x10000 (bus offset 0x0, unassigned); BAR 4 io 0xe400+0x100; page size 0x1000',
    ]);
    // The BARs shown are those the run probed the devices with.
    expect(deviceBars(fromInput<LcSetup>(setup), 1).map((b) => b.start)).toEqual([0x39000000000n, 0x39080000000n, 0xe400n]);
    // The CPU as --cpu takes it; a host bridge whose allow list the topology does not state says so.
    const topology = { cpu: { vendor: 'amd', family: 23 }, hostBridges: [{ id: 'hb0', allowList: 'none' }, { id: 'hb1' }], devices: [
      { id: 'rp0', kind: 'root-port', parent: 'hb0', slot: 1, function: 0, bars: [], p2pdma: false },
      { id: 'ep1', kind: 'endpoint', parent: 'rp0', slot: 0, function: 0, bars: [], p2pdma: true, acs: { rr: true, cr: false, ec: false } },
    ] };
    expect(caseConditions({ part: 'route', input: { topology, pairs: [['ep1', 'ep1']] } })).toEqual([
      'machine: not simulated by the route part (no DMA mapping)', 'topology: CPU amd:0x17',
      '  hb0 host bridge (allow list: none)', '    rp0 root-port 01.0', '      ep1 endpoint 00.0 ACS RR p2pdma',
      "  hb1 host bridge (allow list: not stated: the kernel's table decides by the root bus's devices)",
    ]);
  });
});

describe("replay's step marker: the step where the case's rule broke", () => {
  const step = (index: number, command: string, rule?: string) => ({ index, from: 'user' as const, to: 'exporter' as const, command, result: 'ok', expected: 'ok', ...(rule ? { rule } : {}) });
  // A documented finding at step 2, the case's rule at step 4: the counterexample's failingStep is the first.
  const found: Found = {
    violations: [{ rule: 'REV-NOTIFY', message: 'notified', step: 1 }, { rule: 'REV-MAP', message: 'mapped', step: 3 }],
    explainedBy: ['cleanup-notifies-revoked', null],
    counterexample: { suite: 'lifecycle', failingStep: 1, steps: [step(0, 'create'), step(1, 'close', 'REV-NOTIFY'), step(2, 'open'), step(3, 'map(att0)')], input: {} },
  };

  it("marks the case's rule's step, labels every step with the rules it broke, and marks nothing when the rule did not break", () => {
    expect(stepOfRule(found, 'REV-MAP')).toBe(3);
    const lines = replayLines(found, 'REV-MAP');
    expect(lines.filter((l) => l.startsWith('>'))).toEqual([expect.stringMatching(/^>\s+4\. map\(att0\) .*<- REV-MAP$/)]);
    expect(lines.find((l) => /^\s+2\. close/.test(l))).toMatch(/<- REV-NOTIFY$/);
    expect(stepOfRule(found, 'REV-NOTIFY')).toBe(1);
    expect(stepOfRule(found, 'UAF-OBJ')).toBe(-1);
    expect(replayLines(found, 'UAF-OBJ').filter((l) => l.startsWith('>'))).toEqual([]);
  });

  it('a violation without a step is marked at the failing step, labelled with the case rule', () => {
    const conv: Found = { violations: [{ rule: 'LEN-ALIGN', message: 'a' }, { rule: 'ROUTE-BUSADDR', message: 'b' }], explainedBy: [null, null], counterexample: { suite: 'convert', failingStep: 0, steps: [step(0, 'map', 'LEN-ALIGN'), step(1, 'free')], input: {} } };
    expect(replayLines(conv, 'ROUTE-BUSADDR').filter((l) => l.startsWith('>'))).toEqual([expect.stringMatching(/<- LEN-ALIGN, ROUTE-BUSADDR$/)]);
  });
});

describe("replay's step marker on the step that reported the violation, in every suite's counterexample", () => {
  const mark = (f: Found, rule: string) => replayLines(f, rule).filter((l) => l.startsWith('>'));

  it("a conversion plugin whose dma_buf_free_sgt() unmaps in the wrong direction: '>' on the free, not the map (DMA-UNMAP)", async () => {
    // The trial's plugin, as a user writes it: the map is mainline's, the free passes DMA_BIDIRECTIONAL.
    const plugin: ConversionPlugin = {
      kind: 'conversion', name: 'user-unmap-dir', description: 'free unmaps bidirectional', profiles: ['v8'], limit: 'page-aligned',
      map: (k, a, p, phys, size, dir) => MAINLINE_PHYS_VEC_TO_SGT.map(k, a, p, phys, size, dir),
      unmap: (k, a, dma) => dma_buf_free_sgt(k, a, dma, 'DMA_BIDIRECTIONAL'), // BUG
    };
    const c: ConversionCase = { phys: [{ paddr: 0x10000n, len: 0x1000n }], size: 0x1000n, route: 'THRU_HOST_BRIDGE', busOffset: 0n, pageSize: 0x1000n, faults: { ...NO_FAULTS, iovaRefused: true }, dir: 'DMA_FROM_DEVICE' };
    const f = await convertSuite.targets(plugin, [])[0]!.replay(toInput({ kind: 'conversion', ...c }));
    expect(f.violations.filter((v) => v.rule === 'DMA-UNMAP').map((v) => v.step)).toEqual([1]);
    expect(f.counterexample.failingStep).toBe(1);
    expect(f.counterexample.steps.map((s) => s.rule)).toEqual([undefined, 'DMA-UNMAP']);
    expect(mark(f, 'DMA-UNMAP')).toEqual([expect.stringMatching(/^>\s+2\. dma_buf_free_sgt\(\) .*<- DMA-UNMAP/)]);
    // The faithful port: nothing at either step.
    expect((await convertSuite.targets({ ...plugin, unmap: MAINLINE_PHYS_VEC_TO_SGT.unmap }, [])[0]!.replay(toInput({ kind: 'conversion', ...c }))).violations.filter((v) => v.rule === 'DMA-UNMAP')).toEqual([]);
  });

  it("an exporter whose unmap_dma_buf unmaps in the wrong direction: the export part's '>' is on its unmap step, not the map", async () => {
    class WrongDir extends VfioPciDmabufOps {
      override unmap_dma_buf(attachment: DmaBufAttachment, sgt: KObj<unknown>): void {
        dma_buf_unmap(this.mappingKernel, { dev: attachment.dev, dmabuf: attachment.dmabuf }, sgt as KObj<DmaBufDma>, 'DMA_TO_DEVICE'); // BUG
      }
    }
    const p = vfioExporter('user-exp-unmap-dir', 'unmap_dma_buf in the wrong direction', { port: { ...V8_PORT, makeOps: (k, cfg) => new WrongDir(k, cfg.routeTo) } });
    const bars = [{ index: 0, type: 'mem', start: 0xc0000000000n, size: 0x100000n, busOffset: 0n }];
    const input = toInput({ kind: 'export', bars, req: { regionIndex: 0, openFlags: 0, flags: 0, nrRanges: 1, ranges: [{ offset: 0n, length: 0x1000n }] }, pageSize: 0x1000n, route: 'THRU_HOST_BRIDGE', iovaRefused: true, hasOps: true, alive: true });
    const f = await convertSuite.targets(p, []).find((t) => t.part === 'export')!.replay(input);
    expect(f.violations.map((v) => [v.step, v.rule])).toEqual([[2, 'DMA-UNMAP']]);
    expect(f.counterexample.steps.map((s) => [s.command.replace(/\(.*/, ''), s.rule])).toEqual([['VFIO_DEVICE_FEATURE_DMA_BUF', undefined], ['map', undefined], ['unmap, detach', 'DMA-UNMAP']]);
    expect(mark(f, 'DMA-UNMAP')).toEqual([expect.stringMatching(/^>\s+3\. unmap, detach .*<- DMA-UNMAP$/)]);
  });

  it('the cleaned part: a create that fails is marked on the create, the case ends there', async () => {
    const refuses = { ...matchExporter('rfc'), name: 'refuses' };
    const probe = refuses.probe.bind(refuses);
    refuses.probe = (k, cfg) => Object.assign(probe(k, cfg), { create: async () => ({ ok: false as const, errno: '-ENOMEM' as const }) });
    const f = await matchSuite.targets(refuses, [])[0]!.replay({ events: ['flr'], imp: 'dma-p2p' });
    expect(f.counterexample.steps.map((s) => [s.command, s.result, s.rule])).toEqual([['create(dev0, 2 ranges)', '-ENOMEM', 'MATCH-CLEANED']]);
    expect(mark(f, 'MATCH-CLEANED')).toEqual([expect.stringMatching(/^>\s+1\. create/)]);
  });
});

describe("a route case's steps", () => {
  it('a pair (or a list of clients) that agrees shows the model\'s map type and distance (the list\'s total) on both sides, not a placeholder', async () => {
    const bug = seededBugs().find((b) => b.plugin.name === 'bug:route-acs-client-inclusive')!;
    const target = allTargets([bug.plugin]).find((t) => t.suite === 'route')!;
    const out = await target.search(1, 400, new Set());
    const steps = out.failures.flatMap((f) => f.counterexample.steps);
    expect(steps.length).toBeGreaterThan(0);
    for (const s of steps.filter((x) => !x.rule)) {
      expect(s.result).toMatch(s.command.startsWith('pci_p2pdma_distance_many(') ? /^-?\d+$/ : /^(BUS_ADDR|THRU_HOST_BRIDGE|NOT_SUPPORTED|MAP_NONE) \(distance -?\d+\)$/);
      expect(s.expected).toBe(s.result);
    }
  });
});
