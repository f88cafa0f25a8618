// What a run does with the C it is given, unit by unit: a patch cut inside a hunk (a hunk shorter than its
// header says) is bad input, one line and exit 2, never a run of what is left; and every unit a run could not
// build is named with why (an exporter selected by name that was not built says why). The patches are derived
// from the 002 seed at test time (../shared/seeds, never copied here): cut, or with files left out.
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/commands/usage.ts';
import { cutOf, patchFragments } from '../src/kernel-c/extract.ts';
import { loadKernelC } from '../src/kernel-c/index.ts';
import { kernelCPlugins, selectKernelC } from '../src/kernel-c/plugins.ts';

import { NEEDS_SEEDS, SEEDS } from './shared.ts';

const S002 = existsSync(SEEDS) ? readdirSync(SEEDS).find((f) => f.startsWith('002_')) : undefined;
const skip = !S002;
const TEXT = S002 ? readFileSync(join(SEEDS, S002), 'utf8') : '';
const LINES = TEXT.split('\n');
const EXPORTER = 'drivers/vfio/pci/vfio_pci_dmabuf.c';
const tmp = () => mkdtempSync(join(tmpdir(), 'kc-input-'));
const write = (name: string, text: string) => {
  const f = join(tmp(), name);
  writeFileSync(f, text);
  return f;
};
/** The 1-based line of the seed's new-file hunk header of the exporter, and how many lines it announces. */
function exporterHunk(): { header: number; of: number } {
  const d = LINES.findIndex((l) => l.startsWith(`diff --git a/${EXPORTER} `));
  const h = LINES.findIndex((l, i) => i > d && /^@@ -0,0 \+1,\d+ @@/.test(l));
  return { header: h + 1, of: Number(/\+1,(\d+)/.exec(LINES[h]!)![1]) };
}

describe.skipIf(skip)(`a cut patch is bad input ${NEEDS_SEEDS}`, () => {
  it('the seed cut inside the exporter\'s new-file hunk: one line naming the file, the hunk and N of M lines, exit 2', async () => {
    const { header, of } = exporterHunk();
    const at = header + 103; // the seed's first 103 lines of the file, as the user's 002-truncated.txt
    const p = write('002-truncated.txt', `${LINES.slice(0, at).join('\n')}\n`);
    const r = await loadKernelC({ patches: [p] });
    expect(r).toEqual({ ok: false, errno: '-EINVAL', exitCode: 2, message: `${p}:${header}: the patch ends inside a hunk of ${EXPORTER} (@@ -0,0 +1,${of} @@): 103 of ${of} lines; the patch is cut (give the whole patch or mbox)` });
    // kernelCPlugins (what run and replay call) passes the line on
    expect(await kernelCPlugins({ patches: [p] })).toEqual({ ok: false, message: !r.ok ? r.message : '' });
  });

  it('every cut of the seed inside the exporter\'s new-file hunk is refused, with or without a final newline', () => {
    const { header, of } = exporterHunk();
    fc.assert(fc.property(fc.integer({ min: 0, max: of - 1 }), fc.boolean(), (n, newline) => {
      const text = LINES.slice(0, header + n).join('\n') + (newline ? '\n' : '');
      const cut = patchFragments(text, 'p').filter((f) => f.cut);
      expect(cut.map((f) => [f.path, f.cut!.of, f.cut!.atEnd])).toEqual([[EXPORTER, of, true]]);
      // a line cut mid-way counts as read: the count is the lines the text holds
      expect(cut[0]!.cut!.lines).toBe(n);
    }), { numRuns: 60 });
  });

  it('the whole seed, and the seed cut between hunks (after a hunk\'s last line, with its newline), are not cut', () => {
    expect(patchFragments(TEXT, 'p').map(cutOf).filter((l) => l !== null)).toEqual([]);
    // the line before each `diff --git` line: the last hunk of the file before it is whole
    const ends = LINES.flatMap((l, i) => (l.startsWith('diff --git ') && i > 0 ? [i] : []));
    for (const i of ends) {
      const fr = patchFragments(`${LINES.slice(0, i).join('\n')}\n`, 'p');
      const full = patchFragments(TEXT, 'p');
      // a fragment the cut text has whole (as many lines as in the whole seed) is never called cut
      for (const f of fr.filter((x) => x.cut)) expect(f.lines.length, `${f.origin}`).toBeLessThan(full.find((g) => g.origin === f.origin)!.lines.length);
    }
  });

  it('a git diff (no dropped blank lines) cut anywhere inside a hunk is refused; cut between hunks it is not', () => {
    // a diff as git writes it, of a made-up file: every context line kept (' ' and all)
    const body = Array.from({ length: 30 }, (_, i) => `int f${i}(void) { return ${i}; }`);
    const hunk = ['@@ -10,12 +10,14 @@ static int a;', ...body.slice(0, 3).map((l) => ` ${l}`), '-int old(void);', ...body.slice(3, 6).map((l) => `+${l}`), ' ', ...body.slice(6, 13).map((l) => ` ${l}`)];
    const patch = ['From 0000 Mon Sep 17 00:00:00 2001', 'Subject: [PATCH] x', '---', 'diff --git a/drivers/x.c b/drivers/x.c', '--- a/drivers/x.c', '+++ b/drivers/x.c', ...hunk, ...hunk.map((l) => l.replace('@@ -10,12 +10,14 @@', '@@ -40,12 +42,14 @@'))];
    expect(patchFragments(`${patch.join('\n')}\n`, 'p').map(cutOf)).toEqual([null, null]);
    const first = patch.indexOf(hunk[0]!);
    fc.assert(fc.property(fc.integer({ min: first + 1, max: patch.length - 1 }), (n) => {
      const fr = patchFragments(`${patch.slice(0, n).join('\n')}\n`, 'p');
      const inSecond = n > first + hunk.length;
      const lastWhole = n === first + hunk.length; // the cut falls between the two hunks
      expect(fr.map((f) => f.cut !== undefined)).toEqual(lastWhole ? [false] : inSecond ? [false, true] : [true]);
      const c = fr[fr.length - 1]!.cut;
      if (c) expect(c.of).toBe(14);
    }));
  });
});

describe.skipIf(skip)(`every unit a run could not build is named, and why ${NEEDS_SEEDS}`, () => {
  it('the seed without the exporter\'s file: the exporter (not added) and the route (hunks only) are skipped with one line each', async () => {
    // drop every diff of the exporter file from the seed
    const out: string[] = [];
    let drop = false;
    for (const l of LINES) {
      if (l.startsWith('diff --git ')) drop = l.startsWith(`diff --git a/${EXPORTER} `);
      if (!drop) out.push(l);
    }
    const p = write('no-exporter.txt', out.join('\n'));
    const r = await loadKernelC({ patches: [p] });
    if (!r.ok) throw new Error(r.message);
    try {
      expect(r.value.exporter).toBeUndefined();
      expect(r.value.conversion?.name).toBe('c:v8:dma_buf_map');
      expect(r.value.skipped).toEqual([
        `exporter unit skipped: the patches do not add ${EXPORTER}`,
        'route unit skipped: the patches change drivers/pci/p2pdma.c but do not hold pci_p2pdma_map_type, calc_map_type_and_dist, pci_p2pdma_distance_many (a hunk is not the whole file): give a tree with --kernel-tree',
      ]);
    } finally {
      r.value.close();
    }
    // --exporter c:v8:vfio-pci then says why it is not there
    const kc = await kernelCPlugins({ patches: [p] });
    if (!kc.ok) throw new Error(kc.message);
    kc.close();
    expect(kc.lines).toEqual(expect.arrayContaining(kc.skipped as string[]));
    let message = '';
    try {
      selectKernelC([['--exporter', 'c:v8:vfio-pci', 'exporter'] as const], kc.plugins.map((x) => ({ name: x.name, kind: x.kind })), kc.skipped);
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      message = (e as Error).message;
    }
    expect(message).toBe(`--exporter c:v8:vfio-pci: that kernel C unit was not built: the patches do not add ${EXPORTER}`);
  });

  it('a patch with only later hunks of the exporter\'s file: skipped, naming the hunks and asking for a tree', async () => {
    // the seed's exporter diffs without the new-file one (the 11/11 hunk at line 300 stays)
    const out: string[] = [];
    let drop = false;
    for (let i = 0; i < LINES.length; i++) {
      const l = LINES[i]!;
      if (l.startsWith('diff --git ')) drop = l.startsWith(`diff --git a/${EXPORTER} `) && LINES.slice(i, i + 8).some((x) => /^@@ -0,0 /.test(x));
      if (!drop) out.push(l);
    }
    const r = await loadKernelC({ patches: [write('later.txt', out.join('\n'))] });
    if (!r.ok) throw new Error(r.message);
    r.value.close();
    expect(r.value.skipped[0]).toMatch(new RegExp(`^exporter unit skipped: the patches change ${EXPORTER.replace(/\./g, '\\.')} in hunks \\(from line \\d+\\) but do not add the whole file \\(its new-file hunk\\): give a tree with --kernel-tree$`));
  });

  it('the whole seed builds the conversion and the exporter; only the route is skipped', async () => {
    const r = await loadKernelC({ patches: [join(SEEDS, S002!)] });
    if (!r.ok) throw new Error(r.message);
    r.value.close();
    expect([r.value.conversion?.name, r.value.exporter?.name]).toEqual(['c:v8:dma_buf_map', 'c:v8:vfio-pci']);
    expect(r.value.skipped).toEqual([expect.stringMatching(/^route unit skipped: the patches change drivers\/pci\/p2pdma\.c but do not hold /)]);
  });
});
