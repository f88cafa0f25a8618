// Seeded bug (MATCH-P2P): dma_buf_sgt_match() ignores the exporter's P2P
// requirement. Seed: 001 RFC 02/26: "A required peer2peer exporter will not
// match to an importer that does not accept peer2peer."
import { DmaBufMatchCore, type Int } from '../impl/dma-buf-match.ts';
import type { MatchImpl } from '../rules/match.ts';

class P2pIgnored extends DmaBufMatchCore {
  protected override dma_buf_sgt_match(): Int {
    return 0;
  }
}

export const matchP2pIgnored: MatchImpl = { name: 'bug:match-p2p-ignored', bugOf: 'MATCH-P2P', make: (k, p, d) => new P2pIgnored(k, p, d) };
