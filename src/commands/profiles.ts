// dmabuf-conform profiles [--diff A B]: the three designs, or what differs
// between two of them — behaviours (models/profiles.ts) and rules (the
// registry's profile lists) — with the seed passages behind each.
import { behaviourValue, differences, isProfile, PROFILES, SPECS, type Profile } from '../../models/profiles.ts';
import { PASSAGES } from '../rules/passages.ts';
import { RULES } from '../rules/registry.ts';
import { UsageError } from './usage.ts';

const USAGE = 'usage: dmabuf-conform profiles [--diff A B]';

function profileArg(s: string | undefined): Profile {
  if (s === undefined || !isProfile(s)) throw new UsageError(`--diff: unknown profile '${s ?? ''}' (profiles: ${PROFILES.join(', ')})`);
  return s;
}

export function listing(): string {
  return PROFILES.map((p) => `${p.padEnd(10)} ${SPECS[p].title} (seeds ${SPECS[p].seeds})`).join('\n');
}

export function diff(a: Profile, b: Profile): string {
  const out = [`behaviours that differ between ${a} and ${b}:`];
  for (const d of differences(a, b)) out.push(`  ${d.behaviour}`, `    ${a}: ${behaviourValue(a, d.key)}`, `    ${b}: ${behaviourValue(b, d.key)}`, `    seed: ${d.passage}`);
  out.push(`rules that hold in only one of ${a} and ${b}:`);
  for (const r of RULES) {
    const inA = r.profiles.includes(a);
    if (inA === r.profiles.includes(b)) continue;
    out.push(`  ${r.id} (${inA ? a : b} only): ${r.title}`, `    seed: ${PASSAGES[r.id] ?? r.seed}`);
  }
  return out.join('\n');
}

export async function run(args: string[]): Promise<number> {
  if (args.length === 0) {
    process.stdout.write(`${listing()}\n`);
    return 0;
  }
  if (args[0] !== '--diff' || args.length !== 3) throw new UsageError(USAGE);
  process.stdout.write(`${diff(profileArg(args[1]), profileArg(args[2]))}\n`);
  return 0;
}
