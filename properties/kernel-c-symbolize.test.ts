// The units run with symbolize=0 and their reports are read by symbolize() (src/kernel-c/bridge.ts): the
// sanitizer's own lookup started llvm-symbolizer for every report (about 0.3 s of each crash). The report
// read this way must be the one AddressSanitizer prints with symbols: the same kind, summary and C frames.
// Programs written here, compiled at test time with the units' sanitizers and #line names as the units have.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import * as bridge from '../src/kernel-c/bridge.ts';
import { parseSanitizerReport, symbolize } from '../src/kernel-c/bridge.ts';

const CC = process.env.CC ?? 'cc';
const haveCc = spawnSync(CC, ['--version']).status === 0;
const haveSymbolizer = existsSync('/usr/bin/llvm-symbolizer');

/** Three faults, each in a function of a file named as the kernel's are (#line), one inlined into its caller. */
const PROGRAM = `#include <stdlib.h>
#include <stdio.h>
#include <string.h>
struct priv { long *phys_vec; long n; };
#line 60 "drivers/vfio/pci/vfio_pci_dmabuf.c"
static inline long first(struct priv *p) { return p->phys_vec[0] + p->n; }
__attribute__((noinline)) long release(struct priv *p) {
  free(p);
  return first(p);
}
#line 1380 "drivers/dma-buf/dma-buf.c"
__attribute__((noinline)) int fill(int *t, int n) {
  int s = 0;
  for (int i = 0; i <= n; i++) s += t[i];
  return s;
}
__attribute__((noinline)) int shift(int a, int b) { return a << b; }
int main(int argc, char **argv) {
  if (!strcmp(argv[1], "uaf")) { struct priv *p = calloc(1, sizeof *p); p->phys_vec = calloc(1, 8); return (int)release(p); }
  if (!strcmp(argv[1], "oob")) { int *t = calloc(4, sizeof *t); return fill(t, 4); }
  return shift(1, argc + 40);
}
`;

describe.skipIf(!haveCc || !haveSymbolizer)('sanitizer reports read with symbolize()', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kc-sym-'));
  const src = join(dir, 'p.c');
  const bin = join(dir, 'p');
  writeFileSync(src, PROGRAM);
  execFileSync(CC, ['-std=gnu11', '-g', '-O1', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-fno-sanitize-recover=undefined', src, '-o', bin], { cwd: dir });
  const report = (what: string, symbols: boolean) => spawnSync(bin, [what], {
    cwd: dir, encoding: 'utf8',
    env: { ...process.env, ASAN_SYMBOLIZER_PATH: '/usr/bin/llvm-symbolizer', ASAN_OPTIONS: `detect_leaks=0:halt_on_error=1:symbolize=${symbols ? 1 : 0}:print_summary=1`, UBSAN_OPTIONS: `print_stacktrace=1:halt_on_error=1:symbolize=${symbols ? 1 : 0}` },
  }).stderr;

  it.each(['uaf', 'oob', 'ubsan'])('%s: the same kind, summary and C frames as the sanitizer prints with symbols', (what) => {
    const want = parseSanitizerReport(report(what, true), null, 'exit');
    const raw = report(what, false);
    expect(raw).toMatch(/\(\S+\+0x[0-9a-f]+\)/);
    const got = parseSanitizerReport(symbolize(raw), null, 'exit');
    expect(got).toEqual(want);
    expect(got.frames.length).toBeGreaterThan(0);
    if (what === 'uaf') {
      expect(got.summary).toBe('AddressSanitizer: heap-use-after-free drivers/vfio/pci/vfio_pci_dmabuf.c:60 in first');
      // the inlined helper, then the function it is inlined in, as the sanitizer lists them
      expect(got.frames.slice(0, 2).map((f) => f.func)).toEqual(['first', 'release']);
    }
    if (what === 'oob') expect(got.summary).toMatch(/^AddressSanitizer: heap-buffer-overflow drivers\/dma-buf\/dma-buf\.c:1382 in fill$/);
  });

  it('each address is looked up once: a second report of the same crash starts no symbolizer', () => {
    const raw = report('uaf', false);
    symbolize(raw);
    const before = bridge.symbolizerRuns;
    const again = symbolize(report('uaf', false));
    expect(bridge.symbolizerRuns).toBe(before);
    expect(again).toMatch(/SUMMARY: AddressSanitizer: heap-use-after-free drivers\/vfio\/pci\/vfio_pci_dmabuf\.c:60 in first/);
  });

  it('an address no symbolizer can name, or a missing module, stays as printed', () => {
    const text = '    #0 0x55d0000001  (/nonexistent/module+0x1234)\nSUMMARY: AddressSanitizer: SEGV (/nonexistent/module+0x1234) in ??\n';
    expect(symbolize(text)).toBe(text);
  });
});
