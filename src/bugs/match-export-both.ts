// Seeded bug (MATCH-EXPORT): dma_buf_export() accepts match_mapping together
// with the legacy map/unmap ops. Seed: 001 RFC 03/26 dma_buf_export():
// "if (exp_info->ops->match_mapping) { if (WARN_ON(exp_info->ops->map_dma_buf || exp_info->ops->unmap_dma_buf)) return ERR_PTR(-EINVAL);"
import { DmaBufMatchCore, type MatchDmaBufOps } from '../impl/dma-buf-match.ts';
import type { MatchImpl } from '../rules/match.ts';

class ExportBoth extends DmaBufMatchCore {
  protected override exportOpsValid(ops: MatchDmaBufOps): boolean {
    return !!ops.match_mapping || !!ops.single_exporter_match || (!!ops.map_dma_buf && !!ops.unmap_dma_buf);
  }
}

export const matchExportBoth: MatchImpl = { name: 'bug:match-export-both', bugOf: 'MATCH-EXPORT', make: (k, p, d) => new ExportBoth(k, p, d) };
