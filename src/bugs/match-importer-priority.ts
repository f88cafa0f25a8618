// Seeded bug (MATCH-ORDER): the importer list is the outer loop, so the
// importer's priority wins. Seed: 001 RFC 01/26 dma_buf_match_mapping():
// "Because the exporter list is walked in order, the exporter controls the
// priority of mapping types."
import { DmaBufMatchCore, type DmaBufMappingMatch, type DmaBufMatchArgs, type Int } from '../impl/dma-buf-match.ts';
import type { MatchImpl } from '../rules/match.ts';

class ImporterPriority extends DmaBufMatchCore {
  override dma_buf_match_mapping(args: DmaBufMatchArgs, exp: readonly DmaBufMappingMatch[], exp_len: number): Int {
    this.trace.offered?.(exp.slice(0, exp_len));
    const convs = this.converters();
    for (let i = 0; i !== args.imp_len; i++) { // BUG: importer order outer
      for (let e = 0; e !== exp_len; e++) {
        const r = this.matchPair(args, exp[e]!, args.imp_matches[i]!, convs);
        if (r !== 'next') return r;
      }
    }
    return '-EINVAL';
  }
}

export const matchImporterPriority: MatchImpl = { name: 'bug:match-importer-priority', bugOf: 'MATCH-ORDER', make: (k, p, d) => new ImporterPriority(k, p, d) };
