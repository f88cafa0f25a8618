// lspci text → topology. The tree comes from what the post states: `-t`
// trees, bridges' `Bus: secondary=` windows, path-style BDFs. Each fact the
// post does not state (a port's ACS control, the CPU, a root device's ID)
// becomes an UnknownFact of the topology, never a silent default.
import { parseTopology } from '../../models/pci/load.ts';
import type { Cpu, Topology, UnknownFact } from '../../models/pci/topology.ts';
import { readLspci, truncation, type DevFacts, type LspciFacts } from './lspci-parse.ts';

export type Imported = { ok: true; topology: Topology; notes: readonly string[] } | { ok: false; error: string };

const busOf = (bdf: string) => bdf.slice(0, 7); // "dddd:bb"
const slotOf = (bdf: string) => parseInt(bdf.slice(8, 10), 16);
const fnOf = (bdf: string) => Number(bdf.slice(11));
const short = (bdf: string) => (bdf.startsWith('0000:') ? bdf.slice(5) : bdf);

function kindOf(d: DevFacts, onRoot: boolean, parentKind: string | undefined, isBridge: boolean): string {
  switch (d.expressType) {
    case 'Root Port': return 'root-port';
    case 'Upstream Port': return 'switch-upstream';
    case 'Downstream Port': return 'switch-downstream';
    case 'PCI-Express to PCI/PCI-X Bridge': case 'PCI/PCI-X to PCI-Express Bridge': return 'bridge';
  }
  if (!isBridge) return 'endpoint';
  // No Express capability line: the place in the tree says what the port is.
  if (onRoot) return 'root-port';
  return parentKind === 'root-port' ? 'switch-upstream' : parentKind === 'switch-upstream' ? 'switch-downstream' : 'bridge';
}

function acsOf(d: DevFacts): { acs?: object; unknown?: string } {
  if (d.acsCtl) return { acs: { ...d.acsCtl } };
  if (d.capsDenied) return { unknown: `${short(d.bdf)}: 'Capabilities: <access denied>' (lspci was run without root)` };
  if (d.acsCap) return { unknown: `${short(d.bdf)}: ACS capability listed, ACSCtl not shown (needs lspci -vvv as root)` };
  if (d.capsListed) return {};
  return { unknown: `${short(d.bdf)}: no capability list in the dump (needs lspci -vvv as root)` };
}

function isPow2(n: bigint): boolean {
  return n > 0n && (n & (n - 1n)) === 0n;
}

function barsOf(d: DevFacts): object[] {
  return d.bars
    .filter((b) => b.size !== null && isPow2(b.size) && (b.start === null || b.start % b.size === 0n))
    .map((b) => ({ index: b.index, type: b.type, start: `0x${(b.start ?? 0n).toString(16)}`, size: `0x${b.size!.toString(16)}`, ...(b.unmapped ? { mappable: false } : {}) }));
}

/** The bridge whose secondary bus a bus is, per domain. */
function parentBridges(f: LspciFacts): Map<string, DevFacts> {
  const m = new Map<string, DevFacts>();
  for (const d of f.devices.values()) if (d.secondary !== undefined) m.set(`${d.bdf.slice(0, 4)}:${d.secondary.toString(16).padStart(2, '0')}`, d);
  return m;
}

function rootBuses(f: LspciFacts, parent: Map<string, DevFacts>): { roots: Set<string>; error?: string } {
  const roots = new Set<string>();
  const buses = new Map<string, DevFacts[]>();
  for (const d of f.devices.values()) buses.set(busOf(d.bdf), [...(buses.get(busOf(d.bdf)) ?? []), d]);
  for (const [bus, devs] of [...buses].sort()) {
    if (parent.has(bus)) continue;
    const rootLike = f.treeRoots.has(bus) || bus.endsWith(':00') || devs.some((d) => d.onRootBus || ['Root Port', 'Root Complex Integrated Endpoint', 'Root Complex Event Collector'].includes(d.expressType ?? ''));
    if (rootLike) {
      roots.add(bus);
      continue;
    }
    const n = parseInt(bus.slice(5), 16);
    const window = [...f.devices.values()].find((b) => b.bdf.startsWith(bus.slice(0, 4)) && b.secondary !== undefined && b.subordinate !== undefined && b.secondary < n && n <= b.subordinate);
    const where = window ? `; ${short(window.bdf)} spans buses ${window.secondary!.toString(16).padStart(2, '0')}-${window.subordinate!.toString(16).padStart(2, '0')} but the bridge in between is missing` : '';
    return { roots, error: `bus ${bus} (${devs.map((d) => short(d.bdf)).join(', ')}) hangs below no bridge in the dump${where}: the dump is truncated (add 'lspci -tv' or the bridge's 'lspci -vvv')` };
  }
  return { roots };
}

/** lspci text (and the CPU, if known) → a topology with its unknown facts. */
export function importLspci(text: string, cpu?: Cpu): Imported {
  const cut = truncation(text);
  if (cut) return { ok: false, error: cut };
  const f = readLspci(text);
  if (f.devices.size === 0) return { ok: false, error: 'no PCI device lines (BB:DD.F ...) and no lspci -t tree in the text: expected lspci -vvv -nn or lspci -tv output' };
  const parent = parentBridges(f);
  const { roots, error } = rootBuses(f, parent);
  if (error) return { ok: false, error };
  const unknown: UnknownFact[] = cpu ? [] : [{ fact: 'cpu', why: 'the dump does not name the CPU (give --cpu amd:0x19 or a /proc/cpuinfo)' }];
  const notes: string[] = [];
  if (f.orphanAcs > 0) notes.push(`${f.orphanAcs} ACSCtl line(s) follow no device line (a grep?) and were not used`);
  const kinds = new Map<string, string>();
  const devices: object[] = [];
  const ordered = [...f.devices.values()].sort((a, b) => (a.bdf < b.bdf ? -1 : 1));
  // Parents before children: walk down from the root buses.
  const place = (d: DevFacts, parentId: string, onRoot: boolean) => {
    const bridge = d.secondary !== undefined;
    const kind = kindOf(d, onRoot, kinds.get(parentId), bridge);
    kinds.set(d.bdf, kind);
    const acs = acsOf(d);
    if (acs.unknown) unknown.push({ fact: 'acs', device: d.bdf, why: acs.unknown });
    const endpoint = kind === 'endpoint' && !(d.pciClass ?? '').startsWith('06');
    devices.push({
      id: d.bdf, kind, parent: parentId, slot: slotOf(d.bdf), function: fnOf(d.bdf), ...(acs.acs ? { acs: acs.acs } : {}),
      bars: barsOf(d), p2pdma: endpoint || d.p2pmem === true,
      ...(d.pciId ? { pciId: d.pciId } : {}), ...(d.pciClass ? { pciClass: d.pciClass } : {}), label: `${short(d.bdf)}${d.name ? ` ${d.name}` : ''}`,
    });
    if (bridge) {
      const sec = `${d.bdf.slice(0, 4)}:${d.secondary!.toString(16).padStart(2, '0')}`;
      for (const c of ordered) if (busOf(c.bdf) === sec && parent.get(sec) === d) place(c, d.bdf, false);
    }
  };
  const hostBridges: object[] = [];
  for (const bus of [...roots].sort()) {
    const hb = `pci${bus}`;
    hostBridges.push({ id: hb });
    const onBus = ordered.filter((d) => busOf(d.bdf) === bus);
    for (const d of onBus) place(d, hb, true);
    const first = onBus[0];
    const complete = f.treeRoots.has(bus);
    if (first && slotOf(first.bdf) === 0 && fnOf(first.bdf) === 0) continue; // 00.0 is first whatever else the bus holds
    if (!complete) unknown.push({ fact: 'root-device', hostBridge: hb, why: `the dump does not list all of root bus ${bus} and has no ${bus}:00.0, so the first device on it is not known` });
    else if (first && !first.expressType) unknown.push({ fact: 'root-device', hostBridge: hb, why: `the first device on root bus ${bus}, ${short(first.bdf)}, is not 00.0 and its port type is not shown` });
  }
  if (devices.length < f.devices.size) notes.push(`${f.devices.size - devices.length} device(s) sit below bridges the dump does not connect and were left out`);
  if (devices.some((d) => (d as { p2pdma: boolean }).p2pdma)) notes.push('endpoints are taken as p2pdma providers (their driver calling pcim_p2pdma_init(), as vfio-pci and nvme do); the dump cannot say');
  const json = { cpu: cpu ?? { vendor: 'other', family: 0 }, hostBridges, devices, ...(unknown.length ? { unknown } : {}) };
  const parsed = parseTopology(json);
  if (!parsed.ok) return { ok: false, error: `the dump gives an inconsistent topology: ${parsed.error}` };
  return { ok: true, topology: parsed.value, notes };
}
