// struct file of a dma-buf and the VFIO device registration refcount:
// get_file_active() fails on a dying file; the last fput() runs the release
// as task work (the kernel defers __fput to the dropping task's return to
// user space, after it released its locks), exactly once; references dropped below zero are UAF-REF; a dying file
// (count zero, release pending) touched by anyone but its release — a reference taken with get_file(), its
// reservation lock taken, its importers notified — is UAF-DYING.
import { isLabel, requireLabel, type Site } from './objects.ts';
import type { RuleId } from '../rules/registry.ts';

interface RefContext {
  report(rule: RuleId, message: string, evidence?: Record<string, unknown>): void;
  /** Run `fn` as the current task's task work: at once when there is no other task, else when its operation returns. */
  taskWork(label: string, fn: () => Promise<void>): Promise<void>;
}

/** What a put that is not the last returns. */
const PUT: Promise<void> = Promise.resolve();

export class KFile {
  count = 1;
  released = false;
  /** Where the count reached zero. */
  lastPut: Site | undefined = undefined;

  constructor(
    readonly name: string,
    private readonly ctx: RefContext,
    private readonly release: () => Promise<void>,
  ) {
    requireLabel(name, 'a file');
  }

  /** file_count() == 0: the release is pending or done. */
  get dying(): boolean {
    return this.count === 0;
  }

  /** get_file_active(): a new reference, or false when the file is dying. */
  getFileActive(_site?: Site): boolean {
    if (this.count === 0 || this.released) return false;
    this.count++;
    return true;
  }

  /** get_file() / get_dma_buf(): only valid on a live file. */
  get(site: Site): void {
    requireLabel(site, `get_file() site of ${this.name}`);
    if (this.count === 0) this.ctx.report('UAF-DYING', `${site} takes a reference on the dying file of ${this.name} (last reference dropped in ${this.lastPut})`, { file: this.name, site, putSite: this.lastPut });
    this.count++;
  }

  /** Something other than the release touches the object this file owns (`what` it does):
   *  between the last fput() and the end of the release, that is a dying object. */
  touch(site: Site, what: string): void {
    requireLabel(site, `access site of ${this.name}`);
    requireLabel(what, `what ${site} does to ${this.name}`);
    if (this.count === 0 && !this.released) this.ctx.report('UAF-DYING', `${site} ${what} of ${this.name}, whose file is dying (last reference dropped in ${this.lastPut}, release pending)`, { file: this.name, site, putSite: this.lastPut });
  }

  /** fput() / dma_buf_put(). A put that is not the last (nearly every one: get_file_active() and fput()
   *  around each dma-buf a walk visits) returns an already-settled promise, with no async frame; the last
   *  put, a put of nothing and a blank site go through lastFput() (a blank site still rejects). */
  fput(site: Site): Promise<void> {
    if (this.count > 1 && isLabel(site)) {
      this.count--;
      return PUT;
    }
    return this.lastFput(site);
  }

  private async lastFput(site: Site): Promise<void> {
    requireLabel(site, `fput() site of ${this.name}`);
    if (this.count === 0) {
      this.ctx.report('UAF-REF', `${site} drops a reference of ${this.name} that it does not hold (file count already 0, last put in ${this.lastPut})`, { file: this.name, site, putSite: this.lastPut });
      return;
    }
    if (--this.count > 0) return;
    this.lastPut = site;
    await this.ctx.taskWork(`__fput(${this.name})`, () => this.runRelease(site));
  }

  private async runRelease(site: Site): Promise<void> {
    if (this.released) {
      this.ctx.report('UAF-REF', `${site} drops the last reference of ${this.name} a second time: its release already ran`, { file: this.name, site });
      return;
    }
    this.released = true;
    await this.release();
  }
}

/** vfio_device registration: vfio_device_try_get_registration / _put_registration. */
export class Registration {
  count = 1;
  /** vfio_unregister_group_dev() has started: the final put is expected. */
  unregistering = false;

  constructor(
    readonly name: string,
    private readonly ctx: RefContext,
  ) {
    requireLabel(name, 'a registration');
  }

  /** vfio_device_try_get_registration(): refcount_inc_not_zero(). */
  tryGet(_site?: Site): boolean {
    if (this.count === 0) return false;
    this.count++;
    return true;
  }

  /** vfio_device_put_registration(). Reaching zero before unregistration
   *  started means someone put the reference the registered device owns. */
  put(site: Site): void {
    requireLabel(site, `registration put site of ${this.name}`);
    if (this.count === 0) {
      this.ctx.report('UAF-REF', `${site} puts the registration of ${this.name} below zero`, { device: this.name, site });
      return;
    }
    this.count--;
    if (this.count === 0 && !this.unregistering) this.ctx.report('UAF-REF', `${site} drops the last registration reference of ${this.name} while the device is still registered`, { device: this.name, site });
  }
}
