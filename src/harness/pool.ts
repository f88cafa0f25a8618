// The isolated executor: targets run in worker threads (src/harness/worker.ts),
// as many at once as there are cores (at most the targets). The parent owns
// lifecycle and failure, as vitest's pools do: a worker that stops beating
// (a plugin hook spinning synchronously) is stopped after the watchdog time
// and its round is a PLUGIN-TIMEOUT finding; a worker that ends (a plugin's
// process.exit, an uncaught error) is a PLUGIN-EXIT finding; a round after
// which the built-ins differ is a PLUGIN-GLOBAL finding. Each time the worker
// is replaced and the run goes on with the next target. The runner's own
// globals are out of the plugins' reach: they never run in this thread.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { UsageError } from '../commands/usage.ts';
import type { RuleId } from '../rules/registry.ts';
import type { Step } from '../report/types.ts';
import { heartbeatBuffer, readHeartbeat } from './heartbeat.ts';
import type { Executor, Hit, RoundRequest, RoundResult, TargetInfo } from './runner.ts';
import type { KernelCSpec, PluginSpec, WorkerRequest, WorkerResponse } from './worker.ts';

/** How long a worker may go without a heartbeat before it is stopped (ms); DMABUF_WATCHDOG_MS overrides. */
export const WATCHDOG_MS = Number(process.env.DMABUF_WATCHDOG_MS ?? '3000');
const POLL_MS = 100;

/** The worker's entry: worker.ts from source (worker-boot.mjs registers the TypeScript loader first), worker.js when built. */
const ENTRY = new URL(/\.ts$/.test(import.meta.url) ? './worker.ts' : './worker.js', import.meta.url).href;
const BOOT = new URL('./worker-boot.mjs', import.meta.url);

type Pending = { readonly resolve: (v: unknown) => void; readonly reject: (e: Error) => void; readonly name: string; readonly req: WorkerRequest };

/** One worker and what it is doing. */
class Slot {
  readonly beat = heartbeatBuffer();
  readonly worker: Worker;
  pending: Pending | undefined;
  private last = { count: -1, at: performance.now() };
  readonly ready: Promise<TargetInfo[]>;

  /** The kernel C unit processes the worker started (killed with it: they outlive its thread). */
  readonly units = new Set<number>();

  constructor(plugins: readonly PluginSpec[], separately: boolean, private readonly onLost: (slot: Slot, why: 'hung' | 'exited' | 'tampered', detail: string) => void, kernelC?: KernelCSpec) {
    this.worker = new Worker(BOOT, { workerData: { entry: ENTRY, plugins, separately, heartbeat: this.beat, ...(kernelC ? { kernelC } : {}) }, stdout: false, stderr: false });
    this.worker.on('message', (m: WorkerResponse) => {
      if (m.type !== 'c-unit') return;
      if (m.alive) this.units.add(m.pid);
      else this.units.delete(m.pid);
    });
    this.ready = new Promise((resolve, reject) => {
      // The first answer that says whether the plugins loaded (a C unit's pid may come before it).
      const first = (m: WorkerResponse) => {
        if (m.type === 'ready') resolve([...m.targets]);
        else if (m.type === 'bad-input') reject(new UsageError(m.message));
        else return;
        this.worker.off('message', first);
      };
      this.worker.on('message', first);
      this.worker.once('error', (e) => reject(new UsageError(`a plugin failed to load in its worker: ${e.message.split('\n')[0]}`)));
      this.worker.once('exit', (code) => reject(new UsageError(`a plugin ended its worker while loading (exit code ${code})`)));
    });
    this.worker.on('message', (m: WorkerResponse) => this.answer(m));
    this.worker.on('error', (e) => this.pending && this.onLost(this, 'exited', `uncaught ${e.name}: ${e.message.split('\n')[0]}`));
    this.worker.on('exit', (code) => this.pending && this.onLost(this, 'exited', `exit code ${code}`));
  }

  /** Stop the worker and the C unit processes it started. */
  async stop(): Promise<void> {
    await this.worker.terminate();
    for (const pid of this.units) {
      try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
    }
    this.units.clear();
  }

  private answer(m: WorkerResponse): void {
    if (m.type !== 'done' && m.type !== 'failed') return;
    const p = this.pending;
    if (!p) return;
    if (m.tampered.length) {
      this.onLost(this, 'tampered', m.tampered.slice(0, 4).join(', '));
      return;
    }
    this.pending = undefined;
    if (m.type === 'done') p.resolve(m.value);
    else p.reject(new Error(m.message));
  }

  /** The worker's case count when its current request was sent. */
  casesAtSend = 0;

  send(p: Pending): void {
    this.pending = p;
    const hb = readHeartbeat(this.beat);
    this.casesAtSend = hb.cases;
    this.last = { count: hb.count, at: performance.now() };
    this.worker.postMessage(p.req);
  }

  /** Has it been silent past the watchdog time while busy? */
  stalled(now: number, watchdogMs: number): boolean {
    if (!this.pending) return false;
    const { count } = readHeartbeat(this.beat);
    if (count !== this.last.count) this.last = { count, at: now };
    return now - this.last.at > watchdogMs;
  }
}

const RULE_OF: Record<'hung' | 'exited' | 'tampered', RuleId> = { hung: 'PLUGIN-TIMEOUT', exited: 'PLUGIN-EXIT', tampered: 'PLUGIN-GLOBAL' };

/** The finding a lost worker leaves for the round it was running. */
function lostRound(t: TargetInfo, p: Pending, why: 'hung' | 'exited' | 'tampered', detail: string, watchdogMs: number): RoundResult {
  const req = p.req.type === 'round' ? p.req.req : undefined;
  const rule = RULE_OF[why];
  const what = { hung: `did not return within ${watchdogMs} ms: it runs on without yielding (the worker was stopped); last hook entered: ${detail || 'none'}`, exited: `ended its worker (${detail})`, tampered: `changed the JavaScript built-ins the checkers use: ${detail}` }[why];
  const step: Step = { index: 0, from: 'user', to: t.kind === 'importer' ? 'importer' : t.kind === 'exporter' ? 'exporter' : 'core', command: `${p.req.type} of ${t.name}${req ? ` (seed ${req.seed}, round ${req.round})` : ''}`, result: why, expected: 'a result', rule };
  const hit: Hit = {
    rule, index: 0,
    found: { violations: [{ rule, message: `${t.name} ${what}`, evidence: { why, detail, ...(req ? { seed: req.seed, round: req.round } : {}) } }], explainedBy: [null], counterexample: { suite: t.suite, steps: [step], failingStep: 0, input: { part: 'isolation', input: { why, ...(req ? { seed: req.seed, round: req.round, runs: req.runs } : {}) } } } },
  };
  return { hits: req?.found.includes(rule) ? [] : [hit], runs: 0, ms: 0, shown: [] };
}

/**
 * Targets in isolated worker threads, `size` at once.
 * @param plugins what each worker loads (bundled names or module paths)
 * @param opts.size workers (default: DMABUF_WORKERS, else the cores; never more than the targets)
 * @param opts.separately each plugin checked alone (self-test) rather than beside the others
 * @param opts.watchdogMs how long a busy worker may go without a heartbeat (default WATCHDOG_MS)
 * @param opts.kernelC the kernel's own C (--kernel-tree / --kernel-patch): built and run inside each worker,
 *   so a C unit that crashes or hangs is that worker's finding, never the runner's end
 * @throws UsageError when a plugin does not load or has the wrong shape (one line)
 */
export async function workerPool(plugins: readonly PluginSpec[], opts: { size?: number; separately?: boolean; watchdogMs?: number; kernelC?: KernelCSpec } = {}): Promise<Executor> {
  const watchdogMs = opts.watchdogMs ?? WATCHDOG_MS;
  const size = opts.size ?? (Number(process.env.DMABUF_WORKERS) || availableParallelism());
  const slots: Slot[] = [];
  const idle: Slot[] = [];
  const waiting: ((s: Slot) => void)[] = [];
  let closed = false;

  const release = (s: Slot) => {
    const w = waiting.shift();
    if (w) w(s);
    else idle.push(s);
  };
  const acquire = () => new Promise<Slot>((resolve) => {
    const s = idle.pop();
    if (s) resolve(s);
    else waiting.push(resolve);
  });
  const spawn = (): Slot => {
    const s = new Slot(plugins, opts.separately === true, (slot, why, detail) => void replace(slot, why, detail), opts.kernelC);
    slots.push(s);
    return s;
  };
  const byName = new Map<string, TargetInfo>();
  // A lost worker: its round gets the finding, a fresh worker takes its place.
  const replace = async (slot: Slot, why: 'hung' | 'exited' | 'tampered', detail: string) => {
    const p = slot.pending;
    slot.pending = undefined;
    slots.splice(slots.indexOf(slot), 1);
    await slot.stop();
    const lost = p && lostRound(byName.get(p.name)!, p, why, detail, watchdogMs);
    if (p && lost) p.resolve(p.req.type === 'round' ? lost : { states: 0, hits: lost.hits });
    if (closed) return;
    const fresh = spawn();
    try {
      await fresh.ready;
      release(fresh);
    } catch {
      // The plugins loaded before; if they cannot now, the lost slot is not replaced.
    }
  };

  const first = spawn();
  let targets: TargetInfo[];
  try {
    targets = await first.ready;
  } catch (e) {
    await first.stop();
    throw e;
  }
  for (const t of targets) byName.set(t.name, t);
  const count = Math.max(1, Math.min(size, targets.length));
  // The other workers start with the first request, while the first one works: a run that stops
  // before any (nothing to check, a stale corpus entry) waits for one worker's start, not all.
  // They load what the first loaded; one that cannot now is not replaced (as in `replace`).
  let grown = count === 1;
  const grow = () => {
    if (grown || closed) return;
    grown = true;
    for (let i = 1; i < count; i++) {
      const s = spawn();
      s.ready.then(() => release(s), () => {
        if (slots.includes(s)) slots.splice(slots.indexOf(s), 1);
        void s.stop();
      });
    }
  };
  release(first);

  const watchdog = setInterval(() => {
    const now = performance.now();
    for (const s of [...slots]) if (s.stalled(now, watchdogMs)) void replace(s, 'hung', readHeartbeat(s.beat).label);
  }, POLL_MS);

  let nextId = 0;
  const ask = async <T>(name: string, make: (id: number) => WorkerRequest): Promise<T> => {
    grow();
    const slot = await acquire();
    try {
      return await new Promise<T>((resolve, reject) => slot.send({ resolve: resolve as (v: unknown) => void, reject, name, req: make(nextId++) }));
    } finally {
      if (slots.includes(slot)) release(slot);
    }
  };

  return {
    targets, parallel: count,
    round: (name, req: RoundRequest) => ask<RoundResult>(name, (id) => ({ type: 'round', id, name, req })),
    // Each busy worker's round: its target and the cases it has run since the round began (its heartbeat).
    activity: () => slots.flatMap((s) => (s.pending?.req.type === 'round' ? [{ target: s.pending.name, cases: readHeartbeat(s.beat).cases - s.casesAtSend }] : [])),
    explore: (name, k, rules) => ask(name, (id) => ({ type: 'explore', id, name, k, ...(rules ? { rules } : {}) })),
    async close() {
      closed = true;
      clearInterval(watchdog);
      await Promise.all(slots.map((s) => s.stop()));
    },
  };
}
