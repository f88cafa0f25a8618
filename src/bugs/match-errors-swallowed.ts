// Seeded bug (MATCH-ORDER): every callback error skips the pair, as
// -EOPNOTSUPP does. Seed: 001 RFC 01/26 dma_buf_match_mapping():
// "if (ret == -EOPNOTSUPP) continue; if (ret != 0) return ret;"
import { DmaBufMatchCore, type DmaBufMappingType, type DmaBufMatchArgs, type DmaBufMappingMatch, type Int } from '../impl/dma-buf-match.ts';
import type { MatchImpl } from '../rules/match.ts';

class ErrorsSwallowed extends DmaBufMatchCore {
  protected override callMatch(match: NonNullable<DmaBufMappingType['match']>, args: DmaBufMatchArgs, exp: DmaBufMappingMatch, imp: DmaBufMappingMatch): Int {
    const ret = super.callMatch(match, args, exp, imp);
    return ret === 0 ? 0 : '-EOPNOTSUPP';
  }
}

export const matchErrorsSwallowed: MatchImpl = { name: 'bug:match-errors-swallowed', bugOf: 'MATCH-ORDER', make: (k, p, d) => new ErrorsSwallowed(k, p, d) };
