// KASAN for the simulated kernel: every allocation has an alloc site and,
// once freed, a free site; touching or freeing a freed object reports
// UAF-OBJ with both sites. Allocation failures are injected here (-ENOMEM).
import type { ViolationLog } from '../rules/violation.ts';

export type Site = string;

/** Every service of the simulated kernel is told where it is called from (the kernel function,
 *  as lockdep and KASAN name their call sites) and every object, lock and file has a name: they are
 *  what a report cites. An empty one would make a report that names nothing, so it is a misuse of
 *  this API, refused on every call (not only when a checker fires) with one clear line. */
export function requireLabel(label: string, what: string): void {
  if (!isLabel(label)) throw new Error(`simulated kernel: ${what} needs a non-empty name (the kernel function or object it stands for)`);
}

/** A name that is not blank. One that starts with a printable ASCII character is not: no trim() (a copy) on every call. */
export function isLabel(label: string): boolean {
  const first = label.charCodeAt(0);
  return (first > 0x20 && first < 0x7f) || label.trim() !== '';
}

export class KObj<T> {
  freeSite: Site | undefined = undefined;

  constructor(
    readonly kind: string,
    readonly id: number,
    readonly allocSite: Site,
    public value: T,
  ) {}

  get freed(): boolean {
    return this.freeSite !== undefined;
  }
}

/** How a report names a heap object: `kind#id` (`attachment#15`), as KASAN's reports here do. */
export function objName(obj: KObj<unknown>): string {
  return `${obj.kind}#${obj.id}`;
}

/** No allocation fails (a shared function: under tsx, esbuild keepNames, an arrow per heap costs a defineProperty per run). */
const neverFails = (): boolean => false;

export class Heap {
  private nextId = 1;
  private readonly liveObjs = new Set<KObj<unknown>>();
  /** Where every object allocated from now on is also listed (a lifecycle create's objects, for the case's
   *  names of them: Real.run), or null. */
  recording: KObj<unknown>[] | null = null;
  /** Returns true when this allocation must fail (fault injection). */
  failAlloc: (kind: string, site: Site) => boolean = neverFails;

  constructor(private readonly log: ViolationLog, public checkers = true) {}

  /** kzalloc(): the object, or null when the fault plan says -ENOMEM. */
  alloc<T>(kind: string, site: Site, value: T): KObj<T> | null {
    requireLabel(kind, 'kzalloc() object kind');
    requireLabel(site, 'kzalloc() site');
    if (this.failAlloc(kind, site)) return null;
    const obj = new KObj(kind, this.nextId++, site, value);
    this.liveObjs.add(obj as KObj<unknown>);
    this.recording?.push(obj as KObj<unknown>);
    return obj;
  }

  /** kfree(): a double free is UAF-OBJ naming the first free (and is not repeated). */
  free(obj: KObj<unknown>, site: Site): void {
    requireLabel(site, 'kfree() site');
    if (obj.freeSite !== undefined) {
      this.report(obj, site, 'double free');
      return;
    }
    obj.freeSite = site;
    this.liveObjs.delete(obj);
  }

  /** A read or write of the object: UAF-OBJ when it was freed. */
  use<T>(obj: KObj<T>, site: Site): T {
    requireLabel(site, 'object access site');
    if (obj.freeSite !== undefined) this.report(obj, site, 'use after free');
    return obj.value;
  }

  /** The id the next allocation gets: every object allocated from now on has this id or a higher one. */
  get nextObjectId(): number {
    return this.nextId;
  }

  live(kind?: string): KObj<unknown>[] {
    return [...this.liveObjs].filter((o) => kind === undefined || o.kind === kind);
  }

  private report(obj: KObj<unknown>, site: Site, what: string): void {
    if (!this.checkers) return;
    this.log.report('UAF-OBJ', `${what} of ${obj.kind}#${obj.id} in ${site}: allocated in ${obj.allocSite}, freed in ${obj.freeSite}`, { object: `${obj.kind}#${obj.id}`, allocSite: obj.allocSite, freeSite: obj.freeSite, useSite: site });
  }
}
