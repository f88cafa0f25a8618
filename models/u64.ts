// Kernel unsigned integers on bigint: u64, size_t, phys_addr_t, dma_addr_t
// (all 64 bits on the machines this suite models) and u32. C wraps modulo
// 2^64 / 2^32; so do these helpers where C does (include/linux/overflow.h,
// include/linux/align.h, include/linux/math.h).

/** A u64 / size_t value: 0 ≤ v < 2^64. */
export type U64 = bigint;
/** phys_addr_t: a CPU physical address. */
export type PhysAddr = U64;
/** dma_addr_t: an address as seen by a device (bus address or IOVA). */
export type DmaAddr = U64;
/** u32 on bigint, when it is compared with u64 quantities. */
export type U32 = bigint;

export const U64_MAX: U64 = (1n << 64n) - 1n;
export const UINT_MAX: U32 = (1n << 32n) - 1n;
export const SZ_4K: U64 = 4096n;
export const SZ_64K: U64 = 65536n;

/** Truncate to u64 as a C assignment does. */
export function u64(v: bigint): U64 {
  return BigInt.asUintN(64, v);
}

/** Truncate to u32 as a C assignment does. */
export function u32(v: bigint): U32 {
  return BigInt.asUintN(32, v);
}

export function isU64(v: bigint): boolean {
  return v >= 0n && v <= U64_MAX;
}

/**
 * check_add_overflow(a, b, &d) on u64: the wrapped sum and whether the true
 * sum did not fit.
 */
export function checkAddOverflow(a: U64, b: U64): { sum: U64; overflow: boolean } {
  const exact = a + b;
  return { sum: u64(exact), overflow: exact > U64_MAX };
}

/** check_add_overflow on a u32 destination (e.g. unsigned int nents). */
export function checkAddOverflowU32(a: U32, b: U32): { sum: U32; overflow: boolean } {
  const exact = a + b;
  return { sum: u32(exact), overflow: exact > UINT_MAX };
}

/** Page size, a parameter: 4 KiB and 64 KiB both occur on real machines. */
export type PageSize = U64;

function assertPowerOfTwo(a: U64): void {
  if (a <= 0n || (a & (a - 1n)) !== 0n) throw new RangeError(`alignment ${a} is not a power of two`);
}

/** ALIGN_DOWN(x, a) for a power-of-two a. */
export function alignDown(x: U64, a: U64): U64 {
  assertPowerOfTwo(a);
  return x & ~(a - 1n) & U64_MAX;
}

/** ALIGN(x, a): rounds up, wrapping like C at the top of u64. */
export function alignUp(x: U64, a: U64): U64 {
  assertPowerOfTwo(a);
  return u64(x + a - 1n) & ~(a - 1n) & U64_MAX;
}

/** IS_ALIGNED(x, a) for a power-of-two a. */
export function isAligned(x: U64, a: U64): boolean {
  assertPowerOfTwo(a);
  return (x & (a - 1n)) === 0n;
}

/** PAGE_ALIGNED(x) with the page size as a parameter. */
export function pageAligned(x: U64, pageSize: PageSize): boolean {
  return isAligned(x, pageSize);
}

/**
 * DIV_ROUND_UP(n, d) as the macro computes it: ((n) + (d) - 1) / (d) in u64,
 * so it wraps for n > U64_MAX - d + 1 exactly like the C.
 */
export function divRoundUp(n: U64, d: U64): U64 {
  if (d === 0n) throw new RangeError('DIV_ROUND_UP by zero');
  return u64(n + d - 1n) / d;
}

/** The mathematical ceil(n / d), for comparing with divRoundUp. */
export function ceilDiv(n: bigint, d: bigint): bigint {
  return (n + d - 1n) / d;
}

export function minU64(a: U64, b: U64): U64 {
  return a < b ? a : b;
}

/** Hex as the kernel prints addresses (%pad / %pa). */
export function hex(v: bigint): string {
  return `0x${v.toString(16)}`;
}
