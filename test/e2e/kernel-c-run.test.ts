// `dmabuf-conform run --kernel-patch`: the C units of seed 002 (and 003's
// mangled hunk, named) enter the run beside the plugins given, alone when none
// is given (no bundled port), or as selected by name (--exporter c:v8:vfio-pci);
// bad kernel input and a wrong selection are one line and exit 2. Skipped without ../shared/seeds. An end-to-end
// check (about 11 s of CPU: pool workers, the units built or taken from the cache),
// so .ci/run runs it after the test gate.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/report/types.ts';
import { cliIn } from '../../properties/cli-helpers.ts';
import { HAVE_SEEDS, NEEDS_SEEDS } from '../../properties/shared.ts';

const P002 = '../shared/seeds/002_1379aab826d3415b.txt';
const P003 = '../shared/seeds/003_8f4712741c71a171.txt';
const tmp = mkdtempSync(join(tmpdir(), 'dmabuf-kc-run-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const cli = cliIn();

describe.skipIf(!HAVE_SEEDS || !existsSync(P002))(`run --kernel-patch ${NEEDS_SEEDS}`, () => {
  it('checks the C conversion and exporter units of 002; their documented findings are known and nothing is new', async () => {
    const out = join(tmp, 'latest');
    const r = await cli('run', '--plugin', 'p2pdma', '--profile', 'v8', '--runs', '3', '--out', out, '--kernel-patch', P002, P003);
    expect(r.err).toMatch(/kernel C: .*003_8f4712741c71a171\.txt:\d+: the hunk @@ -82,6 \+82,40 @@ of drivers\/vfio\/pci\/vfio_pci_dmabuf\.c \(adding vfio_pci_dma_buf_iommufd_map\) is mangled/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    expect(report.implementations.map((i) => i.name)).toEqual(expect.arrayContaining(['c:v8:dma_buf_map', 'c:v8:vfio-pci']));
    const of = (name: string) => report.violations.filter((v) => v.implementation === name);
    // The conversion's findings (FINDINGS 1-9) are known by id on the C as on the port.
    expect(of('c:v8:dma_buf_map').length).toBeGreaterThan(0);
    expect(of('c:v8:dma_buf_map').filter((v) => !v.known)).toEqual([]);
    // The exporter: L1/L2 known, nothing new. 003's private interconnect could not be compiled, so iommufd's map
    // is -EOPNOTSUPP, as the model says for an exporter without vfio_pci_dma_buf_iommufd_map. After C1 (a failed
    // dma_buf_fd frees priv twice, which AddressSanitizer lets the C survive) a run is not judged further, as on the port.
    const exp = of('c:v8:vfio-pci');
    expect(exp.filter((v) => v.known).some((v) => v.rule === 'REV-NOTIFY' || v.rule === 'REV-IMPORTER')).toBe(true);
    expect(exp.filter((v) => !v.known)).toEqual([]);
    expect(r.code).toBe(0);
  }, 60_000);

  it('--kernel-patch alone runs the C units and no bundled port; --exporter c:v8:vfio-pci runs that unit alone, and its replay line selects it again', async () => {
    const alone = join(tmp, 'alone');
    const r = await cli('run', '--profile', 'v8', '--runs', '2', '--quiet', '--out', alone, '--kernel-patch', P002);
    const names = (JSON.parse(readFileSync(join(alone, 'report.json'), 'utf8')) as Report).implementations.map((i) => i.name);
    expect(names.sort()).toEqual(['c:v8:dma_buf_map', 'c:v8:vfio-pci']);
    expect(r.code).toBe(0);
    const one = join(tmp, 'one');
    const s = await cli('run', '--runs', '2', '--out', one, '--exporter', 'c:v8:vfio-pci', '--kernel-patch', P002);
    const report = JSON.parse(readFileSync(join(one, 'report.json'), 'utf8')) as Report;
    expect(report.implementations.map((i) => i.name)).toEqual(['c:v8:vfio-pci']);
    expect(s.err).toMatch(/1 implementation\(s\)/);
    for (const v of report.violations) expect(v.replay).toContain(`--exporter c:v8:vfio-pci --kernel-patch ${P002}`);
    const v = report.violations[0];
    if (v) {
      const rep = await cli('replay', join(one, 'report.json'), '--case', v.id, '--exporter', 'c:v8:vfio-pci', '--kernel-patch', P002);
      expect(rep.out).toContain('on c:v8:vfio-pci');
      expect(rep.code).toBe(0);
    }
  }, 90_000);

  it('a wrong errno of the C (the trial\'s c5: a range ending at the BAR\'s end refused) names the entry and what it returned in one line; replay prints the C\'s trail', async () => {
    const patch = join(tmp, 'c5-fill-end-offbyone.patch');
    writeFileSync(patch, readFileSync(P002, 'utf8').replace('if (end > max_addr)', 'if (end >= max_addr)'));
    const out = join(tmp, 'c5');
    const r = await cli('run', '--runs', '40', '--out', out, '--exporter', 'c:v8:vfio-pci', '--kernel-patch', patch);
    expect(r.code).toBe(1);
    const line = r.out.split('\n').find((l) => l.startsWith('NEW PAL-INPUT c:v8:vfio-pci: create('))!;
    expect(line).toMatch(/returned -EINVAL, the model says ok \[vfio_pci_core_feature_dma_buf returned -EINVAL; found by a check after the step; last kernel call before the check: drivers\/vfio\/pci\/vfio_pci_dmabuf\.c:\d+ \(vfio_pci_core_feature_dma_buf\)\]$/);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    const v = report.violations.find((x) => x.rule === 'PAL-INPUT' && !x.known)!;
    expect((v.evidence as Record<string, unknown>)['cTrail']).toEqual(expect.arrayContaining(['<- vfio_pci_core_feature_dma_buf returned -EINVAL']));
    const rep = await cli('replay', join(out, 'report.json'), '--case', v.id, '--exporter', 'c:v8:vfio-pci', '--kernel-patch', patch);
    expect(rep.code).toBe(0);
    const lines = rep.out.split('\n');
    const at = lines.indexOf('      the C\'s last crossings of the bridge, oldest first:');
    expect(at).toBeGreaterThan(0);
    expect(lines.slice(at + 1)).toEqual(expect.arrayContaining([expect.stringMatching(/^ {8}-> vfio_pci_core_feature_dma_buf \(drivers\/vfio\/pci\/vfio_pci_dmabuf\.c:\d+\)$/), '        <- vfio_pci_core_feature_dma_buf returned -EINVAL']));
  }, 90_000);

  it('a release that changes vdev->dmabufs without memory_lock (the C\'s list_del_init) is LOCK-MEMLOCK at its line', async () => {
    // vdev->dmabufs changes only under memory_lock held for write (002 v8 10/11): the shim's list carries its guard.
    const patch = join(tmp, 'release-no-memlock.patch');
    writeFileSync(patch, readFileSync(P002, 'utf8').replace('+ down_write(&priv->vdev->memory_lock);\n', '+ (void)0;\n').replace('+ up_write(&priv->vdev->memory_lock);\n', '+ (void)0;\n'));
    const out = join(tmp, 'release-no-memlock');
    const r = await cli('run', '--runs', '40', '--out', out, '--exporter', 'c:v8:vfio-pci', '--kernel-patch', patch);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/^NEW LOCK-MEMLOCK c:v8:vfio-pci: .*vfio_pci_dma_buf_release.* without .*memory_lock held for write/m);
  }, 90_000);

  it('a release that frees priv before priv->phys_vec: the sanitizer\'s line leads and is the only NEW kind; what follows the crash is in its evidence, not NEW lines of its own', async () => {
    const patch = join(tmp, 'release-uaf.patch');
    const seed = readFileSync(P002, 'utf8');
    const text = seed.replace('+ kfree(priv->phys_vec);\n+ kfree(priv);\n', '+ kfree(priv);\n+ kfree(priv->phys_vec);\n');
    expect(text).not.toBe(seed);
    writeFileSync(patch, text);
    const out = join(tmp, 'release-uaf');
    const r = await cli('run', '--runs', '40', '--out', out, '--exporter', 'c:v8:vfio-pci', '--kernel-patch', patch);
    expect(r.code).toBe(1);
    const news = r.out.split('\n').filter((l) => l.startsWith('NEW '));
    expect(news[0]).toMatch(/^NEW UAF-OBJ c:v8:vfio-pci: c:v8:vfio-pci \w+: AddressSanitizer: heap-use-after-free drivers\/vfio\/pci\/vfio_pci_dmabuf\.c:\d+ in vfio_pci_dma_buf_release$/);
    // no result of an entry that never returned (-EIO, -EFAULT...) is a NEW line: those are the crash's
    expect(news.filter((l) => l.includes('did not return'))).toEqual([]);
    expect(news.every((l) => l.startsWith('NEW UAF-OBJ '))).toBe(true);
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    const crash = report.violations.find((v) => !v.known && v.counterexample.suite === 'lifecycle')!;
    expect(Array.isArray((crash.evidence as Record<string, unknown>)['afterCrash'])).toBe(true);
  }, 120_000);

  it.each([
    [['--exporter', 'c:v8:dma_buf_map', '--kernel-patch', P002], /^--exporter c:v8:dma_buf_map: that kernel C unit is a conversion \(--plugin c:v8:dma_buf_map\)$/],
    // a unit this tool knows that the patches could not build: why (002 changes p2pdma.c in hunks only)
    [['--plugin', 'c:p2pdma', '--kernel-patch', P002], /^--plugin c:p2pdma: that kernel C unit was not built: the patches change drivers\/pci\/p2pdma\.c but do not hold pci_p2pdma_map_type, calc_map_type_and_dist, pci_p2pdma_distance_many \(a hunk is not the whole file\): give a tree with --kernel-tree$/],
    [['--plugin', 'c:v9:dma_buf_map', '--kernel-patch', P002], /^--plugin c:v9:dma_buf_map: no kernel C unit of that name \(the C units built: c:v8:dma_buf_map \(conversion\), c:v8:vfio-pci \(exporter\)\)$/],
    [['--exporter', 'c:v8:vfio-pci'], /^--exporter c:v8:vfio-pci: the name of a kernel C unit: give the C with --kernel-tree DIR or --kernel-patch FILE$/],
  ])('a C unit selected wrongly %j is one line, exit 2', async (args, msg) => {
    const r = await cli('run', '--quiet', '--out', join(tmp, 'bad-sel'), ...args);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err.trim().replace(/^dmabuf-conform( run)?: /, '')).toMatch(msg);
  });

  it('a patch cut inside the exporter\'s new-file hunk is one line naming the hunk and N of M lines, exit 2, with or without --exporter; a patch without the file says why --exporter c:v8:vfio-pci has no unit', async () => {
    const lines = readFileSync(P002, 'utf8').split('\n');
    const header = lines.findIndex((l) => l === '@@ -0,0 +1,315 @@');
    expect(lines[header - 1]).toBe('+++ b/drivers/vfio/pci/vfio_pci_dmabuf.c');
    const cut = join(tmp, '002-truncated.txt');
    writeFileSync(cut, `${lines.slice(0, header + 1 + 103).join('\n')}\n`);
    for (const sel of [[], ['--exporter', 'c:v8:vfio-pci']]) {
      const r = await cli('run', '--runs', '2', '--out', join(tmp, 'cut'), ...sel, '--kernel-patch', cut);
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toEqual([`dmabuf-conform run: ${cut}:${header + 1}: the patch ends inside a hunk of drivers/vfio/pci/vfio_pci_dmabuf.c (@@ -0,0 +1,315 @@): 103 of 315 lines; the patch is cut (give the whole patch or mbox)`]);
    }
    // the seed up to the exporter's file: the conversion is built, the exporter is named as not built and why
    const noExp = join(tmp, '002-no-exporter.txt');
    writeFileSync(noExp, `${lines.slice(0, lines.findIndex((l) => l.startsWith('diff --git a/drivers/vfio/pci/vfio_pci_dmabuf.c '))).join('\n')}\n`);
    const plain = await cli('run', '--runs', '2', '--out', join(tmp, 'no-exp'), '--kernel-patch', noExp);
    expect(plain.err).toContain('kernel C: exporter unit skipped: the patches do not add drivers/vfio/pci/vfio_pci_dmabuf.c\n');
    expect(plain.code).toBe(0);
    const sel = await cli('run', '--runs', '2', '--quiet', '--out', join(tmp, 'no-exp'), '--exporter', 'c:v8:vfio-pci', '--kernel-patch', noExp);
    expect(sel.code).toBe(2);
    expect(sel.err.trim()).toBe('dmabuf-conform run: --exporter c:v8:vfio-pci: that kernel C unit was not built: the patches do not add drivers/vfio/pci/vfio_pci_dmabuf.c');
  }, 60_000);

  it.each([
    [['--kernel-patch', 'package.json'], /^package\.json: no dma_buf_phys_vec_to_sgt\/dma_buf_free_sgt/],
    [['--kernel-patch', join(tmp, 'none.patch')], /^patch .*none\.patch: no such file$/],
    [['--kernel-tree', join(tmp, 'no-tree')], /^kernel tree .*no-tree: no such directory$/],
  ])('bad kernel input %j is one line, exit 2', async (args, msg) => {
    const r = await cli('run', '--plugin', 'p2pdma', '--quiet', '--out', join(tmp, 'bad'), ...args);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err.trim().replace(/^dmabuf-conform( run)?: /, '')).toMatch(msg);
  });
});
