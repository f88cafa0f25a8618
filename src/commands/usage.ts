// Bad input of any kind (CLI flag, topology file, case file, report, plugin)
// is one clear line and exit 2, never a stack trace (DEVELOPERS.md). Exit
// codes: 0 ok, 1 a new violation (or violations listed), 2 usage or bad input.
import { parseArgs } from 'node:util';

/** The only exit codes the tool uses (README.md, "Exit codes"). */
export const EXIT = { ok: 0, violation: 1, usage: 2 } as const;

/** Thrown by command parsers and file loaders; the CLI prints its message alone. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
  }
}

/** JSON with bigint written as decimal strings, for command output. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];
type StringFlags<O> = { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : string };

/**
 * `node:util` parseArgs (strict) with its errors turned into one-line usage
 * errors that end with the command's usage line:
 * `unknown option '--x' (usage: ...)`, `--case needs a value (usage: ...)`.
 * @param args the command's arguments (after the command name)
 * @param options parseArgs options; long names only, no defaults
 * @param usage the command's usage line
 */
export function parseFlags<O extends NonNullable<Options>>(args: readonly string[], options: O, usage: string): { values: StringFlags<O>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: [...args], options, allowPositionals: true, strict: true });
    const empty = Object.entries(values).find(([, v]) => v === '');
    if (empty) throw new UsageError(`--${empty[0]} needs a value (${usage})`);
    return { values: values as StringFlags<O>, positionals };
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const err = e as NodeJS.ErrnoException;
    const flag = /'(-[^' ]+)/.exec(err.message)?.[1] ?? '';
    if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option '${flag}' (${usage})`);
    if (err.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${flag} ${/does not take an argument/.test(err.message) ? 'takes no value' : 'needs a value'} (${usage})`);
    throw new UsageError(`${err.message.split('\n')[0]} (${usage})`);
  }
}
