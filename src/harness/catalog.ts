// Every plugin this copy of the tool carries: the faithful ports `run`
// checks and the seeded bugs `self-test` checks. For the commands that look
// an implementation up by name (replay, explain).
import { seededBugs } from '../bugs/index.ts';
import { bundledImporters, bundledPlugins } from './bundled.ts';
import type { Plugin } from './plugin.ts';
import { allTargets, type Target } from './targets.ts';

/** The bundled plugins and every seeded bug. */
export function everyPlugin(): Plugin[] {
  return [...bundledPlugins(), ...bundledImporters(), ...seededBugs().map((b) => b.plugin)];
}

/** The targets of `given` plugins, or of every plugin carried when none is given. */
export function targetsOf(given: readonly Plugin[] = []): Target[] {
  return allTargets(given.length ? given : everyPlugin());
}
