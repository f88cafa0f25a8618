// The topology file format (JSON) and its validating loader. A bad file
// gives one line naming the bad field's path: `topology.devices[2].acs.rr:
// expected boolean`. u64 fields are JSON strings ("0x1000", "4096") or safe
// integers.
import { ALLOW_LISTS, BRIDGE_KINDS, DEVICE_KINDS, type Acs, type Cpu, type Device, type HostBridge, type Topology, type UnknownFact } from './topology.ts';
import { hostBridgeAllowList } from './allowlist.ts';
import { PCI_STD_NUM_BARS, type Bar, type BarType } from './types.ts';
import { U64_MAX, hex, type U64 } from '../u64.ts';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

class BadField extends Error {}

function fail(path: string, what: string): never {
  throw new BadField(`${path}: ${what}`);
}

function show(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function object(v: unknown, path: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `expected an object, got ${show(v)}`);
  return v as Record<string, unknown>;
}

function array(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, `expected an array, got ${show(v)}`);
  return v;
}

function string(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') fail(path, `expected a non-empty string, got ${show(v)}`);
  return v;
}

function boolean(v: unknown, path: string): boolean {
  if (typeof v !== 'boolean') fail(path, `expected boolean, got ${show(v)}`);
  return v;
}

function integer(v: unknown, path: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(path, `expected an integer in [${min}, ${max}], got ${show(v)}`);
  return v;
}

function oneOf<T extends string>(v: unknown, path: string, choices: readonly T[]): T {
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) fail(path, `expected one of ${choices.join(', ')}, got ${show(v)}`);
  return v as T;
}

/** A u64 from a JSON string ("0x..", decimal) or a safe integer. */
export function parseU64(v: unknown, path: string): U64 {
  let n: bigint | undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v)) n = BigInt(v);
  if (n === undefined || n < 0n || n > U64_MAX) fail(path, `expected a u64 (a "0x.." or decimal string), got ${show(v)}`);
  return n;
}

function noExtraKeys(o: Record<string, unknown>, path: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${path}.${k}`, 'unknown field');
}

function parseCpu(v: unknown, path: string): Cpu {
  const o = object(v, path);
  noExtraKeys(o, path, ['vendor', 'family']);
  return { vendor: oneOf(o.vendor, `${path}.vendor`, ['amd', 'intel', 'other'] as const), family: integer(o.family, `${path}.family`, 0, 0xffff) };
}

const EXTRA_ACS_BITS = ['uf', 'sv', 'tb', 'dt', 'unreadable'] as const;

function parseAcs(v: unknown, path: string): Acs {
  const o = object(v, path);
  noExtraKeys(o, path, ['rr', 'cr', 'ec', ...EXTRA_ACS_BITS, 'egressBlocked']);
  const extra: Record<string, boolean> = {};
  for (const b of EXTRA_ACS_BITS) if (o[b] !== undefined) extra[b] = boolean(o[b], `${path}.${b}`);
  const egress = o.egressBlocked === undefined ? {} : { egressBlocked: array(o.egressBlocked, `${path}.egressBlocked`).map((x, i) => string(x, `${path}.egressBlocked[${i}]`)) };
  return { rr: boolean(o.rr, `${path}.rr`), cr: boolean(o.cr, `${path}.cr`), ec: boolean(o.ec, `${path}.ec`), ...extra, ...egress };
}

function pattern(v: unknown, path: string, re: RegExp, what: string): string {
  if (typeof v !== 'string' || !re.test(v)) fail(path, `expected ${what}, got ${show(v)}`);
  return v;
}

function parseUnknown(v: unknown, path: string): UnknownFact {
  const o = object(v, path);
  const fact = oneOf(o.fact, `${path}.fact`, ['acs', 'cpu', 'root-device'] as const);
  const why = o.why === undefined ? 'not stated' : string(o.why, `${path}.why`);
  if (fact === 'acs') return { fact, device: string(o.device, `${path}.device`), why };
  if (fact === 'root-device') return { fact, hostBridge: string(o.hostBridge, `${path}.hostBridge`), why };
  return { fact, why };
}

function parseBar(v: unknown, path: string): Bar {
  const o = object(v, path);
  noExtraKeys(o, path, ['index', 'type', 'start', 'size', 'busOffset', 'mappable']);
  const start = parseU64(o.start, `${path}.start`);
  const size = parseU64(o.size, `${path}.size`);
  if (size === 0n || (size & (size - 1n)) !== 0n) fail(`${path}.size`, `a BAR size is a non-zero power of two, got ${hex(size)}`);
  if (start % size !== 0n) fail(`${path}.start`, `a BAR is naturally aligned to its size, got ${hex(start)}`);
  if (start + size - 1n > U64_MAX) fail(`${path}.size`, 'the BAR ends past 2^64');
  return {
    index: integer(o.index, `${path}.index`, 0, PCI_STD_NUM_BARS - 1),
    type: oneOf<BarType>(o.type, `${path}.type`, ['mem', 'io']),
    start,
    size,
    busOffset: o.busOffset === undefined ? 0n : parseU64(o.busOffset, `${path}.busOffset`),
    ...(o.mappable === undefined ? {} : { mappable: boolean(o.mappable, `${path}.mappable`) }),
  };
}

function parseHostBridge(v: unknown, path: string): HostBridge {
  const o = object(v, path);
  noExtraKeys(o, path, ['id', 'allowList']);
  // No allowList: derived from the root-bus devices once they are parsed (resolveAllowLists).
  return { id: string(o.id, `${path}.id`), allowList: o.allowList === undefined ? 'none' : oneOf(o.allowList, `${path}.allowList`, ALLOW_LISTS), ...(o.allowList === undefined ? { rootBus: true } : {}) };
}

function parseDevice(v: unknown, path: string): Device {
  const o = object(v, path);
  noExtraKeys(o, path, ['id', 'kind', 'parent', 'slot', 'function', 'acs', 'bars', 'p2pdma', 'pciId', 'pciClass', 'label']);
  const bars = o.bars === undefined ? [] : array(o.bars, `${path}.bars`).map((b, i) => parseBar(b, `${path}.bars[${i}]`));
  const seen = new Set<number>();
  bars.forEach((b, i) => {
    if (seen.has(b.index)) fail(`${path}.bars[${i}].index`, `BAR ${b.index} listed twice`);
    seen.add(b.index);
  });
  return {
    id: string(o.id, `${path}.id`),
    kind: oneOf(o.kind, `${path}.kind`, DEVICE_KINDS),
    parent: string(o.parent, `${path}.parent`),
    slot: o.slot === undefined ? 0 : integer(o.slot, `${path}.slot`, 0, 31),
    function: o.function === undefined ? 0 : integer(o.function, `${path}.function`, 0, 7),
    ...(o.acs === undefined ? {} : { acs: parseAcs(o.acs, `${path}.acs`) }),
    bars,
    p2pdma: o.p2pdma === undefined ? false : boolean(o.p2pdma, `${path}.p2pdma`),
    ...(o.pciId === undefined ? {} : { pciId: pattern(o.pciId, `${path}.pciId`, /^[0-9a-fA-F]{4}:([0-9a-fA-F]{4}|\?{4})$/, 'a "vvvv:dddd" vendor:device ID ("vvvv:????" when only the vendor is known)').toLowerCase() }),
    ...(o.pciClass === undefined ? {} : { pciClass: pattern(o.pciClass, `${path}.pciClass`, /^[0-9a-fA-F]{4}$/, 'a "cccc" class code').toLowerCase() }),
    ...(o.label === undefined ? {} : { label: string(o.label, `${path}.label`) }),
  };
}

/** Host bridges without a stated verdict get the kernel's, from their root
 *  bus; a root device whose ID the file does not give is an unknown fact. */
function resolveAllowLists(t: Topology): Topology {
  const unknown: UnknownFact[] = [...(t.unknown ?? [])];
  const hostBridges = t.hostBridges.map((hb) => {
    if (!hb.rootBus) return hb;
    const d = hostBridgeAllowList(t, hb);
    if (d.unknownId && !unknown.some((u) => u.fact === 'root-device' && u.hostBridge === hb.id)) {
      unknown.push({ fact: 'root-device', hostBridge: hb.id, why: `the ID of root device ${d.root!.id} is not given` });
    }
    return { ...hb, allowList: d.allowList };
  });
  return { ...t, hostBridges, ...(unknown.length > 0 ? { unknown } : {}) };
}

function checkUnknown(t: Topology): void {
  const ids = new Set(t.devices.map((d) => d.id));
  const hbs = new Set(t.hostBridges.map((h) => h.id));
  (t.unknown ?? []).forEach((u, i) => {
    if (u.fact === 'acs' && !ids.has(u.device)) fail(`topology.unknown[${i}].device`, `no device ${show(u.device)}`);
    if (u.fact === 'root-device' && !hbs.has(u.hostBridge)) fail(`topology.unknown[${i}].hostBridge`, `no host bridge ${show(u.hostBridge)}`);
  });
}

/** Cross-field checks: unique ids, parents exist and can have children, no cycles, unique devfn per bus. */
function checkStructure(t: Topology): void {
  const ids = new Map<string, string>();
  t.hostBridges.forEach((hb, i) => {
    if (ids.has(hb.id)) fail(`topology.hostBridges[${i}].id`, `duplicate id ${show(hb.id)}`);
    ids.set(hb.id, 'host-bridge');
  });
  t.devices.forEach((d, i) => {
    if (ids.has(d.id)) fail(`topology.devices[${i}].id`, `duplicate id ${show(d.id)}`);
    ids.set(d.id, d.kind);
  });
  const devfns = new Set<string>();
  t.devices.forEach((d, i) => {
    const path = `topology.devices[${i}]`;
    const parentKind = ids.get(d.parent);
    if (parentKind === undefined) fail(`${path}.parent`, `no host bridge or device ${show(d.parent)}`);
    const pciParentOk = parentKind === 'host-bridge' || (BRIDGE_KINDS as readonly string[]).includes(parentKind);
    if (d.kind !== 'platform' && !pciParentOk) fail(`${path}.parent`, `${show(d.parent)} is a ${parentKind}, not a bridge or host bridge`);
    if (d.kind === 'platform' && parentKind === 'host-bridge') fail(`${path}.parent`, 'a platform device hangs off a device, not a host bridge');
    if (d.kind !== 'platform') {
      const key = `${d.parent}/${d.slot}.${d.function}`;
      if (devfns.has(key)) fail(`${path}.function`, `slot ${d.slot} function ${d.function} is taken on the bus of ${show(d.parent)}`);
      devfns.add(key);
    }
  });
  const parentOf = new Map(t.devices.map((d) => [d.id, d.parent]));
  t.devices.forEach((d, i) => {
    const seen = new Set<string>([d.id]);
    for (let p = parentOf.get(d.id); p !== undefined && parentOf.has(p); p = parentOf.get(p)) {
      if (seen.has(p)) fail(`topology.devices[${i}].parent`, `cycle through ${show(p)}`);
      seen.add(p);
    }
  });
}

/** Validate a parsed JSON value as a topology. */
export function parseTopology(json: unknown): Parsed<Topology> {
  try {
    const o = object(json, 'topology');
    noExtraKeys(o, 'topology', ['$schema', 'cpu', 'hostBridges', 'devices', 'unknown']);
    const hostBridges = array(o.hostBridges, 'topology.hostBridges').map((h, i) => parseHostBridge(h, `topology.hostBridges[${i}]`));
    if (hostBridges.length === 0) fail('topology.hostBridges', 'at least one host bridge is needed');
    const t: Topology = {
      cpu: o.cpu === undefined ? { vendor: 'other', family: 0 } : parseCpu(o.cpu, 'topology.cpu'),
      hostBridges,
      devices: array(o.devices, 'topology.devices').map((d, i) => parseDevice(d, `topology.devices[${i}]`)),
      ...(o.unknown === undefined ? {} : { unknown: array(o.unknown, 'topology.unknown').map((u, i) => parseUnknown(u, `topology.unknown[${i}]`)) }),
    };
    checkStructure(t);
    checkUnknown(t);
    return { ok: true, value: resolveAllowLists(t) };
  } catch (e) {
    if (e instanceof BadField) return { ok: false, error: e.message };
    throw e;
  }
}

/** Parse JSON text, naming a syntax error as one line too. */
export function parseTopologyText(text: string): Parsed<Topology> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, error: `topology: not JSON (${(e as Error).message})` };
  }
  return parseTopology(json);
}

/** The file format of a topology (bigints as hex strings): loads back with parseTopology. */
export function topologyToJson(t: Topology): unknown {
  return {
    cpu: t.cpu,
    hostBridges: t.hostBridges.map((hb) => (hb.rootBus ? { id: hb.id } : { id: hb.id, allowList: hb.allowList })),
    devices: t.devices.map((d) => ({ ...d, bars: d.bars.map((b) => ({ ...b, start: hex(b.start), size: hex(b.size), busOffset: hex(b.busOffset) })) })),
    ...(t.unknown ? { unknown: t.unknown } : {}),
  };
}
