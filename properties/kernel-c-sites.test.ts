// Where a violation of the kernel's C points (src/kernel-c/sites.ts, bridge.ts): a check after the step
// names what the C's entry point of that step returned and the C's last call, one line; the trail of the
// C's last crossings of the bridge goes in evidence.cTrail (printed by replay, once per distinct trail);
// a sanitizer summary whose site is inside our shim names the C frame that called the shim instead.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replayLines } from '../src/commands/replay.ts';
import type { Found } from '../src/harness/suite.ts';
import { parseSanitizerReport, shimSiteToCaller } from '../src/kernel-c/bridge.ts';
import { crashedC, enteredC, returnedC, servingAt, trackCSites, TRAIL } from '../src/kernel-c/sites.ts';
import { ViolationLog } from '../src/rules/violation.ts';

const CREATE = 'drivers/vfio/pci/vfio_pci_dmabuf.c:162 (vfio_pci_core_feature_dma_buf)';
const site = (line: number, fn = 'vfio_pci_core_feature_dma_buf') => `drivers/vfio/pci/vfio_pci_dmabuf.c:${line} (${fn})`;

describe('trackCSites: the entry that returned, the last call, the trail', () => {
  it('a check after the step names the entry\'s result and the last call in one line; the trail is in evidence', () => {
    const log = new ViolationLog();
    const t = trackCSites(log);
    log.step = 0;
    servingAt(t, '/pkg/c/units/exporter.c:65 (kc_probe)', () => undefined, 'alloc');
    enteredC(t, 'vfio_pci_core_feature_dma_buf', CREATE);
    servingAt(t, site(193), () => undefined, 'alloc');
    servingAt(t, site(270), () => undefined, 'kfree');
    returnedC(t, 'vfio_pci_core_feature_dma_buf', '-EINVAL');
    log.report('PAL-INPUT', 'create returned -EINVAL, the model says ok');
    const v = log.violations[0]!;
    expect(v.message).toBe(`create returned -EINVAL, the model says ok [vfio_pci_core_feature_dma_buf returned -EINVAL; found by a check after the step; last kernel call before the check: ${site(270)}]`);
    expect(v.message).not.toContain('\n');
    expect(v.evidence).toEqual({
      cSite: site(270), cSiteIs: 'last-call', cReturned: 'vfio_pci_core_feature_dma_buf returned -EINVAL',
      cTrail: ['-> vfio_pci_core_feature_dma_buf (drivers/vfio/pci/vfio_pci_dmabuf.c:162)', `${site(193)}: alloc`, `${site(270)}: kfree`, '<- vfio_pci_core_feature_dma_buf returned -EINVAL'],
    });
  });

  it('an entry of an earlier step is not named as this step\'s result; a crash says the entry did not return', () => {
    const log = new ViolationLog();
    const t = trackCSites(log);
    log.step = 0;
    enteredC(t, 'vfio_pci_dma_buf_attach', site(23, 'vfio_pci_dma_buf_attach'));
    returnedC(t, 'vfio_pci_dma_buf_attach', '0');
    log.step = 1;
    log.report('IOMMUFD-ONE', 'map(att0) returned -EOPNOTSUPP, the model says ok');
    expect(log.violations[0]!.message).toBe(`map(att0) returned -EOPNOTSUPP, the model says ok [found by a check after the step; last kernel call before the check: ${site(23, 'vfio_pci_dma_buf_attach')}]`);
    expect(log.violations[0]!.evidence?.['cReturned']).toBeUndefined();
    enteredC(t, 'vfio_pci_dma_buf_map', site(37, 'vfio_pci_dma_buf_map'));
    crashedC(t, 'vfio_pci_dma_buf_map', 'heap-use-after-free');
    log.report('REV-MAP', 'map(att0) returned -EFAULT, the model says -ENODEV');
    expect(log.violations[1]!.message).toContain('[vfio_pci_dma_buf_map did not return (the unit crashed: heap-use-after-free); found by a check after the step; last kernel call before the check: ');
  });

  it('the trail keeps the last TRAIL crossings, oldest first; a report during a call or with its own site is left alone', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 1, max: 999 }), { maxLength: 30 }), (lines) => {
      const log = new ViolationLog();
      const t = trackCSites(log);
      enteredC(t, 'vfio_pci_dma_buf_move', site(300, 'vfio_pci_dma_buf_move'));
      for (const l of lines) servingAt(t, site(l, 'vfio_pci_dma_buf_move'), () => log.report('LOCK-RESV', 'during', { site: 'x' }), 'dma_resv_lock');
      const all = ['-> vfio_pci_dma_buf_move (drivers/vfio/pci/vfio_pci_dmabuf.c:300)', ...lines.map((l) => `${site(l, 'vfio_pci_dma_buf_move')}: dma_resv_lock`)];
      expect(t.trail).toEqual(all.slice(-TRAIL));
      expect(log.violations.every((v) => v.message === 'during')).toBe(true);
      log.report('UAF-OBJ', 'own', { cSite: 'elsewhere.c:1' });
      expect(log.violations.at(-1)!.message).toBe('own');
    }));
  });
});

describe('a sanitizer site inside the shim names the C caller', () => {
  const stderr = [
    '==7==ERROR: AddressSanitizer: heap-use-after-free on address 0x502000000010 at pc 0x1 bp 0x2 sp 0x3',
    'READ of size 8 at 0x502000000010 thread T3',
    '    #0 0x55e1 in kshim_p2pdma_bus_addr_map /work/main/c/shim/services.c:113:44',
    '    #1 0x55e2 in live_check /work/main/c/shim/services.c:40:3',
    '    #2 0x55e3 in dma_buf_map drivers/dma-buf/dma-buf.c:1387:17',
    '    #3 0x55e4 in vfio_pci_dma_buf_map drivers/vfio/pci/vfio_pci_dmabuf.c:48:9',
    '    #4 0x55e5 in kshim_unit_request /work/main/c/units/exporter.c:143:3',
    'SUMMARY: AddressSanitizer: heap-use-after-free /work/main/c/shim/services.c:113 in kshim_p2pdma_bus_addr_map',
  ].join('\n');

  it('the frames start at the first not in c/shim, and the summary names it', () => {
    const c = parseSanitizerReport(stderr, null, 'exit 1');
    expect(c.frames.map((f) => `${f.func} ${f.at}`)).toEqual(['dma_buf_map drivers/dma-buf/dma-buf.c:1387', 'vfio_pci_dma_buf_map drivers/vfio/pci/vfio_pci_dmabuf.c:48', 'kshim_unit_request c/units/exporter.c:143']);
    expect(c.summary).toBe('AddressSanitizer: heap-use-after-free drivers/dma-buf/dma-buf.c:1387 in dma_buf_map, in its call of kshim_p2pdma_bus_addr_map');
    expect(c.summary).not.toMatch(/c\/shim/);
  });

  it('a summary already in the C, or without a C frame, is left as it is; a UBSan site in the shim names the caller', () => {
    const inC = 'AddressSanitizer: heap-use-after-free drivers/dma-buf/dma-buf.c:1420 in dma_buf_unmap';
    expect(shimSiteToCaller(inC, { func: 'dma_buf_unmap', at: 'drivers/dma-buf/dma-buf.c:1420' })).toBe(inC);
    const shim = 'AddressSanitizer: SEGV /x/c/shim/vfio.c:66 in kshim_get_file_active';
    expect(shimSiteToCaller(shim, undefined)).toBe(shim);
    expect(shimSiteToCaller('/x/c/shim/services.c:131:9: runtime error: shift exponent 64', { func: 'dma_buf_map', at: 'drivers/dma-buf/dma-buf.c:1370' }))
      .toBe('drivers/dma-buf/dma-buf.c:1370 (dma_buf_map, in the shim\'s c/shim/services.c:131:9): runtime error: shift exponent 64');
  });
});

describe('replay prints the trail', () => {
  it('under each violation that has one, once when the next has the same', () => {
    const trail = ['-> vfio_pci_dma_buf_map (drivers/vfio/pci/vfio_pci_dmabuf.c:37)', '<- vfio_pci_dma_buf_map returned an sg_table'];
    const found: Found = {
      violations: [
        { rule: 'REV-MAP', step: 0, message: 'map(att0) returned ok, the model says -ENODEV [...]', evidence: { cTrail: trail } },
        { rule: 'REV-WINDOW', step: 0, message: 'w', evidence: { cTrail: trail } },
      ],
      explainedBy: [null, null],
      counterexample: { suite: 'lifecycle', steps: [{ index: 0, from: 'importer', to: 'core', command: 'map(att0)', result: 'ok', expected: '-ENODEV' }], failingStep: 0, input: null },
    };
    const lines = replayLines(found, 'REV-MAP');
    const at = lines.findIndex((l) => l.startsWith('  REV-MAP'));
    expect(lines.slice(at + 1, at + 4)).toEqual(['      the C\'s last crossings of the bridge, oldest first:', ...trail.map((l) => `        ${l}`)]);
    expect(lines.at(-1)).toBe('      the C\'s last crossings of the bridge: as above');
  });
});
