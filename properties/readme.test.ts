// What README.md says about the tree stays true: the plugin examples it says live in test/plugins/ are there
// (a file of that name, building the same variant), and it counts test/plugins/' files only where the count is
// right (it said 'this and three more' of a folder of seven).
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';

const README = readFileSync('README.md', 'utf8');
const PLUGINS = 'test/plugins';
const NUMBERS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve'];

/** A plugin's variant as code: what its `vfioExporter(name, description, ...)` call is given after the
 *  description, without comments or blanks, each arrow function's parameter renamed `_`. */
function variantOf(code: string): string | null {
  const text = code.replace(/\/\/.*$/gm, '');
  const m = /vfioExporter\(\s*'[^']*'\s*,\s*'[^']*'\s*,([\s\S]*)\);?\s*$/.exec(text.trim());
  if (!m) return null;
  const renamed = m[1]!.replace(/\((\w+)\)\s*=>\s*([^,}]*)/g, (_all, p: string, body: string) => `(_) => ${body.replace(new RegExp(`\\b${p}\\b`, 'g'), '_')}`);
  return renamed.replace(/\s+/g, '').replace(/,}/g, '}').replace(/\)$/, '');
}

/** README's TypeScript blocks whose first line names a file of test/plugins/. */
const blocks = [...README.matchAll(/```ts\n(\/\/[^\n]*)\n([\s\S]*?)```/g)]
  .map((m) => ({ head: m[1]!, code: m[2]!, file: /\((test\/plugins\/[\w.-]+\.ts)\b/.exec(m[1]!)?.[1] }));

describe('README and test/plugins/', () => {
  it('every example README places in test/plugins/ names its file, and that file builds the same variant', () => {
    const placed = blocks.filter((b) => b.head.includes('test/plugins/'));
    expect(placed.length).toBeGreaterThan(0);
    for (const b of placed) {
      expect(b.file, b.head).toBeDefined();
      expect(existsSync(b.file!), b.file).toBe(true);
      expect([b.file, variantOf(b.code)]).toEqual([b.file, variantOf(readFileSync(b.file!, 'utf8'))]);
    }
  });

  it('a count of test/plugins/ files README gives is the count in the tree', () => {
    const files = readdirSync(PLUGINS).filter((f) => /\.(ts|mts|js|mjs)$/.test(f)).length;
    expect(files).toBeGreaterThan(1);
    // 'test/plugins/ has this and three more', 'the N plugins of test/plugins/': any number word or digit within
    // the sentence that mentions the folder, and what it counts.
    const counted = [...README.matchAll(/[^.\n]*test\/plugins\/[^.\n]*/g)].flatMap((m) => {
      const s = m[0];
      const more = new RegExp(`this and (${NUMBERS.join('|')}|\\d+) more`).exec(s);
      if (more) return [{ s, n: 1 + (NUMBERS.indexOf(more[1]!) >= 0 ? NUMBERS.indexOf(more[1]!) : Number(more[1])) }];
      const of = new RegExp(`\\b(${NUMBERS.join('|')}|\\d+) (?:plugins|files|one-line bugs)\\b`).exec(s);
      return of ? [{ s, n: NUMBERS.indexOf(of[1]!) >= 0 ? NUMBERS.indexOf(of[1]!) : Number(of[1]) }] : [];
    });
    for (const c of counted) expect([c.s, c.n]).toEqual([c.s, files]);
  });

  it('the variant of a plugin is read the same whatever its parameter names and layout', () => {
    expect(variantOf("export default vfioExporter('a', 'b', { createOps: { region_index_valid: (r) => r <= 6 } });"))
      .toBe(variantOf("export default vfioExporter('c', 'd', {\n  createOps: { region_index_valid: (region) => region <= 6 }, // BUG\n});"));
    expect(variantOf("vfioExporter('a', 'b', { createOps: { region_index_valid: (r) => r < 6 } });")).not.toBe(variantOf("vfioExporter('a', 'b', { createOps: { region_index_valid: (r) => r <= 6 } });"));
  });
});
