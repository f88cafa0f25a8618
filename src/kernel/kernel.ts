// The simulated kernel: one violation log and every service that checks
// rules as it goes (lockdep, KASAN heap, files and references, the DMA API).
// Top-level operations are bracketed by beginOp/endOp (LOCK-BALANCE).
// preempt() is where another task may run: a no-op unless a race property
// installed fast-check's scheduler.
import { AsyncLocalStorage } from 'node:async_hooks';
import type fc from 'fast-check';
import type { PageSize } from '../../models/u64.ts';
import type { RuleId } from '../rules/registry.ts';
import { ViolationLog } from '../rules/violation.ts';
import { DmaApi } from './dma.ts';
import { NO_FAULTS, type FaultPlan } from './faults.ts';
import { KFile, Registration } from './files.ts';
import { LockDep, ResvLock, RwSem } from './locks.ts';
import { Heap } from './objects.ts';

export class Kernel {
  readonly log = new ViolationLog();
  readonly heap: Heap;
  readonly dma: DmaApi;
  readonly lockdep: LockDep;
  private scheduler: fc.Scheduler | undefined;
  private tasks: AsyncLocalStorage<string> | undefined;
  private op: string | undefined;

  constructor(opts: { checkers?: boolean; pageSize?: PageSize; faults?: FaultPlan } = {}) {
    this.checkers = opts.checkers ?? true;
    this.heap = new Heap(this.log, this.checkers);
    this.dma = new DmaApi(this.log, opts.pageSize ?? 4096n, opts.faults ?? NO_FAULTS, this.checkers);
    this.lockdep = new LockDep(this);
  }

  checkers: boolean;

  report(rule: RuleId, message: string, evidence?: Record<string, unknown>): void {
    if (this.checkers) this.log.report(rule, message, evidence);
  }

  currentTask(): string {
    return this.tasks?.getStore() ?? 'main';
  }

  preempt(label: string): Promise<void> {
    return this.scheduler ? this.scheduler.schedule(Promise.resolve(), label).then(() => undefined) : Promise.resolve();
  }

  /** Install fast-check's scheduler; tasks started with spawn() are told apart by name. */
  setScheduler(s: fc.Scheduler | undefined): void {
    this.scheduler = s;
    this.tasks ??= s ? new AsyncLocalStorage<string>() : undefined;
  }

  /** Run `fn` as a named task (for races). */
  spawn<T>(task: string, fn: () => Promise<T>): Promise<T> {
    if (!this.tasks) return fn();
    return this.tasks.run(task, fn);
  }

  beginOp(name: string, step?: number): void {
    this.op = name;
    this.log.step = step;
  }

  endOp(): void {
    this.lockdep.checkBalanced(this.currentTask(), this.op ?? 'operation');
    this.op = undefined;
  }

  newResv(name: string): ResvLock {
    return new ResvLock(name, 'resv', this.lockdep, this);
  }

  newRwSem(name: string): RwSem {
    return new RwSem(name, 'memory_lock', this.lockdep, this);
  }

  newFile(name: string, release: () => Promise<void>): KFile {
    return new KFile(name, this, release);
  }

  newRegistration(name: string): Registration {
    return new Registration(name, this);
  }
}
