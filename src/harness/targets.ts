// Every implementation the runner checks: each plugin (bundled port, seeded
// bug or the user's, all alike) under each profile it declares, bound to
// every suite that checks what it provides (src/harness/suites/). A plugin
// checked by several suites (an exporter: its create and map, its
// lifecycle, its mapping-type cleanup) is one target that runs them all.
import { UsageError } from '../commands/usage.ts';
import type { RuleId } from '../rules/registry.ts';
import type { Plugin } from './plugin.ts';
import { sourceOf } from './plugin-source.ts';
import type { Found, Search, Suite, Target } from './suite.ts';
import { convertSuite } from './suites/convert.ts';
import { lifecycleSuite } from './suites/lifecycle.ts';
import { matchSuite } from './suites/match.ts';
import { routeSuite } from './suites/route.ts';

export type { Found, SuiteId, Target } from './suite.ts';

/** In the order a plugin's parts run: an exporter's lifecycle first (the suite its report row is named by). */
export const SUITES: readonly Suite[] = [routeSuite, lifecycleSuite, convertSuite, matchSuite];

/** A part's counterexample input, tagged with the part it replays in. */
interface PartInput {
  readonly part: string;
  readonly input: unknown;
}

const tag = (part: string, f: Found): Found => ({ ...f, counterexample: { ...f.counterexample, input: { part, input: f.counterexample.input } satisfies PartInput } });

/** One target running several parts: each search covers every part whose rules are not all found yet. */
function combine(parts: readonly Target[]): Target {
  const first = parts[0]!;
  const rules: RuleId[] = [...new Set(parts.flatMap((p) => p.rules))];
  const explore = parts.find((p) => p.explore)?.explore;
  return {
    name: first.name, suite: first.suite, part: parts.map((p) => p.part).join('+'), kind: first.kind, profiles: first.profiles, rules,
    async search(seed, runs, skip, opts) {
      const out: { failures: Found[]; findings: Found[] } = { failures: [], findings: [] };
      for (const p of parts) {
        if (p.rules.every((r) => skip.has(r))) continue;
        const s: Search = await p.search(seed, runs, skip, opts);
        out.failures.push(...s.failures.map((f) => tag(p.part, f)));
        out.findings.push(...s.findings.map((f) => tag(p.part, f)));
      }
      return out;
    },
    async replay(input) {
      const i = input as Partial<PartInput> | null;
      const p = parts.find((x) => x.part === i?.part);
      if (!p) throw new Error(`no part '${String(i?.part)}' in ${first.name} (parts: ${parts.map((x) => x.part).join(', ')})`);
      return tag(p.part, await p.replay(i!.input));
    },
    ...(explore ? { explore: async (k: number) => {
      const r = await explore(k);
      return { states: r.states, inputs: r.inputs.map((input) => ({ part: 'lifecycle', input })) };
    } } : {}),
  };
}

/** The targets of a set of plugins: one per plugin and profile name, in the order given. A plugin given
 *  twice (the same module or bundled name) counts once; two plugins that give one implementation name
 *  (two files whose plugins share a `name`, a file's plugin named as a bundled one) are refused, naming
 *  both: violations, the corpus and replay know an implementation by its name alone.
 *  @throws UsageError two plugins, one implementation name */
export function allTargets(given: readonly Plugin[]): Target[] {
  const plugins = [...new Set(given)];
  const byName = new Map<string, Target[]>();
  const owner = new Map<string, Plugin>();
  for (const p of plugins) {
    for (const t of SUITES.flatMap((s) => s.targets(p, plugins))) {
      const o = owner.get(t.name) ?? p;
      if (o !== p) throw new UsageError(`two plugins give the implementation '${t.name}': ${sourceOf(o)} and ${sourceOf(p)}; give each plugin its own name (its plugin.name)`);
      owner.set(t.name, p);
      byName.set(t.name, [...(byName.get(t.name) ?? []), t]);
    }
  }
  return [...byName.values()].map(combine);
}
