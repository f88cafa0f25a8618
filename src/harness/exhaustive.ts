// Bounded exhaustive exploration: every distinct model state reachable in at
// most k commands on a small configuration (1 device, up to 2 dma-bufs and
// 2 attachments), found breadth first with state hashing; then every
// transition out of every state at depth < k (the path to the state plus one
// command) is replayed on the implementation with all checkers on — also the
// transitions that lead back to a known state, where a buggy implementation
// may still do something the model does not.
import { DEVICE_EVENTS, step, type LcCmd, type LcState } from '../../models/lifecycle.ts';
import { VFIO_PCI_ROM_REGION_INDEX } from '../../models/pci/types.ts';
import type { Violation } from '../rules/violation.ts';
import { compareStep, createCmd, Real, type LifecycleConfig } from './lifecycle.ts';
import { unexplainedLc } from './lifecycle-prop.ts';

export interface ExhaustiveResult {
  readonly k: number;
  readonly states: number;
  readonly transitions: number;
  readonly modelMs: number;
  readonly replayMs: number;
  readonly violations: { readonly path: readonly LcCmd[]; readonly violations: readonly Violation[] }[];
}

const MAX_BUFS = 2;
const MAX_ATTS = 2;

/** Every command that names objects existing in `s` (valid or not). */
export function alphabet(s: LcState): LcCmd[] {
  const out: LcCmd[] = [];
  // The default setup (one 1 MiB BAR 0): one and two pages, a misaligned range, and the ROM region.
  if (s.bufs.length < MAX_BUFS) out.push(createCmd(0, 1), createCmd(0, 2), createCmd(0, 1, false), { ...createCmd(0, 1), region: VFIO_PCI_ROM_REGION_INDEX } as LcCmd);
  s.bufs.forEach((_, buf) => {
    if (s.atts.length < MAX_ATTS) out.push({ op: 'attach', buf, importer: 'dma', p2p: true }, { op: 'attach', buf, importer: 'iommufd', p2p: true }, { op: 'attach', buf, importer: 'dma', p2p: false });
    out.push({ op: 'close-fd', buf });
  });
  s.atts.forEach((_, att) => out.push({ op: 'map', att }, { op: 'unmap', att }, { op: 'detach', att }, { op: 'access', att }));
  for (const event of DEVICE_EVENTS) out.push({ op: 'event', dev: 0, event });
  out.push({ op: 'hot-reset', devs: [0] });
  return out;
}

/** A state's identity for deduplication: every field but the configuration (`env`), bigints exact.
 *  Written out by hand: JSON.stringify with a replacer calls back into JavaScript for every value. */
export function stateKey(x: unknown, field?: string): string {
  if (typeof x === 'bigint') return `${x.toString(16)}n`;
  if (typeof x === 'string') return JSON.stringify(x);
  if (typeof x !== 'object' || x === null) return String(x);
  if (Array.isArray(x)) {
    let out = '[';
    for (const e of x) out += `${stateKey(e)},`;
    return `${out}]`;
  }
  let out = '{';
  for (const k in x) {
    const v = (x as Record<string, unknown>)[k];
    if (v !== undefined && !(field === undefined && k === 'env')) out += `${k}:${stateKey(v, k)},`;
  }
  return `${out}}`;
}

/** Run commands on a fresh system beside the model, every step compared and checked; the violations. */
async function replay(cfg: LifecycleConfig, cmds: readonly LcCmd[]): Promise<readonly Violation[]> {
  const real = new Real(cfg);
  let model = real.initialState();
  for (const [i, c] of cmds.entries()) {
    const { next, expect } = step(model, c, cfg.profile);
    compareStep(real, c, model, next, expect, await real.run(c, i));
    model = next;
  }
  return real.k.log.violations;
}

export async function exhaustive(cfg: LifecycleConfig, k: number): Promise<ExhaustiveResult> {
  const t0 = performance.now();
  const small = { ...cfg, devices: 1 };
  const init = new Real(small).initialState();
  // Breadth first to depth k: each state once, with the first (shortest) path that reached it.
  const seen = new Map<string, { state: LcState; path: LcCmd[] }>([[stateKey(init), { state: init, path: [] }]]);
  let frontier: { state: LcState; path: LcCmd[] }[] = [{ state: init, path: [] }];
  for (let depth = 0; depth < k; depth++) {
    const next: typeof frontier = [];
    for (const { state, path } of frontier) {
      for (const c of alphabet(state)) {
        const s2 = step(state, c, cfg.profile).next;
        const h = stateKey(s2);
        if (seen.has(h)) continue;
        const p2 = [...path, c];
        seen.set(h, { state: s2, path: p2 });
        next.push({ state: s2, path: p2 });
      }
    }
    frontier = next;
  }
  const t1 = performance.now();
  const violations: ExhaustiveResult['violations'] = [];
  let transitions = 0;
  for (const { state, path } of seen.values()) {
    if (path.length >= k) continue;
    for (const c of alphabet(state)) {
      transitions++;
      const full = [...path, c];
      const bad = unexplainedLc(cfg.profile, await replay(small, full), full);
      if (bad.length) violations.push({ path: full, violations: bad });
    }
  }
  return { k, states: seen.size, transitions, modelMs: t1 - t0, replayMs: performance.now() - t1, violations };
}
