// Fault injection for the simulated kernel, chosen by fast-check: which
// allocation fails, the k-th dma_map_phys, the k-th dma_iova_link, the
// sync, whether the IOMMU refuses an IOVA allocation, and whether the fd
// table is full. The lifecycle arms one fault point of the VFIO create path
// per create command (armCreateFault).
import type { CreateFault } from '../../models/lifecycle.ts';
import type { Heap, Site } from './objects.ts';

export interface FaultPlan {
  /** Allocation kinds that fail with -ENOMEM ('dma', 'state', 'sg_table', 'priv', ...). */
  readonly allocFails: readonly string[];
  /** 0-based index of the dma_map_phys call that fails, if any. */
  readonly mapFailsAt?: number;
  /** 0-based index of the dma_iova_link call that fails, if any. */
  readonly linkFailsAt?: number;
  readonly syncFails: boolean;
  /** dma_iova_try_alloc() refuses (no IOMMU, or IOVA space exhausted). */
  readonly iovaRefused: boolean;
  /** get_unused_fd_flags() fails -EMFILE (the task's fd table is full). */
  readonly fdFails?: boolean;
}

export const NO_FAULTS: FaultPlan = { allocFails: [], syncFails: false, iovaRefused: false };

/** The allocation kind each allocation fault of the create path fails: kzalloc(priv), kcalloc(phys_vec),
 *  and dma_buf_export()'s own allocation of the struct dma_buf. 'fd' is not an allocation: dma_buf_fd()'s
 *  get_unused_fd_flags() fails instead. */
export const CREATE_FAULT_KIND: Readonly<Record<CreateFault, string | null>> = { priv: 'priv', phys_vec: 'phys_vec', export: 'dma_buf', fd: null };

/** The kernel services a create fault is armed on. */
export interface FaultTarget {
  readonly heap: Heap;
  faults: FaultPlan;
}

/** Arm one fault point for the operation that follows (one create command): the first allocation of
 *  the fault's kind fails -ENOMEM, or get_unused_fd_flags() fails -EMFILE. Returns the disarm. */
export function armCreateFault(k: FaultTarget, fault: CreateFault | undefined): () => void {
  if (!fault) return () => undefined;
  const kind = CREATE_FAULT_KIND[fault];
  const before = { failAlloc: k.heap.failAlloc, faults: k.faults };
  if (kind === null) {
    k.faults = { ...k.faults, fdFails: true };
  } else {
    let fired = false;
    k.heap.failAlloc = (kd: string, site: Site) => {
      if (!fired && kd === kind) return (fired = true);
      return before.failAlloc(kd, site);
    };
  }
  return () => {
    k.heap.failAlloc = before.failAlloc;
    k.faults = before.faults;
  };
}
