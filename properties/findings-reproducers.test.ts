// Every finding of reports/FINDINGS.md has a reproducer in examples/findings/
// (one case in the corpus-entry format) that `dmabuf-conform replay FILE`
// re-runs: the case must break its rule again, the documented finding it
// illustrates must be what explains that rule's violations, and FINDINGS.md
// must give the command.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { replayFile } from '../src/commands/replay.ts';
import { UsageError } from '../src/commands/usage.ts';
import { LIFECYCLE_FINDINGS } from '../src/harness/lifecycle-prop.ts';
import { CONVERSION_FINDINGS } from '../src/rules/conversion-impls.ts';
import { MATCH_FINDINGS } from '../src/rules/match.ts';

const DIR = 'examples/findings';
const FINDINGS = readFileSync('reports/FINDINGS.md', 'utf8');

/** Reproducer file → the documented finding id its rule's violations must carry. */
const EXPECTED: Readonly<Record<string, string>> = {
  '1-iova-link-offset-zero-refuse.json': 'iova-link-offset-zero',
  '1-iova-link-offset-zero-keep.json': 'iova-link-offset-zero',
  '1-iova-link-offset-zero-overwrite.json': 'iova-link-offset-zero',
  '2-v8-uint-max-segments.json': 'v8-uint-max-segments',
  '3-v8-segment-address-wraps.json': 'v8-segment-address-wraps',
  '4-v8-mapped-len-u32.json': 'v8-mapped-len-u32',
  '5-per-range-unmapped-in-pieces.json': 'per-range-unmapped-in-pieces',
  '6-unwind-walks-unmapped-entries.json': 'unwind-walks-unmapped-entries',
  '7-iova-leak-on-early-error.json': 'iova-leak-on-early-error',
  '8-sgt-leak-orig-nents.json': 'sgt-leak-orig-nents',
  '9-v8-nents-wraps.json': 'v8-nents-wraps',
  '10-bar-ends-at-2-64.json': 'bar-ends-at-2^64',
  'O1-close-disables-before-cleanup.json': 'close-disables-before-cleanup',
  'D1-first-drain-close-double-put.json': 'first-drain-close-double-put',
  'C1-fd-unwind-double-free.json': 'fd-unwind-double-free',
  'L1-cleanup-notifies-revoked.json': 'cleanup-notifies-revoked',
  'L2-unrevoke-notifies-iommufd.json': 'unrevoke-notifies-iommufd',
  'M2-rfc-match-mapping-unlocked.json': 'rfc12-match-mapping-unlocked',
  'M3-rfc-fix-cleaned-einval.json': 'rfc12-fix-cleaned-einval',
};

describe('examples/findings: one replayable reproducer per finding', () => {
  it('every documented finding the suites know by id is named in FINDINGS.md', () => {
    const ids = [...LIFECYCLE_FINDINGS, ...CONVERSION_FINDINGS, ...MATCH_FINDINGS].map((f) => f.id);
    expect(ids.filter((id) => !FINDINGS.includes(`\`${id}\``))).toEqual([]);
  });

  it('every file is listed here and every listed file exists', () => {
    expect(readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [file, finding] of Object.entries(EXPECTED)) {
    it(`${file} breaks its rule again, explained by ${finding}, and FINDINGS.md gives its command`, async () => {
      const { rule, found } = await replayFile([join(DIR, file)]);
      const hits = found.violations.map((v, i) => ({ rule: v.rule, by: found.explainedBy[i] })).filter((x) => x.rule === rule);
      expect(hits.length).toBeGreaterThan(0);
      expect(hits.every((x) => x.by === finding)).toBe(true);
      expect(FINDINGS).toContain(`replay ${DIR}/${file}`);
    });
  }
});

describe('replay of one case: bad input is one line', () => {
  it('--case on a one-case file, a file that is neither a report nor a case, and an edited input', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dmabuf-replay-'));
    const neither = join(dir, 'x.json');
    writeFileSync(neither, '{"implementation":"vfio-pci"}');
    const edited = join(dir, 'y.json');
    writeFileSync(edited, JSON.stringify({ implementation: 'vfio-pci', rule: 'REV-NOTIFY', input: { part: 'lifecycle', input: { cmds: 'no' } } }));
    const one = (p: Promise<unknown>) => p.then(() => 'no error', (e: unknown) => (e instanceof UsageError ? e.message : `not a UsageError: ${String(e)}`));
    expect(await one(replayFile([join(DIR, '8-sgt-leak-orig-nents.json'), '--case', 'x']))).toMatch(/--case picks a violation of a report/);
    expect(await one(replayFile([neither]))).toMatch(/x\.json: \/rule: missing/);
    expect(await one(replayFile([edited]))).toBe(`${edited}: /input/input/cmds: must be array, got "no"`);
    // A case without its part's input (input.input), checked by the shipped schema: the file and field, not a JavaScript message.
    const bare = join(dir, 'z.json');
    writeFileSync(bare, JSON.stringify({ implementation: 'vfio-pci', rule: 'REV-NOTIFY', input: { part: 'lifecycle' } }));
    expect(await one(replayFile([bare]))).toBe(`${bare}: /input/input: missing (required)`);
    for (const m of [await one(replayFile([neither])), await one(replayFile([edited]))]) expect(m).not.toContain('\n');
  });
});

describe('a lifecycle counterexample draws the exporter it ran on', () => {
  it('the report topology has the setup\'s BARs and p2pdma fact, not a generic device', async () => {
    const file = join(DIR, 'L1-cleanup-notifies-revoked.json');
    const entry = JSON.parse(readFileSync(file, 'utf8')) as { input: { input: { setup: { bars: { start: { $u64: string } }[] } } } };
    const { found } = await replayFile([file]);
    const topo = found.counterexample.topology as { devices: { id: string; p2pdma?: boolean; bars?: { start: string }[] }[] };
    const vdev0 = topo.devices.find((d) => d.id === 'vdev0')!;
    expect(vdev0.bars!.map((b) => b.start)).toEqual(entry.input.input.setup.bars.map((b) => b.start.$u64));
    expect(vdev0.p2pdma).toBe(true);
  });
});
