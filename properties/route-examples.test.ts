import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { parseTopology, parseTopologyText, topologyToJson } from '../models/pci/load.ts';
import { p2pdmaBusAddrMap, p2pdmaDistanceMany, p2pdmaMapType, p2pdmaProvider, routeBetween } from '../models/pci/p2pdma.ts';
import { TopologyIndex, type Topology } from '../models/pci/topology.ts';
import { routeAnswer, run } from '../src/commands/route.ts';
import { validateTopology } from '../src/topology/schema.ts';
import { UsageError } from '../src/commands/usage.ts';
import { RouteBench, checkTopology } from '../src/rules/route.ts';
import { ViolationLog } from '../src/rules/violation.ts';

/** A shipped topology file through the schema and the model's loader. */
function loadTopologyFile(file: string): Topology {
  const r = validateTopology(JSON.parse(readFileSync(file, 'utf8')));
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

function topo(json: unknown): Topology {
  const r = parseTopology(json);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

const NO = { rr: false, cr: false, ec: false };
const RR = { rr: true, cr: false, ec: false };
const BAR0 = [{ index: 0, type: 'mem', start: '0x100000000', size: '0x100000', busOffset: '0x1000' }];

/** The tree of the comment above calc_map_type_and_dist() in drivers/pci/p2pdma.c:
 *  Root Port - Switch Upstream Port - two Downstream Ports - Device A, Device B. */
function kernelCommentTree(acs: { rp?: object; usp?: object; dsp0?: object; dsp1?: object } = {}, allowList = 'none', cpu = { vendor: 'intel', family: 6 }) {
  return topo({
    cpu,
    hostBridges: [{ id: 'hb0', allowList }],
    devices: [
      { id: 'rp', kind: 'root-port', parent: 'hb0', slot: 1, acs: acs.rp ?? NO },
      { id: 'usp', kind: 'switch-upstream', parent: 'rp', acs: acs.usp ?? NO },
      { id: 'dsp0', kind: 'switch-downstream', parent: 'usp', slot: 0, acs: acs.dsp0 ?? NO },
      { id: 'dsp1', kind: 'switch-downstream', parent: 'usp', slot: 1, acs: acs.dsp1 ?? NO },
      { id: 'A', kind: 'endpoint', parent: 'dsp0', p2pdma: true, bars: BAR0 },
      { id: 'A.1', kind: 'endpoint', parent: 'dsp0', function: 1, bars: BAR0 },
      { id: 'B', kind: 'endpoint', parent: 'dsp1', bars: BAR0 },
    ],
  });
}

function route(t: Topology, p: string, c: string) {
  const idx = new TopologyIndex(t);
  return routeBetween(t, idx.device(p)!, idx.device(c)!, idx);
}

describe('ROUTE examples from the comments in drivers/pci/p2pdma.c (hand-worked)', () => {
  it('same function: BUS_ADDR, distance 0', () => {
    expect(route(kernelCommentTree(), 'A', 'A')).toMatchObject({ mapType: 'BUS_ADDR', distance: 0 });
  });
  it('two functions of one device: BUS_ADDR, distance 2', () => {
    expect(route(kernelCommentTree(), 'A', 'A.1')).toMatchObject({ mapType: 'BUS_ADDR', distance: 2, common: 'dsp0' });
  });
  it('two devices behind one switch: BUS_ADDR, distance 4, via the upstream port', () => {
    expect(route(kernelCommentTree(), 'A', 'B')).toMatchObject({ mapType: 'BUS_ADDR', distance: 4, common: 'usp', path: ['A', 'dsp0', 'usp', 'dsp1', 'B'] });
  });
  it('ACS RR on a downstream port: through the host bridge only if allowed', () => {
    const t = kernelCommentTree({ dsp1: RR });
    expect(route(t, 'A', 'B')).toMatchObject({ mapType: 'NOT_SUPPORTED', distance: 4, blockedBy: ['dsp1'] });
    expect(route(kernelCommentTree({ dsp1: RR }, 'any'), 'A', 'B').mapType).toBe('THRU_HOST_BRIDGE');
    expect(route(kernelCommentTree({ dsp1: RR }, 'same-host-bridge'), 'A', 'B').mapType).toBe('THRU_HOST_BRIDGE');
    expect(route(kernelCommentTree({ dsp1: RR }, 'none', { vendor: 'amd', family: 0x17 }), 'A', 'B').mapType).toBe('THRU_HOST_BRIDGE');
    expect(route(kernelCommentTree({ dsp1: RR }, 'none', { vendor: 'amd', family: 0x16 }), 'A', 'B').mapType).toBe('NOT_SUPPORTED');
  });
  it('ACS on the common upstream port counts (provider side, inclusive); above it does not', () => {
    expect(route(kernelCommentTree({ usp: { rr: false, cr: false, ec: true } }), 'A', 'B')).toMatchObject({ mapType: 'NOT_SUPPORTED', blockedBy: ['usp'] });
    expect(route(kernelCommentTree({ rp: RR }), 'A', 'B').mapType).toBe('BUS_ADDR');
  });
  it('the same function with ACS on itself goes through the host bridge (the walk starts at the provider)', () => {
    const t = topo({ hostBridges: [{ id: 'hb0', allowList: 'any' }], devices: [
      { id: 'rp', kind: 'root-port', parent: 'hb0', slot: 1 },
      { id: 'A', kind: 'endpoint', parent: 'rp', acs: { rr: false, cr: true, ec: false }, p2pdma: true, bars: BAR0 },
    ] });
    expect(route(t, 'A', 'A')).toMatchObject({ mapType: 'THRU_HOST_BRIDGE', distance: 0, blockedBy: ['A'] });
  });
  it('devices on two root ports share no bridge: host bridge decision, distance = both chains', () => {
    const t = topo({ hostBridges: [{ id: 'hb0', allowList: 'none' }, { id: 'hb1', allowList: 'any' }], devices: [
      { id: 'rp0', kind: 'root-port', parent: 'hb0', slot: 1 },
      { id: 'rp1', kind: 'root-port', parent: 'hb0', slot: 2 },
      { id: 'rp2', kind: 'root-port', parent: 'hb1', slot: 1 },
      { id: 'A', kind: 'endpoint', parent: 'rp0', p2pdma: true, bars: BAR0 },
      { id: 'B', kind: 'endpoint', parent: 'rp1' },
      { id: 'C', kind: 'endpoint', parent: 'rp2' },
    ] });
    expect(route(t, 'A', 'B')).toMatchObject({ mapType: 'NOT_SUPPORTED', distance: 4, path: ['A', 'rp0', 'hb0', 'rp1', 'B'] });
    expect(route(t, 'A', 'C').mapType).toBe('NOT_SUPPORTED'); // hb0 is not allowed
    expect(p2pdmaDistanceMany(t, 'A', [])).toBe(-1);
    expect(p2pdmaDistanceMany(t, 'A', ['B'])).toBe(-1);
  });
  it('pci_p2pdma_distance_many adds distances; providers exist for MEM BARs only; bus address adds bus_offset', () => {
    const t = kernelCommentTree();
    expect(p2pdmaDistanceMany(t, 'A', ['A', 'A.1', 'B'])).toBe(0 + 2 + 4);
    const idx = new TopologyIndex(t);
    const prov = p2pdmaProvider(idx.device('A')!, 0)!;
    expect(prov).toEqual({ owner: 'A', bar: 0, busOffset: 0x1000n });
    expect(p2pdmaProvider(idx.device('A')!, 1)).toBeNull();
    expect(p2pdmaProvider(idx.device('B')!, 0)).toBeNull(); // no pcim_p2pdma_init
    expect(p2pdmaBusAddrMap(prov, 0x100000000n)).toBe(0x100001000n);
    expect(p2pdmaMapType(t, prov, 'B')).toBe('BUS_ADDR');
    expect(p2pdmaMapType(t, null, 'B')).toBe('NOT_SUPPORTED');
  });
  it('the port agrees on all of these, pair by pair', () => {
    for (const t of [kernelCommentTree(), kernelCommentTree({ usp: RR }), kernelCommentTree({ dsp0: RR }, 'any')]) {
      const log = new ViolationLog();
      const ids = t.devices.filter((d) => d.kind === 'endpoint').map((d) => d.id);
      checkTopology(new RouteBench(t), ids.flatMap((p) => ids.map((c) => [p, c] as const)), log, [0n, 0xfffffn]);
      expect(log.violations).toEqual([]);
    }
  });
});

describe('topology files', () => {
  it('every shipped example loads, round-trips and routes with the port agreeing', () => {
    for (const f of readdirSync('examples/topologies')) {
      const t = loadTopologyFile(`examples/topologies/${f}`);
      expect(parseTopology(JSON.parse(JSON.stringify(topologyToJson(t))))).toEqual({ ok: true, value: t });
      const ids = t.devices.map((d) => d.id);
      const log = new ViolationLog();
      checkTopology(new RouteBench(t), ids.flatMap((p) => ids.map((c) => [p, c] as const)), log);
      expect(log.violations).toEqual([]);
    }
  });

  it('the route command answers the questions a developer asks', () => {
    expect(routeAnswer(loadTopologyFile('examples/topologies/switch-acs-on.json'), 'gpu0', 'gpu1')).toMatchObject({ mapType: 'NOT_SUPPORTED', distance: 4, blockedBy: ['dsp0', 'dsp1'] });
    expect(routeAnswer(loadTopologyFile('examples/topologies/switch-acs-off.json'), 'gpu0', 'nic.1')).toMatchObject({ mapType: 'BUS_ADDR', blockedBy: [] });
    expect(routeAnswer(loadTopologyFile('examples/topologies/two-host-bridges.json'), 'gpu0', 'nvme0')).toMatchObject({ mapType: 'THRU_HOST_BRIDGE', blockedBy: [] });
    expect(routeAnswer(loadTopologyFile('examples/topologies/two-host-bridges.json'), 'gpu0', 'nic0').mapType).toBe('NOT_SUPPORTED');
    expect(routeAnswer(loadTopologyFile('examples/topologies/amd-zen-root-ports.json'), 'gpu0', 'rdma0')).toMatchObject({ mapType: 'THRU_HOST_BRIDGE', blockedBy: [] });
    expect(routeAnswer(loadTopologyFile('examples/topologies/amd-zen-root-ports.json'), 'gpu0', 'rdma0-ib').mapType).toBe('NOT_SUPPORTED');
  });

  it('bad arguments are one clear line', async () => {
    await expect(run([])).rejects.toThrow(UsageError);
    await expect(run(['examples/topologies/switch-acs-on.json', 'gpu0', 'nope'])).rejects.toThrow("no device 'nope' in the topology");
    await expect(run(['missing.json', 'a', 'b'])).rejects.toThrow("cannot read 'missing.json'");
    expect(() => routeAnswer(loadTopologyFile('examples/topologies/amd-zen-root-ports.json'), 'rdma0-ib', 'gpu0')).toThrow('is not a PCI function');
  });

  const bad: [string, unknown, string][] = [
    ['not an object', 3, 'topology: expected an object'],
    ['no host bridge', { hostBridges: [], devices: [] }, 'topology.hostBridges: at least one host bridge'],
    ['bad ACS bit', { hostBridges: [{ id: 'h', allowList: 'any' }], devices: [{ id: 'r', kind: 'root-port', parent: 'h', acs: { rr: 'yes', cr: false, ec: false } }] }, 'topology.devices[0].acs.rr: expected boolean'],
    ['unknown parent', { hostBridges: [{ id: 'h', allowList: 'any' }], devices: [{ id: 'e', kind: 'endpoint', parent: 'x' }] }, 'topology.devices[0].parent: no host bridge or device "x"'],
    ['endpoint as parent', { hostBridges: [{ id: 'h', allowList: 'any' }], devices: [{ id: 'e', kind: 'endpoint', parent: 'h' }, { id: 'f', kind: 'endpoint', parent: 'e' }] }, 'topology.devices[1].parent: "e" is a endpoint'],
    ['devfn clash', { hostBridges: [{ id: 'h', allowList: 'any' }], devices: [{ id: 'e', kind: 'endpoint', parent: 'h' }, { id: 'f', kind: 'endpoint', parent: 'h' }] }, 'topology.devices[1].function: slot 0 function 0 is taken'],
    ['cycle', { hostBridges: [{ id: 'h', allowList: 'any' }], devices: [{ id: 'a', kind: 'bridge', parent: 'b' }, { id: 'b', kind: 'bridge', parent: 'a' }] }, 'cycle through'],
    ['bad BAR size', { hostBridges: [{ id: 'h', allowList: 'any' }], devices: [{ id: 'e', kind: 'endpoint', parent: 'h', bars: [{ index: 0, type: 'mem', start: '0x0', size: '0x3000' }] }] }, 'topology.devices[0].bars[0].size: a BAR size is a non-zero power of two'],
    ['BAR past 2^64', { hostBridges: [{ id: 'h', allowList: 'any' }], devices: [{ id: 'e', kind: 'endpoint', parent: 'h', bars: [{ index: 0, type: 'mem', start: '0xffffffffffffffff', size: '0x1000' }] }] }, 'topology.devices[0].bars[0].start'],
    ['u64 too big', { hostBridges: [{ id: 'h', allowList: 'any' }], devices: [{ id: 'e', kind: 'endpoint', parent: 'h', bars: [{ index: 0, type: 'mem', start: '0x10000000000000000', size: '0x1000' }] }] }, 'topology.devices[0].bars[0].start: expected a u64'],
    ['unknown field', { hostBridges: [{ id: 'h', allowList: 'any', colour: 1 }], devices: [] }, 'topology.hostBridges[0].colour: unknown field'],
    ['duplicate id', { hostBridges: [{ id: 'h', allowList: 'any' }], devices: [{ id: 'h', kind: 'root-port', parent: 'h' }] }, 'topology.devices[0].id: duplicate id'],
    ['platform on host bridge', { hostBridges: [{ id: 'h', allowList: 'any' }], devices: [{ id: 'p', kind: 'platform', parent: 'h' }] }, 'a platform device hangs off a device'],
  ];
  for (const [what, json, message] of bad) {
    it(`a bad file is one line naming the field: ${what}`, () => {
      const r = parseTopology(json);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error).toContain(message);
        expect(r.error).not.toContain('\n');
      }
    });
  }
  it('bad JSON text is one line', () => {
    const r = parseTopologyText('{');
    expect(r).toMatchObject({ ok: false });
    if (!r.ok) expect(r.error).toMatch(/^topology: not JSON \(.*\)$/);
  });
});

describe('route from a bridge', () => {
  it('names the provider as not an endpoint, not as a device whose driver never called pcim_p2pdma_init()', () => {
    const t = parseTopology(JSON.parse(readFileSync('examples/topologies/switch-acs-on.json', 'utf8')));
    if (!t.ok) throw new Error(t.error);
    const bridge = t.value.devices.find((d) => d.kind === 'switch-downstream')!;
    const a = routeAnswer(t.value, bridge.id, 'gpu0');
    expect(a.mapType).toBe('NOT_SUPPORTED');
    expect(a.reason).toBe(`provider ${bridge.id} is not an endpoint (a switch-downstream): a p2pdma provider is an endpoint's MEM BAR; give an endpoint below it`);
  });
});
