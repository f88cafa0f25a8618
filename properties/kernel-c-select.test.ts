// Selecting the kernel's C units by name (src/kernel-c/plugins.ts selectKernelC): --exporter/--importer/
// --plugin name a C unit as they name a bundled plugin; with --kernel-tree/--kernel-patch and no selection
// the C units alone run (no bundled port); a `c:` name without them is one line saying what to give.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pluginSpecs } from '../src/commands/run.ts';
import { UsageError } from '../src/commands/usage.ts';
import type { PluginKind } from '../src/harness/plugin.ts';
import { selectKernelC, type KernelCUnitName } from '../src/kernel-c/plugins.ts';

const UNITS: readonly KernelCUnitName[] = [
  { name: 'c:v8:dma_buf_map', kind: 'conversion' }, { name: 'c:v8:vfio-pci', kind: 'exporter' }, { name: 'c:p2pdma', kind: 'route' },
];
type Given = readonly [string, string, PluginKind | undefined];
const FLAG_KIND: Record<string, PluginKind | undefined> = { '--exporter': 'exporter', '--importer': 'importer', '--plugin': undefined };
const given = (flag: string, spec: string): Given => [flag, spec, FLAG_KIND[flag]];
const thrown = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('no UsageError');
};

describe('selectKernelC', () => {
  it('a C unit named with its kind\'s flag or --plugin is selected; other names stay for loadPlugin, in order', () => {
    const arb = fc.array(fc.oneof(
      fc.constantFrom(given('--exporter', 'c:v8:vfio-pci'), given('--plugin', 'c:v8:vfio-pci'), given('--plugin', 'c:v8:dma_buf_map'), given('--plugin', 'c:p2pdma')),
      fc.constantFrom(given('--exporter', 'vfio-pci'), given('--plugin', 'p2pdma'), given('--importer', './imp.ts')),
    ), { maxLength: 6 });
    fc.assert(fc.property(arb, (g) => {
      const r = selectKernelC(g, UNITS);
      const cNames = [...new Set(g.filter(([, s]) => s.startsWith('c:')).map(([, s]) => s))];
      expect(r.only).toEqual(cNames.length ? cNames : undefined);
      expect(r.rest).toEqual(g.filter(([, s]) => !s.startsWith('c:')));
    }));
  });

  it('a C unit under another kind\'s flag, or a c: name no unit has, is one line naming the units built', () => {
    expect(thrown(() => selectKernelC([given('--exporter', 'c:v8:dma_buf_map')], UNITS))).toBe('--exporter c:v8:dma_buf_map: that kernel C unit is a conversion (--plugin c:v8:dma_buf_map)');
    expect(thrown(() => selectKernelC([given('--importer', 'c:v8:vfio-pci')], UNITS))).toBe('--importer c:v8:vfio-pci: that kernel C unit is an exporter (--exporter c:v8:vfio-pci)');
    expect(thrown(() => selectKernelC([given('--exporter', 'c:v9:vfio-pci')], UNITS))).toBe('--exporter c:v9:vfio-pci: no kernel C unit of that name (the C units built: c:v8:dma_buf_map (conversion), c:v8:vfio-pci (exporter), c:p2pdma (route))');
  });

  it('without --kernel-tree/--kernel-patch a c: name says to give them; other names pass through', () => {
    expect(thrown(() => selectKernelC([given('--plugin', 'p2pdma'), given('--exporter', 'c:v8:vfio-pci')], null))).toBe('--exporter c:v8:vfio-pci: the name of a kernel C unit: give the C with --kernel-tree DIR or --kernel-patch FILE');
    expect(selectKernelC([given('--exporter', 'vfio-pci')], null)).toEqual({ rest: [given('--exporter', 'vfio-pci')] });
  });
});

describe('pluginSpecs', () => {
  it('no selection: every bundled port, but none with --kernel-tree/--kernel-patch (the C units are the run)', () => {
    expect(pluginSpecs([]).length).toBeGreaterThan(1);
    expect(pluginSpecs([], true)).toEqual([]);
    expect(pluginSpecs([['--plugin', 'p2pdma', undefined]], true)).toEqual([{ spec: 'p2pdma', flag: '--plugin' }]);
  });
});
