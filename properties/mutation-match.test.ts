// Gaps the mutation score (reports/MUTATION.md) found in the importers of the
// mapping-type profiles (src/impl/match_importers.ts) and in the plugin
// records: the lifecycle generator never gives those profiles a route that
// cannot carry P2P (the lifecycle model leaves MATCH-P2P to the match suite),
// never two iommufd attachments of one dma-buf, and the bundled plugins were
// never put through the loader's shape check that a user's plugin meets.
import { describe, expect, it } from 'vitest';
import { PROFILES } from '../models/profiles.ts';
import type { MapType } from '../models/pci/types.ts';
import { matchLifecycleConfig } from '../src/harness/bundled.ts';
import { everyPlugin } from '../src/harness/catalog.ts';
import { unexplainedLc } from '../src/harness/lifecycle-prop.ts';
import { createCmd, defaultSetup, runLifecycle } from '../src/harness/lifecycle.ts';
import { checkPluginShape } from '../src/harness/load.ts';
import { matchImporters } from '../src/impl/match_importers.ts';
import type { LcCmd } from '../models/lifecycle.ts';

const MATCH = ['rfc', 'converter'] as const;

describe('MATCH-P2P through the lifecycle importers', () => {
  // The VFIO exporter offers SGT only to P2P importers (RFC 12/26); iommufd links PAL or the domain and needs no route.
  for (const profile of MATCH) {
    it.each<[MapType]>([['BUS_ADDR'], ['THRU_HOST_BRIDGE'], ['NOT_SUPPORTED']])(`${profile}: on a %s route the DMA importer matches only with P2P allowed and a routable path; iommufd always`, async (route) => {
      const cfg = matchLifecycleConfig(profile, route);
      const cmds: LcCmd[] = [
        createCmd(0, 1, true),
        { op: 'attach', buf: 0, importer: 'dma', p2p: true },
        { op: 'attach', buf: 0, importer: 'dma', p2p: false },
        { op: 'attach', buf: 0, importer: 'iommufd', p2p: false },
        { op: 'attach', buf: 0, importer: 'iommufd', p2p: true },
      ];
      const r = await runLifecycle(cfg, cmds, { keepGoing: true, setup: { ...defaultSetup(cfg), dmaRoute: route } });
      expect(r.steps.map((s) => s.result)).toEqual(['ok', route === 'NOT_SUPPORTED' ? '-EINVAL' : 'ok', '-EINVAL', 'ok', 'ok']);
    });
  }
});

describe('two iommufd attachments of one dma-buf', () => {
  it.each(MATCH.map((p) => [p]))('%s: each maps its own ranges into the domain and unmaps only those (IOMMUFD-MMIO per area)', async (profile) => {
    const cfg = matchLifecycleConfig(profile);
    const cmds: LcCmd[] = [
      createCmd(0, 2, true),
      { op: 'attach', buf: 0, importer: 'iommufd', p2p: true },
      { op: 'attach', buf: 0, importer: 'iommufd', p2p: true },
      { op: 'map', att: 0 },
      { op: 'map', att: 1 },
      { op: 'unmap', att: 0 },
      { op: 'map', att: 0 },
      { op: 'detach', att: 1 },
      { op: 'detach', att: 0 },
    ];
    const r = await runLifecycle(cfg, cmds, { keepGoing: true });
    expect(r.steps.map((s) => s.result)).toEqual(r.steps.map((s) => s.expected));
    expect((await unexplainedLc({ cfg, names: r.names, results: r.results }, r.violations, cmds)).map((v) => `${v.step}: ${v.rule}: ${v.message}`)).toEqual([]);
  });
});

describe('one path: the plugins the tool carries meet the shape a user plugin must have', () => {
  it('every bundled plugin, seeded bug and mapping-type importer passes the loader check (kind, name, description, profiles, hooks)', () => {
    const carried = [...everyPlugin(), ...MATCH.flatMap((p) => Object.values(matchImporters(p)))];
    for (const p of carried) expect(() => checkPluginShape(p, p.name)).not.toThrow();
    // Every profile has importers of both kinds to run its lifecycle with.
    for (const profile of PROFILES) {
      const importers = carried.filter((p) => p.kind === 'importer' && p.profiles.includes(profile));
      expect(new Set(importers.map((p) => (p as { importer: string }).importer)), profile).toEqual(new Set(['dma', 'iommufd']));
    }
    expect(() => checkPluginShape({ ...carried[0], description: ' ' }, 'probe')).toThrow(/plugin.description must say/);
  });
});
