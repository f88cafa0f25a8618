// Seeded bug (MATCH-DYNAMIC): dma_buf_mapping_attach() accepts importer ops
// without move_notify. Seed: 001 RFC 03/26 dma_buf_mapping_attach():
// "if (WARN_ON(importer_ops && !importer_ops->move_notify)) return ERR_PTR(-EINVAL);"
import { DmaBufMatchCore } from '../impl/dma-buf-match.ts';
import type { MatchImpl } from '../rules/match.ts';

class DynamicUnchecked extends DmaBufMatchCore {
  protected override dynamicOpsValid(): boolean {
    return true;
  }
}

export const matchDynamicUnchecked: MatchImpl = { name: 'bug:match-dynamic-unchecked', bugOf: 'MATCH-DYNAMIC', make: (k, p, d) => new DynamicUnchecked(k, p, d) };
