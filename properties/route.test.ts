import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { routeBetween } from '../models/pci/p2pdma.ts';
import { TopologyIndex, isPci, type Device, type Topology } from '../models/pci/topology.ts';
import { endpoints, topologyArb, topologyWithPairsArb } from '../src/gen/topology.ts';
import { ROUTE_IMPLS, RouteBench, checkTopology } from '../src/rules/route.ts';
import { ROUTE_BUGS } from '../src/bugs/index.ts';
import { ViolationLog } from '../src/rules/violation.ts';
import type { RuleId } from '../src/rules/registry.ts';
import { budget } from './budget.ts';

const offsetsArb = fc.array(fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }), { minLength: 1, maxLength: 3 });

function violations(implName: string, topology: Topology, pairs: readonly (readonly [string, string])[], offsets: readonly bigint[]): ViolationLog {
  const impl = [...ROUTE_IMPLS, ...ROUTE_BUGS].find((i) => i.name === implName)!;
  const log = new ViolationLog();
  checkTopology(new RouteBench(topology, impl.create, impl.routing), pairs, log, offsets);
  return log;
}

describe('ROUTE: the ports of drivers/pci/p2pdma.c agree with the model, each under its routing variant', () => {
  for (const impl of ROUTE_IMPLS) {
    it(`${impl.name} (${impl.routing}) == model for every generated topology and pair sequence (cache live across queries)`, () => {
      fc.assert(
        fc.property(topologyWithPairsArb(), offsetsArb, ({ topology, pairs }, offsets) => {
          expect(violations(impl.name, topology, pairs, offsets).violations).toEqual([]);
        }),
        { numRuns: budget(150) },
      );
    });
  }
  it('a classic port checked against the divergence variant is caught where the variants differ', () => {
    const out = fc.check(fc.property(topologyWithPairsArb(), offsetsArb, ({ topology, pairs }, offsets) => {
      const log = new ViolationLog();
      checkTopology(new RouteBench(topology, ROUTE_IMPLS[0]!.create, 'divergence'), pairs, log, offsets);
      return !log.has('ROUTE-MAPTYPE');
    }), { numRuns: 2000, seed: 42 });
    expect(out.failed).toBe(true);
  });
});

describe('ROUTE: every seeded bug is caught by its own rule', () => {
  for (const impl of ROUTE_BUGS) {
    it(`${impl.name} is caught as ${impl.bugOf}`, () => {
      const out = fc.check(
        fc.property(topologyWithPairsArb(), offsetsArb, ({ topology, pairs }, offsets) => !violations(impl.name, topology, pairs, offsets).has(impl.bugOf as RuleId)),
        { numRuns: 2000, seed: 42 },
      );
      expect(out.failed).toBe(true);
      const [{ topology, pairs }, offsets] = out.counterexample!;
      expect(violations(impl.name, topology, pairs, offsets).rules()).toContain(impl.bugOf);
      // Shrunk to something a reviewer can read.
      expect(topology.devices.length).toBeLessThanOrEqual(12);
    });
  }
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
