// Bad input of any kind (CLI flag, topology file, case file, plugin) is one
// clear line and a non-zero exit, never a stack trace (DEVELOPERS.md).

/** Thrown by command parsers and file loaders; the CLI prints its message alone. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}

/** JSON with bigint written as decimal strings, for command output. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}
