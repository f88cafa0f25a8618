// The simulated kernel: one violation log and every service that checks
// rules as it goes (lockdep, KASAN heap, files and references, the DMA API).
// Top-level operations are bracketed by beginOp/endOp (LOCK-BALANCE).
// preempt() is where another task may run: a no-op unless a race property
// installed fast-check's scheduler.
import { AsyncLocalStorage } from 'node:async_hooks';
import type fc from 'fast-check';
import type { PageSize } from '../../models/u64.ts';
import type { RuleId } from '../rules/registry.ts';
import { PluginSiteLog, thrownReport } from './callsite.ts';
import { DmaApi } from './dma.ts';
import { NO_FAULTS, type FaultPlan } from './faults.ts';
import { KFile, Registration } from './files.ts';
import type { IommuDomain } from './iommu.ts';
import { LockDep, ResvLock, RwSem, type Blocked } from './locks.ts';
import { Heap } from './objects.ts';
import type { Platform } from './platform.ts';

export type { Blocked };

/** One store for every kernel: Node keeps each AsyncLocalStorage ever enabled
 *  and copies all of them into every new promise, so one per kernel slows each
 *  later run down (quadratic over a runner's many race runs). */
const TASKS = new AsyncLocalStorage<string>();

export class Kernel {
  /** The violations; one reported while a plugin's code is on the stack names the plugin's call site (PluginSiteLog). */
  readonly log = new PluginSiteLog();
  readonly heap: Heap;
  readonly dma: DmaApi;
  readonly lockdep: LockDep;
  private scheduler: fc.Scheduler | undefined;
  private tasks: AsyncLocalStorage<string> | undefined;
  /** The operation in progress: its name, or how to build it (only a report needs it). */
  private op: string | (() => string) | undefined;
  /** Per task: deferred task work (__fput) to run when its operation returns. */
  private readonly pendingWork = new Map<string, (() => Promise<void>)[]>();
  private on = true;
  /** Deferred work not started yet (queueWork), and the count of work not finished. */
  private readonly work: { label: string; fn: () => Promise<void> }[] = [];
  private workActive = 0;
  /** The fault plan of the services that are not the DMA API's (get_unused_fd_flags); a create fault arms it per operation. */
  faults: FaultPlan;
  private nextFd = 3;
  /** The IOMMU domain iommufd maps into (src/impl/iommufd.ts iommufdDomain), made at its first use. */
  iommufdDomain: IommuDomain | undefined;

  constructor(opts: { checkers?: boolean; pageSize?: PageSize; faults?: FaultPlan; platform?: Platform } = {}) {
    this.heap = new Heap(this.log);
    this.faults = opts.faults ?? NO_FAULTS;
    this.dma = new DmaApi(this.log, opts.pageSize ?? 4096n, opts.faults ?? NO_FAULTS, true, opts.platform);
    this.lockdep = new LockDep(this);
    this.checkers = opts.checkers ?? true;
  }

  /** false = the bench's "checkers off": every service works the same and reports nothing. */
  get checkers(): boolean {
    return this.on;
  }

  set checkers(on: boolean) {
    this.on = on;
    this.heap.checkers = on;
    this.dma.checkers = on;
  }

  /** A race scheduler is installed (locks and fput are preemption points). */
  get preemptible(): boolean {
    return this.scheduler !== undefined;
  }

  report(rule: RuleId, message: string, evidence?: Record<string, unknown>): void {
    if (this.on) this.log.report(rule, message, evidence);
  }

  currentTask(): string {
    return this.tasks?.getStore() ?? 'main';
  }

  preempt(label: string): Promise<void> {
    return this.scheduler ? this.scheduler.schedule(Promise.resolve(), label) : Promise.resolve();
  }

  /** task_work_add(): with no race scheduler the operation is the only task, so the work runs now (after a preemption point otherwise). */
  async taskWork(label: string, fn: () => Promise<void>): Promise<void> {
    if (!this.scheduler) return fn();
    await this.preempt(label);
    const task = this.currentTask();
    this.pendingWork.set(task, [...(this.pendingWork.get(task) ?? []), fn]);
  }

  /** The current task returns to user space: run its task work, in order. */
  async runTaskWork(): Promise<void> {
    const task = this.currentTask();
    for (let work = this.pendingWork.get(task); work?.length; work = this.pendingWork.get(task)) {
      this.pendingWork.delete(task);
      for (const fn of work) await fn();
    }
  }

  /** queue_work(): deferred work (an importer that finishes its invalidation later). With a race
   *  scheduler it is a task of its own that the scheduler runs; without one it runs when a task sleeps
   *  waiting for it (sleepForWork, wait_for_completion) or before the next operation (flushWork). */
  queueWork(label: string, fn: () => Promise<void>): void {
    const item = { label, fn };
    this.work.push(item);
    this.workActive++;
    if (!this.scheduler) return;
    this.spawn(`kworker`, async () => {
      await this.preempt(`kworker: ${label}`);
      await this.runWork(item);
    }).catch((e: unknown) => {
      const t = thrownReport(`deferred work ${label} threw`, e);
      this.report('PLUGIN-THROW', t.message, { work: label, ...t.evidence });
    });
  }

  /** Work queued and not finished (queued, or running and not returned yet). */
  get workPending(): number {
    return this.workActive;
  }

  private async runWork(item: { label: string; fn: () => Promise<void> }): Promise<void> {
    const i = this.work.indexOf(item);
    if (i < 0) return;
    this.work.splice(i, 1);
    try {
      await item.fn();
    } finally {
      this.workActive--;
    }
  }

  /** A task sleeps until deferred work has made progress: under a race scheduler a preemption point
   *  (the worker is another task), else the oldest queued work runs now, as a worker would meanwhile. */
  async sleepForWork(label: string): Promise<void> {
    if (this.scheduler) return this.preempt(label);
    const next = this.work[0];
    if (next) await this.runWork(next);
  }

  /** flush_workqueue(): run every queued work item (between operations, without a race scheduler). */
  async flushWork(): Promise<void> {
    for (let next = this.work[0]; next; next = this.work[0]) await this.runWork(next);
  }

  /** Install fast-check's scheduler; tasks started with spawn() are told apart by name.
   *  undefined ends the race and disables the task store until the next spawn(): while
   *  enabled it costs every later promise of the process (a third of a lifecycle step). */
  setScheduler(s: fc.Scheduler | undefined): void {
    this.scheduler = s;
    this.tasks ??= s ? TASKS : undefined;
    if (!s) TASKS.disable();
  }

  /** Run `fn` as a named task (for races). */
  spawn<T>(task: string, fn: () => Promise<T>): Promise<T> {
    if (!this.tasks) return fn();
    return this.tasks.run(task, fn);
  }

  /** Run named tasks concurrently under the installed scheduler until nothing
   *  can run (fc's waitIdle), each ending like an operation (LOCK-BALANCE).
   *  Tasks still sleeping on a lock then are stuck: lockdep.reportBlocked()
   *  reports them with their sites (deadlock → LOCK-ORDER, a lock never
   *  released → LOCK-BALANCE) and they are left pending, never awaited, so the
   *  run does not hang. */
  async runTasks<T>(tasks: Readonly<Record<string, () => Promise<T>>>): Promise<{ settled: Map<string, T>; blocked: Blocked[] }> {
    const s = this.scheduler;
    if (!s) throw new Error('runTasks needs a scheduler: call setScheduler() first');
    const settled = new Map<string, T>();
    const failed: unknown[] = [];
    for (const [name, fn] of Object.entries(tasks)) {
      this.spawn(name, async () => {
        const r = await fn();
        await this.runTaskWork();
        this.lockdep.checkBalanced(name, name);
        settled.set(name, r);
      }).catch((e: unknown) => failed.push(e));
    }
    await s.waitIdle();
    if (failed.length) throw failed[0];
    return { settled, blocked: this.lockdep.reportBlocked() };
  }

  /** get_unused_fd_flags(): the next free descriptor, or -EMFILE (-24) when the fault plan says the table is full. */
  get_unused_fd_flags(_site: string): number {
    if (this.faults.fdFails) return -24;
    return this.nextFd++;
  }

  /** A top-level operation begins; `name` may be a function, called only if the operation returns holding a lock. */
  beginOp(name: string | (() => string), step?: number): void {
    this.op = name;
    this.log.step = step;
  }

  endOp(): void {
    const task = this.currentTask();
    const op = this.op;
    if (this.lockdep.held.get(task)?.length) this.lockdep.checkBalanced(task, (typeof op === 'function' ? op() : op) ?? 'operation');
    this.op = undefined;
  }

  /** A reservation lock; given the file of the dma-buf it belongs to, taking it while that file is dying is UAF-DYING. */
  newResv(name: string, file?: KFile): ResvLock {
    return file ? new DmaBufResv(name, 'resv', this.lockdep, this, file) : new ResvLock(name, 'resv', this.lockdep, this);
  }

  newRwSem(name: string): RwSem {
    return new RwSem(name, 'memory_lock', this.lockdep, this);
  }

  newFile(name: string, release: () => Promise<void>): KFile {
    return new KFile(name, this, release);
  }

  /** Every vfio_device registration of this kernel, as made (a failed create must leave their counts as they were). */
  readonly registrations: Registration[] = [];

  newRegistration(name: string): Registration {
    const r = new Registration(name, this);
    this.registrations.push(r);
    return r;
  }
}

/** dmabuf->resv: lives and dies with the dma-buf's file. */
class DmaBufResv extends ResvLock {
  constructor(name: string, cls: string, lockdep: LockDep, ctx: Kernel, private readonly file: KFile) {
    super(name, cls, lockdep, ctx);
  }

  override lock(site: string): Promise<void> {
    this.file.touch(site, `takes ${this.name}`);
    return super.lock(site);
  }

  override tryLock(site: string): boolean {
    this.file.touch(site, `takes ${this.name}`);
    return super.tryLock(site);
  }
}
