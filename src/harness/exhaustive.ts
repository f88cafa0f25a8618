// Bounded exhaustive exploration: every distinct model state reachable in at
// most k commands on a small configuration (1 device, up to 2 dma-bufs and
// 2 attachments), found breadth first with state hashing; then every
// transition out of every state at depth < k (the path to the state plus one
// command) is replayed on the implementation with all checkers on — also the
// transitions that lead back to a known state, where a buggy implementation
// may still do something the model does not.
import { DEVICE_EVENTS, step, type Expectation, type LcCmd, type LcState } from '../../models/lifecycle.ts';
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

/** Fields a state's identity leaves out: the configuration (`env`, top level only) and absent fields. */
function ignored(top: boolean, k: string, v: unknown): boolean {
  return v === undefined || (top && k === 'env');
}

// Module-level functions, not closures: under tsx (esbuild keepNames) a named arrow made in a
// function costs a defineProperty every call, 95 % of the hashing.
function mix(h: number, v: number): number {
  return Math.imul(h ^ v, 16777619);
}

/** A structural hash of a state (every field but `env`, bigints by value): the search's bucket for it. */
export function stateHash(x: unknown, top = true): number {
  switch (typeof x) {
    case 'bigint': {
      const n = Number(x);
      return mix(n | 0, (n / 4294967296) | 0);
    }
    case 'number':
      return Math.imul(x | 0, 2654435761) ^ ((x * 1e-9) | 0);
    case 'boolean':
      return x ? 0x3c6ef372 : 0x1b873593;
    case 'string': {
      let h = 0x811c9dc5;
      for (let i = 0; i < x.length; i++) h = mix(h, x.charCodeAt(i));
      return h;
    }
  }
  if (typeof x !== 'object' || x === null) return 11;
  if (Array.isArray(x)) {
    let h = 0x9e3779b9;
    for (const e of x) h = mix(h, stateHash(e, false));
    return h;
  }
  let h = 0x7f4a7c15;
  for (const k in x) {
    const v = (x as Record<string, unknown>)[k];
    if (!ignored(top, k, v)) h = mix(mix(h, stateHash(k, false)), stateHash(v, false));
  }
  return h;
}

/** The same state: equal field by field (every field but `env`, bigints by value). */
export function sameState(a: unknown, b: unknown, top = true): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bs = b as unknown[];
    if (a.length !== bs.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameState(a[i], bs[i], false)) return false;
    return true;
  }
  const [ra, rb] = [a as Record<string, unknown>, b as Record<string, unknown>];
  let fields = 0;
  for (const k in ra) {
    if (ignored(top, k, ra[k])) continue;
    if (!sameState(ra[k], rb[k], false)) return false;
    fields++;
  }
  for (const k in rb) if (!ignored(top, k, rb[k])) fields--;
  return fields === 0;
}

/** A state of the search: the first (shortest) path that reached it, and the model step that
 *  made it from its parent (replays take the model's side from here instead of stepping again). */
interface Node {
  readonly state: LcState;
  readonly path: readonly LcCmd[];
  readonly parent?: Node;
  readonly expect?: Expectation;
}

/** Replay a node's path and then `c` on a fresh system beside the model, every step compared and
 *  checked (as runLifecycle with keepGoing); the violations. */
async function replay(cfg: LifecycleConfig, node: Node, c: LcCmd): Promise<Real> {
  const real = new Real(cfg);
  const chain: Node[] = [];
  for (let n: Node | undefined = node; n?.parent; n = n.parent) chain.push(n);
  chain.reverse();
  for (const [i, n] of chain.entries()) {
    const cmd = n.path[i]!;
    compareStep(real, cmd, n.parent!.state, n.state, n.expect!, await real.run(cmd, i));
  }
  const last = step(node.state, c, cfg.profile);
  compareStep(real, c, node.state, last.next, last.expect, await real.run(c, chain.length));
  return real;
}

export async function exhaustive(cfg: LifecycleConfig, k: number): Promise<ExhaustiveResult> {
  const t0 = performance.now();
  const small = { ...cfg, devices: 1 };
  const init: Node = { state: new Real(small).initialState(), path: [] };
  // Breadth first to depth k: each state once (in order of discovery), with the first (shortest) path that reached it.
  const seen: Node[] = [init];
  const buckets = new Map<number, Node[]>([[stateHash(init.state), [init]]]);
  let frontier: Node[] = [init];
  for (let depth = 0; depth < k; depth++) {
    const next: Node[] = [];
    for (const node of frontier) {
      for (const c of alphabet(node.state)) {
        const { next: s2, expect } = step(node.state, c, cfg.profile);
        const h = stateHash(s2);
        const bucket = buckets.get(h);
        if (bucket?.some((n) => sameState(n.state, s2))) continue;
        const child: Node = { state: s2, path: [...node.path, c], parent: node, expect };
        if (bucket) bucket.push(child);
        else buckets.set(h, [child]);
        seen.push(child);
        next.push(child);
      }
    }
    frontier = next;
  }
  const t1 = performance.now();
  const violations: ExhaustiveResult['violations'] = [];
  let transitions = 0;
  for (const node of seen) {
    if (node.path.length >= k) continue;
    for (const c of alphabet(node.state)) {
      transitions++;
      const full = [...node.path, c];
      const real = await replay(small, node, c);
      const bad = await unexplainedLc({ cfg: small, names: real.caseNames(), results: real.results }, real.k.log.violations, full);
      if (bad.length) violations.push({ path: full, violations: bad });
    }
  }
  return { k, states: seen.length, transitions, modelMs: t1 - t0, replayMs: performance.now() - t1, violations };
}
