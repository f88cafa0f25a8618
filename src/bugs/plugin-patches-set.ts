// Seeded bug (PLUGIN-GLOBAL): a plugin that patches a JavaScript built-in at
// probe (here Set.prototype.has, which the checkers use to track live locks,
// objects and mappings), so that the checkers see what it wants. The
// built-ins must be the runner's own, or the patch must be reported.
// Seed: DESIGN.md "a plugin cannot change the runner's own globals".
import { vfioExporter, vfioPci } from '../harness/bundled.ts';

const original = Set.prototype.has;

export const pluginPatchesSet = {
  ...vfioExporter('bug:plugin-patches-set', 'probe patches Set.prototype.has', { bugOf: 'PLUGIN-GLOBAL' }),
  probe: (...args: Parameters<typeof vfioPci.probe>) => {
    // BUG: replaces a built-in the checkers rely on (this wrapper forwards; any change in it changes what they see)
    if (Set.prototype.has === original) Set.prototype.has = function has(this: Set<unknown>, v: unknown) { return original.call(this, v); };
    return vfioPci.probe(...args);
  },
};
