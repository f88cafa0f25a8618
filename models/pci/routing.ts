// The two routing variants side by side: `classic` is calc_map_type_and_dist()
// of drivers/pci/p2pdma.c as merged (early 2026); `divergence` is the newer
// upstream proposal (linux-pci, 2025-26): every ACS port on both paths is
// asked for a decision, and the two ports where the paths diverge below the
// common bridge decide with the other path's port as egress target (PCIe r7.0
// sec 6.12.3: Egress Control and its vector), an unreadable ACS control word
// blocks the direct path. Both share the walk (pathsBetween) and the
// host-bridge decision (hostBridgeDecision); each variant is one function.
import { isPci, TopologyIndex, type Acs, type Device, type Topology } from './topology.ts';
import type { MapType } from './types.ts';
import { hostBridgeAllowList, hex4, parsePciId, type AllowEntry } from './allowlist.ts';

export type Routing = 'classic' | 'divergence';
export const ROUTINGS: readonly Routing[] = ['classic', 'divergence'];

/** What one ACS port does to a peer-to-peer request (pci_acs_p2pdma_state in the proposal). */
export type PortState = 'direct' | 'redirect' | 'blocked';

export interface PortDecision {
  readonly id: string;
  readonly state: Exclude<PortState, 'direct'>;
  /** The ACS bits (or the missing fact) that decided, in the kernel's terms. */
  readonly why: string;
}

/** Why the host bridge path was (not) allowed. */
export interface HostBridgeVerdict {
  readonly allowed: boolean;
  readonly by: 'cpu' | 'allow-list' | 'none';
  readonly detail: string;
}

export interface Route {
  readonly mapType: MapType;
  /** Ports from provider to client; the host bridge(s) when there is no common bridge. */
  readonly path: readonly string[];
  /** Ports whose ACS state is not direct, in walk order (provider side first). */
  readonly blockedBy: readonly string[];
  /** One entry per port of blockedBy: redirect or block, and why. */
  readonly decisions: readonly PortDecision[];
  readonly distance: number;
  /** The lowest common upstream bridge, when there is one. */
  readonly common?: string;
  /** Set when the route goes through the host bridge. */
  readonly hostBridge?: HostBridgeVerdict;
}

/** The walk shared by both variants: chains up to the lowest common bridge. */
export interface Paths {
  readonly up: readonly Device[];
  readonly down: readonly Device[];
  /** Index of the common bridge in up / down; -1 when there is none. */
  readonly i: number;
  readonly j: number;
  /** The ports just below the common bridge on each side (a_child, b_child). */
  readonly aChild: Device | null;
  readonly bChild: Device | null;
}

export function pathsBetween(idx: TopologyIndex, provider: Device, client: Device): Paths {
  const up = idx.chain(provider);
  const down = idx.chain(client);
  const i = up.findIndex((d) => down.includes(d));
  if (i < 0) return { up, down, i, j: -1, aChild: up[up.length - 1] ?? null, bChild: down[down.length - 1] ?? null };
  const j = down.indexOf(up[i]!);
  return { up, down, i, j, aChild: i > 0 ? up[i - 1]! : null, bChild: j > 0 ? down[j - 1]! : null };
}

/** The ports whose ACS is asked: the provider's path up to and including the
 *  common bridge (all of it when there is none), then the client's below it. */
function askedPorts(p: Paths): Device[] {
  return p.i < 0 ? [...p.up, ...p.down] : [...p.up.slice(0, p.i + 1), ...p.down.slice(0, p.j)];
}

function bits(acs: Acs): string {
  return (['rr', 'cr', 'ec'] as const).filter((b) => acs[b]).map((b) => b.toUpperCase()).join(' ');
}

/** cpu_supports_p2pdma(): any AMD CPU of family Zen (0x17) or newer. */
export function cpuSupportsP2pdma(t: Topology): boolean {
  return t.cpu.vendor === 'amd' && t.cpu.family >= 0x17;
}

function entryText(e: AllowEntry | null, fallback: string): string {
  return e ? `${hex4(e.vendor)}:${e.device < 0 ? 'any' : hex4(e.device)} (${e.hardware}${e.sameHostBridge ? ', same host bridge only' : ''})` : fallback;
}

/** host_bridge_whitelist(): both root complexes are on the allow list
 *  (REQ_SAME_HOST_BRIDGE entries only when it is the same host bridge). */
export function hostBridgesAllowed(idx: TopologyIndex, a: Device, b: Device): boolean {
  const ha = idx.hostBridge(a);
  const hb = idx.hostBridge(b);
  if (ha === hb) return ha.allowList !== 'none';
  return ha.allowList === 'any' && hb.allowList === 'any';
}

/** The map_through_host_bridge: step: the CPU, else the allow list. */
export function hostBridgeDecision(t: Topology, idx: TopologyIndex, a: Device, b: Device): HostBridgeVerdict {
  if (cpuSupportsP2pdma(t)) return { allowed: true, by: 'cpu', detail: `AMD family ${t.cpu.family.toString(16)}h (Zen or newer): cpu_supports_p2pdma()` };
  const allowed = hostBridgesAllowed(idx, a, b);
  const names = [...new Set([idx.hostBridge(a), idx.hostBridge(b)])].map((hb) => {
    if (!hb.rootBus) return `${hb.id}: allow list '${hb.allowList}' (stated by the topology)`;
    const d = hostBridgeAllowList(t, hb);
    const id = parsePciId(d.root?.pciId);
    const root = d.root ? `root device ${d.root.id}${id ? ` [${hex4(id.vendor)}:${hex4(id.device)}]` : ''}` : 'no root device (first device on the root bus is neither 00.0 nor a root port)';
    return `${hb.id}: ${root} ${d.entry ? `matches ${entryText(d.entry, '')}` : 'is not on the allow list'}`;
  });
  return { allowed, by: allowed ? 'allow-list' : 'none', detail: names.join('; ') };
}

function finish(t: Topology, idx: TopologyIndex, provider: Device, client: Device, p: Paths, decisions: PortDecision[]): Route {
  const path = p.i < 0
    ? [...p.up.map((d) => d.id), ...new Set([idx.hostBridge(provider).id, idx.hostBridge(client).id]), ...[...p.down].reverse().map((d) => d.id)]
    : [...p.up.slice(0, p.i + 1).map((d) => d.id), ...p.down.slice(0, p.j).reverse().map((d) => d.id)];
  const distance = p.i < 0 ? p.up.length + p.down.length : p.i + p.j;
  const base = { path, blockedBy: decisions.map((d) => d.id), decisions, distance, ...(p.i < 0 ? {} : { common: p.up[p.i]!.id }) };
  if (p.i >= 0 && decisions.length === 0) return { ...base, mapType: 'BUS_ADDR' };
  const hostBridge = hostBridgeDecision(t, idx, provider, client);
  return { ...base, mapType: hostBridge.allowed ? 'THRU_HOST_BRIDGE' : 'NOT_SUPPORTED', hostBridge };
}

/** calc_map_type_and_dist() as merged: a port counts when any of ACS RR, CR,
 *  EC is set (pci_bridge_has_acs_redir); with no common bridge only the
 *  provider's path is listed. */
export function routeClassic(t: Topology, provider: Device, client: Device, idx = new TopologyIndex(t)): Route {
  const p = pathsBetween(idx, provider, client);
  const ports = p.i < 0 ? [...p.up] : askedPorts(p);
  const decisions = ports.filter((d) => d.acs && (d.acs.rr || d.acs.cr || d.acs.ec)).map((d): PortDecision => ({ id: d.id, state: 'redirect', why: `ACSCtl ${bits(d.acs!)}` }));
  return finish(t, idx, provider, client, p, decisions);
}

/** pci_acs_p2pdma_state() of the proposal: one port's decision, given the
 *  port on the other path it would forward to (only at the divergence). */
export function acsP2pdmaState(acs: Acs | undefined, target: Device | null): { state: PortState; why: string } {
  if (!acs) return { state: 'direct', why: 'no ACS capability' };
  if (acs.unreadable) return { state: 'blocked', why: 'ACS control unreadable' };
  if (!target || !acs.ec) return acs.rr || acs.cr ? { state: 'redirect', why: `ACSCtl ${bits(acs)}` } : { state: 'direct', why: 'no redirect' };
  if (!acs.egressBlocked) return { state: 'blocked', why: `EC set, egress control vector unknown for ${target.id}` };
  if (acs.egressBlocked.includes(target.id)) {
    return acs.rr ? { state: 'redirect', why: `EC blocks egress to ${target.id}, RR redirects` } : { state: 'blocked', why: `EC blocks egress to ${target.id} and RR is clear (ACS violation)` };
  }
  return acs.cr ? { state: 'redirect', why: `egress to ${target.id} allowed, CR redirects` } : { state: 'direct', why: `egress to ${target.id} allowed` };
}

/** The divergence variant of calc_map_type_and_dist(): every port of both
 *  paths is asked; the ports just below the common bridge decide with the
 *  other side's port as target. TB and DT act on translated requests only,
 *  and p2pdma issues untranslated ones, so they never change the decision. */
export function routeDivergence(t: Topology, provider: Device, client: Device, idx = new TopologyIndex(t)): Route {
  const p = pathsBetween(idx, provider, client);
  const decisions: PortDecision[] = [];
  for (const d of askedPorts(p)) {
    const target = d === p.aChild ? p.bChild : d === p.bChild ? p.aChild : null;
    const s = acsP2pdmaState(d.acs, target);
    if (s.state !== 'direct') decisions.push({ id: d.id, state: s.state, why: s.why });
  }
  return finish(t, idx, provider, client, p, decisions);
}

/** The route of one variant. */
export function routeWith(routing: Routing, t: Topology, provider: Device, client: Device, idx = new TopologyIndex(t)): Route {
  return routing === 'classic' ? routeClassic(t, provider, client, idx) : routeDivergence(t, provider, client, idx);
}

export { isPci };
