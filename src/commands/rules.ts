// dmabuf-conform rules: the rule catalog (src/rules/registry.ts), one line per rule.
import { RULES } from '../rules/registry.ts';
import { UsageError } from './usage.ts';

export async function run(args: string[]): Promise<number> {
  if (args.length) throw new UsageError('usage: dmabuf-conform rules (then: dmabuf-conform explain RULE)');
  const w = Math.max(...RULES.map((r) => r.id.length));
  process.stdout.write(`${RULES.map((r) => `${r.id.padEnd(w)}  [${r.profiles.join(',')}] ${r.title} (${r.seed})`).join('\n')}\n`);
  return 0;
}
