// Locks of the simulated kernel: dma_resv (a mutex per dma-buf) and the
// device memory_lock rw_semaphore, with lockdep: a global acquisition-order
// graph by lock class. Taking B while holding A records A→B with its site;
// an edge that closes a cycle is LOCK-ORDER with both sites, even when no
// deadlock happened in this run. Waiting is real (FIFO wait queues), so the
// race properties can interleave tasks at lock points.
import type { RuleId } from '../rules/registry.ts';
import type { Site } from './objects.ts';

export interface LockOwnerContext {
  currentTask(): string;
  report(rule: RuleId, message: string, evidence?: Record<string, unknown>): void;
  preempt(label: string): Promise<void>;
}

interface Held {
  readonly lock: Lock;
  readonly site: Site;
}

export class LockDep {
  /** from-class → to-class → site that first took `to` while holding `from`. */
  private readonly edges = new Map<string, Map<string, { held: Site; taken: Site }>>();
  readonly held = new Map<string, Held[]>();

  constructor(private readonly ctx: LockOwnerContext) {}

  heldBy(task: string): Held[] {
    let h = this.held.get(task);
    if (!h) this.held.set(task, (h = []));
    return h;
  }

  acquired(lock: Lock, site: Site): void {
    const held = this.heldBy(this.ctx.currentTask());
    for (const h of held) {
      if (h.lock.cls === lock.cls) continue;
      this.addEdge(h.lock.cls, lock.cls, h.site, site);
    }
    held.push({ lock, site });
  }

  released(lock: Lock, site: Site): void {
    const held = this.heldBy(this.ctx.currentTask());
    const i = held.findLastIndex((h) => h.lock === lock);
    if (i < 0) {
      this.ctx.report('LOCK-BALANCE', `${site} releases ${lock.name}, which it does not hold`, { lock: lock.name, site });
      return;
    }
    held.splice(i, 1);
  }

  private addEdge(from: string, to: string, heldSite: Site, takenSite: Site): void {
    let out = this.edges.get(from);
    if (!out) this.edges.set(from, (out = new Map()));
    if (out.has(to)) return;
    out.set(to, { held: heldSite, taken: takenSite });
    const back = this.edges.get(to)?.get(from);
    if (back) {
      this.ctx.report('LOCK-ORDER', `${to} taken in ${takenSite} while holding ${from} (from ${heldSite}); the opposite order was taken in ${back.taken} while holding ${to} (from ${back.held})`, {
        order: `${from} -> ${to}`, site: takenSite, heldSite, reverseOrder: `${to} -> ${from}`, reverseSite: back.taken, reverseHeldSite: back.held,
      });
    }
  }

  /** LOCK-BALANCE: the task returns from a top-level operation holding nothing. */
  checkBalanced(task: string, op: string): void {
    const held = this.heldBy(task);
    if (held.length) {
      this.ctx.report('LOCK-BALANCE', `${op} returned holding ${held.map((h) => `${h.lock.name} (taken in ${h.site})`).join(', ')}`, { op, held: held.map((h) => h.lock.name) });
      held.length = 0;
    }
  }
}

type Waiter = { write: boolean; task: string; wake: () => void };

/** A sleeping lock with readers/writers and a FIFO wait queue. */
export abstract class Lock {
  protected readers = new Set<string>();
  protected writer: string | null = null;
  private readonly queue: Waiter[] = [];

  constructor(
    readonly name: string,
    readonly cls: string,
    protected readonly dep: LockDep,
    protected readonly ctx: LockOwnerContext,
  ) {}

  private free(write: boolean): boolean {
    return this.writer === null && (!write || this.readers.size === 0);
  }

  protected async acquire(write: boolean, site: Site): Promise<void> {
    await this.ctx.preempt(`${site}: ${this.name}`);
    const task = this.ctx.currentTask();
    if (this.writer === task || (write && this.readers.has(task))) {
      this.ctx.report('LOCK-ORDER', `${site} takes ${this.name} recursively (AA deadlock)`, { lock: this.name, site });
      this.grant(write, task);
    } else if (!this.free(write) || this.queue.length > 0) {
      // Ownership is handed over by release() before the waiter runs again.
      await new Promise<void>((wake) => this.queue.push({ write, task, wake }));
    } else {
      this.grant(write, task);
    }
    this.dep.acquired(this, site);
  }

  private grant(write: boolean, task: string): void {
    if (write) this.writer = task;
    else this.readers.add(task);
  }

  protected release(write: boolean, site: Site): void {
    const task = this.ctx.currentTask();
    if (write ? this.writer !== task : !this.readers.has(task)) {
      this.ctx.report('LOCK-BALANCE', `${site} unlocks ${this.name}, which it does not hold`, { lock: this.name, site });
      return;
    }
    if (write) this.writer = null;
    else this.readers.delete(task);
    this.dep.released(this, site);
    while (this.queue.length > 0 && this.free(this.queue[0]!.write)) {
      const w = this.queue.shift()!;
      this.grant(w.write, w.task);
      w.wake();
      if (w.write) break;
    }
  }

  /** Tasks waiting for this lock (for deadlock reports). */
  get waiting(): number {
    return this.queue.length;
  }
}

/** struct dma_resv: dma_resv_lock / dma_resv_unlock / dma_resv_assert_held. */
export class ResvLock extends Lock {
  lock(site: Site): Promise<void> {
    return this.acquire(true, site);
  }

  unlock(site: Site): void {
    this.release(true, site);
  }

  isHeld(): boolean {
    return this.writer === this.ctx.currentTask();
  }

  assertHeld(rule: RuleId, site: Site): void {
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
    if (this.writer !== null || this.readers.size > 0 || this.waiting > 0) return false;
    this.writer = this.ctx.currentTask();
    this.dep.acquired(this, site);
    return true;
  }

  upWrite(site: Site): void {
    this.release(true, site);
  }

  isHeldWrite(): boolean {
    return this.writer === this.ctx.currentTask();
  }

  assertHeldWrite(rule: RuleId, site: Site): void {
    if (!this.isHeldWrite()) this.ctx.report(rule, `${site} runs without ${this.name} held for write`, { lock: this.name, site });
  }
}
