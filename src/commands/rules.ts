// dmabuf-conform rules: the rule catalog (src/rules/registry.ts), one line per rule.
import { RULES } from '../rules/registry.ts';
import { parseFlags, UsageError } from './usage.ts';

/** What `rules --help` prints. */
export const USAGE = 'usage: dmabuf-conform rules (then: dmabuf-conform explain RULE)';

/** `rules`: print the catalog; exit 0. */
export async function run(args: string[]): Promise<number> {
  const { positionals } = parseFlags(args, {}, USAGE);
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}' (${USAGE})`);
  const w = Math.max(...RULES.map((r) => r.id.length));
  process.stdout.write(`${RULES.map((r) => `${r.id.padEnd(w)}  [${r.profiles.join(',')}] ${r.title} (${r.seed})`).join('\n')}\n`);
  return 0;
}
