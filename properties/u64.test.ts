import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  U64_MAX, UINT_MAX, alignDown, alignUp, ceilDiv, checkAddOverflow, checkAddOverflowU32, divRoundUp, isAligned, u32, u64,
} from '../models/u64.ts';
import { err, errnoValue, isErrno, ok, resultTag } from '../models/errno.ts';

// u64 values biased to the edges where kernel arithmetic breaks.
const EDGES = [0n, 1n, (1n << 32n) - 1n, 1n << 32n, (1n << 32n) + 1n, 1n << 63n, (1n << 63n) - 1n, U64_MAX, U64_MAX - 1n];
const u64Arb = fc.oneof(
  fc.constantFrom(...EDGES),
  fc.bigInt({ min: 0n, max: U64_MAX }),
  fc.constantFrom(...EDGES).chain((e) => fc.bigInt({ min: -4096n, max: 4096n }).map((d) => u64(e + d))),
);
const pow2Arb = fc.integer({ min: 0, max: 63 }).map((k) => 1n << BigInt(k));
const MOD = 1n << 64n;

describe('u64 helpers agree with their mathematical definitions', () => {
  it('checkAddOverflow: sum mod 2^64, overflow iff a+b ≥ 2^64', () => {
    fc.assert(fc.property(u64Arb, u64Arb, (a, b) => {
      const r = checkAddOverflow(a, b);
      expect(r.sum).toBe((a + b) % MOD);
      expect(r.overflow).toBe(a + b >= MOD);
    }));
  });

  it('checkAddOverflowU32: sum mod 2^32, overflow iff a+b > UINT_MAX', () => {
    fc.assert(fc.property(u64Arb.map(u32), u64Arb.map(u32), (a, b) => {
      const r = checkAddOverflowU32(a, b);
      expect(r.sum).toBe((a + b) % (1n << 32n));
      expect(r.overflow).toBe(a + b > UINT_MAX);
    }));
  });

  it('alignDown is the largest multiple of a not above x', () => {
    fc.assert(fc.property(u64Arb, pow2Arb, (x, a) => {
      const d = alignDown(x, a);
      expect(d % a).toBe(0n);
      expect(d <= x && x - d < a).toBe(true);
    }));
  });

  it('alignUp is the smallest multiple of a not below x, mod 2^64 as in C', () => {
    fc.assert(fc.property(u64Arb, pow2Arb, (x, a) => {
      expect(alignUp(x, a)).toBe((ceilDiv(x, a) * a) % MOD);
    }));
  });

  it('isAligned iff x mod a = 0', () => {
    fc.assert(fc.property(u64Arb, pow2Arb, (x, a) => {
      expect(isAligned(x, a)).toBe(x % a === 0n);
    }));
  });

  it('divRoundUp is ceil(n/d) unless n+d-1 wraps, then the wrapped C value', () => {
    fc.assert(fc.property(u64Arb, u64Arb.filter((d) => d > 0n), (n, d) => {
      const wraps = n + d - 1n > U64_MAX;
      expect(divRoundUp(n, d)).toBe(wraps ? ((n + d - 1n) % MOD) / d : ceilDiv(n, d));
    }));
  });

  it('edge values: UINT_MAX and U64_MAX are what C says', () => {
    expect(UINT_MAX).toBe(4294967295n);
    expect(U64_MAX).toBe(18446744073709551615n);
    expect(alignDown(UINT_MAX, 4096n)).toBe(0xfffff000n);
    expect(alignDown(UINT_MAX, 65536n)).toBe(0xffff0000n);
    expect(divRoundUp(U64_MAX, 2n)).toBe(0n); // (2^64-1 + 1) wraps to 0
    expect(() => alignDown(1n, 3n)).toThrow(RangeError);
    expect(() => divRoundUp(1n, 0n)).toThrow(RangeError);
  });
});

describe('errno results', () => {
  it('names map to the kernel numbers', () => {
    expect(errnoValue('-EINVAL')).toBe(-22);
    expect(errnoValue('-ENODEV')).toBe(-19);
    expect(errnoValue('-EOPNOTSUPP')).toBe(-95);
    expect(errnoValue('-EOVERFLOW')).toBe(-75);
    expect(isErrno('-ENOMEM')).toBe(true);
    expect(isErrno('-EWHAT')).toBe(false);
    expect(resultTag(ok(1))).toBe('ok');
    expect(resultTag(err('-EFAULT'))).toBe('-EFAULT');
  });
});
