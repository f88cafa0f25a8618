// The kernel-C benchmark (issue 12): conversions per second of the C
// conversion unit (dma_buf_map of 002 v8 06/11, under ASan + UBSan, every
// kernel service answered by the simulated kernel) against its TypeScript port
// on the same cases, and the compile time cold and cached.
//   npx tsx bench/kernel-c.ts [--cases N] [--json FILE]
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { conversionCaseArb } from '../src/gen/ranges.ts';
import { REPO_ROOT } from '../src/kernel-c/build.ts';
import { loadKernelC } from '../src/kernel-c/index.ts';
import { runConversion, type ConversionCase, type ConversionImpl } from '../src/rules/conversion.ts';
import { V8_DMA_BUF_MAP } from '../src/rules/conversion-impls.ts';

const GOAL = 5000;
const arg = (name: string) => { const i = process.argv.indexOf(name); return i > 0 ? process.argv[i + 1] : undefined; };
const nCases = Number(arg('--cases') ?? 3000);
const seeds = join(REPO_ROOT, '..', 'shared', 'seeds');
const patch = readdirSync(seeds).find((f) => f.startsWith('002_'));
if (!patch) { console.log(`no 002 seed in ${seeds}`); process.exit(2); }

// compile: cold (an empty cache) and cached
const cold = mkdtempSync(join(tmpdir(), 'kc-bench-cache-'));
const saved = process.env.DMABUF_CONFORM_CACHE;
process.env.DMABUF_CONFORM_CACHE = cold;
let t0 = performance.now();
const first = await loadKernelC({ patches: [join(seeds, patch)] });
const coldMs = performance.now() - t0;
t0 = performance.now();
const second = await loadKernelC({ patches: [join(seeds, patch)] });
const cachedMs = performance.now() - t0;
if (saved === undefined) delete process.env.DMABUF_CONFORM_CACHE; else process.env.DMABUF_CONFORM_CACHE = saved;
if (!first.ok || !second.ok) { console.log(first.ok ? (second as { message: string }).message : first.message); process.exit(2); }
first.value.close();
const c = second.value.conversion!;

// the same cases through both, timed in alternating rounds after a warm-up:
// `small` (tables of a few entries: the per-call overhead the goal is about) and
// `random` (conversionCaseArb as the convert suite draws it: tables up to ~10^4 entries)
const random = fc.sample(conversionCaseArb(), { seed: 42, numRuns: nCases });
const small = fc.sample(conversionCaseArb().filter((k) => k.size <= 1n << 24n), { seed: 42, numRuns: nCases });
const rate = (impl: ConversionImpl, cases: readonly ConversionCase[]) => { const t = performance.now(); for (const k of cases) runConversion(impl, k); return cases.length / ((performance.now() - t) / 1000); };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const measure = (cases: readonly ConversionCase[]) => {
  rate(V8_DMA_BUF_MAP, cases); rate(c, cases);
  const p: number[] = []; const q: number[] = [];
  for (let r = 0; r < 3; r++) { p.push(rate(V8_DMA_BUF_MAP, cases)); q.push(rate(c, cases)); }
  return { port: Math.round(median(p)), c: Math.round(median(q)), ratio: +(median(p) / median(q)).toFixed(1) };
};
const s1 = measure(small);
const s2 = measure(random.slice(0, Math.max(100, Math.floor(nCases / 10))));
c.close();
rmSync(cold, { recursive: true, force: true });

const out = {
  cases: nCases, small: s1, random: s2, goalCPerSec: GOAL, goalMet: s1.c >= GOAL,
  compileColdMs: Math.round(coldMs), loadCachedMs: Math.round(cachedMs),
};
console.log('kernel C conversion unit (002 v8 06/11 dma_buf_map, ASan + UBSan) against its port, same cases, conversions/s:');
console.log(`  small tables (size <= 16 MiB): port ${s1.port.toLocaleString('en')}, C ${s1.c.toLocaleString('en')} (goal >= ${GOAL.toLocaleString('en')}: ${out.goalMet ? 'met' : 'MISSED'}), port/C ${s1.ratio}x`);
console.log(`  random (conversionCaseArb):    port ${s2.port.toLocaleString('en')}, C ${s2.c.toLocaleString('en')}, port/C ${s2.ratio}x`);
console.log(`  compile cold ${out.compileColdMs} ms, load from cache ${out.loadCachedMs} ms`);
const json = arg('--json');
if (json) writeFileSync(json, `${JSON.stringify(out, null, 2)}\n`);
process.exit(out.goalMet ? 0 : 1);
