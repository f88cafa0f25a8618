import { describe, expect, it, vi } from 'vitest';
import { converterFor, differences, DIFFERENCES, PROFILES, spec } from '../models/profiles.ts';
import { diff, listing, run } from '../src/commands/profiles.ts';
import { UsageError } from '../src/commands/usage.ts';

describe('dmabuf-conform profiles', () => {
  it('lists the three profiles', async () => {
    expect(listing().split('\n').map((l) => l.split(' ')[0])).toEqual([...PROFILES]);
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    expect(await run([])).toBe(0);
    expect(await run(['--diff', 'rfc', 'converter'])).toBe(0);
    write.mockRestore();
  });

  it('--diff prints the behaviours and rules that differ, with their seed passages', () => {
    const out = diff('v8', 'rfc');
    expect(out).toContain('attach of a DMA importer without peer2peer\n    v8: -EOPNOTSUPP\n    rfc: -EINVAL');
    expect(out).toContain('MATCH-ORDER (rfc only)');
    expect(out).toContain('IOMMUFD-ONE (v8 only)');
    expect(diff('rfc', 'converter')).toContain('MATCH-CONVERT (converter only)');
    expect(diff('rfc', 'rfc')).toBe('rfc and rfc: no differences (same behaviours, same rules)');
  });

  it('every behaviour differs somewhere; converters exist only in the converter profile', () => {
    for (const d of DIFFERENCES) expect(PROFILES.some((a) => PROFILES.some((b) => differences(a, b).includes(d))), d.key).toBe(true);
    expect(converterFor('converter', 'PAL', 'SGT')).toEqual({ from: 'PAL', to: 'SGT' });
    expect(converterFor('rfc', 'PAL', 'SGT')).toBeUndefined();
    expect(spec('v8').segmentLimit).toBe('uint-max');
  });

  it('bad arguments are one line, exit 2', async () => {
    await expect(run(['--diff', 'v8'])).rejects.toThrow(UsageError);
    await expect(run(['--diff', 'v8', 'v9'])).rejects.toThrow("--diff: unknown profile 'v9' (profiles: v8, rfc, converter, mainline)");
    await expect(run(['--bogus'])).rejects.toThrow('usage: dmabuf-conform profiles [--diff A B]');
  });
});
