// Fault injection for the simulated kernel, chosen by fast-check: which
// allocation fails, the k-th dma_map_phys, the k-th dma_iova_link, the
// sync, and whether the IOMMU refuses an IOVA allocation.
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
}

export const NO_FAULTS: FaultPlan = { allocFails: [], syncFails: false, iovaRefused: false };
