// Seeded bug (MATCH-ORDER): the exporter type's match callback runs before
// the types are compared, so it sees importer entries of other types.
// Seed: 001 RFC 01/26 dma_buf_match_mapping():
// "if (exp->type != imp->type) continue; if (exp->type->match) {"
import { DmaBufMatchCore, type DmaBufMappingMatch, type DmaBufMatchArgs, type Int } from '../impl/dma-buf-match.ts';
import type { MatchImpl } from '../rules/match.ts';

class CallbackFirst extends DmaBufMatchCore {
  override dma_buf_match_mapping(args: DmaBufMatchArgs, exp: readonly DmaBufMappingMatch[], exp_len: number): Int {
    this.trace.offered?.(exp.slice(0, exp_len));
    for (let e = 0; e !== exp_len; e++) {
      const x = exp[e]!;
      for (let i = 0; i !== args.imp_len; i++) {
        const imp = args.imp_matches[i]!;
        if (x.type.match) {
          const ret = this.callMatch(x.type.match, args, x, imp);
          if (ret === '-EOPNOTSUPP') continue;
          if (ret !== 0) return ret;
        }
        if (x.type !== imp.type || !this.importable(x.type)) continue;
        return this.finish(x.type.finish_match, args, x, imp);
      }
    }
    return '-EINVAL';
  }
}

export const matchCallbackMismatched: MatchImpl = { name: 'bug:match-callback-mismatched', bugOf: 'MATCH-ORDER', make: (k, p, d) => new CallbackFirst(k, p, d) };
