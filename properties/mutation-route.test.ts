// Gaps the mutation score (reports/MUTATION.md) found in the p2pdma port
// (src/impl/p2pdma.ts): the topology generator never puts two host bridges
// without an allow-list verdict under an AMD CPU older than Zen, nor a port
// whose ACS vector cannot be read or that blocks egress to its peer (the
// divergence routing). Hand-made topologies for those branches, judged pair by
// pair against the model as every topology is (ROUTE-MAPTYPE, ROUTE-DIST).
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../models/pci/load.ts';
import type { Topology } from '../models/pci/topology.ts';
import { routeWith } from '../models/pci/routing.ts';
import { TopologyIndex } from '../models/pci/topology.ts';
import { P2pdma, P2pdmaDivergence } from '../src/impl/p2pdma.ts';
import { RouteBench, checkTopology } from '../src/rules/route.ts';
import { ViolationLog } from '../src/rules/violation.ts';

function topo(json: unknown): Topology {
  const r = parseTopology(json);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

const BAR = (start: string) => [{ index: 0, type: 'mem', start, size: '0x100000', busOffset: '0x0' }];

/** Two root ports on two host bridges whose allow-list verdict is 'none': only the CPU can allow P2P through the host. */
function twoBridges(cpu: { vendor: string; family: number }) {
  return topo({
    cpu,
    hostBridges: [{ id: 'hb0', allowList: 'none' }, { id: 'hb1', allowList: 'none' }],
    devices: [
      { id: 'rp0', kind: 'root-port', parent: 'hb0', slot: 1 },
      { id: 'A', kind: 'endpoint', parent: 'rp0', p2pdma: true, bars: BAR('0x100000000') },
      { id: 'rp1', kind: 'root-port', parent: 'hb1', slot: 1 },
      { id: 'B', kind: 'endpoint', parent: 'rp1', p2pdma: true, bars: BAR('0x200000000') },
    ],
  });
}

/** Root port, switch, two downstream ports with ACS egress control; `acs` of dsp0. */
function egressTree(acs: object) {
  const NO = { rr: false, cr: false, ec: false };
  return topo({
    cpu: { vendor: 'intel', family: 6 },
    hostBridges: [{ id: 'hb0', allowList: 'none' }],
    devices: [
      { id: 'rp', kind: 'root-port', parent: 'hb0', slot: 1, acs: NO },
      { id: 'usp', kind: 'switch-upstream', parent: 'rp', acs: NO },
      { id: 'dsp0', kind: 'switch-downstream', parent: 'usp', slot: 0, acs },
      { id: 'dsp1', kind: 'switch-downstream', parent: 'usp', slot: 1, acs: NO },
      { id: 'A', kind: 'endpoint', parent: 'dsp0', p2pdma: true, bars: BAR('0x100000000') },
      { id: 'B', kind: 'endpoint', parent: 'dsp1', p2pdma: true, bars: BAR('0x200000000') },
    ],
  });
}

function judged(t: Topology, routing: 'classic' | 'divergence'): string[] {
  const log = new ViolationLog();
  const bench = new RouteBench(t, (x) => (routing === 'classic' ? new P2pdma(x.cpu) : new P2pdmaDivergence(x.cpu)), routing);
  const ids = t.devices.filter((d) => d.kind === 'endpoint').map((d) => d.id);
  checkTopology(bench, ids.flatMap((p) => ids.map((c) => [p, c] as const)), log);
  return log.violations.map((v) => `${v.rule}: ${v.message}`);
}

const mapType = (t: Topology, routing: 'classic' | 'divergence') => {
  const idx = new TopologyIndex(t);
  return routeWith(routing, t, idx.device('A')!, idx.device('B')!, idx).mapType;
};

describe('ROUTE-MAPTYPE on the branches the generator does not reach', () => {
  it.each([[{ vendor: 'amd', family: 0x16 }, 'NOT_SUPPORTED'], [{ vendor: 'amd', family: 0x17 }, 'THRU_HOST_BRIDGE'], [{ vendor: 'amd', family: 0x19 }, 'THRU_HOST_BRIDGE'], [{ vendor: 'intel', family: 0x17 }, 'NOT_SUPPORTED']] as const)(
    'two host bridges, CPU %o: the host carries P2P only from Zen (family 0x17) on, and the port agrees',
    (cpu, want) => {
      for (const routing of ['classic', 'divergence'] as const) {
        const t = twoBridges(cpu);
        expect(mapType(t, routing)).toBe(want);
        expect(judged(t, routing)).toEqual([]);
      }
    },
  );

  it.each([
    ['an unreadable ACS control', { rr: true, cr: false, ec: true, unreadable: true }],
    ['egress to the peer blocked, redirect on', { rr: true, cr: false, ec: true, egressBlocked: ['dsp1'] }],
    ['egress to the peer blocked, redirect off', { rr: false, cr: false, ec: true, egressBlocked: ['dsp1'] }],
    ['egress blocked elsewhere, completions redirected', { rr: false, cr: true, ec: true, egressBlocked: ['other'] }],
    ['egress blocked elsewhere, nothing redirected', { rr: false, cr: false, ec: true, egressBlocked: ['other'] }],
  ])('divergence routing, %s: the port agrees with the model', (_what, acs) => {
    expect(judged(egressTree(acs), 'divergence')).toEqual([]);
  });

  it('the divergence cases do not all route alike (the inputs reach different answers)', () => {
    const answers = new Set([{ rr: true, cr: false, ec: true, unreadable: true }, { rr: false, cr: false, ec: true, egressBlocked: ['other'] }, { rr: true, cr: false, ec: true, egressBlocked: ['dsp1'] }].map((acs) => mapType(egressTree(acs), 'divergence')));
    expect(answers.size).toBeGreaterThan(1);
  });
});
