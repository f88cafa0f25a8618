// Fixture reports for the report tests (properties/report*.test.ts) and the
// browser check (test/browser/): realistic data, built by hand and from the
// models, not by the runner.
// - a NEW route violation: examples/topologies/switch-acs-on.json (three
//   switch downstream ports with ACS RR+CR under one upstream port, a host
//   bridge off the allow-list, Intel CPU), gpu0 -> gpu1 answered BUS_ADDR by
//   the implementation where models/pci says NOT_SUPPORTED;
// - a KNOWN lifecycle violation of 6 steps: map after FLR returns ok where the
//   model says -ENODEV (REV-MAP), as bug:rev-map-ignores-revoked does.
// `text` transforms every free-text field (names, ids, messages, commands,
// results, replay, one device id), so the escaping tests can make each hostile.
import { readFileSync } from 'node:fs';
import { parseTopology, topologyToJson } from '../models/pci/load.ts';
import { routeBetween } from '../models/pci/p2pdma.ts';
import { TopologyIndex, type Topology } from '../models/pci/topology.ts';
import type { Report, RuleResult, Step, ViolationRecord } from '../src/report/types.ts';

type Text = (s: string) => string;
const same: Text = (s) => s;

export function switchTopology(renameGpu1: Text = same): Topology {
  const json = JSON.parse(readFileSync(new URL('../examples/topologies/switch-acs-on.json', import.meta.url), 'utf8')) as { devices: { id: string }[] };
  for (const d of json.devices) if (d.id === 'gpu1') d.id = renameGpu1('gpu1');
  const t = parseTopology(json);
  if (!t.ok) throw new Error(t.error);
  return t.value;
}

function replay(t: Text, id: string): string {
  return t(`npx dmabuf-conform replay reports/latest/report.json --case '${id}'`);
}

export function routeViolation(t: Text = same): ViolationRecord {
  const topo = switchTopology(t);
  const idx = new TopologyIndex(topo);
  const gpu1 = t('gpu1');
  const model = routeBetween(topo, idx.device('gpu0')!, idx.device(gpu1)!, idx);
  const sibling = routeBetween(topo, idx.device('gpu0')!, idx.device('nic.0')!, idx);
  const id = t('bug:route-acs-client-inclusive/ROUTE-MAPTYPE/0');
  const steps: Step[] = [
    { index: 0, from: 'importer', to: 'core', command: t('pci_p2pdma_map_type(gpu0, nic.0)'), result: t(sibling.mapType), expected: sibling.mapType },
    { index: 1, from: 'importer', to: 'core', command: t(`pci_p2pdma_map_type(gpu0, ${gpu1})`), result: t('BUS_ADDR'), expected: model.mapType, rule: 'ROUTE-MAPTYPE' },
  ];
  return {
    id, rule: 'ROUTE-MAPTYPE', implementation: t('bug:route-acs-client-inclusive'), profile: 'v8',
    message: t(`calc_map_type_and_dist(gpu0, ${gpu1}) = BUS_ADDR, model ${model.mapType}`),
    evidence: { provider: 'gpu0', client: gpu1, model: model.mapType, port: 'BUS_ADDR', modelAcs: model.blockedBy, portAcs: ['dsp0'] },
    fingerprint: '5e1c0a2b9d4f7781', replay: replay(t, id), known: false,
    counterexample: {
      suite: 'route', steps, failingStep: 1, topology: topologyToJson(topo),
      route: { provider: 'gpu0', client: gpu1, mapType: model.mapType, distance: model.distance, path: model.path, blockedBy: model.blockedBy },
      input: { topology: topologyToJson(topo), pairs: [['gpu0', 'nic.0'], ['gpu0', gpu1]], offsets: [{ $u64: '0x0' }] },
    },
  };
}

export function lifecycleViolation(t: Text = same): ViolationRecord {
  const id = t('bug:rev-map-ignores-revoked/REV-MAP/0');
  const step = (index: number, from: Step['from'], to: Step['to'], command: string, result = 'ok', expected = 'ok'): Step => ({ index, from, to, command: t(command), result: t(result), expected: t(expected) });
  return {
    id, rule: 'REV-MAP', implementation: t('bug:rev-map-ignores-revoked'), profile: 'v8',
    message: t('map(att0) returned ok, the model says -ENODEV'),
    evidence: { port: 'ok', model: '-ENODEV', dmabuf: 'vdev0.dmabuf4', revoked: true },
    fingerprint: 'a3f09c41d2e6b870', replay: replay(t, id), known: true,
    counterexample: {
      suite: 'lifecycle', failingStep: 5,
      steps: [
        step(0, 'user', 'exporter', 'create(dev0, 2 ranges)'),
        step(1, 'importer', 'core', 'attach(buf0, dma)'),
        step(2, 'importer', 'iommu', 'map(att0)'),
        step(3, 'importer', 'iommu', 'unmap(att0)'),
        step(4, 'device', 'exporter', 'flr(dev0)'),
        { ...step(5, 'importer', 'iommu', 'map(att0)', 'ok', '-ENODEV'), rule: 'REV-MAP' },
      ],
      input: { cmds: [{ op: 'create', dev: 0, nRanges: 2, valid: true }, { op: 'attach', buf: 0, importer: 'dma', p2p: true }, { op: 'map', att: 0 }, { op: 'unmap', att: 0 }, { op: 'event', event: 'flr', dev: 0 }, { op: 'map', att: 0 }] },
    },
  };
}

/** The fixture report: both violations, passing checks around them, one rule not checked. */
export function fixtureReport(t: Text = same): Report {
  const route = routeViolation(t);
  const lc = lifecycleViolation(t);
  const vfio = t('vfio-pci');
  const res = (implementation: string, rule: RuleResult['rule'], status: RuleResult['status'], violations: string[] = [], runs = 400): RuleResult => ({ implementation, profile: 'v8', rule, runs: status === 'not-applicable' ? 0 : runs, status, violations });
  const results: RuleResult[] = [
    res(route.implementation, 'ROUTE-MAPTYPE', 'violation', [route.id], 20000),
    res(route.implementation, 'ROUTE-DIST', 'pass', [], 20000),
    res(route.implementation, 'ROUTE-BUSADDR', 'pass', [], 20000),
    res(route.implementation, 'ROUTE-PROVIDER', 'not-applicable'),
    res(lc.implementation, 'REV-MAP', 'known', [lc.id], 20000),
    res(lc.implementation, 'REV-NOTIFY', 'pass', [], 20000),
    res(lc.implementation, 'LOCK-RESV', 'pass', [], 20000),
    res(vfio, 'REV-MAP', 'pass'),
    res(vfio, 'REV-NOTIFY', 'pass'),
    res(vfio, 'LOCK-RESV', 'pass'),
    res(vfio, 'UAF-OBJ', 'pass'),
  ];
  return {
    schemaVersion: 1,
    tool: { name: 'dmabuf-conform', version: '0.1.0' },
    seed: 42,
    profiles: ['v8', 'rfc', 'converter'],
    budget: { runs: 400 },
    implementations: [
      { name: route.implementation, kind: 'route', profiles: ['v8', 'rfc', 'converter'] },
      { name: lc.implementation, kind: 'exporter', profiles: ['v8'] },
      { name: vfio, kind: 'exporter', profiles: ['v8', 'rfc', 'converter'] },
    ],
    summary: { checks: results.filter((r) => r.status !== 'not-applicable').length, violations: 2, known: 1, new: 1 },
    results,
    violations: [route, lc],
    timings: { totalMs: 1234, perImplementationMs: { [route.implementation]: 310, [lc.implementation]: 702, [vfio]: 222 } },
  };
}
