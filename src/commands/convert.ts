// dmabuf-conform convert <case.json>: a VFIO dma-buf request on a device of a
// topology, through the create path and the PAL → SGT conversion of the
// chosen profile: prints the PAL, the segments and every rule violation.
import { readFileSync } from 'node:fs';
import { vfioDmaBufCreate, type DmaBufRequest, type VfioDeviceView } from '../../models/pal.ts';
import { parseTopology, parseU64 } from '../../models/pci/load.ts';
import { p2pdmaMapType, p2pdmaProvider } from '../../models/pci/p2pdma.ts';
import { TopologyIndex } from '../../models/pci/topology.ts';
import { MAP_TYPES, type MapType } from '../../models/pci/types.ts';
import { isProfile, spec, type Profile } from '../../models/profiles.ts';
import { hex } from '../../models/u64.ts';
import { NO_FAULTS } from '../kernel/faults.ts';
import { runConversion } from '../rules/conversion.ts';
import { MAINLINE_PHYS_VEC_TO_SGT, V8_DMA_BUF_MAP } from '../rules/conversion-impls.ts';
import { checkPal, PAL_IMPLS } from '../rules/pal.ts';
import { ViolationLog, jsonSafe } from '../rules/violation.ts';
import { UsageError } from './usage.ts';

interface Case {
  view: VfioDeviceView;
  request: DmaBufRequest;
  route: MapType;
  profile: Profile;
}

function field<T>(o: Record<string, unknown>, key: string, check: (v: unknown) => v is T, what: string): T {
  const v = o[key];
  if (!check(v)) throw new UsageError(`case.${key}: expected ${what}`);
  return v;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

function parseRequest(o: Record<string, unknown>): DmaBufRequest {
  const ranges = field(o, 'ranges', Array.isArray, 'an array of {offset, length}').map((r: unknown, i: number) => {
    if (!isObj(r)) throw new UsageError(`case.request.ranges[${i}]: expected an object`);
    return { offset: u64At(r.offset, `case.request.ranges[${i}].offset`), length: u64At(r.length, `case.request.ranges[${i}].length`) };
  });
  const num = (k: string, d: number) => {
    const v = o[k] ?? d;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new UsageError(`case.request.${k}: expected a non-negative integer`);
    return v;
  };
  return { regionIndex: num('regionIndex', 0), flags: num('flags', 0), openFlags: 0, nrRanges: num('nrRanges', ranges.length), ranges };
}

function u64At(v: unknown, path: string): bigint {
  try {
    return parseU64(v, path);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function parseCase(json: unknown): Case {
  if (!isObj(json)) throw new UsageError('case: expected an object');
  const topo = parseTopology(json.topology);
  if (!topo.ok) throw new UsageError(`case.${topo.error}`);
  const t = topo.value;
  const idx = new TopologyIndex(t);
  const exporter = field(json, 'exporter', isStr, 'a device id');
  const client = field(json, 'client', isStr, 'a device id');
  const dev = idx.device(exporter);
  if (!dev) throw new UsageError(`case.exporter: no device '${exporter}' in the topology`);
  if (!idx.device(client)) throw new UsageError(`case.client: no device '${client}' in the topology`);
  const profile = json.profile ?? 'v8';
  if (!isStr(profile) || !isProfile(profile)) throw new UsageError('case.profile: expected v8, rfc or converter');
  const request = parseRequest(field(json, 'request', isObj, 'an object'));
  const pageSize = json.pageSize === undefined ? 4096n : u64At(json.pageSize, 'case.pageSize');
  if (pageSize !== 4096n && pageSize !== 65536n) throw new UsageError('case.pageSize: expected 4096 or 65536');
  const view: VfioDeviceView = { hasGetDmabufPhys: true, bars: dev.bars, registrationAlive: true, pageSize, provider: (bar) => p2pdmaProvider(dev, bar) };
  const override = json.route;
  if (override !== undefined && !(isStr(override) && (MAP_TYPES as readonly string[]).includes(override))) throw new UsageError(`case.route: expected one of ${MAP_TYPES.join(', ')}`);
  const route = (override as MapType | undefined) ?? p2pdmaMapType(t, view.provider(request.regionIndex), client, idx);
  return { view, request, route, profile };
}

export function convert(c: Case): unknown {
  const log = new ViolationLog();
  checkPal(PAL_IMPLS[0]!, c.view, c.request, log);
  const pal = vfioDmaBufCreate(c.view, c.request);
  if (!pal.ok) return { pal: pal.errno, route: c.route, segments: [], violations: jsonSafe(log.violations) };
  const impl = spec(c.profile).segmentLimit === V8_DMA_BUF_MAP.limit ? V8_DMA_BUF_MAP : MAINLINE_PHYS_VEC_TO_SGT;
  const conv = { phys: pal.value.phys, size: pal.value.size, route: c.route, busOffset: pal.value.provider.busOffset, pageSize: c.view.pageSize, faults: NO_FAULTS, dir: 'DMA_BIDIRECTIONAL' as const };
  const out = runConversion(impl, conv);
  return {
    implementation: impl.name,
    pal: { size: hex(pal.value.size), phys: pal.value.phys.map((p) => ({ paddr: hex(p.paddr), len: hex(p.len) })) },
    route: c.route,
    result: out.result,
    segments: out.segments.map((s) => ({ addr: hex(s.addr), len: hex(s.len) })),
    violations: jsonSafe([...log.violations, ...out.log.violations]),
  };
}

export async function run(args: string[]): Promise<number> {
  if (args.length !== 1 || args[0]!.startsWith('-')) throw new UsageError('usage: dmabuf-conform convert <case.json>');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(args[0]!, 'utf8'));
  } catch (e) {
    throw new UsageError(`${args[0]}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : `not JSON (${(e as Error).message})`}`);
  }
  process.stdout.write(`${JSON.stringify(convert(parseCase(json)), null, 2)}\n`);
  return 0;
}
