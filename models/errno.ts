// Kernel errno values by name (include/uapi/asm-generic/errno-base.h,
// errno.h). Results are values: Result<T> = T | Errno, never a throw.

export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  EMFILE: 24,
  ENOSPC: 28,
  ERANGE: 34,
  EOVERFLOW: 75,
  EOPNOTSUPP: 95,
} as const;

export type ErrnoName = keyof typeof ERRNO;

/** A negative kernel error code, by name: `-EINVAL`. */
export type Errno = `-${ErrnoName}`;

/** The name of a kernel `int` error return (`-12` → `'-ENOMEM'`); null when ERRNO does not name it (0, a
 *  positive value, an errno the catalog lacks). */
export function errnoOf(ret: number): Errno | null {
  const name = (Object.keys(ERRNO) as ErrnoName[]).find((n) => ERRNO[n] === -ret);
  return name ? `-${name}` : null;
}

export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
}
export interface Err {
  readonly ok: false;
  readonly errno: Errno;
}
export type Result<T> = Ok<T> | Err;

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

export function err(errno: Errno): Err {
  return { ok: false, errno };
}

export const ALL_ERRNOS: readonly Errno[] = Object.keys(ERRNO).map((n) => `-${n}` as Errno);

export function isErrno(s: unknown): s is Errno {
  return typeof s === 'string' && (ALL_ERRNOS as readonly string[]).includes(s);
}

/** The numeric value the kernel returns (-22 for -EINVAL). */
export function errnoValue(e: Errno): number {
  return -ERRNO[e.slice(1) as ErrnoName];
}

/** IS_ERR_OR_NULL style summary of a result for reports: errno or 'ok'. */
export function resultTag<T>(r: Result<T>): Errno | 'ok' {
  return r.ok ? 'ok' : r.errno;
}
