// A pool worker (src/harness/pool.ts): loads the plugins itself (code
// crosses as module paths and bundled names, never as objects), builds the
// same targets the parent would, and runs rounds and explorations on request.
// Only tagged plain data crosses. Before the plugins load, the JavaScript
// built-ins are recorded; after every round they are compared, so a plugin
// that patches one (and with it the checkers) is a PLUGIN-GLOBAL finding.
import { parentPort, workerData } from 'node:worker_threads';
import { jsonSafe } from '../rules/violation.ts';
import { installHeartbeat } from './heartbeat.ts';
import { inProcess, type Executor, type Hit, type RoundRequest } from './runner.ts';
import type { Found } from './suite.ts';

/** A plugin as the worker loads it: a bundled name or a module path, with the flag that gave it. */
export interface PluginSpec {
  readonly spec: string;
  readonly flag: string;
  readonly kind?: import('./plugin.ts').PluginKind;
}

/** The kernel's own C of a run (--kernel-tree / --kernel-patch): each worker builds (from the
 *  cache) and loads the C units itself, so their processes are the worker's, not the runner's. */
export interface KernelCSpec {
  readonly tree?: string;
  readonly patches?: readonly string[];
  /** The C units to run, by name (--exporter c:v8:vfio-pci ...); absent: every unit built. */
  readonly only?: readonly string[];
}

export interface WorkerInit {
  readonly plugins: readonly PluginSpec[];
  readonly kernelC?: KernelCSpec;
  /** Each plugin checked alone (self-test), not beside the others (an importer with the exporter given with it). */
  readonly separately: boolean;
  readonly heartbeat: SharedArrayBuffer;
}

export type WorkerRequest =
  | { readonly type: 'round'; readonly id: number; readonly name: string; readonly req: RoundRequest }
  | { readonly type: 'explore'; readonly id: number; readonly name: string; readonly k: number; readonly rules?: readonly string[] };

export type WorkerResponse =
  | { readonly type: 'ready'; readonly targets: Executor['targets'] }
  | { readonly type: 'bad-input'; readonly message: string }
  | { readonly type: 'c-unit'; readonly pid: number; readonly alive: boolean }
  | { readonly type: 'done'; readonly id: number; readonly value: unknown; readonly tampered: readonly string[] }
  | { readonly type: 'failed'; readonly id: number; readonly message: string; readonly tampered: readonly string[] };

/** The built-ins whose members the checkers use, and the identity of every member. */
const INTRINSICS: readonly [string, object][] = Object.entries({
  Object, Array, Set, Map, WeakMap, WeakSet, Promise, Function, String, Number, BigInt, Symbol, Error, JSON, Math, Reflect, Atomics,
}).flatMap(([n, v]): [string, object][] => [[n, v], ...('prototype' in v && v.prototype ? [[`${n}.prototype`, v.prototype as object] as [string, object]] : [])]);

function snapshot(): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [n, o] of INTRINSICS) {
    for (const key of Reflect.ownKeys(o)) {
      const d = Object.getOwnPropertyDescriptor(o, key)!;
      out.set(`${n}.${String(key)}`, d.value ?? d.get);
    }
  }
  return out;
}

/** The members that differ from the snapshot (changed, added or deleted). */
function tamperedSince(before: Map<string, unknown>): string[] {
  const now = snapshot();
  const keys = new Set([...before.keys(), ...now.keys()]);
  return [...keys].filter((k) => !Object.is(before.get(k), now.get(k)) && !(k.endsWith('.prototype') && typeof before.get(k) === 'object'));
}

/** Evidence as plain data: a checker may have put live objects there. */
function cloneable(f: Found): Found {
  return { ...f, violations: f.violations.map((v) => ({ ...v, ...(v.evidence ? { evidence: jsonSafe(v.evidence) as Record<string, unknown> } : {}) })) };
}
const cloneHits = (hits: readonly Hit[]): Hit[] => hits.map((h) => ({ ...h, found: cloneable(h.found) }));

async function main(): Promise<void> {
  const port = parentPort!;
  const init = workerData as WorkerInit;
  installHeartbeat(init.heartbeat);
  const before = snapshot();
  const post = (m: WorkerResponse) => port.postMessage(m);
  let exec: Executor;
  try {
    const [{ loadPlugin }, { allTargets }] = await Promise.all([import('./load.ts'), import('./targets.ts')]);
    const plugins = [];
    for (const p of init.plugins) plugins.push(await loadPlugin(p.spec, p.flag, p.kind));
    if (init.kernelC) {
      const [{ kernelCPlugins }, { CUnitProcess }] = await Promise.all([import('../kernel-c/plugins.ts'), import('../kernel-c/bridge.ts')]);
      CUnitProcess.onSpawn = (pid) => post({ type: 'c-unit', pid, alive: true });
      CUnitProcess.onExit = (pid) => post({ type: 'c-unit', pid, alive: false });
      const kc = await kernelCPlugins({ ...(init.kernelC.tree === undefined ? {} : { tree: init.kernelC.tree }), patches: [...(init.kernelC.patches ?? [])] });
      if (!kc.ok) throw new Error(kc.message);
      const only = init.kernelC.only;
      plugins.push(...kc.plugins.filter((p) => !only || only.includes(p.name)));
    }
    exec = inProcess(init.separately ? plugins.flatMap((p) => allTargets([p])) : allTargets(plugins));
  } catch (e) {
    post({ type: 'bad-input', message: e instanceof Error ? e.message.split('\n')[0]! : String(e) });
    return;
  }
  post({ type: 'ready', targets: exec.targets });
  port.on('message', async (m: WorkerRequest) => {
    try {
      const value = m.type === 'round' ? await exec.round(m.name, m.req) : await exec.explore(m.name, m.k, m.rules as RoundRequest['rules']);
      const safe = 'hits' in value ? { ...value, hits: cloneHits(value.hits) } : value;
      post({ type: 'done', id: m.id, value: safe, tampered: tamperedSince(before) });
    } catch (e) {
      post({ type: 'failed', id: m.id, message: e instanceof Error ? e.message.split('\n')[0]! : String(e), tampered: tamperedSince(before) });
    }
  });
}

void main();
