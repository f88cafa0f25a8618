// One violation as a behaviour two implementations share or not: its rule and evidence, without where in the
// code it was seen. A documented finding explains a violation only when the design's faithful port, run on the
// same case, shows the same behaviour (src/rules/conversion-impls.ts for the conversion, the create path;
// src/harness/lifecycle-prop.ts for the lifecycle).
import { withCaseNames, type Violation } from './violation.ts';

/** Where a violation was seen: the code sites (`allocSite`, a kernel C unit's `cSite`: src/kernel-c/sites.ts) and
 *  the C's trail. Context, not behaviour: the same leak allocated in `dma_buf_map` or at dma-buf.c:1379 is one. */
const isContext = (key: string): boolean => key === 'site' || key.endsWith('Site') || key === 'cSiteIs' || key === 'cReturned' || key === 'cTrail';

/** The kernel C's own check of a rule's condition: a WARN_ON (kind 'warn') or a sanitizer's report of the C
 *  (AddressSanitizer, UBSan: kind `c-heap-use-after-free`, `c-SEGV`, ... src/kernel-c). What it says (the
 *  condition's text, the sanitizer's summary and frames) is the C's, not the checkers': it is that rule's behaviour. */
const isOwnCheck = (v: Violation): boolean => {
  const kind = v.evidence?.['kind'];
  return kind === 'warn' || (typeof kind === 'string' && kind.startsWith('c-'));
};

/** A kernel heap object's name keeps its allocation counter (`phys_vec#4`): which allocation of the run it was,
 *  not what the implementation did (a port with one allocation more names the same object `phys_vec#5`). */
const HEAP_COUNTER = /(?<=[A-Za-z_]#)\d+\b/g;

/** An evidence value as a behaviour: u64s in hex; strings with the kernel's names of the run's objects as the case
 *  names them (`vdev0.dmabuf7` is the case's `buf0` in one run, `vdev0.dmabuf18` in another: case-names.ts),
 *  and the remaining heap objects without their counter. */
function valueOf(names: ReadonlyMap<string, string> | undefined) {
  return (k: string, x: unknown): unknown => {
    if (isContext(k)) return undefined;
    if (typeof x === 'bigint') return `0x${x.toString(16)}`;
    if (typeof x === 'string' && names) return withCaseNames(x, names).replace(HEAP_COUNTER, '');
    return x;
  };
}

/** One violation as its rule and evidence say it (without the context: sites, the C's trail), the kernel's
 *  object names as the case's when `names` is given (a lifecycle run's). A C's own check is its rule's behaviour. */
export function behaviour(v: Violation, names?: ReadonlyMap<string, string>): string {
  if (isOwnCheck(v)) return `${v.rule} warn`;
  return `${v.rule} ${JSON.stringify(v.evidence ?? {}, valueOf(names))}`;
}

/** The behaviours a reference run shows: each of its violations, and each of their rules as the C's own check of
 *  it (a WARN_ON or sanitizer report of the C is the same behaviour as the port's violation of that rule). */
export function shownBy(reference: readonly Violation[], names?: ReadonlyMap<string, string>): Set<string> {
  return new Set([...reference.map((w) => behaviour(w, names)), ...reference.map((w) => `${w.rule} warn`)]);
}
