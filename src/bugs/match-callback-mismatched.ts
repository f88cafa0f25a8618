// Seeded bug (MATCH-ORDER): the exporter type's match callback runs before
// the types are compared, so it sees importer entries of other types.
// Seed: 001 RFC 01/26 dma_buf_match_mapping():
// "if (exp->type != imp->type) continue; if (exp->type->match) {"
import { DmaBufMatchCore, type DmaBufConverter, type DmaBufMappingMatch, type DmaBufMatchArgs, type Int } from '../impl/dma-buf-match.ts';
import type { MatchImpl } from '../rules/match.ts';

class CallbackFirst extends DmaBufMatchCore {
  protected override matchPair(args: DmaBufMatchArgs, x: DmaBufMappingMatch, imp: DmaBufMappingMatch, convs: readonly DmaBufConverter[]): Int | 'next' {
    if (x.type !== imp.type && x.type.match) { // BUG: the callback runs before the types are compared
      const ret = this.callMatch(x.type.match, args, x, imp);
      if (ret !== 0 && ret !== '-EOPNOTSUPP') return ret;
    }
    return super.matchPair(args, x, imp, convs);
  }
}

export const matchCallbackMismatched: MatchImpl = { name: 'bug:match-callback-mismatched', bugOf: 'MATCH-ORDER', make: (k, p, d) => new CallbackFirst(k, p, d) };
