// kref and struct completion as the mainline VFIO revoke drain uses them
// (drivers/vfio/pci/vfio_pci_dmabuf.c after "vfio: Wait for dma-buf
// invalidation to complete", torvalds/linux 1a8a5227f229): a count of the
// dma-buf's live mappings plus one, and a completion fired when it reaches
// zero. The checks are the kernel's own: refcount_t warns on an underflow
// ("refcount_t: underflow; use-after-free") and leaves the count saturated,
// and the hung-task detector names a wait_for_completion() that nothing can
// ever complete. A wait sleeps while deferred work is pending (Kernel.queueWork:
// an importer that finishes its unmap later; under a race scheduler the work is
// a task of its own); with none pending nobody can call complete() later, so
// the task would sleep forever; the checker reports that (REV-DRAIN) instead.
import type { Kernel } from './kernel.ts';
import { requireLabel } from './objects.ts';

export class Kref {
  private n = 1;
  /** refcount_t saturated after an underflow: never released again. */
  underflowed = false;

  constructor(private readonly k: Kernel, readonly name: string) {
    requireLabel(name, 'a kref');
  }

  get count(): number {
    return this.n;
  }

  /** kref_init(). */
  init(): void {
    this.n = 1;
    this.underflowed = false;
  }

  /** kref_get(): on a zero count refcount_t warns (an addition on 0, use-after-free). */
  get(site: string): void {
    requireLabel(site, `kref_get() site of ${this.name}`);
    if (this.n <= 0 || this.underflowed) {
      this.k.report('REV-DRAIN', `${site}: kref_get() on ${this.name} whose count is ${this.n}: refcount_t addition on 0; use-after-free`, { kref: this.name, site, count: this.n, underflow: true });
      return;
    }
    this.n++;
  }

  /** kref_put(): the release runs when the count reaches zero; a put at zero is an underflow. */
  put(site: string, release: () => void): void {
    requireLabel(site, `kref_put() site of ${this.name}`);
    if (this.n <= 0 || this.underflowed) {
      this.underflowed = true;
      this.k.report('REV-DRAIN', `${site}: kref_put() on ${this.name} whose count is already 0: refcount_t underflow; use-after-free`, { kref: this.name, site, count: this.n, underflow: true });
      return;
    }
    if (--this.n === 0) release();
  }
}

export class Completion {
  private done = 0;

  constructor(private readonly k: Kernel, readonly name: string, private readonly kref?: Kref) {
    requireLabel(name, 'a completion');
  }

  /** complete(). */
  complete(): void {
    this.done++;
  }

  /** reinit_completion(). */
  reinit(): void {
    this.done = 0;
  }

  /** wait_for_completion(): consumes one complete(). The task sleeps while deferred work (an importer
   *  finishing its unmap later) is pending, as the kernel's would until the worker calls complete();
   *  with none, and nothing left that could call it, the task hangs. */
  async wait(site: string): Promise<void> {
    requireLabel(site, `wait_for_completion() site of ${this.name}`);
    while (this.done === 0 && this.k.workPending > 0) await this.k.sleepForWork(`wait_for_completion(${this.name})`);
    if (this.done > 0) {
      this.done--;
      return;
    }
    this.k.report('REV-DRAIN', `${site}: wait_for_completion(${this.name}) that nothing can complete (no complete() pending, ${this.kref ? `count ${this.kref.count}${this.kref.underflowed ? ', after an underflow' : ''}` : 'no count'}): the task sleeps forever (hung task)`, { completion: this.name, site, hang: true, underflow: this.kref?.underflowed ?? false });
  }
}
