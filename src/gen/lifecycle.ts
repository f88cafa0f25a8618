// fast-check arbitraries for lifecycle command sequences. Commands carry
// selectors resolved against the model state when they run: state-aware
// picks live objects; the uniform baseline reads them literally.
import fc from 'fast-check';
import { DEVICE_EVENTS } from '../../models/lifecycle.ts';
import type { GenCmd } from '../harness/lifecycle.ts';

const sel = fc.nat(7);

/** One generated command, weighted toward what moves the lifecycle. */
export const genCmdArb: fc.Arbitrary<GenCmd> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ op: fc.constant('create' as const), dev: fc.nat(1), nRanges: fc.constantFrom(1, 1, 2), valid: fc.oneof({ weight: 6, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('attach' as const), sel, importer: fc.constantFrom<'dma' | 'iommufd'>('dma', 'iommufd'), p2p: fc.oneof({ weight: 5, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constant('map' as const), sel }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constantFrom('unmap' as const, 'detach' as const), sel }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('access' as const), sel }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('close-fd' as const), sel }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant('event' as const), dev: fc.nat(1), event: fc.constantFrom(...DEVICE_EVENTS), sel }) },
  { weight: 1, arbitrary: fc.constant({ op: 'hot-reset' as const }) },
);

export function genCmdsArb(maxLength = 12): fc.Arbitrary<GenCmd[]> {
  return fc.array(genCmdArb, { minLength: 1, maxLength });
}
