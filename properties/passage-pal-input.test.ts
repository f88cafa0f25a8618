// `explain PAL-INPUT` quotes the seed passage that states the rule (the create's validation returns the
// model's errno in the kernel's order: the request's fields, the region, then each range), not the
// dma_iova_try_alloc() WARN of another part of the patch. The quotes are the seed's words: checked
// against 002 v8 10/11 when ../shared is there (runner-cli checks every passage so).
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PASSAGES } from '../src/rules/passages.ts';
import { HAVE_SEEDS, NEEDS_SEEDS, SEEDS } from './shared.ts';

const quotes = (p: string) => [...p.matchAll(/"((?:[^"\\]|\\.)*)"/g)].flatMap((m) => m[1]!.split('...').map((q) => q.trim()).filter(Boolean));

describe("PAL-INPUT's passage", () => {
  it('quotes the validation the rule judges: nr_ranges and flags, the region, a range\'s length and its overflow, in that order', () => {
    const p = PASSAGES['PAL-INPUT']!;
    expect(p).not.toMatch(/dma_iova_try_alloc/);
    const order = ['get_dma_buf.nr_ranges || get_dma_buf.flags) return -EINVAL', 'region_index >= VFIO_PCI_ROM_REGION_INDEX) return -ENODEV', '!dma_ranges[i].length) return -EINVAL', 'return -EOVERFLOW', 'end > max_addr) return -EINVAL'];
    const at = order.map((s) => p.indexOf(s));
    expect(at.every((i) => i >= 0), p).toBe(true);
    expect([...at].sort((a, b) => a - b)).toEqual(at);
  });

  it.skipIf(!HAVE_SEEDS)(`its quotes are 002 v8's words ${NEEDS_SEEDS}`, () => {
    const norm = (s: string) => s.replace(/\s+/g, ' ').trim();
    const seed = norm(readFileSync(join(SEEDS, readdirSync(SEEDS).find((f) => f.startsWith('002_'))!), 'utf8').replace(/^[>+\- \t]*(\*|\/\/)?/gm, ' '));
    const qs = quotes(PASSAGES['PAL-INPUT']!).map(norm);
    expect(qs.length).toBe(4);
    for (const q of qs) expect(seed.includes(q), q).toBe(true);
  });
});
