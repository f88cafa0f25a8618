// dmabuf-conform profiles [--diff A B]: the three designs, or what differs
// between two of them — behaviours (models/profiles.ts) and rules (the
// registry's profile lists) — with the seed passages behind each.
import { behaviourValue, differences, isProfile, PROFILES, SPECS, type Profile } from '../../models/profiles.ts';
import { PASSAGES } from '../rules/passages.ts';
import { RULES } from '../rules/registry.ts';
import { parseFlags, UsageError } from './usage.ts';

/** What `profiles --help` prints. */
export const USAGE = 'usage: dmabuf-conform profiles [--diff A B]';

function profileArg(s: string): Profile {
  if (!isProfile(s)) throw new UsageError(`--diff: unknown profile '${s}' (profiles: ${PROFILES.join(', ')})`);
  return s;
}

/** One line per profile: name, title, seeds. */
export function listing(): string {
  return PROFILES.map((p) => `${p.padEnd(10)} ${SPECS[p].title} (seeds ${SPECS[p].seeds})`).join('\n');
}

/** The behaviours and rules that differ between two profiles, each with its seed passage; a heading without entries is left out. */
export function diff(a: Profile, b: Profile): string {
  const behaviours = differences(a, b).flatMap((d) => [`  ${d.behaviour}`, `    ${a}: ${behaviourValue(a, d.key)}`, `    ${b}: ${behaviourValue(b, d.key)}`, `    seed: ${d.passage}`]);
  const rules = RULES.filter((r) => r.profiles.includes(a) !== r.profiles.includes(b)).flatMap((r) => {
    const only = r.profiles.includes(a) ? a : b;
    return [`  ${r.id} (${only} only): ${r.title}`, `    seed: ${PASSAGES[r.id] ?? r.seed}`];
  });
  if (behaviours.length === 0 && rules.length === 0) return `${a} and ${b}: no differences (same behaviours, same rules)`;
  return [
    ...(behaviours.length ? [`behaviours that differ between ${a} and ${b}:`, ...behaviours] : [`${a} and ${b} behave the same`]),
    ...(rules.length ? [`rules that hold in only one of ${a} and ${b}:`, ...rules] : [`every rule holds in both ${a} and ${b}`]),
  ].join('\n');
}

/** `profiles`: the listing, or `--diff A B`; exit 0. */
export async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseFlags(args, { diff: { type: 'boolean' } }, USAGE);
  if (!values.diff) {
    if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}' (${USAGE})`);
    process.stdout.write(`${listing()}\n`);
    return 0;
  }
  if (positionals.length !== 2) throw new UsageError(`--diff needs two profiles (${USAGE})`);
  process.stdout.write(`${diff(profileArg(positionals[0]!), profileArg(positionals[1]!))}\n`);
  return 0;
}
