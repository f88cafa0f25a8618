// Seeded bug (MATCH-LEGACY): the compat match of an unaware exporter
// requires P2P. Seed: 001 RFC 02/26 dma_buf_sgt_exp_compat_match: "This does
// not require p2p because old exporters will check it through the
// attach->peer2peer mechanism."
import { DmaBufMatchCore, type DmaBufMappingMatch } from '../impl/dma-buf-match.ts';
import type { MatchImpl } from '../rules/match.ts';

class LegacyP2p extends DmaBufMatchCore {
  override compat_match(): DmaBufMappingMatch {
    const m = super.compat_match();
    return { ...m, sgt_data: { ...m.sgt_data, exporter_requires_p2p: 'DMA_SGT_EXPORTER_REQUIRES_P2P_DISTANCE' } };
  }
}

export const matchLegacyP2p: MatchImpl = { name: 'bug:match-legacy-p2p', bugOf: 'MATCH-LEGACY', make: (k, p, d) => new LegacyP2p(k, p, d) };
