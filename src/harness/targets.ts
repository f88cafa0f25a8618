// Every implementation the runner checks, from every suite (src/harness/suites/):
// the bundled ones, or the user's plugins (which only the lifecycle suite drives).
import { convertSuite } from './suites/convert.ts';
import { lifecycleSuite } from './suites/lifecycle.ts';
import { matchSuite } from './suites/match.ts';
import { routeSuite } from './suites/route.ts';
import type { PluginSet, Suite, Target } from './suite.ts';

export type { Found, SuiteId, Target } from './suite.ts';

export const SUITES: readonly Suite[] = [routeSuite, convertSuite, lifecycleSuite, matchSuite];

/** Every bundled target, or the targets of the user's plugins when given. */
export function allTargets(plugins?: PluginSet): Target[] {
  return SUITES.flatMap((s) => s.targets(plugins));
}
