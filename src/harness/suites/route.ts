// The route suite: pci_p2pdma_map_type / distance / bus address / providers
// of each p2pdma implementation (the ports, their seeded bugs, a user's route
// plugin) against models/pci on generated topologies (checkTopology), under
// the routing variant the implementation says it follows (RouteImpl.routing).
import fc from 'fast-check';
import { parseTopology, topologyToJson } from '../../../models/pci/load.ts';
import { p2pdmaDistanceMany } from '../../../models/pci/p2pdma.ts';
import type { Topology } from '../../../models/pci/topology.ts';
import { topologyWithQueriesArb, type ClientList } from '../../gen/topology.ts';
import type { Step } from '../../report/types.ts';
import type { RuleId } from '../../rules/registry.ts';
import { checkTopology, RouteBench, type RouteImpl } from '../../rules/route.ts';
import type { RoutePlugin } from '../plugin.ts';
import { ViolationLog } from '../../rules/violation.ts';
import { fromInput, searchFound, toInput, wanted, type Found, type Judged, type Suite, type Target } from '../suite.ts';

const ROUTE_RULES: RuleId[] = ['ROUTE-MAPTYPE', 'ROUTE-DIST', 'ROUTE-BUSADDR', 'ROUTE-PROVIDER'];

interface RouteInput {
  readonly topology: Topology;
  readonly pairs: [string, string][];
  /** pci_p2pdma_distance_many() calls, each a provider and 0..MAX_LIST_CLIENTS clients. */
  readonly lists: ClientList[];
  readonly offsets: bigint[];
}

function violations(impl: RouteImpl & Pick<RoutePlugin, 'judgeC'>, i: RouteInput): ViolationLog {
  const log = new ViolationLog();
  const bench = new RouteBench(i.topology, impl.create, impl.routing);
  checkTopology(bench, i.pairs, log, i.offsets, i.lists);
  impl.judgeC?.(bench.impl, log, 0);
  return log;
}

type Ev = { provider?: string; client?: string; clients?: string[]; port?: unknown; model?: unknown } | undefined;

function found(impl: RouteImpl & Pick<RoutePlugin, 'judgeC'>, input: RouteInput): Found {
  const log = violations(impl, input);
  const bench = new RouteBench(input.topology, undefined, impl.routing);
  const steps: Step[] = input.pairs.map(([p, c], i) => {
    const v = log.violations.find((x) => (x.evidence as Ev)?.provider === p && (x.evidence as Ev)?.client === c);
    const ev = v?.evidence as Ev;
    // A pair that agrees shows the model's answer on both sides (a fresh user read 'as model / as port' as a puzzle).
    const m = bench.calc(p, c);
    const answer = `${m.mapType} (distance ${m.dist})`;
    return { index: i, from: 'importer', to: 'core', command: `pci_p2pdma_map_type(${p}, ${c})`, result: ev?.port === undefined ? answer : String(ev.port), expected: ev?.model === undefined ? answer : String(ev.model), ...(v ? { rule: v.rule } : {}) };
  });
  input.lists.forEach((l) => {
    const call = `pci_p2pdma_distance_many(${l.provider}, [${l.clients.join(', ')}])`;
    const v = log.violations.find((x) => (x.evidence as Ev)?.provider === l.provider && (x.evidence as Ev)?.clients?.join() === l.clients.join());
    const ev = v?.evidence as Ev;
    const answer = String(p2pdmaDistanceMany(input.topology, l.provider, l.clients, bench.idx, impl.routing));
    steps.push({ index: steps.length, from: 'importer', to: 'core', command: call, result: ev?.port === undefined ? answer : String(ev.port), expected: ev?.model === undefined ? answer : String(ev.model), ...(v ? { rule: v.rule } : {}) });
  });
  const failing = Math.max(0, steps.findIndex((s) => s.rule));
  const list = input.lists[failing - input.pairs.length];
  const [provider, client] = input.pairs[failing] ?? (list ? [list.provider, list.clients.find((c) => bench.sys.devices.has(c)) ?? list.provider] : input.pairs[0]!);
  const model = new RouteBench(input.topology, undefined, impl.routing).calc(provider, client);
  const topology = topologyToJson(input.topology);
  return {
    violations: log.violations,
    explainedBy: log.violations.map(() => null),
    counterexample: { suite: 'route', steps, failingStep: failing, topology, route: { provider, client, mapType: model.mapType, distance: model.dist, path: [], blockedBy: model.acsList }, input: toInput({ ...input, topology }) },
  };
}

function decode(input: unknown): RouteInput {
  const i = fromInput<{ topology: unknown; pairs: [string, string][]; lists?: ClientList[]; offsets: bigint[] }>(input);
  const t = parseTopology(i.topology);
  if (!t.ok) throw new Error(t.error);
  // A case recorded before client lists were generated has none.
  return { topology: t.value, pairs: i.pairs, lists: i.lists ?? [], offsets: i.offsets };
}

const inputArb = fc.tuple(topologyWithQueriesArb(), fc.array(fc.bigInt({ min: 0n, max: (1n << 40n) - 1n }), { minLength: 1, maxLength: 3 }))
  .map(([{ topology, pairs, lists }, offsets]): RouteInput => ({ topology, pairs, lists, offsets }));

function routeTarget(p: RoutePlugin): Target {
  const impl: RouteImpl & Pick<RoutePlugin, 'judgeC'> = { ...p };
  // The kernel's C (judgeC) also breaks the rules of a crash: a memory error, or any other end of the unit.
  const rules: RuleId[] = p.judgeC ? [...ROUTE_RULES, 'UAF-OBJ', 'PLUGIN-THROW'] : ROUTE_RULES;
  const judge = (i: RouteInput): Judged => {
    const vs = violations(impl, i).violations;
    return { violations: vs, explainedBy: vs.map(() => null) };
  };
  return {
    name: p.name, suite: 'route', part: 'route', kind: p.kind, profiles: p.profiles, rules,
    search: (seed, runs, skip, opts) => searchFound(inputArb, seed, runs, wanted(rules, skip), judge, (i) => found(impl, i), opts),
    replay: async (input) => found(impl, decode(input)),
  };
}

export const routeSuite: Suite = { id: 'route', rules: ROUTE_RULES, targets: (p) => (p.kind === 'route' ? [routeTarget(p)] : []) };
