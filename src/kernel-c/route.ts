// The route unit: the routing functions of drivers/pci/p2pdma.c of the kernel
// under test, compiled from C, as a route plugin. The route suite brings a
// topology up on the simulated PCI core (RouteBench) and calls the p2pdma
// implementation it was given; this one sends the topology to the unit
// (c/units/route.c builds the host bridges, buses, bridges and functions the
// C walks) and each call becomes a request. Config space is the runner's:
// pci_read_config_word() of the C comes back here and is answered from the
// topology (the ACS Control word; a failed read gives ~0, as the kernel's).
// pci_p2pdma_bus_addr_map() is an inline of include/linux/pci-p2pdma.h, not
// of p2pdma.c: it stays the port's.
import type { Topology } from '../../models/pci/topology.ts';
import { MAP_TYPES, PCI_STD_NUM_BARS, type MapType } from '../../models/pci/types.ts';
import { P2pdma, type P2pdmaProvider } from '../impl/p2pdma.ts';
import { PciSystem, type AnyDevice, type PciBus, type PciDev, type PcieType } from '../kernel/pci.ts';
import { realRootBuses } from '../rules/route.ts';
import type { RuleId } from '../rules/registry.ts';
import type { ViolationLog } from '../rules/violation.ts';
import { OP, REQ, siteOf, type CCall, type CrashReport, type CUnitProcess } from './bridge.ts';
import { C_CRASH_RULE } from './conversion.ts';

const NONE = (1n << 64n) - 1n;
/** The ACS extended capability's offset in config space (pci_dev->acs_cap); any non-zero offset works. */
const ACS_CAP = 0x100;
const PCI_ACS_CTRL = 0x06;
const PCIBIOS_DEVICE_NOT_FOUND = 0x86n;
const PCIE_TYPE: Record<PcieType, bigint> = { endpoint: 0n, 'root-port': 4n, upstream: 5n, downstream: 6n, 'pci-bridge': 7n, 'host-bridge': 0n };
/** x86_vendor of struct cpuinfo_x86. */
const X86_VENDOR = { intel: 0n, amd: 2n, other: 0xffn } as const;

/** A string as the unit reads it: its length, then its bytes in u64 words. */
function strWords(s: string): bigint[] {
  const b = Buffer.from(s, 'utf8');
  const padded = Buffer.alloc(Math.ceil(b.length / 8) * 8);
  b.copy(padded);
  return [BigInt(b.length), ...Array.from({ length: padded.length / 8 }, (_, i) => padded.readBigUInt64LE(i * 8))];
}

/** The C route unit of one running process. */
export interface KernelCRoute {
  readonly name: string;
  /** `path:line name (origin)` of each kernel item compiled. */
  readonly sources: readonly string[];
  /** `path:line` of each function of the unit, by name. */
  readonly functions: ReadonlyMap<string, string>;
  create(t: Topology): CP2pdma;
  /** After a topology's checks: the C's crashes as findings, and the C file:line of every violation. */
  judgeC(impl: P2pdma, log: ViolationLog, from: number): void;
  close(): void;
}

/** The function of the unit a route checker's message names (its first identifier). */
const FUNCTION_OF: readonly [RegExp, string][] = [
  [/^calc_map_type_and_dist\(|^distance\(|^ACS redirect list/, 'calc_map_type_and_dist'],
  [/^pci_p2pdma_map_type\(/, 'pci_p2pdma_map_type'],
  [/^pci_p2pdma_distance_many\(/, 'pci_p2pdma_distance_many'],
  [/^pcim_p2pdma_provider\(/, 'pcim_p2pdma_provider'],
];

/** The p2pdma implementation of one topology, in the unit. */
export class CP2pdma extends P2pdma {
  /** What the C did that no checker sees: crashes and sanitizer reports, with the request they ended. */
  readonly crashes: { crash: CrashReport; request: string }[] = [];
  /** WARN_ON()s the C hit (pcim_p2pdma_provider() before pcim_p2pdma_init() is one), with their C site. */
  readonly warnings: string[] = [];
  /** C site of the last service call of the last request. */
  lastSite: string | null = null;
  private readonly sys: PciSystem;
  private readonly index = new Map<string, number>();
  private readonly mine: (PciDev | { plain: string })[] = [];
  /** The bench's own objects by index (the checkers compare providers' owners by identity). */
  private readonly theirs = new Map<number, PciDev>();
  private readonly inits: number[] = [];
  private setupWords: bigint[] = [];
  private started = -1;
  private generation = 0;
  private readonly providers = new Map<bigint, P2pdmaProvider>();
  private readonly ptrOf = new WeakMap<P2pdmaProvider, { ptr: bigint; generation: number }>();
  /** The topology each unit process holds now. */
  private static readonly current = new WeakMap<CUnitProcess, CP2pdma>();

  constructor(private readonly proc: CUnitProcess, readonly topology: Topology) {
    super(topology.cpu);
    this.sys = new PciSystem(topology);
    realRootBuses(this.sys, topology);
    this.setupWords = this.describe();
  }

  /** The topology as c/units/route.c reads it (ROUTE_SETUP). */
  private describe(): bigint[] {
    const t = this.topology;
    const hosts = t.hostBridges.map((hb) => hb.id);
    const buses: PciBus[] = [];
    const seen = new Set<PciBus>();
    const addBus = (b: PciBus) => { if (!seen.has(b)) { seen.add(b); buses.push(b); } };
    for (const d of this.sys.devices.values()) { addBus(d.bus.host.bus); addBus(d.bus); }
    for (const b of buses) for (const d of b.devices) { this.index.set(d.name, this.mine.length); this.mine.push(d); }
    for (const p of this.sys.plain.values()) { this.index.set(p.name, this.mine.length); this.mine.push({ plain: p.name }); }
    const busIdx = new Map(buses.map((b, i) => [b, i]));
    const words: bigint[] = [X86_VENDOR[t.cpu.vendor], BigInt(t.cpu.family), BigInt(hosts.length), BigInt(buses.length), BigInt(this.mine.length)];
    for (const h of hosts) words.push(...strWords(h));
    for (const b of buses) words.push(BigInt(b.domain), BigInt(b.number), b.self ? BigInt(this.index.get(b.self.name)!) : NONE, BigInt(Math.max(0, hosts.indexOf(b.host.id))));
    for (const m of this.mine) {
      if ('plain' in m) {
        const p = this.sys.plain.get(m.plain)!;
        words.push(1n, BigInt(this.index.get(p.parent!.name)!), ...Array<bigint>(6 + 4 * PCI_STD_NUM_BARS).fill(0n), ...strWords(p.name));
        continue;
      }
      // pci_dev->non_mappable_bars is a device quirk (no BAR may be mapped) no topology states: never
      // set. An unassigned BAR (mappable false) is the simulated PCI core's: its resource was reset.
      words.push(0n, BigInt(busIdx.get(m.bus)!), BigInt(m.devfn), BigInt(m.vendor), BigInt(m.device), PCIE_TYPE[m.pcieType], m.acsCtrl === null ? 0n : BigInt(ACS_CAP), 0n);
      for (let bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
        const r = m.resources[bar];
        words.push(...(r ? [BigInt(r.flags), r.start, r.len, r.busAddress] : [0n, 0n, 0n, 0n]));
      }
      words.push(...strWords(m.name));
    }
    return words;
  }

  /** The unit holds this topology (a new child, or another topology in between, sets it up again). */
  private ensure(): void {
    if (CP2pdma.current.get(this.proc) === this && this.started === this.proc.starts && this.proc.currentChild()) return;
    CP2pdma.current.set(this.proc, this);
    this.generation++;
    this.providers.clear();
    this.call(REQ.ROUTE_SETUP, this.setupWords, 'topology set-up', false);
    this.started = this.proc.starts;
    for (const i of this.inits) this.call(REQ.ROUTE_INIT, [BigInt(i)], 'pcim_p2pdma_init', false);
  }

  private call(op: number, args: readonly bigint[], what: string, ensure = true): readonly bigint[] | null {
    // After a crash the topology's C objects are gone with the process: the rest of this
    // topology's calls fail (the crash is its finding); the next topology starts a new process.
    if (this.crashes.length) return null;
    if (ensure) this.ensure();
    const out = this.proc.request(op, args, (c) => this.serve(c));
    if (out.ok) return out.words;
    this.crashes.push({ crash: out.crash, request: what });
    CP2pdma.current.delete(this.proc);
    return null;
  }

  /** Services of the route unit: config reads from the topology; allocations succeed (the route suite has no heap). */
  private serve(c: CCall): readonly [bigint, bigint] | undefined {
    this.lastSite = siteOf(c);
    switch (c.op) {
      case OP.PCI_READ_CONFIG: {
        const d = this.mine[Number(c.args[0])];
        if (!d || 'plain' in d) return [PCIBIOS_DEVICE_NOT_FOUND, 0xffffn];
        const where = Number(c.args[1]);
        if (d.acsCtrl === null || this.acsConfig.get(d.name)?.unreadable || where !== ACS_CAP + PCI_ACS_CTRL) return [PCIBIOS_DEVICE_NOT_FOUND, 0xffffn];
        return [0n, BigInt(d.acsCtrl)];
      }
      case OP.ALLOC: return [1n, 0n];
      case OP.FREE: return undefined;
      case OP.WARN: this.warnings.push(`WARN_ON(${this.proc.str(Number(c.args[0]))}) at ${siteOf(c)}`); return undefined;
      default: return undefined;
    }
  }

  private idx(d: PciDev | AnyDevice): number {
    const name = 'kind' in d ? (d.kind === 'pci' ? d.pdev.name : d.dev.name) : d.name;
    const i = this.index.get(name);
    if (i === undefined) throw new Error(`kernel-c route: ${name} is not a device of the topology the unit was given`);
    if (!('kind' in d)) this.theirs.set(i, d);
    else if (d.kind === 'pci') this.theirs.set(i, d.pdev);
    return i;
  }

  override pcim_p2pdma_init(pdev: PciDev): number {
    const i = this.idx(pdev);
    const w = this.call(REQ.ROUTE_INIT, [BigInt(i)], `pcim_p2pdma_init(${pdev.name})`);
    this.inits.push(i);
    return w ? Number(BigInt.asIntN(64, w[0]!)) : -5;
  }

  override pcim_p2pdma_provider(pdev: PciDev, bar: number): P2pdmaProvider | null {
    const w = this.call(REQ.ROUTE_PROVIDER, [BigInt(this.idx(pdev)), BigInt(bar)], `pcim_p2pdma_provider(${pdev.name}, ${bar})`);
    if (!w || w[0] === 0n || w[0]! >= NONE - 4095n) return null;
    const known = this.providers.get(w[0]!);
    if (known) return known;
    const ownerIdx = w[1] === NONE ? -1 : Number(w[1]);
    const mineOwner = this.mine[ownerIdx];
    const owner = this.theirs.get(ownerIdx) ?? (mineOwner && !('plain' in mineOwner) ? mineOwner : null);
    const p: P2pdmaProvider = { owner, bus_offset: w[2]! };
    this.providers.set(w[0]!, p);
    this.ptrOf.set(p, { ptr: w[0]!, generation: this.generation });
    return p;
  }

  override pci_p2pdma_map_type(provider: P2pdmaProvider, dev: AnyDevice): MapType {
    const p = this.ptrOf.get(provider);
    const i = this.idx(dev);
    if (!p) return 'NOT_SUPPORTED';
    this.ensure();
    // A provider of an earlier child (the unit crashed since): ask for it again.
    const ptr = p.generation === this.generation ? p.ptr : null;
    if (ptr === null) return 'UNKNOWN';
    const w = this.call(REQ.ROUTE_MAP_TYPE, [ptr, BigInt(i)], `pci_p2pdma_map_type(${provider.owner?.name ?? '?'}, ${'pdev' in dev ? dev.pdev.name : dev.dev.name})`);
    return w ? MAP_TYPES[Number(w[0])] ?? 'UNKNOWN' : 'UNKNOWN';
  }

  override calc_map_type_and_dist(provider: PciDev, client: PciDev): { mapType: MapType; dist: number } {
    const w = this.call(REQ.ROUTE_CALC, [BigInt(this.idx(provider)), BigInt(this.idx(client))], `calc_map_type_and_dist(${provider.name}, ${client.name})`);
    if (!w) {
      this.lastAcsList = [];
      return { mapType: 'UNKNOWN', dist: -1 };
    }
    const len = Number(w[2]);
    const bytes = Buffer.alloc(Math.ceil(len / 8) * 8);
    w.slice(3).forEach((x, i) => bytes.writeBigUInt64LE(x, i * 8));
    this.lastAcsList = bytes.subarray(0, len).toString('utf8').split(';').filter(Boolean);
    return { mapType: MAP_TYPES[Number(w[0])] ?? 'UNKNOWN', dist: Number(BigInt.asIntN(64, w[1]!)) };
  }

  override pci_p2pdma_distance_many(provider: PciDev, clients: readonly AnyDevice[]): number {
    const ids = clients.map((c) => BigInt(this.idx(c)));
    const w = this.call(REQ.ROUTE_DIST_MANY, [BigInt(this.idx(provider)), BigInt(ids.length), ...ids], `pci_p2pdma_distance_many(${provider.name}, ${clients.length} client(s))`);
    return w ? Number(BigInt.asIntN(64, w[0]!)) : -2;
  }
}

/** The route unit of a running C process. */
export function cRoute(proc: CUnitProcess, name: string, items: readonly { path: string; line: number; name: string; origin: string; kind: string }[]): KernelCRoute {
  const functions = new Map(items.filter((it) => it.kind === 'function').map((it) => [it.name, `${it.path}:${it.line}`]));
  const sources = items.map((it) => `${it.path}:${it.line} ${it.name} (${it.origin})`);
  function judgeC(impl: P2pdma, log: ViolationLog, from: number): void {
    if (!(impl instanceof CP2pdma)) return;
    for (let i = from; i < log.violations.length; i++) {
      const v = log.violations[i]!;
      if (v.evidence?.['cSite'] !== undefined) continue;
      const fn = FUNCTION_OF.find(([re]) => re.test(v.message))?.[1];
      const at = fn && functions.get(fn);
      if (at) log.violations[i] = { ...v, message: `${v.message} [${at} (${fn})]`, evidence: { ...v.evidence, cSite: `${at} (${fn})` } };
    }
    // After a crash every later answer of this topology is a stand-in: the crash is the finding.
    if (impl.crashes.length) log.violations.splice(from);
    for (const { crash, request } of impl.crashes) {
      const frames = crash.frames.map((f) => `${f.func} ${f.at}`);
      const last = crash.lastCall ? siteOf(crash.lastCall) : frames[0] ?? null;
      const evidence = { kind: `c-${crash.kind}`, summary: crash.summary, frames, ...(last ? { cSite: last } : {}) };
      const rule: RuleId = /use-after-free|double-free|invalid-free/.test(crash.kind) ? 'UAF-OBJ' : C_CRASH_RULE;
      log.report(rule, `${name}: ${request}: the C unit crashed (${crash.summary})${last ? ` [${last}]` : ''}`, evidence);
    }
  }
  return { name, sources, functions, create: (t) => new CP2pdma(proc, t), judgeC, close: () => proc.close() };
}
