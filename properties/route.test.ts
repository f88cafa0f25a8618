import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { p2pdmaDistanceMany, routeBetween } from '../models/pci/p2pdma.ts';
import { TopologyIndex, isPci, type Device, type Topology } from '../models/pci/topology.ts';
import { MAX_LIST_CLIENTS, endpoints, topologyArb, topologyWithQueriesArb, type ClientList } from '../src/gen/topology.ts';
import { ROUTE_IMPLS, RouteBench, checkDistanceMany, checkTopology } from '../src/rules/route.ts';
import { ROUTE_BUGS, seededBugs } from '../src/bugs/index.ts';
import { allTargets } from '../src/harness/targets.ts';
import { DEFAULT_RUNS } from '../src/commands/run.ts';
import { ViolationLog } from '../src/rules/violation.ts';
import type { RuleId } from '../src/rules/registry.ts';
import { budget } from './budget.ts';

const offsetsArb = fc.array(fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }), { minLength: 1, maxLength: 3 });

function violations(implName: string, topology: Topology, pairs: readonly (readonly [string, string])[], offsets: readonly bigint[], lists: readonly ClientList[] = []): ViolationLog {
  const impl = [...ROUTE_IMPLS, ...ROUTE_BUGS].find((i) => i.name === implName)!;
  const log = new ViolationLog();
  checkTopology(new RouteBench(topology, impl.create, impl.routing), pairs, log, offsets, lists);
  return log;
}

describe('ROUTE: the ports of drivers/pci/p2pdma.c agree with the model, each under its routing variant', () => {
  for (const impl of ROUTE_IMPLS) {
    it(`${impl.name} (${impl.routing}) == model for every generated topology, pair sequence (cache live across queries) and client list`, () => {
      fc.assert(
        fc.property(topologyWithQueriesArb(), offsetsArb, ({ topology, pairs, lists }, offsets) => {
          expect(violations(impl.name, topology, pairs, offsets, lists).violations).toEqual([]);
        }),
        { numRuns: budget(150) },
      );
    });
  }
  it('a classic port checked against the divergence variant is caught where the variants differ', () => {
    const out = fc.check(fc.property(topologyWithQueriesArb(), offsetsArb, ({ topology, pairs, lists }, offsets) => {
      const log = new ViolationLog();
      checkTopology(new RouteBench(topology, ROUTE_IMPLS[0]!.create, 'divergence'), pairs, log, offsets, lists);
      return !log.has('ROUTE-MAPTYPE');
    }), { numRuns: 2000, seed: 42 });
    expect(out.failed).toBe(true);
  });
});

describe('ROUTE: every seeded bug is caught by its own rule', () => {
  for (const impl of ROUTE_BUGS) {
    it(`${impl.name} is caught as ${impl.bugOf}`, () => {
      const out = fc.check(
        fc.property(topologyWithQueriesArb(), offsetsArb, ({ topology, pairs, lists }, offsets) => !violations(impl.name, topology, pairs, offsets, lists).has(impl.bugOf as RuleId)),
        { numRuns: 2000, seed: 42 },
      );
      expect(out.failed).toBe(true);
      const [{ topology, pairs, lists }, offsets] = out.counterexample!;
      expect(violations(impl.name, topology, pairs, offsets, lists).rules()).toContain(impl.bugOf);
      // Shrunk to something a reviewer can read.
      expect(topology.devices.length).toBeLessThanOrEqual(12);
    });
  }
});

describe('ROUTE-DIST: pci_p2pdma_distance_many() of a list of clients', () => {
  // A (00.0) and A.1 (its function 1) below one root port: distance 2.
  const t: Topology = {
    cpu: { vendor: 'other', family: 0 },
    hostBridges: [{ id: 'hb0', allowList: 'none' }],
    devices: [
      { id: 'rp', kind: 'root-port', parent: 'hb0', slot: 1, function: 0, bars: [], p2pdma: false },
      { id: 'A', kind: 'endpoint', parent: 'rp', slot: 0, function: 0, bars: [], p2pdma: true },
      { id: 'A.1', kind: 'endpoint', parent: 'rp', slot: 0, function: 1, bars: [], p2pdma: false },
    ],
  };
  const check = (name: string, clients: string[]) => {
    const impl = [...ROUTE_IMPLS, ...ROUTE_BUGS].find((i) => i.name === name)!;
    const log = new ViolationLog();
    checkDistanceMany(new RouteBench(t, impl.create, impl.routing), 'A', clients, log);
    return log.violations.map((v) => v.message);
  };

  it('the sum of the clients\' distances (drivers/pci/p2pdma.c: "the cumulative distance"); a last-only total is ROUTE-DIST, naming each share', () => {
    expect(p2pdmaDistanceMany(t, 'A', ['A.1', 'A.1', 'A'])).toBe(2 + 2 + 0);
    expect(check('p2pdma', ['A.1', 'A.1', 'A'])).toEqual([]);
    expect(check('bug:route-dist-many-last', ['A.1', 'A'])).toEqual(['pci_p2pdma_distance_many(A, [A.1, A]) = 0, model 2 (the sum of A.1 2, A 0)']);
    // No client, one client: `=` and `+=` agree, so the pairs alone never told them apart.
    expect(check('bug:route-dist-many-last', [])).toEqual([]);
    expect(check('bug:route-dist-many-last', ['A.1'])).toEqual([]);
  });

  it('generated lists hold 0 to MAX_LIST_CLIENTS clients, and a third of them tell a sum from the last client\'s distance', () => {
    const lengths = new Set<number>();
    let lists = 0;
    let tell = 0;
    for (const { topology, lists: ls } of fc.sample(topologyWithQueriesArb(), { seed: 42, numRuns: 150 })) {
      const bench = new RouteBench(topology);
      for (const l of ls) {
        lists++;
        lengths.add(l.clients.length);
        expect(l.clients.every((c) => topology.devices.some((d) => d.id === c))).toBe(true);
        const total = p2pdmaDistanceMany(topology, l.provider, l.clients);
        const last = l.clients.length > 0 && bench.sys.devices.has(l.clients.at(-1)!) ? bench.calc(l.provider, l.clients.at(-1)!).dist : -1;
        if (l.clients.length >= 2 && total !== -1 && total !== last) tell++;
      }
    }
    expect([...lengths].sort()).toEqual(Array.from({ length: MAX_LIST_CLIENTS + 1 }, (_, i) => i));
    expect(tell / lists).toBeGreaterThan(0.2);
  });

  it('the route suite finds a last-only total under ROUTE-DIST at the default budget, on every seed tried', async () => {
    const [target] = allTargets(seededBugs().filter((b) => b.plugin.name === 'bug:route-dist-many-last').map((b) => b.plugin));
    for (const seed of [1, 2, 3]) {
      const { failures } = await target!.search(seed, DEFAULT_RUNS, new Set());
      expect(failures.flatMap((f) => f.violations.map((v) => v.rule))).toContain('ROUTE-DIST');
      expect(failures[0]!.counterexample.steps.find((s) => s.rule === 'ROUTE-DIST')?.command).toMatch(/^pci_p2pdma_distance_many\(/);
    }
  });
});

/** All PCI functions below a device (inclusive), by the model's parent links. */
function below(t: Topology, id: string): Set<string> {
  const out = new Set([id]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const d of t.devices) if (out.has(d.parent) && !out.has(d.id)) { out.add(d.id); grew = true; }
  }
  return out;
}

const pairArb = topologyArb().filter((t) => endpoints(t).length >= 1).chain((t) => {
  const eps = endpoints(t).map((d) => d.id);
  return fc.tuple(fc.constant(t), fc.constantFrom(...eps), fc.constantFrom(...eps));
});

/** The pair's map type and distance in the model and in the port (a fresh provider cache). */
function both(t: Topology, p: string, c: string): { model: { mapType: string; distance: number }; port: { mapType: string; distance: number } } {
  const idx = new TopologyIndex(t);
  const m = routeBetween(t, idx.device(p)!, idx.device(c)!, idx);
  const r = new RouteBench(t).calc(p, c);
  return { model: { mapType: m.mapType, distance: m.distance }, port: { mapType: r.mapType, distance: r.dist } };
}

describe('ROUTE: metamorphic properties, in the model and in the port', () => {
  it('a device added elsewhere never changes a pair\'s result', () => {
    fc.assert(fc.property(pairArb, fc.nat(), ([t, p, c], pick) => {
      const before = both(t, p, c);
      const parents = [...t.hostBridges.map((h) => h.id), ...t.devices.filter((d) => d.kind !== 'endpoint' && d.kind !== 'platform').map((d) => d.id)];
      const parent = parents[pick % parents.length]!;
      const extra: Device = { id: 'extra', kind: 'endpoint', parent, slot: 31, function: 7, acs: { rr: true, cr: true, ec: true }, bars: [], p2pdma: true };
      const t2: Topology = { ...t, devices: [...t.devices, extra] };
      expect(both(t2, p, c)).toEqual(before);
    }), { numRuns: budget(100) });
  });

  it('clearing every ACS bit under a common switch gives BUS_ADDR', () => {
    fc.assert(fc.property(pairArb, ([t, p, c]) => {
      const idx = new TopologyIndex(t);
      const r = routeBetween(t, idx.device(p)!, idx.device(c)!, idx);
      fc.pre(r.common !== undefined);
      const under = below(t, r.common!);
      const t2: Topology = { ...t, devices: t.devices.map((d) => (under.has(d.id) ? { ...d, acs: { rr: false, cr: false, ec: false } } : d)) };
      const after = both(t2, p, c);
      expect([after.model.mapType, after.port.mapType]).toEqual(['BUS_ADDR', 'BUS_ADDR']);
    }), { numRuns: budget(100) });
  });

  it('different host bridges never give BUS_ADDR', () => {
    fc.assert(fc.property(pairArb, ([t, p, c]) => {
      const idx = new TopologyIndex(t);
      fc.pre(idx.hostBridge(idx.device(p)!) !== idx.hostBridge(idx.device(c)!));
      const r = both(t, p, c);
      expect([r.model.mapType, r.port.mapType]).not.toContain('BUS_ADDR');
    }), { numRuns: budget(100) });
  });

  it('map type and distance are symmetric under the early-2026 rule, in the model and in the port', () => {
    fc.assert(fc.property(pairArb, ([t, p, c]) => {
      const idx = new TopologyIndex(t);
      const ab = routeBetween(t, idx.device(p)!, idx.device(c)!, idx);
      const ba = routeBetween(t, idx.device(c)!, idx.device(p)!, idx);
      expect([ba.mapType, ba.distance]).toEqual([ab.mapType, ab.distance]);
      const bench = new RouteBench(t);
      const pab = bench.calc(p, c);
      const pba = bench.calc(c, p);
      expect([pba.mapType, pba.dist]).toEqual([pab.mapType, pab.dist]);
    }), { numRuns: budget(100) });
  });

  it('distance is the steps from each device up to the lowest common bridge, added', () => {
    fc.assert(fc.property(pairArb, ([t, p, c]) => {
      const idx = new TopologyIndex(t);
      const r = routeBetween(t, idx.device(p)!, idx.device(c)!, idx);
      fc.pre(r.common !== undefined);
      const steps = (id: string) => idx.chain(idx.device(id)!).findIndex((d) => d.id === r.common);
      const { port } = both(t, p, c);
      expect([r.distance, port.distance]).toEqual([steps(p) + steps(c), steps(p) + steps(c)]);
      if (p === c) expect(r.distance).toBe(0);
    }), { numRuns: budget(100) });
  });

  it('non-PCI clients are never routed', () => {
    fc.assert(fc.property(topologyArb(), (t) => {
      for (const d of t.devices.filter((x) => !isPci(x))) {
        const bench = new RouteBench(t);
        for (const e of endpoints(t).filter((x) => x.p2pdma)) {
          for (const b of e.bars.filter((x) => x.type === 'mem' && x.mappable !== false)) {
            const prov = bench.impl.pcim_p2pdma_provider(bench.sys.devices.get(e.id)!, b.index)!;
            expect(bench.impl.pci_p2pdma_map_type(prov, bench.sys.device(d.id)!)).toBe('NOT_SUPPORTED');
          }
        }
      }
    }), { numRuns: budget(60) });
  });
});
