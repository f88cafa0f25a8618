// Locks of the simulated kernel: dma_resv (a mutex per dma-buf) and the
// device memory_lock rw_semaphore, with lockdep: a global acquisition-order
// graph by lock class. Like lock_acquire() in kernel/locking/lockdep.c, the
// order is validated when a task asks for a lock, before it may sleep:
// taking B while holding A records A→B with both sites; an edge that closes a
// cycle (of any length) is LOCK-ORDER naming the sites of both directions,
// even when no deadlock happened in this run. Trylocks add no edge (they
// cannot deadlock); same-class nesting adds none either (dma_resv is a
// ww_mutex; the memory_locks of a device set are taken by trylock).
// Waiting is real (FIFO wait queues), so the race properties interleave tasks
// at lock points; a task left waiting when nothing can run is reported by
// reportBlocked() (a wait-for cycle is LOCK-ORDER, a lock never released is
// LOCK-BALANCE) instead of hanging the run.
import { isRuleId, type RuleId } from '../rules/registry.ts';
import { isLabel, requireLabel, type Site } from './objects.ts';

export interface LockOwnerContext {
  currentTask(): string;
  report(rule: RuleId, message: string, evidence?: Record<string, unknown>): void;
  preempt(label: string): Promise<void>;
  /** false: checkers off — no order graph is kept (it would report nothing). */
  readonly checkers: boolean;
  /** A race scheduler is installed: every acquisition is a preemption point. */
  readonly preemptible: boolean;
}

interface Held {
  readonly lock: Lock;
  readonly site: Site;
}

interface Edge {
  /** Where the first lock (class `from`) was taken. */
  readonly held: Site;
  /** Where the second (class `to`) was then asked for. */
  readonly taken: Site;
}

/** A task still waiting for a lock, and who holds that lock. */
export interface Blocked {
  readonly task: string;
  readonly lock: string;
  readonly site: Site;
  readonly holders: readonly { readonly task: string; readonly site: Site }[];
}

export class LockDep {
  /** from-class → to-class → the sites of the first acquisition in that order. */
  private readonly edges = new Map<string, Map<string, Edge>>();
  readonly held = new Map<string, Held[]>();
  /** Task → the lock it sleeps on. */
  private readonly waits = new Map<string, { lock: Lock; site: Site }>();

  constructor(private readonly ctx: LockOwnerContext) {}

  heldBy(task: string): Held[] {
    let h = this.held.get(task);
    if (!h) this.held.set(task, (h = []));
    return h;
  }

  /** The recorded order between two classes, if any. */
  edge(from: string, to: string): Edge | undefined {
    return this.edges.get(from)?.get(to);
  }

  /** lock_acquire(): validate `lock` against every lock the task holds. */
  check(lock: Lock, site: Site, task: string): void {
    if (!this.ctx.checkers) return;
    const held = this.held.get(task);
    if (held) for (const h of held) if (h.lock.cls !== lock.cls) this.addEdge(h.lock.cls, lock.cls, h.site, site);
  }

  acquired(lock: Lock, site: Site, task: string): void {
    this.heldBy(task).push({ lock, site });
  }

  /** The task let go of `lock` (release() checked that it held it). */
  released(lock: Lock, task: string): void {
    const held = this.heldBy(task);
    const i = held.findLastIndex((h) => h.lock === lock);
    if (i >= 0) held.splice(i, 1);
  }

  sleeping(task: string, lock: Lock, site: Site): void {
    this.waits.set(task, { lock, site });
  }

  woken(task: string): void {
    this.waits.delete(task);
  }

  private addEdge(from: string, to: string, heldSite: Site, takenSite: Site): void {
    let out = this.edges.get(from);
    if (!out) this.edges.set(from, (out = new Map()));
    if (out.has(to)) return;
    out.set(to, { held: heldSite, taken: takenSite });
    const back = this.path(to, from);
    if (!back) return;
    const first = back[0]!;
    const chain = back.map((e) => `${e.from} -> ${e.to} in ${e.taken} (holding ${e.from} from ${e.held})`).join(', ');
    this.ctx.report('LOCK-ORDER', `${to} taken in ${takenSite} while holding ${from} (from ${heldSite}); the opposite order was taken before: ${chain}`, {
      order: `${from} -> ${to}`, site: takenSite, heldSite,
      reverseOrder: back.map((e) => e.from).concat(from).join(' -> '), reverseSite: first.taken, reverseHeldSite: first.held,
    });
  }

  /** Edges of a path a ⇝ b in the order graph (depth first), or null. */
  private path(a: string, b: string, seen = new Set<string>()): (Edge & { from: string; to: string })[] | null {
    seen.add(a);
    const out = this.edges.get(a);
    if (!out) return null;
    for (const [to, e] of out) {
      if (to === b) return [{ ...e, from: a, to }];
      if (seen.has(to)) continue;
      const rest = this.path(to, b, seen);
      if (rest) return [{ ...e, from: a, to }, ...rest];
    }
    return null;
  }

  /** LOCK-BALANCE: the task returns from a top-level operation holding nothing.
   *  Leaked locks are reported once and then released, so the run goes on. */
  checkBalanced(task: string, op: string): void {
    const held = this.held.get(task);
    if (!held?.length) return;
    this.ctx.report('LOCK-BALANCE', `${op} returned holding ${held.map((h) => `${h.lock.name} (taken in ${h.site})`).join(', ')}`, { op, held: held.map((h) => h.lock.name), sites: held.map((h) => h.site) });
    const leaked = held.splice(0);
    for (const h of leaked) h.lock.forceRelease(task);
  }

  /** Tasks sleeping on a lock right now. */
  blocked(): Blocked[] {
    return [...this.waits].map(([task, w]) => ({ task, lock: w.lock.name, site: w.site, holders: w.lock.holders() }));
  }

  /** Call when nothing can run any more: every task still sleeping is stuck.
   *  A cycle of tasks each waiting for a lock the next one holds is a deadlock
   *  (LOCK-ORDER, with every waiting and holding site); a task waiting for a
   *  lock held by a task that is not waiting waits for a lock that is never
   *  released (LOCK-BALANCE). */
  reportBlocked(): Blocked[] {
    const blocked = this.blocked();
    const byTask = new Map(blocked.map((b) => [b.task, b]));
    const cycles = new Set<string>();
    for (const b of blocked) {
      const chain: Blocked[] = [];
      let cur: Blocked | undefined = b;
      while (cur && !chain.includes(cur)) {
        chain.push(cur);
        cur = cur.holders.map((h) => byTask.get(h.task)).find((x) => x !== undefined);
      }
      if (cur) {
        const cycle = chain.slice(chain.indexOf(cur));
        const key = cycle.map((c) => c.task).sort().join(',');
        if (!cycles.has(key)) {
          cycles.add(key);
          const text = cycle.map((c) => `${c.task} waits in ${c.site} for ${c.lock} held by ${c.holders.map((h) => `${h.task} (taken in ${h.site})`).join(', ')}`).join('; ');
          this.ctx.report('LOCK-ORDER', `deadlock: ${text}`, { tasks: cycle.map((c) => c.task), waitSites: cycle.map((c) => c.site), holdSites: cycle.flatMap((c) => c.holders.map((h) => h.site)) });
        }
      } else if (!b.holders.some((h) => byTask.has(h.task))) {
        const by = b.holders.map((h) => `${h.task} (taken in ${h.site})`).join(', ') || 'nobody';
        this.ctx.report('LOCK-BALANCE', `${b.task} waits forever in ${b.site} for ${b.lock}, held by ${by}, which never releases it`, { task: b.task, lock: b.lock, site: b.site, holdSites: b.holders.map((h) => h.site) });
      }
    }
    return blocked;
  }
}

/** lockdep_assert_held() names its rule and site on every call, not only when it fires: a
 *  misspelt rule or an empty site would otherwise stay hidden on every correct path. */
function requireAssertion(rule: string, site: Site, lock: string): void {
  if (!isRuleId(rule)) throw new Error(`simulated kernel: assertion on ${lock} names the unknown rule '${rule}'`);
  requireLabel(site, `assertion site on ${lock}`);
}

/** What an acquisition that did not sleep returns. */
const TAKEN: Promise<void> = Promise.resolve();

type Waiter = { readonly write: boolean; readonly task: string; readonly site: Site; readonly wake: () => void };

/** A sleeping lock with readers/writers and a FIFO wait queue. */
export abstract class Lock {
  private writer: string | null = null;
  /** Nesting of the writer: > 1 only after a reported recursive acquisition. */
  private depth = 0;
  private readonly readers = new Map<string, number>();
  /** Holder task → site of its acquisition. */
  private readonly sites = new Map<string, Site>();
  private readonly queue: Waiter[] = [];

  constructor(
    readonly name: string,
    readonly cls: string,
    protected readonly dep: LockDep,
    protected readonly ctx: LockOwnerContext,
  ) {
    requireLabel(name, 'a lock');
  }

  private free(write: boolean): boolean {
    return this.writer === null && (!write || this.readers.size === 0);
  }

  protected holdsWrite(task: string): boolean {
    return this.writer === task;
  }

  /** Without a race scheduler a lock nobody holds or waits for is taken at once: the caller's await gets an
   *  already-settled promise and no async frame is made (most acquisitions of a lifecycle step). Everything
   *  else (a preemption point, a recursive acquisition, a wait) is sleepingAcquire(). */
  protected acquire(write: boolean, site: Site): Promise<void> {
    if (this.ctx.preemptible) return this.sleepingAcquire(write, site);
    const task = this.ctx.currentTask();
    // A reader taking it again is a recursive acquisition (free() already refuses a held write lock); a blank
    // site is refused by sleepingAcquire() as a rejection, as every acquisition's.
    if (this.queue.length > 0 || !this.free(write) || this.readers.has(task) || !isLabel(site)) return this.sleepingAcquire(write, site);
    this.dep.check(this, site, task);
    this.grant(write, task, site);
    this.dep.acquired(this, site, task);
    return TAKEN;
  }

  private async sleepingAcquire(write: boolean, site: Site): Promise<void> {
    requireLabel(site, `lock site of ${this.name}`);
    if (this.ctx.preemptible) await this.ctx.preempt(`${site}: ${this.name}`);
    const task = this.ctx.currentTask();
    if (this.writer === task || this.readers.has(task)) {
      this.ctx.report('LOCK-ORDER', `${site} takes ${this.name} recursively, already held since ${this.sites.get(task)} (AA deadlock)`, { lock: this.name, site, heldSite: this.sites.get(task) });
      if (this.writer === task) this.depth++;
      else this.readers.set(task, this.readers.get(task)! + 1);
    } else {
      this.dep.check(this, site, task);
      if (this.queue.length > 0 || !this.free(write)) {
        this.dep.sleeping(task, this, site);
        // Ownership is handed over by release() before the waiter runs again.
        await new Promise<void>((wake) => this.queue.push({ write, task, site, wake }));
      } else {
        this.grant(write, task, site);
      }
    }
    this.dep.acquired(this, site, task);
  }

  /** A trylock: takes the lock only when nobody holds or waits for it; no order edge. */
  protected tryAcquire(write: boolean, site: Site): boolean {
    requireLabel(site, `trylock site of ${this.name}`);
    if (this.queue.length > 0 || !this.free(write)) return false;
    const task = this.ctx.currentTask();
    this.grant(write, task, site);
    this.dep.acquired(this, site, task);
    return true;
  }

  private grant(write: boolean, task: string, site: Site): void {
    if (write) {
      this.writer = task;
      this.depth = 1;
    } else {
      this.readers.set(task, 1);
    }
    this.sites.set(task, site);
  }

  protected release(write: boolean, site: Site): void {
    requireLabel(site, `unlock site of ${this.name}`);
    const task = this.ctx.currentTask();
    const mode = this.writer === task ? 'write' : this.readers.has(task) ? 'read' : null;
    if (mode === null) {
      this.ctx.report('LOCK-BALANCE', `${site} unlocks ${this.name}, which it does not hold`, { lock: this.name, site });
      return;
    }
    if ((mode === 'write') !== write) this.ctx.report('LOCK-BALANCE', `${site} releases ${this.name} for ${write ? 'write' : 'read'}, but holds it for ${mode}`, { lock: this.name, site });
    this.drop(task, false);
    this.dep.released(this, task);
  }

  /** Drop one level of `task`'s hold (every level with `all`), then wake waiters. */
  private drop(task: string, all: boolean): void {
    if (this.writer === task) {
      if (all || --this.depth === 0) this.writer = null;
    } else {
      const n = this.readers.get(task);
      if (n === undefined) return;
      if (all || n === 1) this.readers.delete(task);
      else this.readers.set(task, n - 1);
    }
    if (this.writer === task || this.readers.has(task)) return;
    this.sites.delete(task);
    while (this.queue.length > 0 && this.free(this.queue[0]!.write)) {
      const w = this.queue.shift()!;
      this.grant(w.write, w.task, w.site);
      this.dep.woken(w.task);
      w.wake();
      if (w.write) break;
    }
  }

  /** Recovery after a reported leak: `task` lets go of this lock entirely. */
  forceRelease(task: string): void {
    this.drop(task, true);
  }

  holders(): { task: string; site: Site }[] {
    const tasks = this.writer !== null ? [this.writer] : [...this.readers.keys()];
    return tasks.map((task) => ({ task, site: this.sites.get(task)! }));
  }
}

/** struct dma_resv: dma_resv_lock / dma_resv_unlock / dma_resv_assert_held. */
export class ResvLock extends Lock {
  lock(site: Site): Promise<void> {
    return this.acquire(true, site);
  }

  /** dma_resv_trylock(). */
  tryLock(site: Site): boolean {
    return this.tryAcquire(true, site);
  }

  unlock(site: Site): void {
    this.release(true, site);
  }

  isHeld(): boolean {
    return this.holdsWrite(this.ctx.currentTask());
  }

  assertHeld(rule: RuleId, site: Site): void {
    requireAssertion(rule, site, this.name);
    if (!this.isHeld()) this.ctx.report(rule, `${site} runs without ${this.name} held`, { lock: this.name, site });
  }
}

/** struct rw_semaphore: down_read/up_read, down_write/up_write, lockdep_assert_held_write. */
export class RwSem extends Lock {
  downRead(site: Site): Promise<void> {
    return this.acquire(false, site);
  }

  upRead(site: Site): void {
    this.release(false, site);
  }

  downWrite(site: Site): Promise<void> {
    return this.acquire(true, site);
  }

  /** down_write_trylock(): false when anyone holds or waits for it. */
  tryDownWrite(site: Site): boolean {
    return this.tryAcquire(true, site);
  }

  upWrite(site: Site): void {
    this.release(true, site);
  }

  isHeldWrite(): boolean {
    return this.holdsWrite(this.ctx.currentTask());
  }

  assertHeldWrite(rule: RuleId, site: Site): void {
    requireAssertion(rule, site, this.name);
    if (!this.isHeldWrite()) this.ctx.report(rule, `${site} runs without ${this.name} held for write`, { lock: this.name, site });
  }
}
